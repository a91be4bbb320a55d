"""Loopback servers and TLS certificates for network tests.

Everything listens on 127.0.0.1 only. The classes and helpers are importable by other test
packages (``from tests.backends.conftest import LoopbackServer, http_responder``); the fixtures
at the bottom are thin wrappers around them.

``LoopbackServer(handler)`` accepts connections in a thread and runs ``handler(server, conn)``
for each one in its own thread (after a server-side TLS handshake when given an
``ssl_context``). Handlers below cover the usual cases: echoing, answering HTTP/1.1 requests,
stalling without reading, closing or resetting. Tests synchronise with the server through its
``threading.Event``s, never by sleeping.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import selectors
import socket
import ssl
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import pytest
import trustme

HOST = "127.0.0.1"

Handler = Callable[["LoopbackServer", socket.socket], None]


class LoopbackServer:
    """A threaded TCP (or TLS) server on 127.0.0.1; use it as a context manager.

    With ``unix_path`` it listens on that Unix socket instead of TCP.

    Attributes for tests: ``port``; the events ``accepted`` (set at each accept), ``sent`` (set
    by handlers once they have sent their data), ``client_closed`` (set when a handler sees the
    client close), ``connection_closed`` (set when the server has closed a connection) and
    ``stopping`` (set when the server shuts down); ``connections`` (total accepted),
    ``max_active`` (most connections open at once), ``received`` (bytes read by
    ``read_until_eof``) and ``tls_errors`` (server-side handshake failures).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        unix_path: str | None = None,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.backlog = backlog
        self.unix_path = unix_path
        self.port = 0
        self.accepted = threading.Event()
        self.sent = threading.Event()
        self.client_closed = threading.Event()
        self.connection_closed = threading.Event()
        self.stopping = threading.Event()
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.tls_errors: list[BaseException] = []
        self.received = bytearray()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._wakeup_r, self._wakeup_w = socket.socketpair()

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)

    def __enter__(self) -> LoopbackServer:
        if self.unix_path is not None:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.unix_path)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, 0))
            self.port = listener.getsockname()[1]
        listener.listen(self.backlog)
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.stopping.set()
        self._wakeup_w.send(b"x")
        with self._lock:
            for conn in self._open:
                # Wakes handlers blocked in recv() or send(): they see EOF or an error.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=10)
        assert self._listener is not None
        self._listener.close()
        self._wakeup_r.close()
        self._wakeup_w.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wakeup_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wakeup_r:
                        return
                    conn, _ = self._listener.accept()
                    with self._lock:
                        self.connections += 1
                        self.active += 1
                        self.max_active = max(self.max_active, self.active)
                        self._open.add(conn)
                        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                        self._threads.append(thread)
                    thread.start()
                    self.accepted.set()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.ssl_context is not None:
                try:
                    tls_conn = self.ssl_context.wrap_socket(conn, server_side=True)
                except (OSError, ValueError) as exc:
                    self.tls_errors.append(exc)
                    return
                with self._lock:
                    self._open.discard(conn)
                    self._open.add(tls_conn)
                conn = tls_conn
            with contextlib.suppress(OSError):
                self.handler(self, conn)
        finally:
            with self._lock:
                self._open.discard(conn)
                self.active -= 1
            conn.close()
            self.connection_closed.set()


# Handlers: each is called as handler(server, conn) in the connection's own thread.


def read_until_eof(server: LoopbackServer, conn: socket.socket) -> None:
    """Read (and keep in ``server.received``) until the client closes; never answer."""
    while data := conn.recv(65536):
        with server._lock:
            server.received += data
    server.client_closed.set()


def echo(server: LoopbackServer, conn: socket.socket) -> None:
    """Send back whatever arrives, until the client closes."""
    while data := conn.recv(65536):
        conn.sendall(data)
    server.client_closed.set()


def stall(server: LoopbackServer, conn: socket.socket) -> None:
    """Neither read nor write until the server stops: reads and large writes time out."""
    server.stopping.wait()


def send_and_close(data: bytes) -> Handler:
    """Send ``data`` at once, then close the connection."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        conn.sendall(data)
        server.sent.set()

    return handler


def send_and_hold(data: bytes) -> Handler:
    """Send ``data`` at once, then read until the client closes (the connection stays up)."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        conn.sendall(data)
        server.sent.set()
        read_until_eof(server, conn)

    return handler


