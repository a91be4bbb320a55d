"""AsyncAutoBackend picks the backend for the running library, once per library."""

from __future__ import annotations

from pathlib import Path

import pytest

from heron._backends.anyio import AnyIOBackend, AnyIOStream
from heron._backends.asyncio import AsyncioBackend, AsyncioStream
from heron._backends.auto import AsyncAutoBackend, AutoBackend
from heron._backends.sync import SyncBackend

from .conftest import HOST, LoopbackServer, echo

pytestmark = pytest.mark.anyio


async def test_native_streams_on_asyncio_and_anyio_streams_elsewhere(anyio_backend: str) -> None:
    backend = AsyncAutoBackend()
    expected = AsyncioStream if anyio_backend == "asyncio" else AnyIOStream
    with LoopbackServer(echo) as server:
        first = await backend.connect_tcp(HOST, server.port, timeout=5)
        second = await backend.connect_tcp(HOST, server.port, timeout=5)
        assert isinstance(first, expected)
        assert isinstance(second, expected)
        await first.aclose()
        await second.aclose()
    chosen = backend._backends[anyio_backend]
    assert list(backend._backends) == [anyio_backend]
    assert isinstance(chosen, AsyncioBackend if anyio_backend == "asyncio" else AnyIOBackend)


async def test_unix_sockets_and_sleep_are_delegated(anyio_backend: str, tmp_path: Path) -> None:
    backend = AsyncAutoBackend()
    path = str(tmp_path / "server.sock")
    with LoopbackServer(echo, unix_path=path):
        stream = await backend.connect_unix_socket(path, timeout=5)
        await stream.write(b"ping")
        assert await stream.read(10, timeout=5) == b"ping"
        await stream.aclose()
    await backend.sleep(0)


def test_the_sync_twin_is_the_blocking_socket_backend() -> None:
    assert AutoBackend is SyncBackend
