"""``AsyncHTTP11Connection``: one HTTP/1.1 connection, driving the parser seam over a stream.

How it works: the request head goes out (with a small in-memory body, in the same write), then
the body, chunk by chunk; then the response head is read, skipping interim (1xx) responses, and
returned as a ``Response`` whose stream pulls the body through the parser as it is iterated.
Every read and write gets the request's read or write timeout. When the body ends, or the
response is closed, the connection goes back to IDLE if both sides allow keep-alive, and is
closed otherwise. A failure or a cancellation in the middle of an exchange closes it: a
half-finished exchange can't be reused.

    from    event                                                    to
    ------  -------------------------------------------------------  ------
    NEW     a request starts                                         ACTIVE
    IDLE    a request starts                                         ACTIVE
    ACTIVE  the response ends or is closed; both sides keep alive    IDLE
    ACTIVE  the response ends or is closed; a side won't keep alive  CLOSED
    ACTIVE  an error or a cancellation while sending or receiving    CLOSED
    any     the connection is closed                                 CLOSED

A connection that was reused and finds, before any byte of the response has arrived, that the
server had closed it raises ``ConnectionNotAvailable``, so the pool can retry the request on a
new connection. A fresh connection raises the real error instead.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from .._backends.base import AsyncNetworkStream
from .._exceptions import (
    ReadError,
    RemoteProtocolError,
    RequestNotRead,
    StreamClosed,
    WriteError,
)
from .._headers import Headers
from .._http11_parser import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    ConnectionNotAvailable,
    HTTP11Parser,
    HTTP11State,
    ParserEvent,
    ResponseHead,
    select_parser,
)
from .._models import Request, Response
from .._streams import AsyncByteStream
from .._synchronization import AsyncShieldCancellation
from .._trace import Trace

__all__ = [
    "AsyncHTTP11Connection",
    "AsyncHTTP11ResponseStream",
    "AsyncHTTP11UpgradeStream",
]

#: An in-memory request body up to this size goes out in the same write as the head.
MAX_MERGED_BODY = 64 * 1024
#: More interim (1xx) responses than this before the final one is a misbehaving server.
MAX_INTERIM_RESPONSES = 100

logger = logging.getLogger("heron.http11")

_NEW = HTTP11State.NEW
_ACTIVE = HTTP11State.ACTIVE
_IDLE = HTTP11State.IDLE
_CLOSED = HTTP11State.CLOSED

_METHODS = {
    name: name.encode("ascii")
    for name in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
}


class AsyncHTTP11Connection:
    """Sends requests one at a time over one connected stream, keeping it alive between them.

    ``origin`` (``"https://example.org:443"``) is used in error messages; ``keepalive_expiry``
    is how many seconds an idle connection may wait for its next request (``None``: forever),
    measured with ``clock``. ``parser_factory`` builds the ``HTTP11Parser``, given the origin
    (by default, the class ``select_parser()`` picks: httptools when installed, else h11).
    """

    __slots__ = (
        "_clock",
        "_expire_at",
        "_keepalive_expiry",
        "_origin",
        "_parser",
        "_request_count",
        "_state",
        "_stream",
    )

    def __init__(
        self,
        stream: AsyncNetworkStream,
        origin: str,
        keepalive_expiry: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        parser_factory: Callable[[str], HTTP11Parser] | None = None,
    ) -> None:
        self._stream = stream
        self._origin = origin
        self._keepalive_expiry = keepalive_expiry
        self._clock = clock
        self._parser = (parser_factory or select_parser())(origin)
        self._state = _NEW
        self._request_count = 0
        self._expire_at: float | None = None

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` and return the response once its head has arrived.

        Raises ``ConnectionNotAvailable`` when the connection is busy or closed, or when it
        was reused and turns out to have been closed by the server before any byte of the
        response arrived: the pool then retries elsewhere.
        """
        state = self._state
        if state is not _IDLE and state is not _NEW:
            raise ConnectionNotAvailable(
                f"The connection to {self._origin} is {state.name} and can't take a request."
            )
        reused = self._request_count > 0
        self._state = _ACTIVE
        self._request_count += 1
        self._expire_at = None

        extensions = request.extensions
        timeouts = extensions.get("timeout")
        if timeouts:
            read_timeout = timeouts.get("read")
            write_timeout = timeouts.get("write")
        else:
            read_timeout = write_timeout = None
        traced = "trace" in extensions or logger.isEnabledFor(logging.DEBUG)

        try:
            write_error = await self._send_request(request, write_timeout, traced)
            if traced:
                kwargs = {"request": request}
                async with Trace("receive_response_headers", logger, request, kwargs) as trace:
                    head = await self._receive_response_head(reused, write_error, read_timeout)
                    trace.return_value = (
                        head.http_version,
                        head.status_code,
                        head.reason,
                        head.headers,
                    )
            else:
                head = await self._receive_response_head(reused, write_error, read_timeout)
        except BaseException:
            await self.aclose()
            raise

        status_code = head.status_code
        network_stream = self._stream
        if status_code == 101 or (request.method == "CONNECT" and 200 <= status_code < 300):
            # The connection now speaks another protocol (or is a tunnel): hand it over with
            # whatever the parser read past the head.
            network_stream = AsyncHTTP11UpgradeStream(network_stream, self._parser.trailing_data())
        stream_class = AsyncTracedHTTP11ResponseStream if traced else AsyncHTTP11ResponseStream
        return Response(
            status_code,
            headers=Headers._from_raw(head.headers),
            stream=stream_class(self, request, read_timeout),
            request=request,
            extensions={
                "http_version": head.http_version,
                "reason_phrase": head.reason,
                "network_stream": network_stream,
                "http11_parser": self._parser.name,
            },
        )

    async def _send_request(
        self, request: Request, timeout: float | None, traced: bool
    ) -> WriteError | None:
        """Write the request; return the ``WriteError`` that cut it short, if one did."""
        method = _METHODS.get(request.method) or request.method.encode("ascii")
        target = request.extensions.get("target") or request.url.raw_path
        parser = self._parser
        head = parser.request_bytes(method, target, request.headers.raw)
        try:
            content: bytes | None = request.content
        except RequestNotRead:
            content = None  # a streamed body
        stream = self._stream
        try:
            if traced:
                kwargs = {"request": request}
                async with Trace("send_request_headers", logger, request, kwargs):
                    await stream.write(head, timeout)
                async with Trace("send_request_body", logger, request, kwargs):
                    await self._send_request_body(request, content, timeout)
            elif content is not None and len(content) <= MAX_MERGED_BODY:
                # One write, so one system call, for the whole request. (`head + b""` is
                # `head` itself: a request without a body costs no copy.)
                await stream.write(head + parser.body_bytes(content) + parser.end_bytes(), timeout)
            else:
                await stream.write(head, timeout)
                await self._send_request_body(request, content, timeout)
        except WriteError as exc:
            # A server may answer before reading the whole request (a 413 for a body that is
            # too large, a 401) and close its side, so that writing fails while a complete
            # response waits to be read. Read it; if there is none, this error is raised.
            return exc
        return None

    async def _send_request_body(
        self, request: Request, content: bytes | None, timeout: float | None
    ) -> None:
        parser = self._parser
        stream = self._stream
        if content is None:
            chunks = cast(AsyncByteStream, request.stream).__aiter__()
            try:
                async for chunk in chunks:
                    data = parser.body_bytes(chunk)
                    if data:
                        await stream.write(data, timeout)
            except BaseException:
                # Stopped early: close the body's iterator now (a generator left to the
                # garbage collector is reported by trio), then let the error go on.
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
                raise
        elif content:
            await stream.write(parser.body_bytes(content), timeout)
        end = parser.end_bytes()
        if end:
            await stream.write(end, timeout)

    async def _receive_response_head(
        self, reused: bool, write_error: WriteError | None, timeout: float | None
    ) -> ResponseHead:
        parser = self._parser
        stream = self._stream
        received = False
        interim = 0
        # A cycle starts with nothing buffered (a parser holding bytes past the previous
        # response is not reusable), so read before asking the parser for anything.
        event: ParserEvent = NEED_DATA
        while True:
            if event is NEED_DATA:
                try:
                    data = await stream.read(parser.read_size, timeout)
                except ReadError:
                    if not received:
                        self._raise_if_retryable(reused, write_error)
                    raise
                if data:
                    received = True
                parser.receive_data(data)
            elif type(event) is ResponseHead:
                if event.status_code >= 200 or event.status_code == 101:
                    return event
                # An interim response (100 Continue, 103 Early Hints): the final one follows.
                interim += 1
                if interim > MAX_INTERIM_RESPONSES:
                    raise RemoteProtocolError(
                        f"{self._origin} sent more than {MAX_INTERIM_RESPONSES} interim (1xx) "
                        "responses without a final one."
                    )
            elif event is CONNECTION_CLOSED:
                self._raise_if_retryable(reused, write_error)
                raise RemoteProtocolError(
                    f"{self._origin} closed the connection without sending a response."
                )
            else:
                raise RemoteProtocolError(
                    f"The parser returned {event!r} from {self._origin} before a response head."
                )
            event = parser.next_event()

    def _raise_if_retryable(self, reused: bool, write_error: WriteError | None) -> None:
        """Called when the connection died before any byte of the response arrived."""
        if reused:
            # The server closed the kept-alive connection while we were choosing it; the pool
            # retries the request on another one if it is idempotent or replayable.
            raise ConnectionNotAvailable(
                f"The kept-alive connection to {self._origin} was closed by the server "
                "before it answered."
            )
        if write_error is not None:
            raise write_error

    def _keep_alive(self) -> bool:
        """The response's body ended or was closed: go back to IDLE if the connection can be
        reused. False when it can't, and must be closed (unless it is closed already)."""
        if self._state is not _ACTIVE:
            return True  # closed in the meantime: nothing left to do
        parser = self._parser
        if not parser.is_reusable():
            return False
        parser.start_next_cycle()
        self._state = _IDLE
        if self._keepalive_expiry is not None:
            self._expire_at = self._clock() + self._keepalive_expiry
        return True

    async def aclose(self) -> None:
        """Close the connection (idempotent); a response still being read then fails."""
        if self._state is _CLOSED:
            return
        self._state = _CLOSED
        # Shielded: when a cancelled request closes its connection, the close must finish.
        with AsyncShieldCancellation():
            await self._stream.aclose()

    # State, for the pool -----------------------------------------------------------------

    def is_available(self) -> bool:
        """True when the connection can take a request now: new, or idle and not expired."""
        state = self._state
        if state is _NEW:
            return True
        return state is _IDLE and not self.has_expired(self._clock())

    def has_expired(self, now: float) -> bool:
        """True when the connection has been idle for longer than ``keepalive_expiry``."""
        expire_at = self._expire_at
        return expire_at is not None and now > expire_at

    def is_idle(self) -> bool:
        return self._state is _IDLE

    def is_closed(self) -> bool:
        return self._state is _CLOSED

    def is_readable(self) -> bool:
        """True when the server has sent something or closed: for an idle connection, that
        means it is dead (or about to be) and must not be reused."""
        return bool(self._stream.get_extra_info("is_readable"))

    @property
    def state(self) -> HTTP11State:
        return self._state

    @property
    def request_count(self) -> int:
        """How many requests this connection has started."""
        return self._request_count

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} [{self._origin!r}, {self._state.name}, "
            f"Request Count: {self._request_count}]>"
        )


