"""A scripted HTTP/2 server for the HTTP/2 driver's tests: h2's own server side, in memory.

``H2Server`` feeds what the client writes to a server-side ``h2.connection.H2Connection`` at
once; a handler reacts to each event (answer, reset, GOAWAY, close...), and what the server
sends is what the client's next read returns. By default it answers every complete request
with ``200`` and ``b"Hello, world!"``, and sends bodies as the client's flow control windows
allow. ``AsyncH2ServerStream``/``H2ServerStream`` are the network streams over it, and
``AsyncTaskGroup``/``TaskGroup`` run functions concurrently (tasks, or threads): hand-written
twins, since each waits in its own way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
import h2.config
import h2.connection
import h2.events
import h2.settings

from heron._backends.base import AsyncNetworkStream, NetworkStream
from heron._exceptions import ReadError, ReadTimeout, WriteError

Handler = Callable[["H2Server", h2.events.Event], object]

HELLO = b"Hello, world!"


class ServerRequest:
    """What the server received on one stream."""

    def __init__(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.body = bytearray()
        self.ended = False
        self.reset_code: int | None = None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class H2Server:
    """An HTTP/2 server run inside the client's writes. See the module docstring."""

    def __init__(
        self,
        settings: dict[int, int] | None = None,
        handler: Handler | None = None,
        *,
        ack_data: bool = True,
        preface: bool = True,
    ) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        initial: dict[Any, int] = dict(settings or {})
        self.conn.local_settings = h2.settings.Settings(client=False, initial_values=initial)
        self.conn.initiate_connection()
        self.outbox = bytearray(self.conn.data_to_send() if preface else b"")
        if not preface:
            self.conn.clear_outbound_data_buffer()
        self.handler = handler
        #: Acknowledge request body data as it arrives (so the client's window refills).
        self.ack_data = ack_data
        self.requests: dict[int, ServerRequest] = {}
        self.events: list[h2.events.Event] = []
        #: Body bytes waiting for the client's flow control window, per stream.
        self.pending: dict[int, list[Any]] = {}
        #: Every chunk of bytes the client wrote.
        self.received = bytearray()
        self.eof = False
        self.read_error: Exception | None = None
        self.write_error: Exception | None = None
        #: Reads with a timeout and nothing to return raise ReadTimeout at once.
        self.stalled = False
        #: The most a read returns.
        self.read_size = 1 << 30
        self.open_streams = 0
        self.max_open_streams = 0
        self._listeners: list[Callable[[], None]] = []
        self.lock = threading.RLock()

    # Client side ---------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        with self.lock:
            if self.write_error is not None:
                raise self.write_error
            if self.eof:
                return  # closed: what the client sends is lost
            self.received += data
            for event in self.conn.receive_data(data):
                self.events.append(event)
                self._record(event)
                if self.handler is not None:
                    self.handler(self, event)
                else:
                    self.default(event)
            self.flush()

    def _record(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None
            assert event.headers is not None
            self.requests[event.stream_id] = ServerRequest(
                event.stream_id, [(bytes(k), bytes(v)) for k, v in event.headers]
            )
            self.open_streams += 1
            self.max_open_streams = max(self.max_open_streams, self.open_streams)
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None
            assert event.data is not None
            self.requests[event.stream_id].body += event.data
            if self.ack_data and event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            assert event.stream_id is not None
            self.requests[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            assert event.stream_id is not None
            request = self.requests.get(event.stream_id)
            if request is not None:
                request.reset_code = int(event.error_code or 0)
            self.pending.pop(event.stream_id, None)
            self.open_streams -= 1
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self.pump()

    def default(self, event: h2.events.Event) -> None:
        """Answer each complete request with 200 and ``HELLO``."""
        if isinstance(event, h2.events.StreamEnded):
            assert event.stream_id is not None
            self.respond(event.stream_id)

    def pop(self, max_bytes: int) -> bytes:
        with self.lock:
            data = bytes(self.outbox[:max_bytes])
            del self.outbox[:max_bytes]
            return data

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # Server actions ------------------------------------------------------------------------

    def respond(
        self,
        stream_id: int,
        status: int = 200,
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = HELLO,
        end: bool = True,
    ) -> None:
        """Send the response head, then queue the body (sent as the windows allow)."""
        with self.lock:
            fields = [(b":status", str(status).encode()), *headers]
            self.conn.send_headers(stream_id, fields, end_stream=end and not body)
            if body or not end:
                self.send_body(stream_id, body, end)
            elif end:
                self._closed(stream_id)
            self.flush()

    def send_body(self, stream_id: int, body: bytes, end: bool = True) -> None:
        with self.lock:
            self.pending.setdefault(stream_id, []).append([memoryview(body), end])
            self.pump()
            self.flush()

    def pump(self) -> None:
        """Send queued body bytes as far as the client's windows allow."""
        with self.lock:
            for stream_id, queue in list(self.pending.items()):
                while queue:
                    item = queue[0]
                    data, end = item
                    window = self.conn.local_flow_control_window(stream_id)
                    if data and window <= 0:
                        break
                    size = min(len(data), window, self.conn.max_outbound_frame_size)
                    last = size == len(data)
                    self.conn.send_data(stream_id, data[:size], end_stream=end and last)
                    item[0] = data[size:]
                    if last:
                        queue.pop(0)
                        if end:
                            self._closed(stream_id)
                if not queue:
                    self.pending.pop(stream_id, None)
            self.flush()

    def _closed(self, stream_id: int) -> None:
        request = self.requests.get(stream_id)
        if request is not None and request.reset_code is None:
            self.open_streams -= 1

    def reset(self, stream_id: int, code: int = 2) -> None:
        with self.lock:
            self.conn.reset_stream(stream_id, code)
            self.pending.pop(stream_id, None)
            self.open_streams -= 1
            self.flush()

    def goaway(self, last_stream_id: int, code: int = 0) -> None:
        """Send GOAWAY without h2 closing the server side (so it can still answer)."""
        with self.lock:
            from hyperframe.frame import GoAwayFrame

            frame = GoAwayFrame(0)
            frame.last_stream_id = last_stream_id
            frame.error_code = code
            self.outbox += frame.serialize()
            self.notify()

    def ping(self, data: bytes = b"12345678") -> None:
        with self.lock:
            self.conn.ping(data)
            self.flush()

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            self.outbox += data
            self.notify()

    def close(self) -> None:
        """The server closes the connection: reads return what is left, then EOF."""
        with self.lock:
            self.eof = True
            self.notify()

    def fail_reads(self, error: Exception) -> None:
        with self.lock:
            self.read_error = error
            self.notify()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.outbox += data
        self.notify()

    def notify(self) -> None:
        for listener in self._listeners:
            listener()

    # Inspection ----------------------------------------------------------------------------

    def resets(self) -> dict[int, int]:
        """Stream id -> error code of every RST_STREAM the client sent."""
        return {
            int(e.stream_id or 0): int(e.error_code or 0)
            for e in self.events
            if isinstance(e, h2.events.StreamReset)
        }


class AsyncH2ServerStream(AsyncNetworkStream):
    """An ``AsyncNetworkStream`` to an ``H2Server``; reads wait until the server sends."""

    def __init__(
        self,
        server: H2Server,
        *,
        on_write: Callable[[bytes], object] | None = None,
        after_write: Callable[[], object] | None = None,
        on_read: Callable[[], object] | None = None,
    ) -> None:
        self.server = server
        self.on_write = on_write
        self.after_write = after_write
        self.on_read = on_read
        self.closed = False
        self.writes = 0
        self.reads = 0
        self.extra: dict[str, Any] = {}
        self._event = anyio.Event()
        server.add_listener(self._wake)

    def _wake(self) -> None:
        self._event.set()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads += 1
        if self.on_read is not None:
            self.on_read()
        # A cancellation point before anything is taken, like a real stream's.
        await anyio.lowlevel.checkpoint()
        server = self.server
        max_bytes = min(max_bytes, server.read_size)
        while True:
            if self.closed:
                raise ReadError("Cannot read: the connection is already closed.")
            if server.outbox:
                return server.pop(max_bytes)
            if server.read_error is not None:
                raise server.read_error
            if server.eof:
                return b""
            if server.stalled and timeout is not None:
                raise ReadTimeout(f"Timed out after {timeout} s reading (test server).")
            self._event = anyio.Event()
            await self._event.wait()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes += 1
        if self.closed:
            raise WriteError("Cannot send: the connection is already closed.")
        if self.on_write is not None:
            self.on_write(buffer)
        self.server.receive(bytes(buffer))
        if self.after_write is not None:
            self.after_write()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self.closed = True
        self._event.set()

    def get_extra_info(self, info: str) -> Any:
        return self.extra.get(info)


class H2ServerStream(NetworkStream):
    """A ``NetworkStream`` to an ``H2Server``; reads block until the server sends."""

    def __init__(
        self,
        server: H2Server,
        *,
        on_write: Callable[[bytes], object] | None = None,
        after_write: Callable[[], object] | None = None,
        on_read: Callable[[], object] | None = None,
    ) -> None:
        self.server = server
        self.on_write = on_write
        self.after_write = after_write
        self.on_read = on_read
        self.closed = False
        self.writes = 0
        self.reads = 0
        self.extra: dict[str, Any] = {}
        self._condition = threading.Condition(server.lock)
        server.add_listener(self._wake)

    def _wake(self) -> None:
        self._condition.notify_all()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads += 1
        if self.on_read is not None:
            self.on_read()
        server = self.server
        max_bytes = min(max_bytes, server.read_size)
        with self._condition:
            while True:
                if self.closed:
                    raise ReadError("Cannot read: the connection is already closed.")
                if server.outbox:
                    return server.pop(max_bytes)
                if server.read_error is not None:
                    raise server.read_error
                if server.eof:
                    return b""
                if server.stalled and timeout is not None:
                    raise ReadTimeout(f"Timed out after {timeout} s reading (test server).")
                self._condition.wait()

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes += 1
        if self.closed:
            raise WriteError("Cannot send: the connection is already closed.")
        if self.on_write is not None:
            self.on_write(buffer)
        self.server.receive(bytes(buffer))
        if self.after_write is not None:
            self.after_write()

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()

    def get_extra_info(self, info: str) -> Any:
        return self.extra.get(info)


class AsyncTaskGroup:
    """Run async functions concurrently: ``async with AsyncTaskGroup() as group:
    group.start_soon(fn, *args)``; all have finished when the block exits."""

    def __init__(self) -> None:
        self._group = anyio.create_task_group()

    async def __aenter__(self) -> AsyncTaskGroup:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._group.__aexit__(exc_type, exc_value, traceback)

    def start_soon(self, function: Callable[..., Any], *args: Any) -> None:
        self._group.start_soon(function, *args)


class TaskGroup:
    """The thread twin of ``AsyncTaskGroup``: each function runs in its own thread; the first
    exception is raised when the block exits."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def __enter__(self) -> TaskGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a thread did not finish within 30 s"
        if self._errors and exc_value is None:
            raise self._errors[0]

    def start_soon(self, function: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                function(*args)
            except BaseException as exc:
                self._errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()
