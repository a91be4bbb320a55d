"""The anyio backend: heron's network streams on trio (and on any other library anyio runs on).

Timeouts are cancel scopes with a deadline, entered only when a limit is set (trio's own on
trio: anyio's ``fail_after`` wraps one in two context managers, which cost a fifth of a small
request on trio when every read and write had one); TLS is anyio's
``TLSStream`` over a memory BIO, without the closing handshake (HTTP messages delimit
themselves, and many servers never send close_notify). Cancelled connects and handshakes close
their socket before the cancellation propagates.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import anyio.abc
import sniffio
from anyio.streams.tls import TLSAttribute, TLSStream

from .base import AsyncNetworkBackend, AsyncNetworkStream, SocketOption
from .errors import (
    connect_error,
    format_address,
    read_error,
    read_timeout,
    require_server_hostname,
    tls_error,
    tls_timeout,
    write_error,
    write_timeout,
)
from .sync import (
    apply_socket_options,
    is_fd_readable,
)

__all__ = ["AnyIOBackend", "AnyIOStream"]

_SocketAttribute = anyio.abc.SocketAttribute

#: A cancel scope whose deadline is ``timeout`` seconds away; ``cancelled_caught`` says if it
#: was reached.
_DeadlineScope = Callable[[float], Any]


def _anyio_deadline(timeout: float) -> anyio.CancelScope:
    return anyio.CancelScope(deadline=anyio.current_time() + timeout)


def _deadline_scope() -> _DeadlineScope:
    """The cheapest deadline scope for the running library."""
    if sniffio.current_async_library() == "trio":
        import trio

        def trio_deadline(timeout: float) -> trio.CancelScope:
            return trio.CancelScope(deadline=trio.current_time() + timeout)

        return trio_deadline
    return _anyio_deadline


class AnyIOStream(AsyncNetworkStream):
    """An anyio byte stream (TCP, Unix or TLS) with per-operation timeouts."""

    __slots__ = ("_deadline", "_socket", "_ssl_object", "_stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._deadline = _deadline_scope()
        # Looked up once: anyio builds a dict of every attribute for each `extra()` call, and
        # the pool asks `is_readable` before every reuse.
        self._socket: socket.socket | None = stream.extra(_SocketAttribute.raw_socket, None)
        self._ssl_object: ssl.SSLObject | None = stream.extra(TLSAttribute.ssl_object, None)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if timeout is None:
                return await self._stream.receive(max_bytes)
            with self._deadline(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except anyio.ClosedResourceError as exc:
            raise read_error(self.origin, None) from exc
        except anyio.BrokenResourceError as exc:
            raise read_error(self.origin, exc.__cause__ or exc) from exc
        except OSError as exc:  # ssl.SSLError included
            raise read_error(self.origin, exc) from exc
        # Only reached when the deadline cancelled the read.
        raise read_timeout(self.origin, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            if timeout is None:
                await self._stream.send(buffer)
                return
            with self._deadline(timeout):
                await self._stream.send(buffer)
                return
        except anyio.ClosedResourceError as exc:
            raise write_error(self.origin, None) from exc
        except anyio.BrokenResourceError as exc:
            raise write_error(self.origin, exc.__cause__ or exc) from exc
        except OSError as exc:
            raise write_error(self.origin, exc) from exc
        # Only reached when the deadline cancelled the write.
        raise write_timeout(self.origin, timeout)

    async def aclose(self) -> None:
        # A broken connection is gone either way, which is what closing asked for.
        with contextlib.suppress(anyio.BrokenResourceError, OSError):
            await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AnyIOStream:
        who = self.origin
        try:
            require_server_hostname(ssl_context, server_hostname)
            with anyio.fail_after(timeout):
                tls_stream = await TLSStream.wrap(
                    self._stream,
                    server_side=False,
                    hostname=server_hostname,
                    ssl_context=ssl_context,
                    standard_compatible=False,
                )
        except BaseException as exc:
            # Close even while being cancelled; then the original exception goes on.
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self._stream)
            if isinstance(exc, TimeoutError):
                raise tls_timeout(who, timeout) from exc
            if isinstance(exc, anyio.EndOfStream):
                raise tls_error(who, None) from exc
            if isinstance(exc, anyio.BrokenResourceError):
                raise tls_error(who, exc.__cause__ or ConnectionError("it broke")) from exc
            if isinstance(exc, anyio.ClosedResourceError):
                raise tls_error(who, ConnectionError("the connection is already closed")) from exc
            if isinstance(exc, OSError):  # ssl.SSLError included
                raise tls_error(who, exc) from exc
            raise
        stream = AnyIOStream(tls_stream)
        stream.origin = who
        return stream

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            ssl_object = self._ssl_object
            if ssl_object is not None and ssl_object.pending():
                return True
            sock = self._socket
            return sock is None or is_fd_readable(sock.fileno())
        if info == "ssl_object":
            return self._ssl_object
        if info == "socket":
            return self._socket
        extra = self._stream.extra
        try:
            if info == "client_addr":
                return extra(_SocketAttribute.local_address, None)
            if info == "server_addr":
                return extra(_SocketAttribute.remote_address, None)
        except OSError:  # asked of a closed socket
            return None
        return None

    def __repr__(self) -> str:
        kind = "TLS" if isinstance(self._stream, TLSStream) else "plain"
        return f"<AnyIOStream {self.origin} {kind}>"


async def _configure(
    stream: anyio.abc.SocketStream | anyio.abc.UNIXSocketStream,
    address: str,
    socket_options: Iterable[SocketOption] | None,
    tcp: bool,
) -> AnyIOStream:
    """Give a new connection its origin and socket options, or close it."""
    sock = stream.extra(_SocketAttribute.raw_socket)
    try:
        if tcp:
            # Requests are written in one or two sends; Nagle would hold the second back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        apply_socket_options(sock, address, socket_options)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(stream)
        raise
    result = AnyIOStream(stream)
    result.origin = address
    return result


class AnyIOBackend(AsyncNetworkBackend):
    """Opens ``AnyIOStream``s with anyio (happy eyeballs for host names)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AnyIOStream:
        address = format_address(host, port)
        try:
            with anyio.fail_after(timeout):
                stream = await anyio.connect_tcp(host, port, local_host=local_address)
        except OSError as exc:  # TimeoutError included
            raise connect_error(address, exc, timeout) from exc
        return await _configure(stream, address, socket_options, tcp=True)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AnyIOStream:
        address = f"the Unix socket {path}"
        try:
            with anyio.fail_after(timeout):
                stream = await anyio.connect_unix(path)
        except OSError as exc:  # TimeoutError included
            raise connect_error(address, exc, timeout) from exc
        return await _configure(stream, address, socket_options, tcp=False)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
