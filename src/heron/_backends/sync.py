"""The blocking-socket backend used by the sync client.

``SyncStream`` is a socket; ``start_tls`` turns it into a ``SyncTLSStream`` (a blocking
``ssl.SSLSocket``, for HTTP/1.1) or, when the server chose HTTP/2, a ``SharedTLSStream``, which
one thread may read while another writes, as threads sharing an HTTP/2 connection do. TLS
inside TLS (an https:// site through an https:// proxy) is ``TLSInTLSStream``, an
``ssl.SSLObject`` over the outer stream. Errors are translated with the builders in
``errors.py``, shared by every backend.
"""

from __future__ import annotations

import contextlib
import functools
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .._exceptions import (
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from .base import NetworkBackend, NetworkStream, SocketOption
from .errors import (
    connect_error,
    format_address,
    read_error,
    read_timeout,
    require_server_hostname,
    socket_option_error,
    tls_error,
    tls_timeout,
    write_error,
    write_timeout,
)

__all__ = [
    "AutoBackend",
    "SharedTLSStream",
    "SyncBackend",
    "SyncStream",
    "SyncTLSStream",
    "TLSInTLSStream",
    "apply_socket_options",
    "is_fd_readable",
]

_T = TypeVar("_T")
_CHUNK = 64 * 1024
#: The most a TLS read asks OpenSSL for. A read returns one TLS record, of 16 KiB at most; a
#: larger size only makes CPython allocate (and shrink) a larger buffer each time, and past
#: glibc's 128 KiB mmap threshold that can triple the CPU time of a download.
_TLS_READ_MAX = 64 * 1024
_READABLE = select.POLLIN if hasattr(select, "POLLIN") else 1
_WRITABLE = select.POLLOUT if hasattr(select, "POLLOUT") else 4
#: How long a TLS write that waits for the server's handshake messages (TLS 1.2 renegotiation)
#: polls before it tries again: the reading thread may have taken those messages meanwhile.
_HANDSHAKE_READ_SLICE = 0.05

# Readiness: a reused idle connection that is readable has been closed by the server.

_POLL = getattr(select, "poll", None)


def is_fd_readable(fd: int) -> bool:
    """True when data or EOF is waiting on ``fd`` (or it is closed: ``fd`` is -1)."""
    if fd < 0:
        return True
    if _POLL is not None:
        poller = _POLL()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows has no poll
    return bool(readable)  # pragma: no cover - Windows has no poll


class SyncStream(NetworkStream):
    """A socket read and written with per-operation timeouts; ``start_tls`` returns a
    ``SyncTLSStream``, or a ``SharedTLSStream`` when the server picks HTTP/2.

    One thread may read while another writes (threads share HTTP/2 connections), each within
    its own timeout. So the socket is non-blocking, and a read or write that would block waits
    for it with poll(): ``settimeout()`` would set one timeout for both, and switching between
    no timeout and one makes the socket blocking or not under the other thread's feet.
    """

    __slots__ = ("_expect_wait", "_read_poller", "_sock", "_write_poller")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.setblocking(False)
        # Kept for the usual waits, each used by one thread: the reader's, the writer's.
        self._read_poller = _poller(sock.fileno(), _READABLE)
        self._write_poller = _poller(sock.fileno(), _WRITABLE)
        # True when the next read likely has to wait: a request went out since the last read,
        # or the last read emptied the socket. Such a read polls before it tries, as a failed
        # attempt costs more (its exception) than the poll.
        self._expect_wait = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._sock
        events = _READABLE if self._expect_wait else 0
        deadline = None  # set at the first wait: the clock is read only when one is needed
        try:
            while True:
                if events:
                    if deadline is None and timeout is not None:
                        deadline = time.monotonic() + timeout
                    if not _wait_for(sock, self._read_poller, events, deadline):
                        raise read_timeout(self.origin, timeout)
                try:
                    data = sock.recv(max_bytes)
                except BlockingIOError:
                    events = _READABLE
                    continue
                self._expect_wait = len(data) < max_bytes
                return data
        except OSError as exc:
            raise read_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._expect_wait = True
        sock = self._sock
        data: bytes | memoryview = buffer
        deadline = None
        try:
            while True:
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    sent = 0
                if sent >= len(data):
                    return
                # The socket's buffer is full: wait until it takes more.
                data = memoryview(data)[sent:]
                if deadline is None and timeout is not None:
                    deadline = time.monotonic() + timeout
                if not _wait_for(sock, self._write_poller, _WRITABLE, deadline):
                    raise write_timeout(self.origin, timeout)
        except OSError as exc:
            raise write_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def close(self) -> None:
        # shutdown() first: unlike close(), it wakes a thread blocked reading the socket (the
        # reader of a shared HTTP/2 connection closed by another thread). No TLS close_notify:
        # HTTP messages delimit themselves, and waiting for the peer's reply could block.
        _shut_down(self._sock)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        who = self.origin
        sock = self._sock
        try:
            sock.settimeout(timeout)
            tls_sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise tls_timeout(who, timeout) from exc
        except OSError as exc:
            self.close()
            raise tls_error(who, exc) from exc
        except BaseException:
            self.close()
            raise
        # HTTP/2 reads the connection in one thread while another writes, which a blocking
        # SSLSocket does not allow. HTTP/1.1 never does, and there a blocking SSLSocket is the
        # cheaper: it waits for data inside OpenSSL's C loop.
        if tls_sock.selected_alpn_protocol() == "h2":
            stream: NetworkStream = SharedTLSStream(tls_sock)
        else:
            stream = SyncTLSStream(tls_sock, timeout)
        stream.origin = who
        return stream

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_fd_readable(self._sock.fileno())
        return _socket_info(self._sock, info)

    def __repr__(self) -> str:
        return f"<SyncStream {self.origin} plain>"


class SyncTLSStream(NetworkStream):
    """A blocking ``ssl.SSLSocket`` with per-operation timeouts, used by one thread at a time
    (HTTP/1.1 over TLS)."""

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: ssl.SSLSocket, timeout: float | None) -> None:
        self._sock = sock
        self._timeout = timeout  # the socket's current timeout: settimeout() costs a syscall

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._sock
        try:
            if timeout != self._timeout:
                sock.settimeout(timeout)
                self._timeout = timeout
            return sock.recv(_TLS_READ_MAX if max_bytes > _TLS_READ_MAX else max_bytes)
        except TimeoutError as exc:
            raise read_timeout(self.origin, timeout) from exc
        except OSError as exc:
            raise read_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        sock = self._sock
        try:
            if timeout != self._timeout:
                sock.settimeout(timeout)
                self._timeout = timeout
            # Since Python 3.5 the timeout bounds the whole sendall(), not each send().
            sock.sendall(buffer)
        except TimeoutError as exc:
            raise write_timeout(self.origin, timeout) from exc
        except OSError as exc:
            raise write_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def close(self) -> None:
        _shut_down(self._sock)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        # TLS inside TLS (an https:// site through an https:// proxy): wrap_socket() would
        # detach this layer and send the inner handshake in the clear. The inner connection
        # may carry HTTP/2, whose threads read and write at once: so must this layer then.
        outer = SharedTLSStream(self._sock)
        outer.origin = self.origin
        return TLSInTLSStream.start(outer, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return _tls_info(self._sock, info)

    def __repr__(self) -> str:
        return f"<SyncTLSStream {self.origin}>"


class SharedTLSStream(SyncStream):
    """An ``ssl.SSLSocket`` that one thread may read while another writes (HTTP/2 over TLS).

    OpenSSL forbids using one connection from two threads at once, and ``ssl.SSLSocket`` lets a
    blocking read and a write run in OpenSSL together (it releases the GIL in both): the records
    get corrupted ("bad record MAC"). Threads sharing an HTTP/2 connection do exactly that. So
    here the socket is non-blocking, every OpenSSL call is made under ``_lock`` and returns at
    once, and a call that would block waits for the socket with poll() outside the lock, then is
    made again. That is how OpenSSL's non-blocking I/O works: a write is retried with the same
    bytes (CPython sets ``SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER``), and reads may come in between.

    Either direction may need the other: a read may have to answer a post-handshake message, and
    a write during a TLS 1.2 renegotiation may have to read. Such a write polls in short slices,
    retrying in between, since the reading thread may take the records it waits for and leave
    nothing to wake it. (TLS 1.3 writes never read, and HTTP/2 forbids renegotiation.)

    It costs more than a blocking SSLSocket when reads wait, as each wait goes through Python
    (and a failed SSL_read raises): ``SyncTLSStream`` serves HTTP/1.1, which never reads and
    writes at once. This one serves HTTP/2 (ALPN ``h2``) and the outer layer of TLS inside TLS.
    At most one reader and one writer at a time: the HTTP/2 driver lets one thread read and one
    write.
    """

    __slots__ = ("_lock",)

    _sock: ssl.SSLSocket

    def __init__(self, sock: ssl.SSLSocket) -> None:
        super().__init__(sock)
        self._lock = threading.Lock()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._sock
        lock = self._lock
        poller = self._read_poller
        events = 0
        if self._expect_wait:
            # A request went out, or the last read had to wait. A read returns one record at
            # most, which says nothing of what is left, so look: poll first unless OpenSSL
            # holds decrypted bytes or the socket has some. (OpenSSL reads no further than the
            # record it decrypts. A failed SSL_read and its exception cost about 8 us.)
            with lock:
                pending = sock.pending()
            if not pending and not _ready(poller, sock):
                events = _READABLE
        deadline = None  # set at the first wait: the clock is read only when one is needed
        try:
            while True:
                if events:
                    if deadline is None and timeout is not None:
                        deadline = time.monotonic() + timeout
                    waiter = poller if events == _READABLE else None
                    if not _wait_for(sock, waiter, events, deadline):
                        raise read_timeout(self.origin, timeout)
                lock.acquire()
                try:
                    data = sock.recv(_TLS_READ_MAX if max_bytes > _TLS_READ_MAX else max_bytes)
                    if 0 < len(data) < max_bytes:
                        data = self._read_more(data, max_bytes)
                except ssl.SSLWantReadError:
                    events = _READABLE
                    continue
                except ssl.SSLWantWriteError:
                    events = _WRITABLE  # a post-handshake message to answer
                    continue
                finally:
                    lock.release()
                # Less than asked for: what had arrived is all read.
                self._expect_wait = len(data) < max_bytes
                return data
        except OSError as exc:
            raise read_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def _read_more(self, data: bytes, max_bytes: int) -> bytes:
        """``data`` and the records that follow it, as long as they are already here, up to
        ``max_bytes`` in all (under the lock). A read returns one TLS record, 16 KiB at most:
        handing the driver one record at a time cost a fifth more CPU per GiB downloaded."""
        sock = self._sock
        poller = self._read_poller
        parts = [data]
        size = len(data)
        while size < max_bytes and (sock.pending() or _ready(poller, sock)):
            want = max_bytes - size
            try:
                more = sock.recv(_TLS_READ_MAX if want > _TLS_READ_MAX else want)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break  # a record not complete yet, or a message to answer: the next read
            if not more:
                break  # the end of the connection: the next read returns it
            parts.append(more)
            size += len(more)
        return data if len(parts) == 1 else b"".join(parts)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._expect_wait = True
        sock = self._sock
        lock = self._lock
        data: bytes | memoryview = buffer
        deadline = None
        try:
            while True:
                lock.acquire()
                try:
                    sent = sock.send(data)
                except ssl.SSLWantWriteError:
                    events, poller, slice_ = _WRITABLE, self._write_poller, None
                except ssl.SSLWantReadError:  # a TLS 1.2 renegotiation
                    events, poller, slice_ = _READABLE, None, _HANDSHAKE_READ_SLICE
                else:
                    # All of it, as CPython does not ask OpenSSL for partial writes.
                    if sent >= len(data):
                        return
                    data = memoryview(data)[sent:]
                    continue
                finally:
                    lock.release()
                if deadline is None and timeout is not None:
                    deadline = time.monotonic() + timeout
                if not _wait_for(sock, poller, events, deadline, slice_):
                    raise write_timeout(self.origin, timeout)
        except OSError as exc:
            raise write_error(self.origin, None if sock.fileno() < 0 else exc) from exc

    def close(self) -> None:
        # Under the lock: closing the file descriptor during another thread's OpenSSL call
        # could make that call read or write whatever file next gets the same number.
        with self._lock:
            _shut_down(self._sock)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        # TLS inside TLS (an https:// site through an https:// proxy). wrap_socket() would
        # detach the outer layer and send the inner handshake in the clear.
        return TLSInTLSStream.start(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        with self._lock:  # SSL_pending() is an OpenSSL call too
            return _tls_info(self._sock, info)

    def __repr__(self) -> str:
        return f"<SharedTLSStream {self.origin}>"


def _socket_info(sock: socket.socket, info: str) -> Any:
    """``get_extra_info`` for ``"socket"``, ``"client_addr"`` and ``"server_addr"``."""
    if info == "socket":
        return sock
    try:
        if info == "client_addr":
            return sock.getsockname()
        if info == "server_addr":
            return sock.getpeername()
    except OSError:  # closed
        return None
    return None


def _tls_info(sock: ssl.SSLSocket, info: str) -> Any:
    """``get_extra_info`` for a TLS socket."""
    if info == "is_readable":
        # Decrypted bytes held by OpenSSL don't make the socket readable.
        return bool(sock.pending()) or is_fd_readable(sock.fileno())
    if info == "ssl_object":
        # The SSLSocket offers the ssl.SSLObject API (selected_alpn_protocol, getpeercert).
        return sock
    return _socket_info(sock, info)


def _shut_down(sock: socket.socket) -> None:
    """Shut ``sock`` down, waking any thread that waits on it, and close it."""
    with contextlib.suppress(OSError):  # already closed, or reset by the peer
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()  # does not raise for a connected socket


def _poller(fd: int, events: int) -> Any:
    """A ``select.poll`` object watching ``fd`` for ``events`` (None without poll: Windows)."""
    if _POLL is None:  # pragma: no cover - Windows has no poll
        return None
    poller = _POLL()
    poller.register(fd, events)
    return poller


def _ready(poller: Any, sock: socket.socket) -> bool:
    """True when ``poller`` (watching ``sock``) reports it ready now."""
    if poller is None:  # pragma: no cover - Windows has no poll
        return is_fd_readable(sock.fileno())
    return bool(poller.poll(0))


def _wait_for(
    sock: socket.socket,
    poller: Any,
    events: int,
    deadline: float | None,
    slice_: float | None = None,
) -> bool:
    """Wait until ``sock`` is ready for ``events`` (``poller``, if given, watches for them), or
    for ``slice_`` seconds at most; False once ``deadline`` (of ``time.monotonic()``) passed."""
    fd = sock.fileno()
    if fd < 0:
        return True  # closed: the call made next says so
    if deadline is None:
        wait = slice_
    else:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        if slice_ is not None:
            wait = min(wait, slice_)
    if poller is None:
        poller = _poller(fd, events)
    if poller is not None:
        # Rounded up: a wait rounded down to 0 ms would spin until the deadline.
        if poller.poll(None if wait is None else math.ceil(wait * 1000)):
            return True
    else:  # pragma: no cover - Windows has no poll
        readers = [fd] if events == _READABLE else []
        writers = [] if readers else [fd]
        if any(select.select(readers, writers, [fd], wait)):
            return True
    return deadline is None or time.monotonic() < deadline


class TLSInTLSStream(NetworkStream):
    """TLS over a stream that is already TLS, through an ``ssl.SSLObject`` and memory BIOs.

    Safe for one thread reading while another writes. ``_lock`` guards the SSLObject and its
    BIOs and is never held during I/O; ``_send_lock`` makes taking bytes from the outgoing BIO
    and writing them one step, so records go out in the order they were made; ``_recv_lock``
    does the same for reading into the incoming BIO. ``_received`` counts those reads, so that a
    call waiting to read first retries if another thread read for it meanwhile.
    """

    __slots__ = (
        "_incoming",
        "_lock",
        "_outgoing",
        "_received",
        "_recv_lock",
        "_send_lock",
        "_ssl_object",
        "_stream",
    )

    def __init__(
        self, stream: NetworkStream, ssl_context: ssl.SSLContext, server_hostname: str | None
    ) -> None:
        self._stream = stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl_object = ssl_context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self._received = 0

    @classmethod
    def start(
        cls,
        stream: NetworkStream,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
    ) -> TLSInTLSStream:
        """Run the handshake over ``stream``; close it if the handshake fails."""
        who = stream.origin
        try:
            require_server_hostname(ssl_context, server_hostname)
            tls = cls(stream, ssl_context, server_hostname)
            tls._call(tls._ssl_object.do_handshake, timeout)
        except (ReadTimeout, WriteTimeout) as exc:
            stream.close()
            raise tls_timeout(who, timeout) from exc
        except (ReadError, WriteError) as exc:
            stream.close()
            raise tls_error(who, exc.__cause__) from exc
        except ssl.SSLError as exc:
            stream.close()
            raise tls_error(who, exc) from exc
        except BaseException:
            stream.close()
            raise
        return tls

    # The origin is shared with the stream underneath, whose timeouts and errors surface here.
    @property
    def origin(self) -> str:
        return self._stream.origin

    @origin.setter
    def origin(self, origin: str) -> None:
        self._stream.origin = origin

    def _call(self, method: Callable[[], _T], timeout: float | None) -> _T:
        """Call an SSLObject method, moving bytes through the stream underneath as it asks."""
        lock = self._lock
        while True:
            with lock:
                try:
                    result = method()
                except ssl.SSLWantReadError:
                    received = self._received
                    wants_data = True
                else:
                    wants_data = False
                has_output = self._outgoing.pending
            if has_output:
                self._flush(timeout)
            if not wants_data:
                return result
            self._receive(received, timeout)

    def _flush(self, timeout: float | None) -> None:
        """Send what the SSLObject has written (unless another thread sent it already)."""
        if not self._send_lock.acquire(timeout=_lock_timeout(timeout)):
            raise write_timeout(self.origin, timeout)
        try:
            with self._lock:
                data = self._outgoing.read()
            if data:
                self._stream.write(data, timeout)
        finally:
            self._send_lock.release()

    def _receive(self, received: int, timeout: float | None) -> None:
        """Read from the stream underneath for the SSLObject, unless another thread has done so
        since the call that asked for it (``received`` is what ``_received`` was then)."""
        if not self._recv_lock.acquire(timeout=_lock_timeout(timeout)):
            raise read_timeout(self.origin, timeout)
        try:
            if self._received != received:
                return  # call it again first: what it waits for may have arrived
            data = self._stream.read(_CHUNK, timeout)
            with self._lock:
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                self._received += 1
        finally:
            self._recv_lock.release()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._call(functools.partial(self._ssl_object.read, max_bytes), timeout)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""  # closed, with or without close_notify: HTTP delimits its messages
        except ssl.SSLError as exc:
            raise read_error(self.origin, exc) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        try:
            while view:
                written = self._call(functools.partial(self._ssl_object.write, view), timeout)
                view = view[written:]
        except ssl.SSLError as exc:
            raise write_error(self.origin, exc) from exc

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        return TLSInTLSStream.start(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._ssl_object
        if info == "is_readable":
            with self._lock:
                if self._ssl_object.pending() or self._incoming.pending:
                    return True
        return self._stream.get_extra_info(info)

    def __repr__(self) -> str:
        return f"<TLSInTLSStream {self.origin} over {self._stream!r}>"


def _lock_timeout(timeout: float | None) -> float:
    """``timeout`` as ``Lock.acquire`` takes it."""
    return -1 if timeout is None else max(timeout, 0.0)


def apply_socket_options(
    sock: Any, address: str, socket_options: Iterable[SocketOption] | None
) -> None:
    """``sock.setsockopt(*option)`` for each option; a refused option is a ``ConnectError``."""
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as exc:
        raise socket_option_error(address, exc) from exc


class SyncBackend(NetworkBackend):
    """Opens blocking sockets; TCP connections get ``TCP_NODELAY``."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> SyncStream:
        address = format_address(host, port)
        source = None if local_address is None else (local_address, 0)
        try:
            sock = socket.create_connection((host, port), timeout, source_address=source)
        except OSError as exc:
            raise connect_error(address, exc, timeout) from exc
        try:
            # Requests are written in one or two sends; Nagle would hold the second back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            apply_socket_options(sock, address, socket_options)
        except BaseException:
            sock.close()
            raise
        stream = SyncStream(sock)
        stream.origin = address
        return stream

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> SyncStream:
        address = f"the Unix socket {path}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            apply_socket_options(sock, address, socket_options)
            sock.settimeout(timeout)
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise connect_error(address, exc, timeout) from exc
        except BaseException:
            sock.close()
            raise
        stream = SyncStream(sock)
        stream.origin = address
        return stream

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


#: The sync twin of ``AsyncAutoBackend``: code generated from ``_async/`` refers to it.
AutoBackend = SyncBackend
