"""``AsyncHTTPConnection``: one connection to one origin, opened on its first request.

Opening it means a TCP connection (or a Unix socket), retried with exponential backoff when
``retries`` allows, then for ``https`` the TLS handshake, whose ALPN answer picks the protocol
driver: HTTP/1.1 (``AsyncHTTP11Connection``) or HTTP/2 (``AsyncHTTP2Connection``, also over
plain ``http`` with ``http1=False, http2=True``: "prior knowledge"). Once open, every call is
delegated to the driver. The pool creates these without I/O and keeps them in its state; see
``pool.py``.

    from        event                                            to
    ----------  -----------------------------------------------  ----------
    NEW         a request starts: connect (+ retries), TLS       CONNECTING
    CONNECTING  connected; the driver takes the request          OPEN
    CONNECTING  connecting failed, or was cancelled              FAILED
    any         aclose()                                         CLOSED
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .._backends.base import AsyncNetworkBackend, AsyncNetworkStream, SocketOption
from .._config import transport_ssl_context
from .._exceptions import ConnectError, ConnectTimeout, UnsupportedProtocol
from .._http11_parser import HTTP11Parser
from .._models import Request, Response
from .._pool_state import ConnectionNotAvailable, Origin, origin_url
from .._synchronization import AsyncShieldCancellation
from .._trace import Trace
from .http11 import AsyncHTTP11Connection

if TYPE_CHECKING:
    from .http2 import AsyncHTTP2Connection

__all__ = [
    "RETRY_BACKOFF_FACTOR",
    "RETRY_MAX_DELAY",
    "AsyncHTTPConnection",
    "alpn_protocols",
]

#: The first connect retry happens at once; retry ``n`` (from 1) waits
#: ``RETRY_BACKOFF_FACTOR * 2**(n - 1)`` seconds ...
RETRY_BACKOFF_FACTOR = 0.5
#: ... but never longer than this.
RETRY_MAX_DELAY = 8.0

logger = logging.getLogger("heron.connection")


def alpn_protocols(http1: bool, http2: bool) -> list[str]:
    """What we offer in the TLS handshake, best first."""
    return ["h2", "http/1.1"] if http2 and http1 else ["h2"] if http2 else ["http/1.1"]


class AsyncHTTPConnection:
    """A connection to ``origin`` (``(scheme, host, port)``), connected on its first request.

    ``ssl_context`` is used for ``https`` (its ALPN protocols say what we offer); ``uds``
    connects to that Unix socket instead of ``host:port``; ``local_address`` binds the local
    side; ``socket_options`` are ``(level, option, value)`` tuples for ``setsockopt``;
    ``retries`` is how many times a failed connection attempt is retried; ``parser_factory``
    makes the HTTP/1.1 parser (``None``: ``select_parser()``'s choice).
    """

    __slots__ = (
        "_backend",
        "_clock",
        "_connection",
        "_failed",
        "_http1",
        "_http2",
        "_http2_connection",
        "_is_closed",
        "_keepalive_expiry",
        "_local_address",
        "_origin",
        "_parser_factory",
        "_retries",
        "_socket_options",
        "_ssl_context",
        "_uds",
        "multiplexed",
        "origin",
    )

    def __init__(
        self,
        origin: Origin,
        ssl_context: ssl.SSLContext | None,
        backend: AsyncNetworkBackend,
        http1: bool = True,
        http2: bool = False,
        keepalive_expiry: float | None = None,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
        clock: Callable[[], float] = time.monotonic,
        parser_factory: Callable[[str], HTTP11Parser] | None = None,
    ) -> None:
        self._origin = origin
        #: ``"https://example.org:443"``, for messages and reprs.
        self.origin = origin_url(origin)
        self._ssl_context = ssl_context
        self._backend = backend
        self._http1 = http1
        self._http2 = http2
        self._keepalive_expiry = keepalive_expiry
        self._retries = retries
        self._local_address = local_address
        self._uds = uds
        self._socket_options = None if socket_options is None else list(socket_options)
        self._clock = clock
        self._parser_factory = parser_factory
        self._connection: AsyncHTTP11Connection | AsyncHTTP2Connection | None = None
        #: The same driver when it is HTTP/2.
        self._http2_connection: AsyncHTTP2Connection | None = None
        #: True once connected over HTTP/2: it carries several requests at once.
        self.multiplexed = False
        self._failed = False
        self._is_closed = False

    async def handle_async_request(self, request: Request) -> Response:
        """Connect if this is the first request, then send ``request`` over the connection."""
        connection = self._connection
        if connection is None:
            connection = await self._open(request)
        return await connection.handle_async_request(request)

    async def connect(self, request: Request) -> None:
        """Open the connection now if it is not open yet (``request`` gives the timeouts and
        extensions). The pool does this when it must know the protocol before the request
        goes out; otherwise the first request connects."""
        if self._connection is None:
            await self._open(request)

    async def _open(self, request: Request) -> AsyncHTTP11Connection | AsyncHTTP2Connection:
        if self._failed or self._is_closed:
            raise ConnectionNotAvailable(f"The connection to {self.origin} is closed.")
        try:
            connection = self._connection = await self._connect(request)
        except BaseException:
            self._failed = True
            raise
        return connection

    async def _connect(self, request: Request) -> AsyncHTTP11Connection | AsyncHTTP2Connection:
        extensions = request.extensions
        timeouts = extensions.get("timeout")
        timeout = timeouts.get("connect") if timeouts else None
        stream = await self._open_stream(request, timeout)
        try:
            # From here on, errors name the origin ("https://example.org:443").
            stream.origin = self.origin
            scheme, host, _ = self._origin
            if scheme == "https":
                # Certificates are checked against the SNI name, so an sni_hostname extension
                # (connecting by IP address to a named host) changes both.
                ssl_context = self._ssl_context
                if ssl_context is None:
                    # The process-wide default context, built on first use.
                    ssl_context = self._ssl_context = transport_ssl_context(
                        alpn_protocols=alpn_protocols(self._http1, self._http2)
                    )
                server_hostname = extensions.get("sni_hostname") or host
                kwargs = {
                    "ssl_context": ssl_context,
                    "server_hostname": server_hostname,
                    "timeout": timeout,
                }
                async with Trace("start_tls", logger, request, kwargs) as trace:
                    stream = await stream.start_tls(ssl_context, server_hostname, timeout)
                    trace.return_value = stream
                stream.origin = self.origin
                ssl_object = stream.get_extra_info("ssl_object")
                alpn = None if ssl_object is None else ssl_object.selected_alpn_protocol()
                http2 = alpn == "h2"
                if not (http2 or self._http1):
                    raise UnsupportedProtocol(
                        f"{self.origin} does not speak HTTP/2 (its TLS handshake chose "
                        f"{alpn or 'no protocol'}), and HTTP/1.1 is disabled with http1=False. "
                        "Allow HTTP/1.1 with http1=True."
                    )
            else:
                # http:// with HTTP/2 only: "prior knowledge", no negotiation (h2c).
                http2 = self._http2 and not self._http1
            if self._is_closed:
                raise ConnectError(
                    f"The connection to {self.origin} was closed while it was being opened "
                    "(the client was closed)."
                )
        except BaseException:
            with AsyncShieldCancellation():
                await stream.aclose()
            raise
        if http2:
            return self._connect_http2(stream)
        return AsyncHTTP11Connection(
            stream,
            self.origin,
            keepalive_expiry=self._keepalive_expiry,
            clock=self._clock,
            parser_factory=self._parser_factory,
        )

    async def _open_stream(self, request: Request, timeout: float | None) -> AsyncNetworkStream:
        """TCP (or the Unix socket), retrying failed attempts with exponential backoff."""
        _, host, port = self._origin
        attempt = 0
        while True:
            try:
                if self._uds is None:
                    kwargs = {
                        "host": host,
                        "port": port,
                        "local_address": self._local_address,
                        "timeout": timeout,
                        "socket_options": self._socket_options,
                    }
                    async with Trace("connect_tcp", logger, request, kwargs) as trace:
                        stream = await self._backend.connect_tcp(
                            host,
                            port,
                            timeout=timeout,
                            local_address=self._local_address,
                            socket_options=self._socket_options,
                        )
                        trace.return_value = stream
                else:
                    kwargs = {
                        "path": self._uds,
                        "timeout": timeout,
                        "socket_options": self._socket_options,
                    }
                    async with Trace("connect_unix_socket", logger, request, kwargs) as trace:
                        stream = await self._backend.connect_unix_socket(
                            self._uds, timeout=timeout, socket_options=self._socket_options
                        )
                        trace.return_value = stream
                return stream
            except (ConnectError, ConnectTimeout):
                if attempt >= self._retries:
                    raise
                # As in httpx: the first retry at once, then exponential backoff.
                attempt += 1
                delay = min(RETRY_BACKOFF_FACTOR * 2 ** (attempt - 2), RETRY_MAX_DELAY)
                if attempt == 1:
                    delay = 0.0
                kwargs = {"attempt": attempt, "retries": self._retries, "delay": delay}
                async with Trace("retry", logger, request, kwargs):
                    await self._backend.sleep(delay)

    def _connect_http2(self, stream: AsyncNetworkStream) -> AsyncHTTP2Connection:
        # Imported on first use: h2 takes a while to import, and many programs never use it.
        from .http2 import AsyncHTTP2Connection

        connection = self._http2_connection = AsyncHTTP2Connection(
            stream, self.origin, keepalive_expiry=self._keepalive_expiry, clock=self._clock
        )
        self.multiplexed = True
        return connection

    # State, for the pool -------------------------------------------------------------------

    @property
    def max_concurrent_streams(self) -> int:
        """How many requests it can carry at once: the server's ``MAX_CONCURRENT_STREAMS``
        over HTTP/2 (at least 1: a server may allow none for a while, and a request then waits
        on the connection for a stream), else 1."""
        connection = self._http2_connection
        return 1 if connection is None else max(connection.max_concurrent_streams, 1)

    def is_available(self) -> bool:
        """True when it can take a request now: connected, and idle (HTTP/1.1) or with a free
        stream (HTTP/2).

        False before it is connected: a new connection is kept for the request that opens it.
        """
        connection = self._connection
        return connection is not None and connection.is_available()

    def is_reusable(self) -> bool:
        """True when it can take more requests once those it carries now have ended: idle and
        open (HTTP/1.1), or open with no GOAWAY received (HTTP/2, busy or not). What the pool
        asks when a request on it ends."""
        connection = self._http2_connection
        if connection is None:
            http11 = self._connection
            return http11 is not None and http11.is_available()
        from .._http2_state import HTTP2ConnectionState  # (imported with the driver)

        state = connection.state
        return (
            state is not HTTP2ConnectionState.DRAINING and state is not HTTP2ConnectionState.CLOSED
        )

    def has_expired(self, now: float) -> bool:
        connection = self._connection
        return connection is not None and connection.has_expired(now)

    def is_idle(self) -> bool:
        connection = self._connection
        return connection is not None and connection.is_idle()

    def is_closed(self) -> bool:
        connection = self._connection
        if connection is None:
            return self._failed or self._is_closed
        return connection.is_closed()

    def is_readable(self) -> bool:
        """For an idle HTTP/1.1 connection: True when the server has closed it (or sent junk).
        (An idle HTTP/2 connection may be readable for a PING or SETTINGS frame.)"""
        connection = self._connection
        return connection is not None and connection.is_readable()

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        self._is_closed = True
        connection = self._connection
        if connection is not None:
            await connection.aclose()

    def __repr__(self) -> str:
        connection = self._connection
        if connection is not None:
            version = "HTTP/1.1" if self._http2_connection is None else "HTTP/2"
            return (
                f"<{type(self).__name__} [{self.origin!r}, {version}, "
                f"{connection.state.name}, Request Count: {connection.request_count}]>"
            )
        if self._failed:
            state = "CONNECT FAILED"
        elif self._is_closed:
            state = "CLOSED"
        else:
            state = "NEW"
        return f"<{type(self).__name__} [{self.origin!r}, {state}]>"