def reset(server: LoopbackServer, conn: socket.socket) -> None:
    """Abort the connection with a TCP RST once the client has sent something.

    (Resetting at once would race with the client's connect() seeing the connection up.)
    """
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class InnerTLS:
    """The server side of TLS inside a TLS connection, as a site behind an https:// proxy
    runs it: an ``ssl.SSLObject`` whose records travel over ``conn``."""

    def __init__(self, conn: socket.socket, context: ssl.SSLContext) -> None:
        self.conn = conn
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.ssl_object = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def _call(self, method: Callable[[], bytes | None]) -> bytes | None:
        """Run ``method``, feeding it from ``conn``; None when the client closed first."""
        while True:
            try:
                result = method()
            except ssl.SSLWantReadError:
                self.conn.sendall(self.outgoing.read())
                data = self.conn.recv(65536)
                if not data:
                    return None
                self.incoming.write(data)
            else:
                self.conn.sendall(self.outgoing.read())
                return result

    def handshake(self) -> None:
        self._call(self.ssl_object.do_handshake)

    def recv(self) -> bytes | None:
        return self._call(lambda: self.ssl_object.read(65536))

    def send(self, data: bytes) -> None:
        self.ssl_object.write(data)
        self.conn.sendall(self.outgoing.read())

    def close_notify(self) -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            self.ssl_object.unwrap()
        self.conn.sendall(self.outgoing.read())


def tls_in_tls_echo(inner_context: ssl.SSLContext) -> Handler:
    """Run a second TLS handshake inside the connection, then echo what arrives. Serve it with
    an outer ``ssl_context``."""

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        inner = InnerTLS(conn, inner_context)
        inner.handshake()
        while data := inner.recv():
            inner.send(data)
        server.client_closed.set()

    return handler


def http_responder(
    body: bytes = b"Hello, world!", headers: Sequence[tuple[bytes, bytes]] = ()
) -> Handler:
    """Answer HTTP/1.1 requests with ``200 OK`` and ``body``, keeping the connection alive.

    Request bodies are read by Content-Length (chunked request bodies are not supported).
    """
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    response = head + b"\r\n" + body

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                data = conn.recv(65536)
                if not data:
                    server.client_closed.set()
                    return
                buffer += data
                continue
            length = 0
            for line in buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            needed = end + 4 + length
            while len(buffer) < needed:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            buffer = buffer[needed:]
            conn.sendall(response)

    return handler


# Connect timeouts without leaving loopback: a listener whose accept queue is full drops new
# SYNs (Linux), so a connect() waits until it times out.


@contextlib.contextmanager
def full_backlog_listener() -> Iterator[tuple[str, int]]:
    """Yield the address of a listener that never accepts and whose backlog is full."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - other kernels refuse instead
        pytest.skip("a full accept queue drops SYNs only on Linux")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())  # fills the queue of length 1
    try:
        yield listener.getsockname()
    finally:
        filler.close()
        listener.close()


def open_fd_count() -> int:
    """How many file descriptors this process has open (Linux only)."""
    if not os.path.isdir("/proc/self/fd"):  # pragma: no cover - Linux only
        pytest.skip("counting open files needs /proc")
    return len(os.listdir("/proc/self/fd"))


# TLS: a private CA and certificates from trustme.


class Certificates:
    """A test CA and server certificates issued by it (and by a CA nobody trusts)."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("localhost", HOST)
        self.expired = self.ca.issue_cert(
            "localhost",
            HOST,
            not_before=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
            not_after=datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC),
        )
        self.wrong_host = self.ca.issue_cert("other.example")
        self.untrusted = trustme.CA().issue_cert("localhost", HOST)

    def server_context(
        self, cert: trustme.LeafCert | None = None, alpn: Sequence[str] = ("http/1.1",)
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (cert or self.server).configure_cert(context)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context

    def client_context(self, alpn: Sequence[str] = ("http/1.1",)) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context


@pytest.fixture(scope="session")
def certs() -> Certificates:
    return Certificates()


@pytest.fixture
def echo_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(echo) as server:
        yield server


@pytest.fixture
def tls_echo_server(certs: Certificates) -> Iterator[LoopbackServer]:
    with LoopbackServer(echo, ssl_context=certs.server_context()) as server:
        yield server


@pytest.fixture
def stalling_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(stall) as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(http_responder()) as server:
        yield server
