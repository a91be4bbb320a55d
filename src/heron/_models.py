"""``Request`` and ``Response``: the messages that clients, transports and the pool pass around.

They live in ``_request`` and ``_response``; the rest of heron imports them from here.
"""

from __future__ import annotations

from ._request import Request
from ._response import Response

__all__ = ["Request", "Response"]
