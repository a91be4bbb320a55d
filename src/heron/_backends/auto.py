"""The backends the transports use by default: picked per call on async, blocking sockets on sync.

``AsyncAutoBackend`` asks sniffio which library is running each time it opens a connection and
delegates to the native ``AsyncioBackend`` on asyncio (the fast path) or ``AnyIOBackend``
anywhere else (trio), creating each at most once. ``AutoBackend`` is the name that code
generated from ``_async/`` uses for the sync backend.
"""

from __future__ import annotations

from collections.abc import Iterable

import sniffio

from .base import AsyncNetworkBackend, AsyncNetworkStream, SocketOption
from .sync import AutoBackend

__all__ = ["AsyncAutoBackend", "AutoBackend"]


class AsyncAutoBackend(AsyncNetworkBackend):
    """Delegates to the backend for the async library running the current task."""

    def __init__(self) -> None:
        self._backends: dict[str, AsyncNetworkBackend] = {}

    def _backend(self) -> AsyncNetworkBackend:
        library = sniffio.current_async_library()
        backend = self._backends.get(library)
        if backend is None:
            # Imported here so that asyncio programs never import anyio's stream machinery,
            # and trio programs never the asyncio protocol classes.
            if library == "asyncio":
                from .asyncio import AsyncioBackend

                backend = AsyncioBackend()
            else:
                from .anyio import AnyIOBackend

                backend = AnyIOBackend()
            self._backends[library] = backend
        return backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        return await self._backend().connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        return await self._backend().connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._backend().sleep(seconds)
