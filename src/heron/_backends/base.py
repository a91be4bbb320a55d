"""The interfaces every network backend implements, sync and async.

A backend opens byte streams (TCP, Unix sockets) and upgrades them to TLS; a stream reads and
writes bytes with a per-operation timeout. Backends translate every foreign exception
(``OSError``, ``ssl.SSLError``, ``TimeoutError``, anyio's and trio's) into heron's
``ConnectError``/``ConnectTimeout``/``ReadError``/``ReadTimeout``/``WriteError``/
``WriteTimeout`` here, once, with a message naming the phase, the origin and the limit. Code
above this layer never sees a socket exception.

The sync and async interfaces are written by hand (they are what differs); everything above
them is written once, async, and generated.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any, TypeAlias

__all__ = [
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "NetworkBackend",
    "NetworkStream",
    "SocketOption",
]

SocketOption: TypeAlias = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class NetworkStream:
    """A connected byte stream used from sync code."""

    #: Used in error messages: "scheme://host:port" once the connection knows its origin.
    origin: str = "the server"

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return up to ``max_bytes`` bytes; ``b""`` means the peer closed the connection."""
        raise NotImplementedError()

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer``."""
        raise NotImplementedError()

    def close(self) -> None:
        raise NotImplementedError()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run the TLS handshake over this stream and return the encrypted stream."""
        raise NotImplementedError()

    def get_extra_info(self, info: str) -> Any:
        """``"ssl_object"``, ``"client_addr"``, ``"server_addr"``, ``"socket"``, or
        ``"is_readable"`` (True when the peer has sent data or closed: a reused idle
        connection that is readable is dead)."""
        return None


class NetworkBackend:
    """Opens ``NetworkStream``s from sync code."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> NetworkStream:
        raise NotImplementedError()

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> NetworkStream:
        raise NotImplementedError()

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError()


class AsyncNetworkStream:
    """A connected byte stream used from async code (asyncio or trio)."""

    #: Used in error messages: "scheme://host:port" once the connection knows its origin.
    origin: str = "the server"

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return up to ``max_bytes`` bytes; ``b""`` means the peer closed the connection."""
        raise NotImplementedError()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer``."""
        raise NotImplementedError()

    async def aclose(self) -> None:
        raise NotImplementedError()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Run the TLS handshake over this stream and return the encrypted stream."""
        raise NotImplementedError()

    def get_extra_info(self, info: str) -> Any:
        """As ``NetworkStream.get_extra_info``."""
        return None


class AsyncNetworkBackend:
    """Opens ``AsyncNetworkStream``s from async code."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise NotImplementedError()

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise NotImplementedError()

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError()
