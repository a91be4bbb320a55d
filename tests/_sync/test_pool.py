# Generated from tests/_async/test_pool.py by scripts/unasync.py: do not edit by hand.
"""ConnectionPool over scripted bytes: reuse, limits, waiting, retries, releases."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import h2.events
import h2.settings
import pytest

import heron
from heron._backends.auto import AutoBackend
from heron._backends.mock import MockBackend, MockStream
from heron._pool_state import ConnectionNotAvailable
from heron._synchronization import Event
from tests.h2_helpers import HELLO, H2Server, H2ServerStream, TaskGroup
from tests.pool_helpers import ConnectionPool, PoolByteStream
from tests.pool_helpers import PoolModule as pool_module

MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


def ok(body: bytes = b"Hello", headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


def make_pool(streams: list[Any], **kwargs: Any) -> tuple[ConnectionPool, MockBackend]:
    backend = MockBackend(streams)
    kwargs.setdefault("max_connections", 10)
    pool = ConnectionPool(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), backend, **kwargs)
    return pool, backend


def request(url: str = "http://example.org/", method: str = "GET", **kwargs: Any) -> heron.Request:
    return heron.Request(method, url, **kwargs)


def fetch(pool: ConnectionPool, req: heron.Request | None = None) -> bytes:
    response = pool.handle_request(req or request())
    try:
        return response.read()
    finally:
        response.close()


# Sending and reusing ---------------------------------------------------------------------


def test_response_body_streams_and_closing_it_keeps_the_connection_idle() -> None:
    stream = MockStream([ok()])
    pool, _ = make_pool([stream])
    response = pool.handle_request(request())
    assert response.status_code == 200
    assert isinstance(response.stream, PoolByteStream)
    assert repr(pool) == (
        "<ConnectionPool [Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
    )
    assert response.read() == b"Hello"
    assert repr(pool) == (
        "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
    )
    [connection] = pool.connections
    assert connection.is_idle()
    assert response.extensions["network_stream"] is stream


def test_keepalive_connection_is_reused() -> None:
    pool, backend = make_pool([MockStream([ok(b"one"), ok(b"two")])])
    assert fetch(pool) == b"one"
    assert fetch(pool) == b"two"
    assert len(backend.connects) == 1


def test_connections_are_per_origin() -> None:
    pool, backend = make_pool([MockStream([ok()]), MockStream([ok()])])
    fetch(pool, request("http://a.example/"))
    fetch(pool, request("http://b.example/"))
    assert [target[0] for _, target, _ in backend.connects] == ["a.example", "b.example"]
    assert len(pool.connections) == 2


def test_connection_close_response_closes_the_connection() -> None:
    stream = MockStream([ok(headers=b"Connection: close\r\n")])
    pool, _ = make_pool([stream])
    fetch(pool)
    assert pool.connections == []
    assert stream.is_closed


def test_closing_a_response_early_closes_its_connection() -> None:
    stream = MockStream([ok(b"x" * 100)[:-50]])
    pool, _ = make_pool([stream])
    response = pool.handle_request(request())
    response.close()
    response.close()
    assert pool.connections == []
    assert stream.is_closed


def test_stopping_iteration_early_releases_the_connection() -> None:
    chunks = [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", b"abc", b"def"]
    stream = MockStream(chunks)
    pool, _ = make_pool([stream])
    response = pool.handle_request(request())
    chunks = response.stream.__iter__()  # type: ignore[union-attr]
    assert chunks.__next__() == b"abc"
    chunks.close()  # what `break` and then garbage collection (or aclosing) do
    assert pool.connections == []
    assert stream.is_closed
    assert "Requests: 0 active" in repr(pool)


def test_error_while_reading_the_body_closes_the_connection() -> None:
    chunks: list[Any] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc",
        heron.ReadError("reset"),
    ]
    stream = MockStream(chunks)
    pool, _ = make_pool([stream])
    response = pool.handle_request(request())
    with pytest.raises(heron.ReadError):
        response.read()
    assert pool.connections == []
    assert stream.is_closed
    assert "Requests: 0 active" in repr(pool)


def test_error_before_the_response_closes_the_connection_and_frees_the_slot() -> None:
    failing = MockStream([heron.ReadError("reset")])
    pool, _ = make_pool([failing, MockStream([ok()])], max_connections=1)
    with pytest.raises(heron.ReadError):
        pool.handle_request(request())
    assert failing.is_closed
    assert pool.connections == []
    assert fetch(pool) == b"Hello"


def test_connect_error_frees_the_slot() -> None:
    pool, _ = make_pool([heron.ConnectError("refused"), MockStream([ok()])], max_connections=1)
    with pytest.raises(heron.ConnectError):
        pool.handle_request(request())
    assert repr(pool) == (
        "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
    )
    assert fetch(pool) == b"Hello"


class PlainIterator:
    """An iterator that is not a generator: it has no close()."""

    def __init__(self) -> None:
        self.items = [b"a", b"b"]

    def __iter__(self) -> PlainIterator:
        return self

    def __next__(self) -> bytes:
        if not self.items:
            raise StopIteration
        return self.items.pop(0)


class PlainBody(heron.SyncByteStream):
    def __iter__(self) -> PlainIterator:  # type: ignore[override]
        return PlainIterator()


def test_body_whose_iterator_has_no_aclose_still_releases_when_stopped_early() -> None:
    pool, _ = make_pool([MockStream([ok()])])
    response = pool.handle_request(request())
    held = response.stream
    assert isinstance(held, PoolByteStream)
    wrapper = PoolByteStream(PlainBody(), pool, held._ticket, held._connection)
    chunks = wrapper.__iter__()
    assert chunks.__next__() == b"a"
    chunks.close()
    assert "Requests: 0 active" in repr(pool)


# Limits and waiting ----------------------------------------------------------------------


def test_pool_timeout_when_every_connection_is_busy() -> None:
    pool, _ = make_pool([MockStream([ok()])], max_connections=1)
    held = pool.handle_request(request())
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    with pytest.raises(heron.PoolTimeout) as info:
        pool.handle_request(request(extensions={"timeout": timeout}))
    assert str(info.value).startswith(
        "Timed out after 0.0 s waiting for a connection to http://example.org:80 from the "
        "pool (pool timeout; max_connections=1)."
    )
    assert "Requests: 1 active, 0 queued" in repr(pool)
    held.read()
    assert "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle" in repr(pool)


class HandoffEvent(Event):
    """Releases the held response while the request waits: a handoff without a second task."""

    held: heron.Response | None = None
    before_wait: Any = None

    def wait(self, timeout: float | None = None) -> None:
        if HandoffEvent.before_wait is not None:
            action, HandoffEvent.before_wait = HandoffEvent.before_wait, None
            action()
        super().wait(timeout)


def test_waiting_request_gets_the_released_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "Event", HandoffEvent)
    pool, backend = make_pool([MockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = pool.handle_request(request())
    HandoffEvent.before_wait = held.read
    timeout = {"connect": None, "read": None, "write": None, "pool": 5.0}
    assert fetch(pool, request(extensions={"timeout": timeout})) == b"two"
    assert held.read() == b"one"
    assert len(backend.connects) == 1


def test_waiting_request_handed_a_connection_as_time_runs_out_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class LateEvent(Event):
        def wait(self, timeout: float | None = None) -> None:
            held.read()
            raise pool_module.WaitTimeout("too late, but assigned")

    monkeypatch.setattr(pool_module, "Event", LateEvent)
    pool, _ = make_pool([MockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = pool.handle_request(request())
    assert fetch(pool) == b"two"


def test_waiting_request_fails_when_the_pool_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "Event", HandoffEvent)
    stream = MockStream([ok()])
    pool, _ = make_pool([stream], max_connections=1)
    held = pool.handle_request(request())
    HandoffEvent.before_wait = pool.close
    with pytest.raises(RuntimeError, match="connection pool has been closed"):
        pool.handle_request(request())
    assert stream.is_closed
    held.close()
    assert "Requests: 0 active, 0 queued" in repr(pool)


def test_cancelled_waiter_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingEvent(Event):
        def wait(self, timeout: float | None = None) -> None:
            raise KeyboardInterrupt  # stands in for a cancellation at this await

    monkeypatch.setattr(pool_module, "Event", FailingEvent)
    pool, _ = make_pool([MockStream([ok(b"one"), ok(b"two")])], max_connections=1)
    held = pool.handle_request(request())
    with pytest.raises(KeyboardInterrupt):
        pool.handle_request(request())
    assert "Requests: 1 active, 0 queued" in repr(pool)
    held.read()
    assert fetch(pool) == b"two"


def test_full_pool_closes_an_idle_connection_of_another_origin() -> None:
    first = MockStream([ok()])
    pool, _ = make_pool([first, MockStream([ok()])], max_connections=1)
    fetch(pool, request("http://a.example/"))
    fetch(pool, request("http://b.example/"))
    assert first.is_closed
    assert len(pool.connections) == 1


def test_max_keepalive_connections_closes_extra_idle_connections() -> None:
    streams = [MockStream([ok()]), MockStream([ok()])]
    pool, _ = make_pool(streams, max_keepalive_connections=1)
    one = pool.handle_request(request())
    two = pool.handle_request(request())
    one.read()
    two.read()
    assert streams[0].is_closed
    assert not streams[1].is_closed
    assert len(pool.connections) == 1


def test_expired_idle_connection_is_closed_and_replaced() -> None:
    now = [0.0]
    streams = [MockStream([ok(b"one")]), MockStream([ok(b"two")])]
    pool, backend = make_pool(streams, keepalive_expiry=5.0, clock=lambda: now[0])
    assert fetch(pool) == b"one"
    now[0] += 4.0
    assert len(backend.connects) == 1
    now[0] += 1.0
    assert fetch(pool) == b"two"
    assert streams[0].is_closed
    assert len(backend.connects) == 2


# Dead connections and retries ------------------------------------------------------------


def test_idle_connection_closed_by_the_server_is_skipped_before_use() -> None:
    dead = MockStream([ok(b"one")])
    pool, _ = make_pool([dead, MockStream([ok(b"two")])])
    fetch(pool)
    dead.is_readable = True  # the server's FIN is waiting on the socket
    assert fetch(pool) == b"two"
    assert dead.is_closed
    assert dead.written_bytes.count(b"GET") == 1  # nothing was sent on the dead one


def test_reused_connection_found_dead_is_retried_on_a_new_one() -> None:
    dead = MockStream([ok(b"one")])  # then EOF: the server closed it
    fresh = MockStream([ok(b"two")])
    pool, backend = make_pool([dead, fresh])
    fetch(pool)
    assert fetch(pool) == b"two"
    assert dead.is_closed
    assert len(backend.connects) == 2


def test_post_with_bytes_body_is_retried() -> None:
    dead = MockStream([ok(b"one")])
    fresh = MockStream([ok(b"two")])
    pool, _ = make_pool([dead, fresh])
    fetch(pool)
    assert fetch(pool, request(method="POST", content=b"data")) == b"two"
    assert fresh.written_bytes.endswith(b"\r\n\r\ndata")


def test_consumed_one_shot_body_is_not_retried() -> None:
    def body() -> Iterator[bytes]:
        yield b"data"

    dead = MockStream([ok(b"one")])
    pool, backend = make_pool([dead, MockStream([ok(b"two")])])
    fetch(pool)
    with pytest.raises(heron.RemoteProtocolError, match="did not process the request") as info:
        fetch(pool, request(method="POST", content=body()))
    assert "already consumed" in str(info.value)
    assert "kept-alive connection to http://example.org:80 was closed" in str(info.value)
    assert len(backend.connects) == 1
    assert "Requests: 0 active" in repr(pool)


def test_retry_happens_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unavailable:
        origin = "http://example.org:80"
        multiplexed = False
        max_concurrent_streams = 1

        def handle_request(self, request: heron.Request) -> heron.Response:
            raise ConnectionNotAvailable("gone")

        def is_reusable(self) -> bool:
            return False

        def is_idle(self) -> bool:
            return False

        def close(self) -> None:
            pass

    pool, _ = make_pool([])
    monkeypatch.setattr(pool._state, "_factory", lambda origin: Unavailable())
    with pytest.raises(heron.RemoteProtocolError, match=r"again after it was retried.*: gone"):
        pool.handle_request(request())
    assert "Requests: 0 active, 0 queued | Connections: 0 active" in repr(pool)


def test_pool_closed_under_a_request_gives_a_clear_error() -> None:
    pool, _ = make_pool([])
    stream = MockStream([ok(b"one"), lambda: pool._state.close()])
    pool._backend = MockBackend([stream])
    fetch(pool)
    with pytest.raises(RuntimeError, match="connection pool has been closed"):
        pool.handle_request(request())


# Closing ---------------------------------------------------------------------------------


def test_close_closes_every_connection_and_refuses_new_requests() -> None:
    streams = [MockStream([ok()]), MockStream([ok()])]
    pool, _ = make_pool(streams)
    fetch(pool)
    held = pool.handle_request(request())
    with pool:
        pass
    assert all(stream.is_closed for stream in streams)
    assert pool.connections == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.handle_request(request())
    # The response whose connection was closed under it still gives back its ticket.
    assert "Requests: 1 active" in repr(pool)
    held.close()
    assert repr(pool) == (
        "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
    )
    pool.close()


def test_default_backend_is_the_auto_backend() -> None:
    pool = ConnectionPool()
    assert isinstance(pool._backend, AutoBackend)
    pool.close()


# HTTP/2 ----------------------------------------------------------------------------------

H2C = "http://example.org/"


def h2c_pool(servers: list[H2Server], **kwargs: Any) -> tuple[ConnectionPool, MockBackend]:
    """A pool speaking HTTP/2 with prior knowledge, each new connection to the next server."""
    streams: list[Any] = [H2ServerStream(server) for server in servers]
    return make_pool(streams, http1=False, http2=True, **kwargs)


def head_first(server: H2Server, event: h2.events.Event) -> None:
    """A server handler that answers each request with its head at once, and its body when
    the test calls ``server.send_body``."""
    if isinstance(event, h2.events.StreamEnded):
        server.respond(event.stream_id, body=b"", end=False)


def test_http2_connection_carries_several_requests_at_once() -> None:
    server = H2Server({MAX_STREAMS: 10})
    pool, backend = h2c_pool([server])
    first = pool.handle_request(request(H2C))
    second = pool.handle_request(request(H2C))
    assert first.http_version == second.http_version == "HTTP/2"
    assert (first.extensions["stream_id"], second.extensions["stream_id"]) == (1, 3)
    assert first.extensions["network_stream"] is second.extensions["network_stream"]
    assert "Requests: 2 active, 0 queued | Connections: 1 active, 0 idle" in repr(pool)
    assert first.read() == second.read() == HELLO
    assert len(backend.connects) == 1
    [connection] = pool.connections
    assert connection.multiplexed
    assert "Connections: 0 active, 1 idle" in repr(pool)


def test_full_http2_connection_makes_the_pool_open_another() -> None:
    servers = [H2Server({MAX_STREAMS: 1}), H2Server({MAX_STREAMS: 1})]
    pool, backend = h2c_pool(servers)
    first = pool.handle_request(request(H2C))
    second = pool.handle_request(request(H2C))
    assert first.extensions["network_stream"] is not second.extensions["network_stream"]
    assert len(backend.connects) == 2
    assert first.read() == second.read() == HELLO
    assert "Connections: 0 active, 2 idle" in repr(pool)


def test_concurrent_requests_to_a_new_http2_origin_wait_for_its_first_connection() -> None:
    pool, backend = h2c_pool([H2Server({MAX_STREAMS: 10}), H2Server()])
    bodies: list[bytes] = []

    def get() -> None:
        bodies.append(fetch(pool, request(H2C)))

    with TaskGroup() as group:
        for _ in range(5):
            group.start_soon(get)
    assert bodies == [HELLO] * 5
    assert len(backend.connects) == 1


def test_http11_chosen_in_the_handshake_lets_waiting_requests_connect_at_once() -> None:
    # Whichever request connects first gets `gated`, whose response only comes once the
    # other request has read from its own connection: the second request must not wait for
    # the first response to learn that the origin speaks HTTP/1.1.
    gate = Event()

    class GatedStream(MockStream):
        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            gate.wait(5.0)
            return super().read(max_bytes, timeout)

    gated = GatedStream([ok(b"one")], alpn_protocol="http/1.1")
    other = MockStream([gate.set, ok(b"two")], alpn_protocol="http/1.1")
    pool, backend = make_pool([gated, other], http2=True)
    bodies: list[bytes] = []

    def get() -> None:
        bodies.append(fetch(pool, request("https://example.org/")))

    with TaskGroup() as group:
        group.start_soon(get)
        group.start_soon(get)
    assert sorted(bodies) == [b"one", b"two"]
    assert len(backend.connects) == 2
    # The origin is known to speak HTTP/1.1 now: new connections hold nobody.
    assert not pool._state._origins[("https", "example.org", 443)].multiplex


def test_request_held_for_a_new_connection_that_is_slow_opens_its_own() -> None:
    pool, backend = h2c_pool([H2Server()])
    origin = ("http", "example.org", 80)
    # Another request is opening the origin's first connection, and takes its time.
    opener, _ = pool._state.acquire(origin, start=True)
    assert opener.entry is not None
    assert opener.entry.settling
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    assert fetch(pool, request(H2C, extensions={"timeout": timeout})) == HELLO
    assert len(backend.connects) == 1
    pool._state.release(opener, reusable=False)
    assert len(pool.connections) == 1


def test_request_held_for_a_slow_new_connection_in_a_full_pool_times_out() -> None:
    pool, _ = h2c_pool([], max_connections=1)
    opener, _ = pool._state.acquire(("http", "example.org", 80), start=True)
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    with pytest.raises(heron.PoolTimeout, match="max_connections=1"):
        fetch(pool, request(H2C, extensions={"timeout": timeout}))
    assert "Requests: 1 active, 0 queued" in repr(pool)
    pool._state.release(opener, reusable=False)


def test_held_request_timing_out_in_a_full_pool_evicts_an_idle_connection() -> None:
    idle = MockStream([ok()])
    pool, _ = make_pool(
        [idle, H2ServerStream(H2Server())], http1=False, http2=True, max_connections=2
    )
    pool._http1 = True  # (the idle connection to another origin speaks HTTP/1.1)
    fetch(pool, request("http://other.example/"))
    pool._http1 = False
    opener, _ = pool._state.acquire(("http", "example.org", 80), start=True)
    timeout = {"connect": None, "read": None, "write": None, "pool": 0.0}
    assert fetch(pool, request(H2C, extensions={"timeout": timeout})) == HELLO
    assert idle.is_closed
    pool._state.release(opener, reusable=False)


def test_http2_connection_that_stopped_taking_streams_is_skipped() -> None:
    server = H2Server({MAX_STREAMS: 10}, handler=head_first)
    pool, backend = h2c_pool([server, H2Server()])
    first = pool.handle_request(request(H2C))
    # The server says goodbye; the client reads it with the next part of the body.
    server.goaway(last_stream_id=1)
    server.send_body(1, b"rest")
    chunks = first.stream.__iter__()  # type: ignore[union-attr]
    while not (chunk := chunks.__next__()):
        pass  # (the empty DATA frame the server sent with the head)
    assert chunk == b"rest"
    # The pool still counts a free stream on it, but the connection says no: a new one.
    second = pool.handle_request(request(H2C))
    assert second.extensions["stream_id"] == 1
    assert len(backend.connects) == 2
    assert second.read() == HELLO
    chunks.close()
    assert len(pool.connections) == 1  # the first one closed once its last stream ended


def test_refused_stream_is_retried_and_the_connection_kept() -> None:
    def refuse_first(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            if event.stream_id == 1:
                server.reset(1, code=7)  # REFUSED_STREAM
            else:
                server.respond(event.stream_id)

    pool, backend = h2c_pool([H2Server({MAX_STREAMS: 10}, handler=refuse_first), H2Server()])
    assert fetch(pool, request(H2C)) == HELLO
    assert len(backend.connects) == 2
    # The server refused one stream, not the connection: it stays, idle, for the next ones.
    assert "Connections: 0 active, 2 idle" in repr(pool)


def hold_a_request(pool: ConnectionPool, held: list[Any]) -> Any:
    """An ``on_write`` hook: at the first write of a connection being opened, another request
    to the origin arrives (a ticket taken straight from the pool state)."""

    def on_write(data: bytes) -> None:
        if not held:
            ticket, _ = pool._state.acquire(("http", "example.org", 80))
            ticket.waker = Event()
            held.append(ticket)

    return on_write


def test_held_request_gets_a_stream_once_the_first_response_has_come() -> None:
    held: list[Any] = []
    pool, _ = make_pool([], http1=False, http2=True)
    stream = H2ServerStream(H2Server({MAX_STREAMS: 10}), on_write=hold_a_request(pool, held))
    pool._backend = MockBackend([stream])  # type: ignore[list-item]
    response = pool.handle_request(request(H2C))
    [ticket] = held
    assert ticket.status == "assigned"
    assert ticket.waker.is_set()
    assert ticket.connection is pool.connections[0]
    assert "Requests: 2 active, 0 queued | Connections: 1 active" in repr(pool)
    response.read()
    pool._state.release(ticket)


class Interrupted(BaseException):
    """Stands for a cancellation."""


def test_interrupted_while_waking_held_requests_closes_the_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held: list[Any] = []
    pool, _ = make_pool([], http1=False, http2=True)
    server = H2Server({MAX_STREAMS: 10}, handler=head_first)
    stream = H2ServerStream(server, on_write=hold_a_request(pool, held))
    pool._backend = MockBackend([stream])  # type: ignore[list-item]

    def interrupted(actions: Any) -> None:
        raise Interrupted

    monkeypatch.setattr(pool, "_apply", interrupted)
    with pytest.raises(Interrupted):
        pool.handle_request(request(H2C))
    monkeypatch.undo()
    assert server.resets() == {1: 8}  # CANCEL: the response was closed
    assert "Requests: 1 active, 0 queued" in repr(pool)  # the held request's
    pool._state.release(held[0])
