"""Real HTTP/2 servers on 127.0.0.1 for the HTTP/2 integration tests.

- ``HypercornServer``: hypercorn serving ``App`` in a background thread with its own event
  loop, over TLS (trustme certificates; ALPN ``h2`` and ``http/1.1``, or ``http/1.1`` only) or
  over plain TCP, where it speaks HTTP/2 with prior knowledge (h2c) as well as HTTP/1.1.
- ``h2_server``: a handler for ``tests.backends.conftest.LoopbackServer`` that speaks h2c with
  the h2 library, one thread per connection, and lets a test script the answers: the faults
  (GOAWAY with requests in flight, a reset stream, a dropped connection, a 1-byte window)
  that a well-behaved server does not produce on request.

Servers signal through events, never sleeps; every wait is bounded, so a broken client fails
a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hyperframe.frame import GoAwayFrame

from tests.backends.conftest import HOST, Certificates, Handler, LoopbackServer
from tests.integration.conftest import (
    WAIT,
    Receive,
    Scope,
    Send,
    pattern,
    read_body,
    respond,
    send_chunk,
    start,
)

__all__ = [
    "BLOCK",
    "GATHER_WAIT",
    "WAIT",
    "App",
    "FaultConnection",
    "HypercornServer",
    "client_context",
    "expected_digest",
    "h2_server",
]

#: 1 MiB of the test pattern: a whole number of its 256-byte cycles, so blocks sent one after
#: the other continue the pattern.
BLOCK = pattern(1 << 20)

#: How long ``/gather`` holds a body back, at most (less than the clients' read timeout).
GATHER_WAIT = 5.0


@functools.cache
def expected_digest(size: int) -> str:
    """The SHA-256 of ``pattern(size)``, computed block by block."""
    digest = hashlib.sha256()
    blocks, rest = divmod(size, len(BLOCK))
    for _ in range(blocks):
        digest.update(BLOCK)
    digest.update(BLOCK[:rest])
    return digest.hexdigest()


def client_context(certs: Certificates) -> ssl.SSLContext:
    """A client context trusting the test CA (heron sets its ALPN protocols on it)."""
    context = ssl.create_default_context()
    certs.ca.configure_trust(context)
    return context


# The ASGI app -------------------------------------------------------------------------------


class App:
    """The ASGI app hypercorn serves; the first path segment picks the route.

    ``/text``; ``/bytes/N`` (N bytes of the pattern, streamed by the MiB, with
    Content-Length); ``/upload`` (reads a streamed body, answers its length and SHA-256 as
    JSON); ``/gather/KEY/N`` (sends the head at once, and the body once N requests to
    ``/gather/KEY`` have arrived, or after ``GATHER_WAIT`` seconds: ``gathered`` or
    ``timed out``). Every response carries ``x-http-version``, the version the server spoke.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._gathered: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        route, *arguments = scope["path"].strip("/").split("/")
        headers = [(b"x-http-version", scope["http_version"].encode())]
        if route == "upload":
            await self._upload(receive, send, headers)
            return
        await read_body(receive)
        if route == "text":
            await respond(send, 200, headers, b"Hello, world!")
        elif route == "bytes":
            await self._bytes(int(arguments[0]), send, headers)
        elif route == "gather":
            await self._gather(arguments[0], int(arguments[1]), send, headers)
        else:
            await respond(send, 404, headers, b"no such route")

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _bytes(size: int, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        await start(send, 200, [*headers, (b"content-length", str(size).encode())])
        blocks, rest = divmod(size, len(BLOCK))
        for _ in range(blocks):
            await send_chunk(send, BLOCK)
        await send_chunk(send, BLOCK[:rest], more=False)

    @staticmethod
    async def _upload(receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        digest = hashlib.sha256()
        length = 0
        while True:
            message = await receive()
            data = message.get("body", b"")
            digest.update(data)
            length += len(data)
            if not message.get("more_body", False):
                break
        answer = {"length": length, "sha256": digest.hexdigest()}
        await respond(send, 200, headers, json.dumps(answer))

    async def _gather(
        self, key: str, count: int, send: Send, headers: list[tuple[bytes, bytes]]
    ) -> None:
        await start(send, 200, headers)
        arrived = self._counts[key] = self._counts.get(key, 0) + 1
        gathered = self._gathered.setdefault(key, asyncio.Event())
        if arrived >= count:
            gathered.set()
        try:
            await asyncio.wait_for(gathered.wait(), GATHER_WAIT)
        except TimeoutError:
            await send_chunk(send, b"timed out", more=False)
        else:
            await send_chunk(send, b"gathered", more=False)


# hypercorn in a thread ----------------------------------------------------------------------


class HypercornServer:
    """hypercorn serving ``app`` on 127.0.0.1 (a free port) in a thread; a context manager.

    With ``certs`` it serves TLS with ``certs.server``, offering ``alpn``; without, plain TCP
    (HTTP/1.1, and HTTP/2 with prior knowledge). ``max_streams`` is its
    ``SETTINGS_MAX_CONCURRENT_STREAMS``. ``url`` is ``https://127.0.0.1:PORT`` (or http).
    """

    def __init__(
        self,
        app: App,
        certs: Certificates | None = None,
        *,
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
        max_streams: int = 100,
    ) -> None:
        self.app = app
        self.certs = certs
        config = self.config = Config()
        config.alpn_protocols = list(alpn)
        config.h2_max_concurrent_streams = max_streams
        config.graceful_timeout = 1.0
        config.keep_alive_timeout = 60.0
        config.errorlog = None
        self.port = 0
        self.error: BaseException | None = None
        self._directory: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hypercorn", daemon=True)

    @property
    def url(self) -> str:
        scheme = "http" if self.certs is None else "https"
        return f"{scheme}://{HOST}:{self.port}"

    def __enter__(self) -> HypercornServer:
        # The socket listens before hypercorn starts: clients may connect at once.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        # (hypercorn owns the descriptor from here on, and closes it.)
        self.config.bind = [f"fd://{listener.detach()}"]
        if self.certs is not None:
            directory = self._directory = tempfile.mkdtemp(prefix="heron-h2-")
            certfile = os.path.join(directory, "cert.pem")
            keyfile = os.path.join(directory, "key.pem")
            self.certs.server.cert_chain_pems[0].write_to_path(certfile)
            self.certs.server.private_key_pem.write_to_path(keyfile)
            self.config.certfile = certfile
            self.config.keyfile = keyfile
        self._thread.start()
        if not self._started.wait(WAIT):  # pragma: no cover - only if hypercorn hangs
            raise RuntimeError("hypercorn did not start")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # pragma: no cover - reported by __exit__
            self.error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        self._started.set()
        await serve(self.app, self.config, shutdown_trigger=stop.wait, mode="asgi")  # type: ignore[arg-type]

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        assert not self._thread.is_alive(), "hypercorn did not shut down"
        if self.error is not None:  # pragma: no cover - only if hypercorn failed
            raise self.error


@pytest.fixture(scope="session")
def certs() -> Certificates:
    return Certificates()


@pytest.fixture(scope="module")
def tls_server(certs: Certificates) -> Iterator[HypercornServer]:
    """HTTP/2 (or HTTP/1.1, as the client's ALPN chooses) over TLS."""
    with HypercornServer(App(), certs) as server:
        yield server


@pytest.fixture(scope="module")
def h2c_server() -> Iterator[HypercornServer]:
    """Plain TCP: HTTP/2 with prior knowledge."""
    with HypercornServer(App()) as server:
        yield server


@pytest.fixture(scope="module")
def http11_server(certs: Certificates) -> Iterator[HypercornServer]:
    """TLS offering only HTTP/1.1."""
    with HypercornServer(App(), certs, alpn=("http/1.1",)) as server:
        yield server


@pytest.fixture(scope="module")
def one_stream_server(certs: Certificates) -> Iterator[HypercornServer]:
    """HTTP/2 over TLS, one stream at a time per connection."""
    with HypercornServer(App(), certs, max_streams=1) as server:
        yield server


# Scripted HTTP/2 servers, with h2 ------------------------------------------------------------


class FaultConnection:
    """One connection of an ``h2_server``: h2's server side over a blocking socket.

    ``index`` counts the server's connections from 0; ``ended`` lists the stream ids whose
    request has arrived whole, in order; ``bodies`` holds their bodies.
    """

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock = sock
        self.index = index
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.ended: list[int] = []
        self.bodies: dict[int, bytearray] = {}
        self.closed = False

    def respond(self, stream_id: int, body: bytes = b"ok", end: bool = True) -> None:
        """Send a ``200`` head, then ``body`` (small: it must fit the client's window)."""
        self.h2.send_headers(stream_id, [(b":status", b"200")], end_stream=end and not body)
        if body:
            self.h2.send_data(stream_id, body, end_stream=end)
        self.flush()

    def send_data(self, stream_id: int, body: bytes, end: bool = True) -> None:
        self.h2.send_data(stream_id, body, end_stream=end)
        self.flush()

    def reset(self, stream_id: int, code: int) -> None:
        self.h2.reset_stream(stream_id, code)
        self.flush()

    def goaway(self, last_stream_id: int) -> None:
        """GOAWAY (NO_ERROR) naming ``last_stream_id`` as the last stream processed; written
        by hand, so that h2 still lets us answer the streams up to it."""
        frame = GoAwayFrame(0)
        frame.last_stream_id = last_stream_id
        self.flush()
        self.sock.sendall(frame.serialize())

    def finish(self) -> None:
        """Close our side (the client reads what was sent, then EOF); read until it closes."""
        self.sock.shutdown(socket.SHUT_WR)

    def drop(self, reset: bool) -> None:
        """Close the connection at once: with a TCP RST (``reset``), or a FIN."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        else:
            self.sock.shutdown(socket.SHUT_RDWR)
        self.closed = True

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)


#: What an ``h2_server`` does with each request that has arrived whole.
Responder = Callable[[FaultConnection, int], None]


def echo_responder(connection: FaultConnection, stream_id: int) -> None:
    """Answer with the request body, or ``ok`` when it had none."""
    connection.respond(stream_id, bytes(connection.bodies[stream_id]) or b"ok")


def h2_server(
    respond: Responder = echo_responder, settings: dict[Any, int] | None = None
) -> Handler:
    """A ``LoopbackServer`` handler speaking HTTP/2 with prior knowledge: ``respond`` is called
    for each request once it has arrived whole; request bodies are acknowledged as they come,
    so the client's window refills. ``settings`` are the server's SETTINGS."""
    lock = threading.Lock()
    indexes = iter(range(1 << 30))

    def handler(server: LoopbackServer, sock: socket.socket) -> None:
        with lock:
            index = next(indexes)
        connection = FaultConnection(sock, index)
        if settings:
            connection.h2.local_settings = h2.settings.Settings(
                client=False, initial_values=settings
            )
        connection.h2.initiate_connection()
        connection.flush()
        while not connection.closed:
            data = sock.recv(65536)
            if not data:
                break
            try:
                events = connection.h2.receive_data(data)
            except h2.exceptions.ProtocolError:  # pragma: no cover - a client bug
                connection.flush()
                break
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    assert event.stream_id is not None
                    connection.bodies[event.stream_id] = bytearray()
                elif isinstance(event, h2.events.DataReceived):
                    assert event.stream_id is not None
                    assert event.data is not None
                    connection.bodies[event.stream_id] += event.data
                    connection.h2.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded):
                    assert event.stream_id is not None
                    connection.ended.append(event.stream_id)
                    respond(connection, event.stream_id)
                if connection.closed:
                    break
            if not connection.closed:
                connection.flush()
        server.client_closed.set()

    return handler
