"""Real servers on 127.0.0.1 for the integration tests, and the helpers their twins share.

- ``UvicornServer``: uvicorn serving ``App`` (a small ASGI app: text, sized and chunked bodies,
  echo, uploads, redirects, gzip, bare status codes, ``Connection: close``) in a background
  thread. Every response carries ``x-client-port``, the client port the server saw, so tests
  can tell whether a connection was reused.
- Raw socket handlers for ``tests.backends.conftest.LoopbackServer``: canned answers
  (``answer``), a server that closes an idle keep-alive connection, one that drops a request
  on a reused connection, one that sends a short body, one that stalls after the head, one that
  never reads, one that answers an upload before reading it (then drains it or resets), and
  one that counts requests in flight (``InFlightCounter``).
- ``AsyncTaskGroup``/``TaskGroup`` and ``AsyncWaiter``/``Waiter``: the pieces of the tests that
  differ between async and sync, named so that ``scripts/unasync.py`` maps one to the other
  (tests/_async/test_integration.py is the source of tests/_sync/test_integration.py).

Servers signal through ``threading.Event``s and conditions, never through sleeps; every wait
is bounded by ``WAIT`` so that a broken client fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import anyio
import pytest
import uvicorn

from tests.backends.conftest import HOST, Handler, LoopbackServer

__all__ = [
    "GZIP_TEXT",
    "WAIT",
    "App",
    "AsyncTaskGroup",
    "AsyncWaiter",
    "InFlightCounter",
    "TaskGroup",
    "UvicornServer",
    "Waiter",
    "answer",
    "answer_early",
    "close_when_told",
    "drop_second_request",
    "pattern",
    "read_request",
    "respond_forever",
    "short_body",
    "skip_on_asyncio",
    "stall_after_head",
    "stall_without_reading",
]

#: The longest any test waits for an event (a bound on a wait, never a sleep).
WAIT = 10.0

#: The text /gzip serves, compressed.
GZIP_TEXT = "Heron flies over the river. " * 200

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def pattern(size: int) -> bytes:
    """``size`` bytes of a recognisable pattern (so a shifted or truncated body shows)."""
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


# The ASGI app ------------------------------------------------------------------------------


class App:
    """A small ASGI app; the first path segment picks the route, the second is its argument.

    ``/text``; ``/bytes/N`` (N bytes, Content-Length); ``/stream/N?size=S`` (N chunks, chunked
    encoding); ``/gated/KEY`` (sends ``first``, waits until the test sets ``gate(KEY)``, sends
    ``second``); ``/echo`` (the request body back, with ``x-method``); ``/upload/KEY`` (reads a
    streamed body, setting ``first_chunk(KEY)`` when its first bytes arrive; answers its length
    and SHA-256 as JSON); ``/headers`` (the request head as JSON); ``/status/CODE`` (no body);
    ``/redirect/N`` (302 to ``/redirect/N-1``, ``/redirect/0`` is 200); ``/see-other`` (303 to
    ``/echo``); ``/temporary`` (307 to ``/echo``); ``/gzip`` (``GZIP_TEXT`` gzipped, with
    Content-Length); ``/gzip-stream/KEY`` (the same, chunked: the first half, then the rest
    once ``gate(KEY)`` is set); ``/close``
    (answers with ``Connection: close``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}
        self._first_chunks: dict[str, threading.Event] = {}

    def gate(self, key: str) -> threading.Event:
        """The event ``/gated/KEY`` waits for before sending the rest of its body."""
        with self._lock:
            return self._gates.setdefault(key, threading.Event())

    def first_chunk(self, key: str) -> threading.Event:
        """Set when ``/upload/KEY`` has received the first bytes of its body."""
        with self._lock:
            return self._first_chunks.setdefault(key, threading.Event())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        route, _, argument = scope["path"].strip("/").partition("/")
        headers = [(b"x-client-port", str(scope["client"][1]).encode())]
        if route == "upload":
            await self._upload(argument, receive, send, headers)
            return
        # Every other route reads the whole request first, so the connection stays reusable.
        body = await read_body(receive)
        if route == "gated":
            await self._gated(argument, send, headers)
        elif route == "stream":
            query = dict(
                item.split("=") for item in scope["query_string"].decode().split("&") if item
            )
            size = int(query.get("size", "1024"))
            await start(send, 200, headers)
            for _ in range(int(argument)):
                await send_chunk(send, pattern(size))
            await send_chunk(send, b"", more=False)
        elif route == "gzip-stream":
            await self._gzip_stream(argument, send, headers)
        else:
            status, extra, content = self._simple(route, argument, scope, body)
            await respond(send, status, [*headers, *extra], content)

    def _simple(
        self, route: str, argument: str, scope: Scope, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) of the routes that answer in one go."""
        if route == "text":
            return 200, [(b"content-type", b"text/plain; charset=utf-8")], b"Hello, world!"
        if route == "bytes":
            return 200, [], pattern(int(argument))
        if route == "echo":
            content_type = dict(scope["headers"]).get(b"content-type", b"application/octet-stream")
            extra = [(b"content-type", content_type), (b"x-method", scope["method"].encode())]
            return 200, extra, body
        if route == "headers":
            described = {
                "method": scope["method"],
                "http_version": scope["http_version"],
                "headers": [[name.decode(), value.decode()] for name, value in scope["headers"]],
            }
            return 200, [(b"content-type", b"application/json")], json.dumps(described).encode()
        if route == "status":
            code = int(argument)
            return code, [(b"etag", b'"v1"')] if code == 304 else [], b""
        if route == "redirect":
            hops = int(argument)
            if hops == 0:
                return 200, [], b"arrived"
            return 302, [(b"location", f"/redirect/{hops - 1}".encode())], b""
        if route == "see-other":
            return 303, [(b"location", b"/echo")], b""
        if route == "temporary":
            return 307, [(b"location", b"/echo")], b""
        if route == "gzip":
            return 200, [(b"content-encoding", b"gzip")], gzip.compress(GZIP_TEXT.encode())
        if route == "close":
            return 200, [(b"connection", b"close")], b"bye"
        return 404, [], b"no such route"

    async def _gated(self, key: str, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        await start(send, 200, headers)
        await send_chunk(send, b"first")
        # (A thread waits for the test's event: the server's event loop keeps running.)
        released = await asyncio.to_thread(self.gate(key).wait, WAIT)
        await send_chunk(send, b"second" if released else b"never released", more=False)

    async def _gzip_stream(self, key: str, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        compressor = zlib.compressobj(wbits=31)  # 31: the gzip container
        text = GZIP_TEXT.encode()
        half = len(text) // 2
        await start(send, 200, [*headers, (b"content-encoding", b"gzip")])
        # A sync flush makes the first half decodable on its own.
        await send_chunk(
            send, compressor.compress(text[:half]) + compressor.flush(zlib.Z_SYNC_FLUSH)
        )
        released = await asyncio.to_thread(self.gate(key).wait, WAIT)
        rest = text[half:] if released else b"never released"
        await send_chunk(send, compressor.compress(rest) + compressor.flush(), more=False)

    async def _upload(
        self, key: str, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]
    ) -> None:
        digest = hashlib.sha256()
        length = chunks = 0
        while True:
            message = await receive()
            data = message.get("body", b"")
            if data:
                if not length:
                    self.first_chunk(key).set()
                digest.update(data)
                length += len(data)
                chunks += 1
            if not message.get("more_body", False):
                break
        answer = {"length": length, "sha256": digest.hexdigest(), "chunks": chunks}
        await respond(
            send, 200, [*headers, (b"content-type", b"application/json")], json.dumps(answer)
        )


async def read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def start(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def send_chunk(send: Send, data: bytes, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes | str = b""
) -> None:
    content = body.encode() if isinstance(body, str) else body
    if status not in (204, 304):
        headers = [*headers, (b"content-length", str(len(content)).encode())]
    await start(send, status, headers)
    await send_chunk(send, content, more=False)


class UvicornServer(uvicorn.Server):
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread; a context manager.

    ``url`` is ``http://127.0.0.1:PORT``. Entering waits (on an event, bounded) until uvicorn
    is listening; leaving asks it to exit and joins the thread.
    """

    def __init__(self, app: App) -> None:
        config = uvicorn.Config(
            app,
            host=HOST,
            port=0,
            log_level="warning",
            lifespan="off",
            http="h11",
            ws="none",
        )
        super().__init__(config)
        self.app = app
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self._ready.set()

    def __enter__(self) -> UvicornServer:
        self._thread.start()
        if not self._ready.wait(WAIT) or not self.started:
            self.should_exit = True
            self._thread.join(WAIT)
            raise RuntimeError("uvicorn did not start")
        self.port = self.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.should_exit = True
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "uvicorn did not shut down"


