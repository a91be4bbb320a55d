"""AsyncConnectionPool over scripted bytes: reuse, limits, waiting, retries, releases."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest

import heron
from heron._backends.auto import AsyncAutoBackend
from heron._backends.mock import AsyncMockBackend, AsyncMockStream
from heron._pool_state import ConnectionNotAvailable
from heron._synchronization import AsyncEvent
from tests.pool_helpers import AsyncConnectionPool, AsyncPoolByteStream
from tests.pool_helpers import AsyncPoolModule as pool_module


def ok(body: bytes = b"Hello", headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


def make_pool(streams: list[Any], **kwargs: Any) -> tuple[AsyncConnectionPool, AsyncMockBackend]:
    backend = AsyncMockBackend(streams)
    kwargs.setdefault("max_connections", 10)
    pool = AsyncConnectionPool(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), backend, **kwargs)
    return pool, backend


def request(url: str = "http://example.org/", method: str = "GET", **kwargs: Any) -> heron.Request:
    return heron.Request(method, url, **kwargs)


async def fetch(pool: AsyncConnectionPool, req: heron.Request | None = None) -> bytes:
    response = await pool.handle_async_request(req or request())
    try:
        return await response.aread()
    finally:
        await response.aclose()


# Sending and reusing ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_response_body_streams_and_closing_it_keeps_the_connection_idle() -> None:
    stream = AsyncMockStream([ok()])
    pool, _ = make_pool([stream])
    response = await pool.handle_async_request(request())
    assert response.status_code == 200
    assert isinstance(response.stream, AsyncPoolByteStream)
    assert repr(pool) == (
        "<AsyncConnectionPool [Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
    )
    assert await response.aread() == b"Hello"
    assert repr(pool) == (
        "<AsyncConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
    )
    [connection] = pool.connections
    assert connection.is_idle()
    assert response.extensions["network_stream"] is stream


@pytest.mark.anyio
async def test_keepalive_connection_is_reused() -> None:
    pool, backend = make_pool([AsyncMockStream([ok(b"one"), ok(b"two")])])
    assert await fetch(pool) == b"one"
    assert await fetch(pool) == b"two"
    assert len(backend.connects) == 1


@pytest.mark.anyio
async def test_connections_are_per_origin() -> None:
    pool, backend = make_pool([AsyncMockStream([ok()]), AsyncMockStream([ok()])])
    await fetch(pool, request("http://a.example/"))
    await fetch(pool, request("http://b.example/"))
    assert [target[0] for _, target, _ in backend.connects] == ["a.example", "b.example"]
    assert len(pool.connections) == 2


@pytest.mark.anyio
async def test_connection_close_response_closes_the_connection() -> None:
    stream = AsyncMockStream([ok(headers=b"Connection: close\r\n")])
    pool, _ = make_pool([stream])
    await fetch(pool)
    assert pool.connections == []
    assert stream.is_closed


@pytest.mark.anyio
async def test_closing_a_response_early_closes_its_connection() -> None:
    stream = AsyncMockStream([ok(b"x" * 100)[:-50]])
    pool, _ = make_pool([stream])
    response = await pool.handle_async_request(request())
    await response.aclose()
    await response.aclose()
    assert pool.connections == []
    assert stream.is_closed


@pytest.mark.anyio
async def test_stopping_iteration_early_releases_the_connection() -> None:
    chunks = [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", b"abc", b"def"]
    stream = AsyncMockStream(chunks)
    pool, _ = make_pool([stream])
    response = await pool.handle_async_request(request())
    chunks = response.stream.__aiter__()  # type: ignore[union-attr]
    assert await chunks.__anext__() == b"abc"
    await chunks.aclose()  # what `break` and then garbage collection (or aclosing) do
    assert pool.connections == []
    assert stream.is_closed
    assert "Requests: 0 active" in repr(pool)


@pytest.mark.anyio
async def test_error_while_reading_the_body_closes_the_connection() -> None:
    chunks: list[Any] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc",
        heron.ReadError("reset"),
    ]
    stream = AsyncMockStream(chunks)
    pool, _ = make_pool([stream])
    response = await pool.handle_async_request(request())
    with pytest.raises(heron.ReadError):
        await response.aread()
    assert pool.connections == []
    assert stream.is_closed
    assert "Requests: 0 active" in repr(pool)


@pytest.mark.anyio
async def test_error_before_the_response_closes_the_connection_and_frees_the_slot() -> None:
    failing = AsyncMockStream([heron.ReadError("reset")])
    pool, _ = make_pool([failing, AsyncMockStream([ok()])], max_connections=1)
    with pytest.raises(heron.ReadError):
        await pool.handle_async_request(request())
    assert failing.is_closed
    assert pool.connections == []
    assert await fetch(pool) == b"Hello"


@pytest.mark.anyio
async def test_connect_error_frees_the_slot() -> None:
    pool, _ = make_pool(
        [heron.ConnectError("refused"), AsyncMockStream([ok()])], max_connections=1
    )
    with pytest.raises(heron.ConnectError):
        await pool.handle_async_request(request())
    assert repr(pool) == (
        "<AsyncConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
    )
    assert await fetch(pool) == b"Hello"


class PlainIterator:
    """An iterator that is not a generator: it has no aclose()."""

    def __init__(self) -> None:
        self.items = [b"a", b"b"]

    def __aiter__(self) -> PlainIterator:
        return self

    async def __anext__(self) -> bytes:
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)


class PlainBody(heron.AsyncByteStream):
    def __aiter__(self) -> PlainIterator:  # type: ignore[override]
        return PlainIterator()


@pytest.mark.anyio
async def test_body_whose_iterator_has_no_aclose_still_releases_when_stopped_early() -> None:
    pool, _ = make_pool([AsyncMockStream([ok()])])
    response = await pool.handle_async_request(request())
    held = response.stream
    assert isinstance(held, AsyncPoolByteStream)
    wrapper = AsyncPoolByteStream(PlainBody(), pool, held._ticket, held._connection)
    chunks = wrapper.__aiter__()
    assert await chunks.__anext__() == b"a"
    await chunks.aclose()
    assert "Requests: 0 active" in repr(pool)


# Limits and waiting ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_pool_timeout_when_every_connection_is_busy() -> None:
    pool, _ = make_pool([AsyncMockStream([ok()])], max_connections=1)
    held = await pool.handle_async_request(request())
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    with pytest.raises(heron.PoolTimeout) as info:
        await pool.handle_async_request(request(extensions={"timeout": timeout}))
    assert str(info.value).startswith(
        "Timed out after 0.0 s waiting for a connection to http://example.org:80 from the "
        "pool (pool timeout; max_connections=1)."
    )
    assert "Requests: 1 active, 0 queued" in repr(pool)
    await held.aread()
    assert "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle" in repr(pool)


class HandoffEvent(AsyncEvent):
    """Releases the held response while the request waits: a handoff without a second task."""

    held: heron.Response | None = None
    before_wait: Any = None

    async def wait(self, timeout: float | None = None) -> None:
        if HandoffEvent.before_wait is not None:
            action, HandoffEvent.before_wait = HandoffEvent.before_wait, None
            await action()
        await super().wait(timeout)


@pytest.mark.anyio
async def test_waiting_request_gets_the_released_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "AsyncEvent", HandoffEvent)
    pool, backend = make_pool([AsyncMockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = await pool.handle_async_request(request())
    HandoffEvent.before_wait = held.aread
    timeout = {"connect": None, "read": None, "write": None, "pool": 5.0}
    assert await fetch(pool, request(extensions={"timeout": timeout})) == b"two"
    assert await held.aread() == b"one"
    assert len(backend.connects) == 1


@pytest.mark.anyio
async def test_waiting_request_handed_a_connection_as_time_runs_out_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class LateEvent(AsyncEvent):
        async def wait(self, timeout: float | None = None) -> None:
            await held.aread()
            raise pool_module.WaitTimeout("too late, but assigned")

    monkeypatch.setattr(pool_module, "AsyncEvent", LateEvent)
    pool, _ = make_pool([AsyncMockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = await pool.handle_async_request(request())
    assert await fetch(pool) == b"two"


@pytest.mark.anyio
async def test_waiting_request_fails_when_the_pool_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "AsyncEvent", HandoffEvent)
    stream = AsyncMockStream([ok()])
    pool, _ = make_pool([stream], max_connections=1)
    held = await pool.handle_async_request(request())
    HandoffEvent.before_wait = pool.aclose
    with pytest.raises(RuntimeError, match="connection pool has been closed"):
        await pool.handle_async_request(request())
    assert stream.is_closed
    await held.aclose()
    assert "Requests: 0 active, 0 queued" in repr(pool)


@pytest.mark.anyio
async def test_cancelled_waiter_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingEvent(AsyncEvent):
        async def wait(self, timeout: float | None = None) -> None:
            raise KeyboardInterrupt  # stands in for a cancellation at this await

    monkeypatch.setattr(pool_module, "AsyncEvent", FailingEvent)
    pool, _ = make_pool([AsyncMockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = await pool.handle_async_request(request())
    with pytest.raises(KeyboardInterrupt):
        await pool.handle_async_request(request())
    assert "Requests: 1 active, 0 queued" in repr(pool)
    await held.aread()
    assert await fetch(pool) == b"two"


@pytest.mark.anyio
async def test_full_pool_closes_an_idle_connection_of_another_origin() -> None:
    first = AsyncMockStream([ok()])
    pool, _ = make_pool([first, AsyncMockStream([ok()])], max_connections=1)
    await fetch(pool, request("http://a.example/"))
    await fetch(pool, request("http://b.example/"))
    assert first.is_closed
    assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_max_keepalive_connections_closes_extra_idle_connections() -> None:
    streams = [AsyncMockStream([ok()]), AsyncMockStream([ok()])]
    pool, _ = make_pool(streams, max_keepalive_connections=1)
    one = await pool.handle_async_request(request())
    two = await pool.handle_async_request(request())
    await one.aread()
    await two.aread()
    assert streams[0].is_closed
    assert not streams[1].is_closed
    assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_expired_idle_connection_is_closed_and_replaced() -> None:
    now = [0.0]
    streams = [AsyncMockStream([ok(b"one")]), AsyncMockStream([ok(b"two")])]
    pool, backend = make_pool(streams, keepalive_expiry=5.0, clock=lambda: now[0])
    assert await fetch(pool) == b"one"
    now[0] += 4.0
    assert len(backend.connects) == 1
    now[0] += 1.0
    assert await fetch(pool) == b"two"
    assert streams[0].is_closed
    assert len(backend.connects) == 2


# Dead connections and retries ------------------------------------------------------------


@pytest.mark.anyio
async def test_idle_connection_closed_by_the_server_is_skipped_before_use() -> None:
    dead = AsyncMockStream([ok(b"one")])
    pool, _ = make_pool([dead, AsyncMockStream([ok(b"two")])])
    await fetch(pool)
    dead.is_readable = True  # the server's FIN is waiting on the socket
    assert await fetch(pool) == b"two"
    assert dead.is_closed
    assert dead.written_bytes.count(b"GET") == 1  # nothing was sent on the dead one


@pytest.mark.anyio
async def test_reused_connection_found_dead_is_retried_on_a_new_one() -> None:
    dead = AsyncMockStream([ok(b"one")])  # then EOF: the server closed it
    fresh = AsyncMockStream([ok(b"two")])
    pool, backend = make_pool([dead, fresh])
    await fetch(pool)
    assert await fetch(pool) == b"two"
    assert dead.is_closed
    assert len(backend.connects) == 2


@pytest.mark.anyio
async def test_post_with_bytes_body_is_retried() -> None:
    dead = AsyncMockStream([ok(b"one")])
    fresh = AsyncMockStream([ok(b"two")])
    pool, _ = make_pool([dead, fresh])
    await fetch(pool)
    assert await fetch(pool, request(method="POST", content=b"data")) == b"two"
    assert fresh.written_bytes.endswith(b"\r\n\r\ndata")


@pytest.mark.anyio
async def test_consumed_one_shot_body_is_not_retried() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    dead = AsyncMockStream([ok(b"one")])
    pool, backend = make_pool([dead, AsyncMockStream([ok(b"two")])])
    await fetch(pool)
    with pytest.raises(heron.RemoteProtocolError, match="closed the kept-alive connection"):
        await fetch(pool, request(method="POST", content=body()))
    assert len(backend.connects) == 1
    assert "Requests: 0 active" in repr(pool)


@pytest.mark.anyio
async def test_retry_happens_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unavailable:
        origin = "http://example.org:80"

        async def handle_async_request(self, request: heron.Request) -> heron.Response:
            raise ConnectionNotAvailable("gone")

        def is_available(self) -> bool:
            return False

        def is_idle(self) -> bool:
            return False

        async def aclose(self) -> None:
            pass

    pool, _ = make_pool([])
    monkeypatch.setattr(pool._state, "_factory", lambda origin: Unavailable())
    with pytest.raises(heron.RemoteProtocolError, match="again after the request was retried"):
        await pool.handle_async_request(request())
    assert "Requests: 0 active, 0 queued | Connections: 0 active" in repr(pool)


@pytest.mark.anyio
async def test_pool_closed_under_a_request_gives_a_clear_error() -> None:
    pool, _ = make_pool([])
    stream = AsyncMockStream([ok(b"one"), lambda: pool._state.close()])
    pool._backend = AsyncMockBackend([stream])
    await fetch(pool)
    with pytest.raises(RuntimeError, match="connection pool has been closed"):
        await pool.handle_async_request(request())


# Closing ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_close_closes_every_connection_and_refuses_new_requests() -> None:
    streams = [AsyncMockStream([ok()]), AsyncMockStream([ok()])]
    pool, _ = make_pool(streams)
    await fetch(pool)
    held = await pool.handle_async_request(request())
    async with pool:
        pass
    assert all(stream.is_closed for stream in streams)
    assert pool.connections == []
    with pytest.raises(RuntimeError, match="closed"):
        await pool.handle_async_request(request())
    # The response whose connection was closed under it still gives back its ticket.
    assert "Requests: 1 active" in repr(pool)
    await held.aclose()
    assert repr(pool) == (
        "<AsyncConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
    )
    await pool.aclose()


@pytest.mark.anyio
async def test_default_backend_is_the_auto_backend() -> None:
    pool = AsyncConnectionPool()
    assert isinstance(pool._backend, AsyncAutoBackend)
    await pool.aclose()
