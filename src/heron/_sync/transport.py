# Generated from src/heron/_async/transport.py by scripts/unasync.py: do not edit by hand.
"""``HTTPTransport``: requests over the network, through heron's connection pool.

The transport turns its configuration (``verify``, ``cert``, ``http1``/``http2``, ``limits``,
``retries``, ``uds``, ...) into an SSL context and an ``ConnectionPool``, and hands every
request to the pool. Proxies are not implemented yet: a transport given one refuses to send.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from .._backends.auto import AutoBackend
from .._backends.base import SocketOption
from .._config import DEFAULT_LIMITS, Limits, Proxy, transport_ssl_context
from .._exceptions import ProxyError
from .._http11_parser import select_parser
from .._models import Request, Response
from .._transports.base import BaseTransport
from .._types import CertTypes, ProxyTypes
from .connection import alpn_protocols
from .pool import ConnectionPool

__all__ = ["HTTPTransport"]


class HTTPTransport(BaseTransport):
    """Sends requests over TCP or TLS, keeping connections open for reuse (a pool).

    ``verify`` (``True``, ``False`` or an ``ssl.SSLContext``) and ``cert`` configure TLS,
    ``trust_env`` lets ``SSL_CERT_FILE``/``SSL_CERT_DIR``/``SSLKEYLOGFILE`` apply, ``limits``
    sizes the pool, ``retries`` retries failed connection attempts (with exponential backoff),
    ``uds`` connects to a Unix socket instead of the URL's host, ``local_address`` binds the
    local side (``"0.0.0.0"`` for IPv4 only), ``socket_options`` are passed to
    ``setsockopt``, and ``http1_parser`` (``"h11"`` or ``"httptools"``) forces the HTTP/1.1
    parser: by default the ``HERON_HTTP1_PARSER`` environment variable picks it, else httptools
    when installed (``pip install heron[speedups]``), else h11::

        transport = heron.HTTPTransport(retries=2, limits=heron.Limits(max_connections=5))
        with heron.Client(transport=transport) as client:
            ...
    """

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
        socket_options: Iterable[SocketOption] | None = None,
        *,
        http1_parser: Literal["h11", "httptools"] | None = None,
    ) -> None:
        if not (http1 or http2):
            raise ValueError(
                "http1=False and http2=False leave no HTTP version to speak: enable at least one."
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}.")
        self._proxy = proxy if proxy is None or isinstance(proxy, Proxy) else Proxy(url=proxy)
        ssl_context = transport_ssl_context(
            verify, cert, trust_env, alpn_protocols=alpn_protocols(http1, http2)
        )
        self._pool = ConnectionPool(
            ssl_context,
            AutoBackend(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            socket_options=socket_options,
            parser_factory=select_parser(http1_parser),
        )

    def handle_request(self, request: Request) -> Response:
        if self._proxy is not None:
            raise ProxyError(
                f"Cannot send the request to {request.url.host} through the proxy "
                f"{self._proxy.url}: heron does not support HTTP or SOCKS proxies yet. Remove "
                "proxy=, or, if the proxy came from the environment (HTTP_PROXY, HTTPS_PROXY, "
                "ALL_PROXY), unset it, pass trust_env=False, or list the host in NO_PROXY.",
                request=request,
            )
        return self._pool.handle_request(request)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