@pytest.fixture(scope="module")
def uvicorn_server() -> Iterator[UvicornServer]:
    with UvicornServer(App()) as server:
        yield server


# Raw socket servers: handlers for LoopbackServer ------------------------------------------


def read_request(conn: socket.socket, buffer: bytearray) -> bytes | None:
    """Read one request (head and Content-Length body) from ``conn``; return its head, or
    None when the client closed first. Bytes past the request stay in ``buffer``."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    head = bytes(buffer[:end])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    needed = end + 4 + length
    while len(buffer) < needed:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    del buffer[:needed]
    return head


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def respond_forever(server: LoopbackServer, conn: socket.socket, buffer: bytearray) -> None:
    """Answer ``OK`` to every request until the client closes."""
    while read_request(conn, buffer) is not None:
        conn.sendall(OK)
    server.client_closed.set()


def answer(response: bytes, close: bool = True) -> Handler:
    """Read each request and send ``response``; with ``close``, close after the first."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        buffer = bytearray()
        while read_request(conn, buffer) is not None:
            conn.sendall(response)
            server.sent.set()
            if close:
                return
        server.client_closed.set()

    return handler


def close_when_told(close: threading.Event) -> Handler:
    """Answer one request, then close the (idle, kept-alive) connection once ``close`` is set,
    as a server does when its keep-alive timeout runs out. Later connections are served."""
    first = threading.Event()

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        buffer = bytearray()
        if first.is_set():
            respond_forever(server, conn, buffer)
            return
        first.set()
        if read_request(conn, buffer) is not None:
            conn.sendall(OK)
            close.wait(WAIT)

    return handler


