"""``AsyncHTTP2Connection``: one HTTP/2 connection carrying many requests at once, over h2.

How it works: ``HTTP2State`` (``_http2_state.py``) keeps the books and makes the decisions; this
module reads, writes and waits. A request takes a stream slot (queueing while the server's
``MAX_CONCURRENT_STREAMS`` are all in use), sends its HEADERS and body (waiting for WINDOW_UPDATE
whenever the server's flow control window is shut), and waits for its response head. The body
is read as the response stream is iterated; what is read is acknowledged (in batches), so the
server may send more. There is no background task: whoever waits for something and finds nobody
reading the socket reads it, for everyone (see ``_wait``); the lock guards the state for threads
in the generated sync twin, and is never held across an await. Sending is put off while
requests just woken by the reader have yet to run: most of them go on to send another request,
and the last to resume sends all of their frames in one write (one system call, one TLS
record) instead of one write each.

    step                     awaits                              when it fails or is cancelled
    -----------------------  ----------------------------------  -----------------------------
    take a stream slot       the queue (pool timeout)            leave the queue
    send HEADERS and body    writes; WINDOW_UPDATE (write t.o.)  reset the stream (CANCEL),
    wait for the head        reads, or the reader (read t.o.)    give its slot back; the
    read the body            reads, or the reader (read t.o.)    connection stays usable

Only what breaks the connection itself fails every request on it: EOF, a read or write error,
an HTTP/2 protocol error from the server, or ``aclose()``. A GOAWAY lets the streams the server
kept finish and fails the others with ``ConnectionNotAvailable``, as does ``REFUSED_STREAM``: the
pool retries those requests on a new connection.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import cast

from .._backends.asyncio import AsyncioStream
from .._backends.base import AsyncNetworkStream
from .._exceptions import (
    PoolTimeout,
    ReadTimeout,
    RequestNotRead,
    StreamClosed,
    TransportError,
    WriteError,
    WriteTimeout,
)
from .._headers import Headers
from .._http2_state import (
    HTTP2ConnectionState,
    HTTP2State,
    HTTP2Stream,
    SlotWaiter,
    request_headers,
)
from .._models import Request, Response
from .._pool_state import AsyncStateLock
from .._streams import AsyncByteStream
from .._synchronization import AsyncEvent, AsyncShieldCancellation, WaitTimeout
from .._trace import Trace

__all__ = ["AsyncHTTP2Connection", "AsyncHTTP2ResponseStream"]

#: Bytes asked for per read: one read may carry frames for many streams.
READ_SIZE = 256 * 1024
#: Seconds we give the GOAWAY that h2 queues after the server broke the protocol.
GOODBYE_TIMEOUT = 1.0

logger = logging.getLogger("heron.http2")

_METHODS = {
    name: name.encode("ascii")
    for name in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
}

# What a wait is for, to name its timeout.
_POOL = "pool"
_READ = "read"
_WRITE = "write"


class AsyncHTTP2Connection:
    """Sends requests concurrently, each on its own HTTP/2 stream, over one connected stream.

    ``origin`` (``"https://example.org:443"``) is used in error messages; ``keepalive_expiry``
    is how many seconds the connection may stay without requests (``None``: forever), measured
    with ``clock``. For the pool it is "a connection that takes several requests at once":
    ``is_available()`` while it has a free stream slot, ``max_concurrent_streams`` and
    ``active_streams`` for its capacity.
    """

    __slots__ = (
        "_clock",
        "_closed",
        "_expire_at",
        "_keepalive_expiry",
        "_lock",
        "_origin",
        "_state",
        "_stream",
        "_write_shield",
    )

    def __init__(
        self,
        stream: AsyncNetworkStream,
        origin: str,
        keepalive_expiry: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        # A write cut short by a cancellation would leave half a frame on the wire, so writes
        # are shielded; except on heron's asyncio streams, which queue a whole write before
        # they can be cancelled (a shield costs more than the rest of a small write).
        self._write_shield: Callable[[], AbstractContextManager[object]] = (
            contextlib.nullcontext
            if isinstance(stream, AsyncioStream)
            else AsyncShieldCancellation
        )
        self._origin = origin
        self._keepalive_expiry = keepalive_expiry
        self._clock = clock
        self._state = HTTP2State(origin)
        self._lock = AsyncStateLock()
        self._expire_at: float | None = None
        self._closed = False

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` on a new stream and return the response once its head arrived.

        Raises ``ConnectionNotAvailable`` when the request was not processed and may go to
        another connection: this one is closed or draining after GOAWAY, the server refused
        the stream, or a reused connection was lost before any of the response arrived.
        """
        extensions = request.extensions
        timeouts = extensions.get("timeout")
        if timeouts:
            read_timeout = timeouts.get("read")
            write_timeout = timeouts.get("write")
            pool_timeout = timeouts.get("pool")
        else:
            read_timeout = write_timeout = pool_timeout = None
        traced = "trace" in extensions or logger.isEnabledFor(logging.DEBUG)
        url = request.url
        headers = request_headers(
            _METHODS.get(request.method) or request.method.encode("ascii"),
            url.raw_scheme,
            url.netloc,
            extensions.get("target") or url.raw_path,
            request.headers._list,
        )
        try:
            content: bytes | None = request.content
        except RequestNotRead:
            content = None  # a streamed body

        state = self._state
        with self._lock:
            has_slot = state.acquire_slot()
            started = state.start()
            self._expire_at = None
        if not has_slot:
            await self._wait_for_slot(pool_timeout)
        try:
            with self._lock:
                stream = state.open_stream(headers, end_stream=content == b"")
        except BaseException:
            with self._lock:
                state.release_slot()
            raise

        try:
            # A small body goes out in the same write as the headers.
            sent = 0
            if content:
                with self._lock:
                    sent = state.send_data(stream, memoryview(content), True)
            if traced:
                kwargs = {"request": request}
                if started:
                    async with Trace("send_connection_init", logger, request, kwargs):
                        await self._flush(write_timeout)
                async with Trace("send_request_headers", logger, request, kwargs) as trace:
                    await self._flush(write_timeout)
                    trace.return_value = stream.stream_id
                async with Trace("send_request_body", logger, request, kwargs):
                    await self._send_body(stream, request, content, sent, write_timeout)
                async with Trace("receive_response_headers", logger, request, kwargs) as trace:
                    status_code, fields = await self._receive_head(stream, read_timeout)
                    trace.return_value = (b"HTTP/2", status_code, b"", fields)
            else:
                await self._flush(write_timeout)
                if content is None or sent < len(content):
                    await self._send_body(stream, request, content, sent, write_timeout)
                status_code, fields = await self._receive_head(stream, read_timeout)
        except BaseException:
            # Shielded: the stream must be reset and its slot given back even when cancelled.
            with AsyncShieldCancellation():
                await self._close_stream(stream, write_timeout)
            raise

        stream_class = AsyncTracedHTTP2ResponseStream if traced else AsyncHTTP2ResponseStream
        return Response(
            status_code,
            headers=Headers._from_raw(fields),
            stream=stream_class(self, stream, request, read_timeout, write_timeout),
            request=request,
            extensions={
                "http_version": b"HTTP/2",
                "network_stream": self._stream,
                "stream_id": stream.stream_id,
            },
        )

    # Sending -------------------------------------------------------------------------------

    async def _wait_for_slot(self, timeout: float | None) -> None:
        """Queue for a stream slot. Only sleeps: the slot is handed over by a request that
        closes its stream, or the wait ends because the connection was lost or GOAWAY came."""
        state = self._state
        waiter = SlotWaiter()
        waker = AsyncEvent()
        with self._lock:
            waiter.waker = waker
            state.slot_waiters.append(waiter)
        try:
            try:
                await waker.wait(timeout)
            except WaitTimeout as exc:
                raise self._timeout_error(_POOL, timeout) from exc
            if not waiter.granted:
                raise state.unavailable()
        except BaseException:
            with self._lock:
                state.leave_slot_queue(waiter)
            raise

    async def _send_body(
        self,
        stream: HTTP2Stream,
        request: Request,
        content: bytes | None,
        sent: int,
        timeout: float | None,
    ) -> None:
        if content is None:
            chunks = cast(AsyncByteStream, request.stream).__aiter__()
            async for chunk in chunks:
                if stream.ended:
                    # The server answered already: it wants no more of the body.
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
                    break
                if chunk:
                    await self._send_data(stream, memoryview(chunk), False, timeout)
            await self._send_data(stream, memoryview(b""), True, timeout)
        elif sent < len(content):
            await self._send_data(stream, memoryview(content)[sent:], True, timeout)

    async def _send_data(
        self, stream: HTTP2Stream, data: memoryview, end: bool, timeout: float | None
    ) -> None:
        """Send ``data`` (then END_STREAM with ``end``) as the flow control windows allow."""
        state = self._state
        lock = self._lock
        while True:
            with lock:
                sent = state.send_data(stream, data, end)
            if sent or not data:
                await self._flush(timeout)
                data = data[sent:]
                if not data:
                    return
            else:
                # The window is shut: wait for the server's WINDOW_UPDATE.
                with lock:
                    state.window_waiters[stream] = None
                try:
                    await self._wait(stream, lambda: state.window_ready(stream), timeout, _WRITE)
                finally:
                    with lock:
                        state.window_waiters.pop(stream, None)

    async def _flush(self, timeout: float | None) -> None:
        """Send what h2 has queued, unless another task is writing (it will send it), or tasks
        just woken are yet to run (the last of them will, see ``HTTP2State.put_off_send``)."""
        state = self._state
        with self._lock:
            if state.writing or state.failure is not None or state.put_off_send():
                return
            data = state.h2.data_to_send()
            if not data:
                return
            state.writing = True
        await self._write(data, timeout)

    async def _write(self, data: bytes, timeout: float | None) -> None:
        """Write ``data``, then whatever h2 queued meanwhile; the caller set ``writing``.

        A write cut short would leave half a frame on the wire and break every stream, so a
        cancelled writer finishes, then is cancelled. A write error or timeout loses the
        connection: each request then raises it.
        """
        state = self._state
        interrupted: BaseException | None = None
        try:
            while True:
                try:
                    with self._write_shield():
                        await self._stream.write(data, timeout)
                except BaseException as exc:
                    if isinstance(exc, Exception):
                        raise
                    # Cancelled during an unshielded write (an asyncio stream's, or by a plain
                    # task.cancel(), which no shield holds back): the stream has taken the
                    # whole write already. Send what others queued, then give up.
                    interrupted = exc
                with self._lock:
                    data = state.h2.data_to_send() if state.failure is None else b""
                    if not data:
                        state.writing = False
                        break
        except Exception as exc:
            kind = type(exc) if isinstance(exc, TransportError) else WriteError
            with self._lock:
                state.writing = False
                state.fail(kind, str(exc))
            # Closing the socket also ends the read of whoever is reading.
            await self.aclose()
        if interrupted is not None:
            raise interrupted

    # Receiving -----------------------------------------------------------------------------

    async def _receive_head(
        self, stream: HTTP2Stream, timeout: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        state = self._state
        await self._wait(stream, lambda: state.head_ready(stream), timeout, _READ)
        with self._lock:
            return state.take_head(stream)

    async def _receive_chunk(
        self, stream: HTTP2Stream, read_timeout: float | None, write_timeout: float | None
    ) -> bytes | None:
        """The next chunk of the response body, or ``None`` at its end."""
        state = self._state
        with self._lock:
            ready = state.body_ready(stream)
            chunk = state.next_chunk(stream) if ready else None
        if not ready:
            await self._wait(stream, lambda: state.body_ready(stream), read_timeout, _READ)
            with self._lock:
                chunk = state.next_chunk(stream)
        if chunk is not None:
            # Reading it may have opened the window: tell the server.
            await self._flush(write_timeout)
        return chunk

    async def _wait(
        self, party: HTTP2Stream, ready: Callable[[], bool], timeout: float | None, phase: str
    ) -> None:
        """Return once ``ready()`` holds, reading the socket for everyone if nobody else is.

        ``timeout`` bounds the whole wait; running out raises the ``phase``'s timeout error.
        """
        state = self._state
        lock = self._lock
        deadline = None if timeout is None else time.monotonic() + timeout
        slept = False
        while True:
            with lock:
                if ready():
                    if slept:
                        # Woken perhaps to take over the reading: hand that on.
                        state.pass_reading()
                    return
                waker = AsyncEvent() if state.reading else None
                if waker is None:
                    state.reading = True
                else:
                    state.sleep(party, waker)
            remaining = None if deadline is None else deadline - time.monotonic()
            if waker is None:
                await self._read_until(ready, remaining, deadline, phase, timeout)
                return
            try:
                try:
                    await waker.wait(remaining)
                finally:
                    with lock:
                        send = state.resumed(party)
                    if send:
                        await self._flush(timeout)
            except BaseException as exc:
                with lock:
                    state.stop_sleeping(party)
                    state.pass_reading()
                if isinstance(exc, WaitTimeout):
                    raise self._timeout_error(phase, timeout) from exc
                raise
            slept = True

    async def _read_until(
        self,
        ready: Callable[[], bool],
        remaining: float | None,
        deadline: float | None,
        phase: str,
        timeout: float | None,
    ) -> None:
        """Be the reader until ``ready()`` holds, then let the next sleeper read."""
        state = self._state
        try:
            while True:
                if remaining is not None and remaining <= 0:
                    raise self._timeout_error(phase, timeout)
                try:
                    await self._receive(remaining)
                except ReadTimeout as exc:
                    raise self._timeout_error(phase, timeout) from exc
                with self._lock:
                    if ready():
                        return
                if deadline is not None:
                    remaining = deadline - time.monotonic()
        finally:
            with self._lock:
                state.reading = False
                state.pass_reading()

    async def _receive(self, timeout: float | None) -> None:
        """Read once, hand what arrived to the streams, send h2's answers (acknowledgements,
        PING replies, refused pushes)."""
        state = self._state
        try:
            data = await self._stream.read(READ_SIZE, timeout)
        except ReadTimeout:
            raise
        except TransportError as exc:
            with self._lock:
                state.fail(type(exc), str(exc))
        else:
            with self._lock:
                state.receive_data(data)
            if state.failure is None:
                await self._flush(timeout)
                return
        await self._lost()

    async def _lost(self) -> None:
        """The connection is lost (EOF, read error, protocol error): send h2's last words
        (the GOAWAY after a protocol error) unless someone is writing, and close it."""
        with self._lock:
            data = b"" if self._state.writing else self._state.h2.data_to_send()
        if data:
            # Best effort, and briefly: the connection is gone either way.
            with contextlib.suppress(TransportError), AsyncShieldCancellation():
                await self._stream.write(data, GOODBYE_TIMEOUT)
        await self.aclose()

    def _timeout_error(self, phase: str, timeout: float | None) -> Exception:
        origin = self._origin
        if phase == _READ:
            return ReadTimeout(
                f"Timed out after {timeout} s reading the response from {origin} (read "
                "timeout). If the server is slow, raise the limit with Timeout(read=...)."
            )
        if phase == _WRITE:
            return WriteTimeout(
                f"Timed out after {timeout} s sending the request to {origin} (write timeout): "
                "the server does not open its HTTP/2 flow control window to take more of the "
                "body. If it is slow, raise the limit with Timeout(write=...)."
            )
        return PoolTimeout(
            f"Timed out after {timeout} s waiting for a free stream on the HTTP/2 connection "
            f"to {origin} (pool timeout; the server allows {self._state.max_streams} at once). "
            "Close responses you are done with, or raise Timeout(pool=...)."
        )

    # Closing -------------------------------------------------------------------------------

    async def _close_stream(self, stream: HTTP2Stream, timeout: float | None) -> None:
        """The request is over: reset the stream unless it ended, free its slot."""
        state = self._state
        with self._lock:
            state.close_stream(stream)
            idle = state.active == 0
            if idle and self._keepalive_expiry is not None:
                self._expire_at = self._clock() + self._keepalive_expiry
            close = idle and not state.is_open()
        if close:
            # Lost, or drained after GOAWAY: nothing more can go over it.
            await self.aclose()
        else:
            await self._flush(timeout)

    async def aclose(self) -> None:
        """Close the connection (idempotent); requests still in flight fail with ``ReadError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._state.close()
        # Shielded: when a cancelled request closes its connection, the close must finish.
        with AsyncShieldCancellation():
            await self._stream.aclose()

    # State, for the pool -------------------------------------------------------------------

    def is_available(self) -> bool:
        """True when it can take one more request now: a free stream slot, no GOAWAY, not
        lost or closed, and not idle past its keep-alive expiry."""
        if not self._state.has_free_slot():
            return False
        expire_at = self._expire_at
        return expire_at is None or self._clock() <= expire_at

    def has_expired(self, now: float) -> bool:
        """True when it has been without requests for longer than ``keepalive_expiry``."""
        expire_at = self._expire_at
        return expire_at is not None and now > expire_at

    def is_idle(self) -> bool:
        """True when no request is using it (and it is still open)."""
        return self._state.connection_state is HTTP2ConnectionState.IDLE

    def is_closed(self) -> bool:
        """True once it is lost or closed: it takes no request and should be dropped."""
        return self._state.failure is not None

    def is_readable(self) -> bool:
        """True when the server has sent something or closed the socket. For an idle HTTP/2
        connection that may be a PING or a SETTINGS frame as well as GOAWAY or EOF; the next
        request reads it either way (and raises ``ConnectionNotAvailable`` if it was the end)."""
        return bool(self._stream.get_extra_info("is_readable"))

    @property
    def max_concurrent_streams(self) -> int:
        """How many requests it can carry at once: the server's ``MAX_CONCURRENT_STREAMS``
        (1 until the server's SETTINGS arrive)."""
        return self._state.max_streams

    @property
    def active_streams(self) -> int:
        """Stream slots in use (by requests being sent or whose responses are open)."""
        return self._state.active

    @property
    def state(self) -> HTTP2ConnectionState:
        return self._state.connection_state

    @property
    def request_count(self) -> int:
        """How many requests this connection has started."""
        return self._state.request_count

    def __repr__(self) -> str:
        state = self._state
        return (
            f"<{type(self).__name__} [{self._origin!r}, {state.connection_state.name}, "
            f"Request Count: {state.request_count}, Streams: {state.active}/{state.max_streams}]>"
        )


class AsyncHTTP2ResponseStream(AsyncByteStream):
    """A response body, read from its HTTP/2 stream as it is iterated.

    Reading it to the end, or closing it, frees the stream's slot; closing it early resets the
    stream (the connection stays usable for the others).
    """

    __slots__ = (
        "_closed",
        "_connection",
        "_read_timeout",
        "_request",
        "_stream",
        "_write_timeout",
    )

    def __init__(
        self,
        connection: AsyncHTTP2Connection,
        stream: HTTP2Stream,
        request: Request,
        read_timeout: float | None,
        write_timeout: float | None,
    ) -> None:
        self._connection = connection
        self._stream = stream
        self._request = request
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            raise StreamClosed()
        connection = self._connection
        stream = self._stream
        read_timeout = self._read_timeout
        write_timeout = self._write_timeout
        try:
            while True:
                chunk = await connection._receive_chunk(stream, read_timeout, write_timeout)
                if chunk is None:
                    break
                yield chunk
        except BaseException:
            # Includes GeneratorExit, when the reader stops early: the stream is reset.
            with AsyncShieldCancellation():
                await self.aclose()
            raise
        await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._connection._close_stream(self._stream, self._write_timeout)


class AsyncTracedHTTP2ResponseStream(AsyncHTTP2ResponseStream):
    """``AsyncHTTP2ResponseStream`` reporting ``http2.receive_response_body`` and
    ``http2.response_closed`` to the ``trace`` extension and the DEBUG log."""

    __slots__ = ()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        request = self._request
        kwargs = {"request": request, "stream_id": self._stream.stream_id}
        async with Trace("receive_response_body", logger, request, kwargs):
            async for chunk in super().__aiter__():
                yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            kwargs = {"stream_id": self._stream.stream_id}
            async with Trace("response_closed", logger, self._request, kwargs):
                await super().aclose()
