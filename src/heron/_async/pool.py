"""``AsyncConnectionPool``: the I/O shell around the pool's bookkeeping in ``_pool_state.py``.

The state decides (reuse this connection, open one, wait; on release: hand it over, keep it
idle, close it); this module does the waiting, connecting, sending and closing. Every
acquisition has its release in a ``finally``-like path, so a request that fails or is cancelled
anywhere (waiting for the pool, connecting, writing, reading the head or the body) gives back
exactly what it held; closing connections on those paths is shielded from cancellation.

The state is only touched under the pool's state lock, never across an await: a thread lock
in the sync twin, where one pool serves many threads; a no-op in async code, where the event
loop runs each such change without interruption.

HTTP/2: a connection carries as many requests as the server's ``MAX_CONCURRENT_STREAMS``, which
the pool learns from the connection (``set_capacity``) when a response arrives and when one
ends. Until the first connection to an origin that may speak HTTP/2 is open and settled, the
origin's other requests wait for it rather than each opening a connection of their own (see
``_pool_state.py``); a request is only sent on an HTTP/2 connection with a free stream, so the
driver's own queue for streams is rarely used.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Self, cast

from .._backends.auto import AsyncAutoBackend
from .._backends.base import AsyncNetworkBackend, SocketOption
from .._exceptions import PoolTimeout, RemoteProtocolError
from .._http11_parser import HTTP11Parser
from .._models import Request, Response
from .._pool_state import (
    ACTIVE,
    CLOSED,
    DONE,
    WAITING,
    Actions,
    AsyncStateLock,
    ConnectionNotAvailable,
    Origin,
    PoolState,
    Ticket,
    origin_url,
    request_origin,
)
from .._streams import AsyncByteStream, ByteStream
from .._synchronization import AsyncEvent, AsyncShieldCancellation, WaitTimeout
from .connection import AsyncHTTPConnection

__all__ = ["AsyncConnectionPool", "AsyncPoolByteStream"]

logger = logging.getLogger("heron.pool")


def _can_resend(request: Request) -> bool:
    """Whether the request may go out again after a reused connection was found dead.

    Nothing of the response arrived, so the server most likely closed the idle connection
    before it read the request. Retrying needs the body again: in memory (no body, bytes,
    a read request), or a stream that says it can be replayed right now.
    """
    stream = request.stream
    return isinstance(stream, ByteStream) or bool(getattr(stream, "is_replayable", False))


class AsyncConnectionPool:
    """A pool of HTTP connections, per origin, within limits; shared by concurrent requests.

    ``max_connections`` caps the connections open at once, ``max_keepalive_connections`` the
    idle ones kept for reuse, ``keepalive_expiry`` how long (seconds) one may stay idle;
    ``None`` means no limit. The other arguments (``parser_factory``: the HTTP/1.1 parser) are
    passed to each ``AsyncHTTPConnection``.
    ``clock`` measures keep-alive expiry (tests inject one)::

        async with AsyncConnectionPool(max_connections=10) as pool:
            response = await pool.handle_async_request(request)
            await response.aread()
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        backend: AsyncNetworkBackend | None = None,
        *,
        max_connections: int | None = 10,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
        clock: Callable[[], float] = time.monotonic,
        parser_factory: Callable[[str], HTTP11Parser] | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._backend = AsyncAutoBackend() if backend is None else backend
        self._max_connections = max_connections
        self._http1 = http1
        self._http2 = http2
        self._retries = retries
        self._local_address = local_address
        self._uds = uds
        self._socket_options = None if socket_options is None else list(socket_options)
        self._parser_factory = parser_factory
        self._lock = AsyncStateLock()
        self._state: PoolState[AsyncHTTPConnection] = PoolState(
            self._create_connection,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            clock=clock,
            may_multiplex=self._may_multiplex if http2 else None,
        )

    def _may_multiplex(self, origin: Origin) -> bool:
        # HTTP/2 is negotiated in the TLS handshake, or spoken from the start (h2c) when
        # HTTP/1.1 is off.
        return origin[0] == "https" or not self._http1

    def _create_connection(self, origin: Origin) -> AsyncHTTPConnection:
        # Keep-alive expiry is the pool state's to track, so the connection gets none.
        return AsyncHTTPConnection(
            origin,
            self._ssl_context,
            self._backend,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            socket_options=self._socket_options,
            parser_factory=self._parser_factory,
        )

    @property
    def connections(self) -> list[AsyncHTTPConnection]:
        """The open connections (connecting, busy and idle), for inspection."""
        with self._lock:
            return self._state.connections

    # Sending -----------------------------------------------------------------------------

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` on a pooled connection and return the response, whose body is
        still to be read; closing the response gives the connection back."""
        origin = request_origin(request)
        timeouts = request.extensions.get("timeout")
        pool_timeout = timeouts.get("pool") if timeouts else None
        fresh = False
        while True:
            ticket = await self._acquire(origin, pool_timeout, fresh)
            connection = ticket.connection
            try:
                entry = ticket.entry
                assert entry is not None
                if entry.settling:
                    await self._connect_settling(ticket, connection, request)
                response = await connection.handle_async_request(request)
            except ConnectionNotAvailable as exc:
                # The request was not processed: the connection was found closed (HTTP/1.1,
                # and it has closed itself), took no new streams after GOAWAY, or refused
                # just this stream (HTTP/2, and it can still carry others).
                await self._give_back(ticket, connection)
                if self._state.is_closed:
                    raise self._closed_error() from exc
                if fresh:
                    raise RemoteProtocolError(
                        f"{connection.origin} did not process the request, again after it was "
                        f"retried on a new connection: {exc}",
                        request=request,
                    ) from exc
                if not _can_resend(request):
                    raise RemoteProtocolError(
                        f"{connection.origin} did not process the request, and it can't be "
                        "sent again on a new connection: its body was a stream that is "
                        "already consumed. Pass the body as bytes to allow a retry. (Why it "
                        f"was not processed: {exc})",
                        request=request,
                    ) from exc
                logger.debug("retrying the request on a new connection: %s", exc)
                fresh = True
                continue
            except BaseException:
                await self._give_back(ticket, connection)
                raise
            break
        stream = cast(AsyncByteStream, response.stream)
        pool_stream = AsyncPoolByteStream(stream, self, ticket, connection)
        response.stream = pool_stream
        if connection.multiplexed:
            # The server's SETTINGS came before the response: how many requests the connection
            # carries (a settling connection settles, and the requests held for it go).
            try:
                await self._set_capacity(ticket, connection.max_concurrent_streams)
            except BaseException:
                with AsyncShieldCancellation():
                    await pool_stream.aclose()
                raise
        return response

    async def _connect_settling(
        self,
        ticket: Ticket[AsyncHTTPConnection],
        connection: AsyncHTTPConnection,
        request: Request,
    ) -> None:
        """Open a settling connection before sending on it: if it speaks HTTP/1.1, the
        requests held for it go and open their own at once, not after this response."""
        await connection.connect(request)
        if not connection.multiplexed:
            await self._set_capacity(ticket, 1)

    async def _set_capacity(self, ticket: Ticket[AsyncHTTPConnection], capacity: int) -> None:
        with self._lock:
            entry = ticket.entry
            assert entry is not None
            if entry.capacity == capacity and not entry.settling:
                return
            actions = self._state.set_capacity(entry, capacity)
        if actions:
            await self._apply(actions)

    async def _give_back(
        self, ticket: Ticket[AsyncHTTPConnection], connection: AsyncHTTPConnection
    ) -> None:
        """The ticket's request is over: release it, saying whether ``connection`` can take
        more requests, and (HTTP/2) how many at once."""
        capacity = connection.max_concurrent_streams if connection.multiplexed else None
        await self._release(ticket, connection.is_reusable(), capacity)

    async def _acquire(
        self, origin: Origin, timeout: float | None, fresh: bool
    ) -> Ticket[AsyncHTTPConnection]:
        """A started ticket holding a connection for ``origin``, waiting if need be."""
        deadline: float | None = None
        while True:
            with self._lock:
                if self._state.is_closed:
                    raise self._closed_error()
                # Served at once, a ticket is started at once: one state change per request.
                ticket, actions = self._state.acquire(origin, fresh, start=True)
                waiting = ticket.status == WAITING
                if waiting:
                    ticket.waker = AsyncEvent()
            if waiting or actions.close:
                try:
                    if actions.close:
                        await self._apply(actions)
                    if waiting:
                        if deadline is None and timeout is not None:
                            deadline = time.monotonic() + timeout
                        await self._wait(ticket, origin, timeout, deadline)
                        with self._lock:
                            self._state.start(ticket)
                except BaseException:
                    await self._release(ticket, self._is_reusable(ticket))
                    raise
            connection = ticket.connection
            if connection.multiplexed:
                if connection.is_available():
                    return ticket
                # Since the pool last looked, the server sent GOAWAY or lowered its limit of
                # streams, or the connection was lost: look again.
                await self._give_back(ticket, connection)
            # A reused idle HTTP/1.1 connection that the server has closed (its EOF is waiting
            # on the socket): drop it and look again, rather than fail the request on it. (An
            # idle HTTP/2 connection can be readable for a PING or SETTINGS frame; a request
            # on a dead one is retried.)
            elif not (connection.is_idle() and connection.is_readable()):
                return ticket
            else:
                await self._release(ticket, reusable=False)

    @staticmethod
    def _is_reusable(ticket: Ticket[AsyncHTTPConnection]) -> bool:
        # A ticket not started yet has not touched its connection (a new one is dropped by the
        # state anyway); a started one gives its connection back if it can take requests.
        return ticket.status != ACTIVE or ticket.connection.is_reusable()

    async def _wait(
        self,
        ticket: Ticket[AsyncHTTPConnection],
        origin: Origin,
        timeout: float | None,
        deadline: float | None,
    ) -> None:
        waker = ticket.waker
        assert isinstance(waker, AsyncEvent)
        try:
            await waker.wait(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        except WaitTimeout as exc:
            with self._lock:
                actions = self._state.wait_timed_out(ticket)
                timed_out = ticket.status == DONE
            if timed_out:
                raise PoolTimeout(
                    f"Timed out after {timeout} s waiting for a connection to "
                    f"{origin_url(origin)} from the pool (pool timeout; "
                    f"max_connections={self._max_connections}). Every connection is busy: "
                    "close responses you are done with, or raise Limits(max_connections="
                    "...) or Timeout(pool=...)."
                ) from exc
            # Handed a connection just as the time ran out, or held for a new connection
            # that has not settled in time and now opening one of its own: use it.
            if actions:
                await self._apply(actions)
        if ticket.status == CLOSED:
            raise self._closed_error()

    async def _release(
        self,
        ticket: Ticket[AsyncHTTPConnection],
        reusable: bool,
        capacity: int | None = None,
    ) -> None:
        with self._lock:
            actions = self._state.release(ticket, reusable, capacity)
        if actions.close or actions.wake:
            await self._apply(actions)

    async def _apply(self, actions: Actions[AsyncHTTPConnection]) -> None:
        """Wake the tickets the state assigned, close the connections it dropped."""
        for ticket in actions.wake:
            waker = ticket.waker
            assert isinstance(waker, AsyncEvent)
            waker.set()
        if actions.close:
            # Shielded: a cancelled request still finishes closing what it gave up.
            with AsyncShieldCancellation():
                for connection in actions.close:
                    await connection.aclose()

    @staticmethod
    def _closed_error() -> RuntimeError:
        return RuntimeError(
            "The connection pool has been closed (the client or transport was closed), so it "
            "can't send requests any more. Make a new client."
        )

    # Closing -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every connection; waiting requests fail, and later ones are refused."""
        with self._lock:
            actions = self._state.close()
        await self._apply(actions)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self._state.describe()}]>"


class AsyncPoolByteStream(AsyncByteStream):
    """A response body that gives its connection back to the pool when it ends or is closed."""

    __slots__ = ("_closed", "_connection", "_pool", "_stream", "_ticket")

    def __init__(
        self,
        stream: AsyncByteStream,
        pool: AsyncConnectionPool,
        ticket: Ticket[AsyncHTTPConnection],
        connection: AsyncHTTPConnection,
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._ticket = ticket
        self._connection = connection
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._stream.__aiter__()
        try:
            async for chunk in chunks:
                yield chunk
        except BaseException:
            # Failed, cancelled, or the reader stopped early (GeneratorExit). The inner
            # iterator is finished now rather than by the garbage collector, which could run
            # its cleanup late (or, under trio, not at all).
            with AsyncShieldCancellation():
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
                await self.aclose()
            raise
        await self.aclose()

    async def _read_body(self) -> bytes:
        """The whole body, for ``Response.aread()``, without an async generator per layer
        when the connection's stream can do the same."""
        read_body = getattr(self._stream, "_read_body", None)
        if read_body is None:
            # Iterated here, and closed even if stopped early, as Response would.
            chunks = self.__aiter__()
            try:
                return b"".join([chunk async for chunk in chunks])
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
        try:
            body: bytes = await read_body()
        except BaseException:
            with AsyncShieldCancellation():
                await self.aclose()
            raise
        await self.aclose()
        return body

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stream.aclose()
        finally:
            await self._pool._give_back(self._ticket, self._connection)