def drop_second_request(requests: list[bytes]) -> Handler:
    """On the first connection, answer one request, then read the next and close without a
    word: the race where a server closes a kept-alive connection just as a request arrives.
    Later connections are served. Every request head read is appended to ``requests``."""
    first = threading.Event()

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        buffer = bytearray()
        answers = 1 if not first.is_set() else None
        first.set()
        while (head := read_request(conn, buffer)) is not None:
            requests.append(head)
            if answers is not None:
                if answers == 0:
                    return  # the request was read; close without answering
                answers -= 1
            conn.sendall(OK)
        server.client_closed.set()

    return handler


def short_body(declared: int, sent: bytes) -> Handler:
    """Answer with ``Content-Length: declared`` but only ``sent``, then close."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        if read_request(conn, bytearray()) is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % declared + sent)
            server.sent.set()

    return handler


def stall_after_head(head: bytes) -> Handler:
    """Read the request, send ``head`` (which may be empty), then neither read nor write until
    the server stops."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        if read_request(conn, bytearray()) is not None:
            conn.sendall(head)
            server.sent.set()
            server.stopping.wait()

    return handler


def answer_early(response: bytes, drained: threading.Event | None) -> Handler:
    """Read only the request head and answer ``response`` at once (a 413, say). Then, given an
    event, half-close, read the whole body (by its Content-Length), set ``drained`` and read
    until the client closes; without one, abort with a TCP RST while the client is sending."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        buffer = bytearray()
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            data = conn.recv(65536)
            if not data:
                return
            buffer += data
        conn.sendall(response)
        if drained is None:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        conn.shutdown(socket.SHUT_WR)
        length = 0
        for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        received = len(buffer) - end - 4
        while received < length and (data := conn.recv(65536)):
            received += len(data)
        drained.set()
        while conn.recv(65536):
            pass
        server.client_closed.set()

    return handler


def stall_without_reading(server: LoopbackServer, conn: socket.socket) -> None:
    """Shrink the receive buffer and never read, so a large upload fills it and stops."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server.accepted.set()
    server.stopping.wait()


