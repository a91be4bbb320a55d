"""The HTTP/2 driver over heron's real backends (asyncio, anyio on trio, blocking sockets),
against an h2 server in a thread on a Unix socket in the test's temporary directory."""

from __future__ import annotations

import pathlib
import socket
import threading
from collections.abc import Iterator

import anyio
import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

import heron
from heron._async.http2 import AsyncHTTP2Connection
from heron._backends.anyio import AnyIOBackend
from heron._backends.asyncio import AsyncioBackend
from heron._backends.base import AsyncNetworkBackend
from heron._backends.sync import SyncBackend
from heron._sync.http2 import HTTP2Connection
from tests.h2_helpers import TaskGroup

ORIGIN = "http://localhost:80"
URL = "http://localhost/"


class ThreadedH2Server:
    """Echoes each request's body (or its path) once the request has ended; never answers a
    request to ``/hold``."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = str(path)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.resets: list[int] = []
        self._sock: socket.socket | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self._sock = sock
            config = h2.config.H2Configuration(client_side=False, header_encoding=None)
            conn = h2.connection.H2Connection(config=config)
            codes = h2.settings.SettingCodes
            conn.local_settings = h2.settings.Settings(
                client=False, initial_values={codes.MAX_CONCURRENT_STREAMS: 100}
            )
            conn.initiate_connection()
            bodies: dict[int, bytearray] = {}
            paths: dict[int, bytes] = {}
            sock.sendall(conn.data_to_send())
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        bodies[event.stream_id] = bytearray()
                        paths[event.stream_id] = dict(event.headers)[b":path"]
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] += event.data
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamReset):
                        self.resets.append(event.stream_id)
                    elif (
                        isinstance(event, h2.events.StreamEnded)
                        and paths[event.stream_id] != b"/hold"
                    ):
                        body = bytes(bodies[event.stream_id]) or paths[event.stream_id]
                        self._answer(conn, event.stream_id, body)
                sock.sendall(conn.data_to_send())
            sock.close()

    @staticmethod
    def _answer(conn: h2.connection.H2Connection, stream_id: int, body: bytes) -> None:
        conn.send_headers(stream_id, [(b":status", b"200")])
        conn.send_data(stream_id, body, end_stream=True)

    def close(self) -> None:
        self.listener.close()
        if self._sock is not None:
            self._sock.close()


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[ThreadedH2Server]:
    server = ThreadedH2Server(tmp_path / "h2.sock")
    yield server
    server.close()


def async_backend(anyio_backend: str) -> AsyncNetworkBackend:
    return AsyncioBackend() if anyio_backend == "asyncio" else AnyIOBackend()


@pytest.mark.anyio
async def test_concurrent_requests_over_a_real_async_stream(
    server: ThreadedH2Server, anyio_backend: str
) -> None:
    stream = await async_backend(anyio_backend).connect_unix_socket(server.path)
    connection = AsyncHTTP2Connection(stream, ORIGIN)
    results: dict[int, bytes] = {}

    async def one(index: int) -> None:
        content = f"body {index}".encode() * (index * 500) if index % 2 else None
        response = await connection.handle_async_request(
            heron.Request("POST" if content else "GET", f"{URL}{index}", content=content)
        )
        results[index] = await response.aread()
        assert results[index] == (content or f"/{index}".encode())

    async with anyio.create_task_group() as group:
        for index in range(40):
            group.start_soon(one, index)
    assert len(results) == 40
    assert connection.active_streams == 0
    await connection.aclose()


@pytest.mark.anyio
async def test_cancelling_a_request_over_a_real_async_stream(
    server: ThreadedH2Server, anyio_backend: str
) -> None:
    stream = await async_backend(anyio_backend).connect_unix_socket(server.path)
    connection = AsyncHTTP2Connection(stream, ORIGIN)
    response = await connection.handle_async_request(heron.Request("GET", URL))
    assert await response.aread() == b"/"
    with anyio.move_on_after(0.05) as scope:
        await connection.handle_async_request(heron.Request("GET", URL + "hold"))
    assert scope.cancelled_caught
    assert connection.active_streams == 0
    response = await connection.handle_async_request(heron.Request("GET", URL + "after"))
    assert await response.aread() == b"/after"
    assert server.resets == [3]
    await connection.aclose()


def test_threads_over_a_real_blocking_stream(server: ThreadedH2Server) -> None:
    stream = SyncBackend().connect_unix_socket(server.path)
    connection = HTTP2Connection(stream, ORIGIN)
    results: list[bytes] = []

    def worker(index: int) -> None:
        for number in range(10):
            content = f"{index}/{number}".encode() * 100
            response = connection.handle_request(heron.Request("POST", URL, content=content))
            assert response.read() == content
            results.append(content)

    with TaskGroup() as group:
        for index in range(8):
            group.start_soon(worker, index)
    assert len(results) == 80
    assert connection.active_streams == 0
    connection.close()