class AsyncHTTP11ResponseStream(AsyncByteStream):
    """A response body, read from its connection as it is iterated.

    Reading it to the end, or closing it, hands the connection back (idle, or closed when it
    can't be reused). A failure or cancellation while reading closes the connection.
    """

    __slots__ = ("_closed", "_connection", "_read_timeout", "_request")

    def __init__(
        self, connection: AsyncHTTP11Connection, request: Request, read_timeout: float | None
    ) -> None:
        self._connection = connection
        self._request = request
        self._read_timeout = read_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            # The connection may carry another response by now: never read it as this one.
            raise StreamClosed()
        try:
            while chunk := await self._next_chunk():
                yield chunk
        except BaseException:
            # Includes GeneratorExit, when the reader stops early: either way the body was not
            # read to its end, so the connection can't be reused and is closed.
            with AsyncShieldCancellation():
                await self.aclose()
            raise
        if self._release_at_end:
            await self.aclose()

    async def _read_body(self) -> bytes:
        """The whole body, for ``Response.aread()``: one coroutine instead of a generator."""
        if self._closed:
            raise StreamClosed()
        chunks = []
        try:
            while chunk := await self._next_chunk():
                chunks.append(chunk)
        except BaseException:
            with AsyncShieldCancellation():
                await self.aclose()
            raise
        await self.aclose()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _next_chunk(self) -> bytes:
        """The next piece of the body; ``b""`` at its end."""
        connection = self._connection
        parser = connection._parser
        while True:
            event = parser.next_event()
            if type(event) is bytes:
                if event:
                    return event
            elif event is NEED_DATA:
                data = await connection._stream.read(parser.read_size, self._read_timeout)
                parser.receive_data(data)
            elif event is END_OF_MESSAGE:
                return b""
            else:
                raise RemoteProtocolError(
                    f"The parser returned {event!r} from {connection._origin} in the "
                    "middle of a response body."
                )

    #: Hand the connection back as soon as the body ends (the traced twin does it itself,
    #: after reporting the end of the body).
    _release_at_end = True

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            # (A plain call in the common case, rather than one more coroutine.)
            if not self._connection._keep_alive():
                await self._connection.aclose()


