"""AsyncConnectionPool over scripted bytes: reuse, limits, waiting, retries, releases."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import h2.events
import h2.settings
import pytest

import heron
from heron._backends.auto import AsyncAutoBackend
from heron._backends.mock import AsyncMockBackend, AsyncMockStream
from heron._pool_state import ConnectionNotAvailable
from heron._synchronization import AsyncEvent
from tests.h2_helpers import HELLO, AsyncH2ServerStream, AsyncTaskGroup, H2Server
from tests.pool_helpers import AsyncConnectionPool, AsyncPoolByteStream
from tests.pool_helpers import AsyncPoolModule as pool_module

MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


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
    with pytest.raises(heron.RemoteProtocolError, match="did not process the request") as info:
        await fetch(pool, request(method="POST", content=body()))
    assert "already consumed" in str(info.value)
    assert "kept-alive connection to http://example.org:80 was closed" in str(info.value)
    assert len(backend.connects) == 1
    assert "Requests: 0 active" in repr(pool)


@pytest.mark.anyio
async def test_retry_happens_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unavailable:
        origin = "http://example.org:80"
        multiplexed = False
        max_concurrent_streams = 1

        async def handle_async_request(self, request: heron.Request) -> heron.Response:
            raise ConnectionNotAvailable("gone")

        def is_reusable(self) -> bool:
            return False

        def is_idle(self) -> bool:
            return False

        async def aclose(self) -> None:
            pass

    pool, _ = make_pool([])
    monkeypatch.setattr(pool._state, "_factory", lambda origin: Unavailable())
    with pytest.raises(heron.RemoteProtocolError, match=r"again after it was retried.*: gone"):
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


# HTTP/2 ----------------------------------------------------------------------------------

H2C = "http://example.org/"


def h2c_pool(
    servers: list[H2Server], **kwargs: Any
) -> tuple[AsyncConnectionPool, AsyncMockBackend]:
    """A pool speaking HTTP/2 with prior knowledge, each new connection to the next server."""
    streams: list[Any] = [AsyncH2ServerStream(server) for server in servers]
    return make_pool(streams, http1=False, http2=True, **kwargs)


def head_first(server: H2Server, event: h2.events.Event) -> None:
    """A server handler that answers each request with its head at once, and its body when
    the test calls ``server.send_body``."""
    if isinstance(event, h2.events.StreamEnded):
        server.respond(event.stream_id, body=b"", end=False)


@pytest.mark.anyio
async def test_http2_connection_carries_several_requests_at_once() -> None:
    server = H2Server({MAX_STREAMS: 10})
    pool, backend = h2c_pool([server])
    first = await pool.handle_async_request(request(H2C))
    second = await pool.handle_async_request(request(H2C))
    assert first.http_version == second.http_version == "HTTP/2"
    assert (first.extensions["stream_id"], second.extensions["stream_id"]) == (1, 3)
    assert first.extensions["network_stream"] is second.extensions["network_stream"]
    assert "Requests: 2 active, 0 queued | Connections: 1 active, 0 idle" in repr(pool)
    assert await first.aread() == await second.aread() == HELLO
    assert len(backend.connects) == 1
    [connection] = pool.connections
    assert connection.multiplexed
    assert "Connections: 0 active, 1 idle" in repr(pool)


@pytest.mark.anyio
async def test_full_http2_connection_makes_the_pool_open_another() -> None:
    servers = [H2Server({MAX_STREAMS: 1}), H2Server({MAX_STREAMS: 1})]
    pool, backend = h2c_pool(servers)
    first = await pool.handle_async_request(request(H2C))
    second = await pool.handle_async_request(request(H2C))
    assert first.extensions["network_stream"] is not second.extensions["network_stream"]
    assert len(backend.connects) == 2
    assert await first.aread() == await second.aread() == HELLO
    assert "Connections: 0 active, 2 idle" in repr(pool)


@pytest.mark.anyio
async def test_concurrent_requests_to_a_new_http2_origin_wait_for_its_first_connection() -> None:
    pool, backend = h2c_pool([H2Server({MAX_STREAMS: 10}), H2Server()])
    bodies: list[bytes] = []

    async def get() -> None:
        bodies.append(await fetch(pool, request(H2C)))

    async with AsyncTaskGroup() as group:
        for _ in range(5):
            group.start_soon(get)
    assert bodies == [HELLO] * 5
    assert len(backend.connects) == 1


@pytest.mark.anyio
async def test_http11_chosen_in_the_handshake_lets_waiting_requests_connect_at_once() -> None:
    # Whichever request connects first gets `gated`, whose response only comes once the
    # other request has read from its own connection: the second request must not wait for
    # the first response to learn that the origin speaks HTTP/1.1.
    gate = AsyncEvent()

    class AsyncGatedStream(AsyncMockStream):
        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            await gate.wait(5.0)
            return await super().read(max_bytes, timeout)

    gated = AsyncGatedStream([ok(b"one")], alpn_protocol="http/1.1")
    other = AsyncMockStream([gate.set, ok(b"two")], alpn_protocol="http/1.1")
    pool, backend = make_pool([gated, other], http2=True)
    bodies: list[bytes] = []

    async def get() -> None:
        bodies.append(await fetch(pool, request("https://example.org/")))

    async with AsyncTaskGroup() as group:
        group.start_soon(get)
        group.start_soon(get)
    assert sorted(bodies) == [b"one", b"two"]
    assert len(backend.connects) == 2
    # The origin is known to speak HTTP/1.1 now: new connections hold nobody.
    assert not pool._state._origins[("https", "example.org", 443)].multiplex


@pytest.mark.anyio
async def test_request_held_for_a_new_connection_that_is_slow_opens_its_own() -> None:
    pool, backend = h2c_pool([H2Server()])
    origin = ("http", "example.org", 80)
    # Another request is opening the origin's first connection, and takes its time.
    opener, _ = pool._state.acquire(origin, start=True)
    assert opener.entry is not None
    assert opener.entry.settling
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    assert await fetch(pool, request(H2C, extensions={"timeout": timeout})) == HELLO
    assert len(backend.connects) == 1
    pool._state.release(opener, reusable=False)
    assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_request_held_for_a_slow_new_connection_in_a_full_pool_times_out() -> None:
    pool, _ = h2c_pool([], max_connections=1)
    opener, _ = pool._state.acquire(("http", "example.org", 80), start=True)
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    with pytest.raises(heron.PoolTimeout, match="max_connections=1"):
        await fetch(pool, request(H2C, extensions={"timeout": timeout}))
    assert "Requests: 1 active, 0 queued" in repr(pool)
    pool._state.release(opener, reusable=False)


@pytest.mark.anyio
async def test_held_request_timing_out_in_a_full_pool_evicts_an_idle_connection() -> None:
    idle = AsyncMockStream([ok()])
    pool, _ = make_pool(
        [idle, AsyncH2ServerStream(H2Server())], http1=False, http2=True, max_connections=2
    )
    pool._http1 = True  # (the idle connection to another origin speaks HTTP/1.1)
    await fetch(pool, request("http://other.example/"))
    pool._http1 = False
    opener, _ = pool._state.acquire(("http", "example.org", 80), start=True)
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    assert await fetch(pool, request(H2C, extensions={"timeout": timeout})) == HELLO
    assert idle.is_closed
    pool._state.release(opener, reusable=False)


@pytest.mark.anyio
async def test_http2_connection_that_stopped_taking_streams_is_skipped() -> None:
    server = H2Server({MAX_STREAMS: 10}, handler=head_first)
    pool, backend = h2c_pool([server, H2Server()])
    first = await pool.handle_async_request(request(H2C))
    # The server says goodbye; the client reads it with the next part of the body.
    server.goaway(last_stream_id=1)
    server.send_body(1, b"rest")
    chunks = first.stream.__aiter__()  # type: ignore[union-attr]
    while not (chunk := await chunks.__anext__()):
        pass  # (the empty DATA frame the server sent with the head)
    assert chunk == b"rest"
    # The pool still counts a free stream on it, but the connection says no: a new one.
    second = await pool.handle_async_request(request(H2C))
    assert second.extensions["stream_id"] == 1
    assert len(backend.connects) == 2
    assert await second.aread() == HELLO
    await chunks.aclose()
    assert len(pool.connections) == 1  # the first one closed once its last stream ended


@pytest.mark.anyio
async def test_refused_stream_is_retried_and_the_connection_kept() -> None:
    def refuse_first(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            if event.stream_id == 1:
                server.reset(1, code=7)  # REFUSED_STREAM
            else:
                server.respond(event.stream_id)

    pool, backend = h2c_pool([H2Server({MAX_STREAMS: 10}, handler=refuse_first), H2Server()])
    assert await fetch(pool, request(H2C)) == HELLO
    assert len(backend.connects) == 2
    # The server refused one stream, not the connection: it stays, idle, for the next ones.
    assert "Connections: 0 active, 2 idle" in repr(pool)


def hold_a_request(pool: AsyncConnectionPool, held: list[Any]) -> Any:
    """An ``on_write`` hook: at the first write of a connection being opened, another request
    to the origin arrives (a ticket taken straight from the pool state)."""

    def on_write(data: bytes) -> None:
        if not held:
            ticket, _ = pool._state.acquire(("http", "example.org", 80))
            ticket.waker = AsyncEvent()
            held.append(ticket)

    return on_write


@pytest.mark.anyio
async def test_held_request_gets_a_stream_once_the_first_response_has_come() -> None:
    held: list[Any] = []
    pool, _ = make_pool([], http1=False, http2=True)
    stream = AsyncH2ServerStream(H2Server({MAX_STREAMS: 10}), on_write=hold_a_request(pool, held))
    pool._backend = AsyncMockBackend([stream])  # type: ignore[list-item]
    response = await pool.handle_async_request(request(H2C))
    [ticket] = held
    assert ticket.status == "assigned"
    assert ticket.waker.is_set()
    assert ticket.connection is pool.connections[0]
    assert "Requests: 2 active, 0 queued | Connections: 1 active" in repr(pool)
    await response.aread()
    pool._state.release(ticket)


class Interrupted(BaseException):
    """Stands for a cancellation."""


@pytest.mark.anyio
async def test_interrupted_while_waking_held_requests_closes_the_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held: list[Any] = []
    pool, _ = make_pool([], http1=False, http2=True)
    server = H2Server({MAX_STREAMS: 10}, handler=head_first)
    stream = AsyncH2ServerStream(server, on_write=hold_a_request(pool, held))
    pool._backend = AsyncMockBackend([stream])  # type: ignore[list-item]

    async def interrupted(actions: Any) -> None:
        raise Interrupted

    monkeypatch.setattr(pool, "_apply", interrupted)
    with pytest.raises(Interrupted):
        await pool.handle_async_request(request(H2C))
    monkeypatch.undo()
    assert server.resets() == {1: 8}  # CANCEL: the response was closed
    assert "Requests: 1 active, 0 queued" in repr(pool)  # the held request's
    pool._state.release(held[0])
