"""The blocking-socket backend used by the sync client, and the error messages all backends share.

``SyncStream`` is a socket, or an ``ssl.SSLSocket`` after ``start_tls``; TLS inside TLS (an
https:// site through an https:// proxy) is ``TLSInTLSStream``, an ``ssl.SSLObject`` over the
outer stream. Every backend translates ``OSError``, ``ssl.SSLError`` and timeouts into heron's
exceptions with the message builders below (``connect_error``, ``tls_error``, ``read_timeout``,
...), so that sync, asyncio and trio users read the same words for the same failure.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from .base import NetworkBackend, NetworkStream, SocketOption

__all__ = [
    "AutoBackend",
    "SyncBackend",
    "SyncStream",
    "TLSInTLSStream",
    "apply_socket_options",
    "connect_error",
    "connect_timeout",
    "format_address",
    "is_fd_readable",
    "read_error",
    "read_timeout",
    "require_server_hostname",
    "socket_option_error",
    "tls_error",
    "tls_timeout",
    "write_error",
    "write_timeout",
]

_T = TypeVar("_T")
_CHUNK = 64 * 1024

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code) grouped by what the
# user should do about them.
_UNTRUSTED = {
    2,  # unable to get issuer certificate
    18,  # self-signed certificate
    19,  # self-signed certificate in certificate chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
}
_EXPIRED = 10
_NOT_YET_VALID = 9
_REVOKED = 23
_NAME_MISMATCH = {62, 64}  # hostname mismatch, IP address mismatch


# Error messages: one builder per failure, used by every backend.


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _unwrap(exc: BaseException) -> BaseException:
    """anyio reports "All connection attempts failed" and chains the real error(s)."""
    cause = exc.__cause__
    if isinstance(exc, OSError) and exc.errno is None and isinstance(cause, OSError):
        return _unwrap(cause)
    return exc


def _reason(exc: BaseException) -> str:
    """The operating system's words for ``exc``, e.g. "Connection refused"."""
    exc = _unwrap(exc)
    cause = exc.__cause__
    if isinstance(exc, ssl.SSLError):
        return str(exc)  # its errno is an OpenSSL code, not an OS one
    if isinstance(exc, OSError) and exc.errno is None and isinstance(cause, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(_reason(inner) for inner in cause.exceptions))
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.errno:
        # asyncio words it "Connect call failed (...)", trio "Error connecting to ...": the
        # errno says the same thing in the same words on every backend.
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _limit(timeout: float | None, name: str) -> str:
    if timeout is None:
        return f"the operating system's own limit (no {name} timeout was set)"
    return f"{float(timeout)} s"


def connect_timeout(address: str, timeout: float | None) -> ConnectTimeout:
    return ConnectTimeout(
        f"Timed out after {_limit(timeout, 'connect')} connecting to {address} "
        "(connect timeout). Check that the host is reachable, or raise the limit with "
        "Timeout(connect=...)."
    )


def connect_error(
    address: str, exc: OSError, timeout: float | None
) -> ConnectError | ConnectTimeout:
    """``ConnectTimeout`` for a timeout, else ``ConnectError``, naming the address and reason."""
    if isinstance(exc, TimeoutError):
        return connect_timeout(address, timeout)
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"Could not resolve the host name of {address}: {_reason(exc)}. "
            "Check the spelling of the host and your DNS settings."
        )
    message = f"Could not connect to {address}: {_reason(exc)}."
    if getattr(_unwrap(exc), "errno", None) == errno.ECONNREFUSED:
        message += " Is the server running and listening on that port?"
    return ConnectError(message)


def socket_option_error(address: str, exc: OSError) -> ConnectError:
    return ConnectError(
        f"Could not apply socket_options to the connection to {address}: {_reason(exc)}. "
        "Check the (level, option, value) tuples passed as socket_options."
    )


