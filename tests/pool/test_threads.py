"""One sync pool shared by many threads (sync only: threads are how sync code is concurrent)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import heron
from heron._sync import pool as pool_module
from heron._synchronization import Event
from tests.backends.conftest import LoopbackServer, http_responder


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set when a request starts waiting in the pool for a connection."""
    flag = threading.Event()

    class SignallingEvent(Event):
        def wait(self, timeout: float | None = None) -> None:
            flag.set()
            super().wait(timeout)

    monkeypatch.setattr(pool_module, "Event", SignallingEvent)
    return flag


def test_sixteen_threads_share_one_client() -> None:
    with LoopbackServer(http_responder(b"shared")) as server:
        transport = heron.HTTPTransport(limits=heron.Limits(max_connections=4))
        url = f"http://127.0.0.1:{server.port}/"
        with heron.Client(transport=transport) as client:

            def work(_: int) -> list[str]:
                return [client.get(url).text for _ in range(25)]

            with ThreadPoolExecutor(max_workers=16) as executor:
                results = list(executor.map(work, range(16)))
            assert results == [["shared"] * 25] * 16
            pool = transport._pool
            assert "Requests: 0 active, 0 queued" in repr(pool)
            assert all(connection.is_idle() for connection in pool.connections)
            assert len(pool.connections) <= 4
    assert server.max_active <= 4


def test_threads_waiting_for_a_connection_get_it_or_time_out(queued: threading.Event) -> None:
    with LoopbackServer(http_responder(b"x")) as server:
        transport = heron.HTTPTransport(limits=heron.Limits(max_connections=1))
        url = f"http://127.0.0.1:{server.port}/"
        with heron.Client(transport=transport) as client:
            held = client.send(client.build_request("GET", url), stream=True)
            outcomes: list[str] = []

            def wait_for_connection() -> None:
                outcomes.append(client.get(url, timeout=heron.Timeout(10.0)).text)

            thread = threading.Thread(target=wait_for_connection)
            thread.start()
            assert queued.wait(5)
            with pytest.raises(heron.PoolTimeout):
                client.get(url, timeout=heron.Timeout(5.0, pool=0.01))
            held.read()  # hands the connection to the waiting thread
            thread.join(10)
            assert outcomes == ["x"]
            assert "Requests: 0 active, 0 queued" in repr(transport._pool)
    assert server.connections == 1


def test_closing_the_pool_wakes_waiting_threads(queued: threading.Event) -> None:
    with LoopbackServer(http_responder(b"x")) as server:
        transport = heron.HTTPTransport(limits=heron.Limits(max_connections=1))
        url = f"http://127.0.0.1:{server.port}/"
        client = heron.Client(transport=transport)
        held = client.send(client.build_request("GET", url), stream=True)
        errors: list[BaseException] = []

        def wait_for_connection() -> None:
            try:
                transport.handle_request(heron.Request("GET", url))
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=wait_for_connection)
        thread.start()
        assert queued.wait(5)
        transport.close()
        thread.join(10)
        assert len(errors) == 1
        assert "connection pool has been closed" in str(errors[0])
        held.close()
