"""The transports: the seam between a client and whatever produces responses.

``base`` defines the interface, ``mock`` answers from a function, ``wsgi`` and ``asgi`` call a
Python web application in-process. The network transport lives with the connection pool.
"""

from __future__ import annotations

__all__: list[str] = []