def tls_error(who: str, exc: BaseException | None) -> ConnectError:
    """A ``ConnectError`` saying in plain words why the TLS handshake with ``who`` failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, detail = exc.verify_code, exc.verify_message
        if code in _UNTRUSTED:
            reason = (
                "the server's certificate is not trusted: it is self-signed or issued by a "
                "certificate authority that is not in the trusted set"
            )
            hint = (
                "If the server uses a private CA, trust it with "
                "verify=ssl.create_default_context(cafile=...)."
            )
        elif code == _EXPIRED:
            reason, hint = "the server's certificate has expired", "The server must renew it."
        elif code == _NOT_YET_VALID:
            reason = "the server's certificate is not valid yet"
            hint = "Check the clocks of this machine and the server."
        elif code in _NAME_MISMATCH:
            reason = "the server's certificate does not match the host name"
            hint = "Connect using a name the certificate lists, or set the sni_hostname extension."
        elif code == _REVOKED:
            reason, hint = "the server's certificate has been revoked", ""
        else:
            reason, hint = "the server's certificate could not be verified", ""
        message = f"TLS handshake with {who} failed: {reason} ({detail}). {hint}"
        return ConnectError(message.rstrip())
    if exc is None or isinstance(exc, ssl.SSLEOFError):
        return ConnectError(
            f"TLS handshake with {who} failed: the server closed the connection during the "
            "handshake. Does it speak TLS on this port, and accept this TLS version and SNI "
            "name?"
        )
    if getattr(exc, "reason", None) == "WRONG_VERSION_NUMBER":
        return ConnectError(
            f"TLS handshake with {who} failed: the server did not answer in TLS ({exc}). "
            "Does it speak plain http:// on this port?"
        )
    return ConnectError(f"TLS handshake with {who} failed: {_reason(exc)}.")


def require_server_hostname(ssl_context: ssl.SSLContext, server_hostname: str | None) -> None:
    """Refuse a handshake that would skip the host name check the context asks for.

    (``wrap_socket`` refuses one, but ``wrap_bio`` -- under asyncio, anyio and TLS inside TLS --
    silently accepts a certificate for any host then.)
    """
    if server_hostname is None and ssl_context.check_hostname:
        raise ValueError(
            "start_tls() needs server_hostname when the SSL context checks host names "
            "(check_hostname=True): pass the host name the server's certificate must match."
        )


def tls_timeout(who: str, timeout: float | None) -> ConnectTimeout:
    return ConnectTimeout(
        f"Timed out after {_limit(timeout, 'connect')} during the TLS handshake with {who} "
        "(connect timeout). Raise the limit with Timeout(connect=...) if the server is slow."
    )


def read_timeout(origin: str, timeout: float | None) -> ReadTimeout:
    return ReadTimeout(
        f"Timed out after {_limit(timeout, 'read')} reading the response from {origin} "
        "(read timeout). If the server is slow, raise the limit with Timeout(read=...)."
    )


def read_error(origin: str, exc: BaseException | None) -> ReadError:
    if exc is None:
        return ReadError(f"Cannot read from {origin}: the connection is already closed.")
    return ReadError(f"Could not read the response from {origin}: {_reason(exc)}.")


def write_timeout(origin: str, timeout: float | None) -> WriteTimeout:
    return WriteTimeout(
        f"Timed out after {_limit(timeout, 'write')} sending the request to {origin} "
        "(write timeout): the server is not reading it. If it is slow, raise the limit with "
        "Timeout(write=...)."
    )


def write_error(origin: str, exc: BaseException | None) -> WriteError:
    if exc is None:
        return WriteError(f"Cannot send to {origin}: the connection is already closed.")
    return WriteError(f"Could not send the request to {origin}: {_reason(exc)}.")


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
    """A blocking socket (plain or ``ssl.SSLSocket``) with per-operation timeouts."""

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self._sock = sock
        self._timeout = timeout  # the socket's current timeout: settimeout() costs a syscall

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._sock
        try:
            if timeout != self._timeout:
                sock.settimeout(timeout)
                self._timeout = timeout
            return sock.recv(max_bytes)
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
        # No TLS close_notify: HTTP messages delimit themselves, and waiting for the peer's
        # reply could block. socket.close() does not raise for a connected socket.
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        who = self.origin
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket):
            # TLS inside TLS (an https:// site through an https:// proxy). wrap_socket() would
            # detach the outer layer and send the inner handshake in the clear.
            return TLSInTLSStream.start(self, ssl_context, server_hostname, timeout)
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
        stream = SyncStream(tls_sock, timeout)
        stream.origin = who
        return stream

    def get_extra_info(self, info: str) -> Any:
        sock = self._sock
        if info == "is_readable":
            if isinstance(sock, ssl.SSLSocket) and sock.fileno() >= 0 and sock.pending():
                return True
            return is_fd_readable(sock.fileno())
        if info == "ssl_object":
            # The SSLSocket offers the ssl.SSLObject API (selected_alpn_protocol, getpeercert).
            return sock if isinstance(sock, ssl.SSLSocket) else None
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

    def __repr__(self) -> str:
        kind = "TLS" if isinstance(self._sock, ssl.SSLSocket) else "plain"
        return f"<SyncStream {self.origin} {kind}>"


class TLSInTLSStream(NetworkStream):
    """TLS over a stream that is already TLS, through an ``ssl.SSLObject`` and memory BIOs."""

    __slots__ = ("_incoming", "_outgoing", "_ssl_object", "_stream")

    def __init__(
        self, stream: NetworkStream, ssl_context: ssl.SSLContext, server_hostname: str | None
    ) -> None:
        self._stream = stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl_object = ssl_context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )

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
        while True:
            try:
                result = method()
            except ssl.SSLWantReadError:
                self._flush(timeout)
                data = self._stream.read(_CHUNK, timeout)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
            else:
                self._flush(timeout)
                return result

    def _flush(self, timeout: float | None) -> None:
        if self._outgoing.pending:
            self._stream.write(self._outgoing.read(), timeout)

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
        if info == "is_readable" and (self._ssl_object.pending() or self._incoming.pending):
            return True
        return self._stream.get_extra_info(info)

    def __repr__(self) -> str:
        return f"<TLSInTLSStream {self.origin} over {self._stream!r}>"


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
        stream = SyncStream(sock, timeout)
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
        stream = SyncStream(sock, timeout)
        stream.origin = address
        return stream

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


#: The sync twin of ``AsyncAutoBackend``: code generated from ``_async/`` refers to it.
AutoBackend = SyncBackend