class InFlightCounter:
    """A handler that counts the requests the server holds at once (read, not yet answered).

    Each request is held until ``limit`` are in flight (or, at the end, all ``total`` that
    remain), then that batch is answered together. So the server *reaches* ``limit`` requests
    at once if the client allows that many, and would see more than ``limit`` if the client
    opened more connections. A client that leaves the server waiting (fewer connections in use
    than it may open) sets ``stalled``. Counting requests rather than open sockets is exact: a
    connection's request is answered before the client can give the connection back.
    """

    def __init__(self, limit: int, total: int) -> None:
        self.limit = limit
        self.total = total
        self.in_flight = 0
        self.max_in_flight = 0
        self.answered = 0
        self.stalled = False
        self._batch = 0
        self._condition = threading.Condition()

    def __call__(self, server: LoopbackServer, conn: socket.socket) -> None:
        buffer = bytearray()
        condition = self._condition
        while read_request(conn, buffer) is not None:
            with condition:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                if self.in_flight >= min(self.limit, self.total - self.answered):
                    self._batch += 1
                    condition.notify_all()
                else:
                    batch = self._batch
                    if not condition.wait_for(lambda: self._batch != batch, WAIT):  # noqa: B023
                        self.stalled = True
                self.in_flight -= 1
                self.answered += 1
            conn.sendall(OK)


def skip_on_asyncio(request: pytest.FixtureRequest, reason: str) -> None:
    """Skip the running test when it runs on asyncio (a no-op in the sync twin, which has no
    ``anyio_backend`` parameter)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("anyio_backend") == "asyncio":
        pytest.skip(reason)


# What differs between the async tests and their sync twins ---------------------------------


class AsyncTaskGroup:
    """Runs functions concurrently as tasks (an anyio task group). Twin: ``TaskGroup``."""

    def __init__(self) -> None:
        self._group = anyio.create_task_group()

    def start_soon(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        self._group.start_soon(function, *args)

    async def __aenter__(self) -> AsyncTaskGroup:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> bool | None:
        return await self._group.__aexit__(exc_type, exc_value, traceback)


class TaskGroup:
    """Runs functions concurrently in 32 threads; leaving waits for all and re-raises the
    first error. The sync twin of ``AsyncTaskGroup``."""

    def __init__(self, threads: int = 32) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads)
        self._futures: list[Future[Any]] = []

    def start_soon(self, function: Callable[..., Any], *args: Any) -> None:
        self._futures.append(self._executor.submit(function, *args))

    def __enter__(self) -> TaskGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._executor.shutdown(wait=True)
        for future in self._futures:
            future.result()


class AsyncWaiter:
    """Waits for a ``threading.Event`` (set by a server thread) without blocking the event
    loop; fails the test if it is not set within ``WAIT``. Twin: ``Waiter``."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    async def wait(self) -> None:
        assert await anyio.to_thread.run_sync(self._event.wait, WAIT), "the server never signalled"


class Waiter:
    """The sync twin of ``AsyncWaiter``."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wait(self) -> None:
        assert self._event.wait(WAIT), "the server never signalled"