class AsyncTracedHTTP11ResponseStream(AsyncHTTP11ResponseStream):
    """``AsyncHTTP11ResponseStream`` reporting ``http11.receive_response_body`` and
    ``http11.response_closed`` to the ``trace`` extension and the DEBUG log."""

    __slots__ = ()

    _release_at_end = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        request = self._request
        chunks = super().__aiter__()
        try:
            async with Trace("receive_response_body", logger, request, {"request": request}):
                async for chunk in chunks:
                    yield chunk
        finally:
            # Stopped early: close the body's own iterator now, which closes the connection.
            await chunks.aclose()  # type: ignore[attr-defined]
        await self.aclose()

    async def _read_body(self) -> bytes:
        chunks = self.__aiter__()
        try:
            return b"".join([chunk async for chunk in chunks])
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if not self._closed:
            async with Trace("response_closed", logger, self._request):
                await super().aclose()


class AsyncHTTP11UpgradeStream(AsyncNetworkStream):
    """The connection's stream after a ``101 Switching Protocols`` or a successful CONNECT.

    The bytes the parser had already read past the response head are returned first.
    """

    def __init__(self, stream: AsyncNetworkStream, leftover: bytes) -> None:
        self._stream = stream
        self._leftover = leftover
        self.origin = stream.origin

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        leftover = self._leftover
        if leftover:
            self._leftover = leftover[max_bytes:]
            return leftover[:max_bytes]
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
