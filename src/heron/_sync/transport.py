# Generated from src/heron/_async/transport.py by scripts/unasync.py: do not edit by hand.
"""``HTTPTransport``: requests over the network, through heron's connection pool.

The pool and the HTTP/1.1 and HTTP/2 drivers are the network issue's work (#4, #5); until they
land this transport accepts its configuration and refuses to send with a clear error.
"""

from __future__ import annotations

from typing import Any

from .._config import DEFAULT_LIMITS, Limits, Proxy
from .._exceptions import UnsupportedProtocol
from .._models import Request, Response
from .._transports.base import BaseTransport
from .._types import CertTypes, ProxyTypes

__all__ = ["HTTPTransport"]


class HTTPTransport(BaseTransport):
    """Sends requests over TCP or TLS with connection pooling (HTTP/1.1 and HTTP/2)."""

    def __init__(
        self,
        verify: Any = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: ProxyTypes | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Any = None,
    ) -> None:
        self._proxy = proxy if proxy is None or isinstance(proxy, Proxy) else Proxy(url=proxy)
        self._limits = limits

    def handle_request(self, request: Request) -> Response:
        raise UnsupportedProtocol(
            f"Cannot send {request.method} {request.url}: heron's network transport is not "
            "built yet. Use transport=heron.MockTransport(...) or app=... for now.",
            request=request,
        )
