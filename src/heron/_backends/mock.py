"""Scripted network backends for tests: streams that replay given bytes and record writes.

``MockStream([b"HTTP/1.1 200 OK\\r\\n", b"Content-Length: 0\\r\\n\\r\\n"])`` returns one item
of its script per ``read()`` and then ``b""`` (the server closed the connection); what the
client writes is kept in ``written``. A script item may also be an exception instance, raised
by that ``read()``, or a callable, called at that point (to cancel a scope, or to raise) before
the read goes on to the next item. ``MockBackend`` hands out such streams from
``connect_tcp``/``connect_unix_socket``, recording each connection attempt, and never sleeps.

Like the other backends the sync and async classes are written by hand, as twins.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import anyio.lowlevel

from .base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    NetworkBackend,
    NetworkStream,
    SocketOption,
)

__all__ = [
    "AsyncMockBackend",
    "AsyncMockStream",
    "MockBackend",
    "MockSSLObject",
    "MockStream",
    "ScriptItem",
]

#: One step of a read script: bytes to return, an exception to raise, or a callable to call.
ScriptItem: TypeAlias = bytes | BaseException | Callable[[], object]


class MockSSLObject:
    """What ``get_extra_info("ssl_object")`` returns after ``start_tls``: enough for ALPN."""

    def __init__(self, alpn_protocol: str | None) -> None:
        self._alpn_protocol = alpn_protocol

    def selected_alpn_protocol(self) -> str | None:
        return self._alpn_protocol


class _Script:
    """The state shared by the sync and async mock streams."""

    #: Used in error messages, as on real streams.
    origin: str = "the server"

    def __init__(
        self,
        chunks: Iterable[ScriptItem] = (),
        *,
        alpn_protocol: str | None = None,
        is_readable: bool = False,
        on_write: Callable[[bytes], object] | None = None,
        extra_info: dict[str, Any] | None = None,
    ) -> None:
        self._chunks = list(chunks)
        self._position = 0
        self._alpn_protocol = alpn_protocol
        self._on_write = on_write
        self._extra_info = dict(extra_info or {})
        #: What ``get_extra_info("is_readable")`` answers; set it to fake a closed idle socket.
        self.is_readable = is_readable
        #: Every buffer written, in order.
        self.written: list[bytes] = []
        #: ``(max_bytes, timeout)`` of every ``read()`` call.
        self.reads: list[tuple[int, float | None]] = []
        #: The ``timeout`` of every ``write()`` call.
        self.write_timeouts: list[float | None] = []
        #: ``(ssl_context, server_hostname, timeout)`` of every ``start_tls()`` call.
        self.tls_calls: list[tuple[ssl.SSLContext, str | None, float | None]] = []
        self.is_closed = False
        self.is_tls = False

    @property
    def written_bytes(self) -> bytes:
        """Everything written, joined."""
        return b"".join(self.written)

    def _next_item(self, max_bytes: int) -> ScriptItem:
        """The next script item; bytes longer than ``max_bytes`` are split across reads."""
        if self._position >= len(self._chunks):
            return b""
        item = self._chunks[self._position]
        if isinstance(item, bytes) and len(item) > max_bytes:
            self._chunks[self._position] = item[max_bytes:]
            return item[:max_bytes]
        self._position += 1
        return item

    def _record_write(self, buffer: bytes, timeout: float | None) -> None:
        self.write_timeouts.append(timeout)
        if self._on_write is not None:
            self._on_write(buffer)
        self.written.append(bytes(buffer))

    def _record_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> None:
        self.tls_calls.append((ssl_context, server_hostname, timeout))
        self.is_tls = True

    def _info(self, info: str) -> Any:
        if info in self._extra_info:
            return self._extra_info[info]
        if info == "is_readable":
            return self.is_readable
        if info == "ssl_object" and self.is_tls:
            return MockSSLObject(self._alpn_protocol)
        return None


class MockStream(_Script, NetworkStream):
    """A ``NetworkStream`` that replays a script of reads and records writes."""

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads.append((max_bytes, timeout))
        while True:
            item = self._next_item(max_bytes)
            if isinstance(item, bytes):
                return item
            if isinstance(item, BaseException):
                raise item
            item()

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._record_write(buffer, timeout)

    def close(self) -> None:
        self.is_closed = True

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        self._record_tls(ssl_context, server_hostname, timeout)
        return self

    def get_extra_info(self, info: str) -> Any:
        return self._info(info)


class AsyncMockStream(_Script, AsyncNetworkStream):
    """An ``AsyncNetworkStream`` that replays a script of reads and records writes.

    After a callable script item (or ``on_write``) runs, the stream passes a checkpoint, so a
    callable that cancels the surrounding scope takes effect right there, as a real
    cancellation would.
    """

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads.append((max_bytes, timeout))
        while True:
            item = self._next_item(max_bytes)
            if isinstance(item, bytes):
                return item
            if isinstance(item, BaseException):
                raise item
            item()
            await anyio.lowlevel.checkpoint()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._record_write(buffer, timeout)
        if self._on_write is not None:
            await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        # A checkpoint first, as a real close has: a close that isn't shielded from a
        # cancellation then never completes, and tests see it.
        await anyio.lowlevel.checkpoint()
        self.is_closed = True

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        self._record_tls(ssl_context, server_hostname, timeout)
        return self

    def get_extra_info(self, info: str) -> Any:
        return self._info(info)


class _Connector:
    """The state shared by the sync and async mock backends."""

    def __init__(self, streams: Iterable[_Script | BaseException]) -> None:
        self._streams = list(streams)
        #: ``(kind, target, timeout)`` of every connection attempt: kind is ``"tcp"`` (target
        #: ``(host, port, local_address, socket_options)``) or ``"unix"`` (target the path).
        self.connects: list[tuple[str, Any, float | None]] = []
        #: The seconds of every ``sleep()`` call (nothing actually sleeps).
        self.sleeps: list[float] = []

    def _next_stream(self) -> Any:
        if not self._streams:
            raise AssertionError(
                "The mock backend has no scripted stream left for this connection attempt: "
                "give it one stream per expected connection."
            )
        stream = self._streams.pop(0)
        if isinstance(stream, BaseException):
            raise stream
        return stream


class MockBackend(_Connector, NetworkBackend):
    """A ``NetworkBackend`` whose connections are the given ``MockStream``s, in order.

    An item that is an exception instance is raised by that connection attempt instead.
    """

    def __init__(self, streams: Iterable[MockStream | BaseException]) -> None:
        super().__init__(streams)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> NetworkStream:
        options = None if socket_options is None else list(socket_options)
        self.connects.append(("tcp", (host, port, local_address, options), timeout))
        stream: MockStream = self._next_stream()
        return stream

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> NetworkStream:
        self.connects.append(("unix", path, timeout))
        stream: MockStream = self._next_stream()
        return stream

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class AsyncMockBackend(_Connector, AsyncNetworkBackend):
    """An ``AsyncNetworkBackend`` whose connections are the given ``AsyncMockStream``s."""

    def __init__(self, streams: Iterable[AsyncMockStream | BaseException]) -> None:
        super().__init__(streams)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        options = None if socket_options is None else list(socket_options)
        self.connects.append(("tcp", (host, port, local_address, options), timeout))
        stream: AsyncMockStream = self._next_stream()
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        self.connects.append(("unix", path, timeout))
        stream: AsyncMockStream = self._next_stream()
        return stream

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.lowlevel.checkpoint()
