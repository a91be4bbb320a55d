"""What differs by flavour, against uvicorn: the backend each event loop gets, and one sync
``Client`` shared by many threads."""

from __future__ import annotations

import collections
import threading

import pytest

import heron
from heron._backends.anyio import AnyIOStream
from heron._backends.asyncio import AsyncioStream
from heron._backends.sync import SyncStream
from tests.integration.conftest import TaskGroup, UvicornServer, pattern

BACKEND_STREAMS = {"asyncio": AsyncioStream, "trio": AnyIOStream}


@pytest.mark.anyio
async def test_each_event_loop_gets_its_native_backend(
    uvicorn_server: UvicornServer, anyio_backend: str
) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{uvicorn_server.url}/text")
    assert type(response.extensions["network_stream"]) is BACKEND_STREAMS[anyio_backend]


def test_sync_client_uses_blocking_sockets(uvicorn_server: UvicornServer) -> None:
    with heron.Client() as client:
        response = client.get(f"{uvicorn_server.url}/text")
    assert type(response.extensions["network_stream"]) is SyncStream


def test_sixteen_threads_share_one_client_and_its_connections(
    uvicorn_server: UvicornServer,
) -> None:
    ports: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    limits = heron.Limits(max_connections=4)
    with heron.Client(limits=limits, timeout=heron.Timeout(10.0)) as client:

        def fetch(index: int) -> None:
            response = client.get(f"{uvicorn_server.url}/bytes/{index}")
            assert response.content == pattern(index)
            with lock:
                ports[response.headers["x-client-port"]] += 1

        with TaskGroup(threads=16) as group:
            for index in range(160):
                group.start_soon(fetch, index)
    assert sum(ports.values()) == 160
    assert len(ports) <= 4  # at most max_connections, reused by every thread
