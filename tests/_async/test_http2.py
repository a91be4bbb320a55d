"""AsyncHTTP2Connection against a scripted HTTP/2 server (h2's server side, in memory)."""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes

import heron
from heron._async.http2 import AsyncHTTP2Connection
from heron._exceptions import (
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamClosed,
    WriteError,
    WriteTimeout,
)
from heron._http2_state import HTTP2ConnectionState
from heron._pool_state import ConnectionNotAvailable
from heron._streams import AsyncByteStream
from heron._synchronization import AsyncEvent
from tests.h2_helpers import HELLO, AsyncH2ServerStream, AsyncTaskGroup, H2Server, Handler

ORIGIN = "https://example.org:443"
URL = "https://example.org/"
Codes = h2.settings.SettingCodes


class Interrupted(BaseException):
    """Stands for a cancellation: an exception that is not an ``Exception``."""


def connect(
    server: H2Server | None = None, **kwargs: Any
) -> tuple[AsyncHTTP2Connection, H2Server, AsyncH2ServerStream]:
    server = H2Server() if server is None else server
    stream = AsyncH2ServerStream(server)
    return AsyncHTTP2Connection(stream, ORIGIN, **kwargs), server, stream


def request(
    method: str = "GET", url: str = URL, content: Any = None, **extensions: Any
) -> heron.Request:
    return heron.Request(method, url, content=content, extensions=extensions)


async def fetch(connection: AsyncHTTP2Connection, req: heron.Request | None = None) -> bytes:
    response = await connection.handle_async_request(req or request())
    return await response.aread()


def answer_together(count: int) -> Handler:
    """Hold every request until ``count`` have arrived, then answer them, last first, each
    with its own path as the body."""
    ended: list[int] = []

    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            ended.append(event.stream_id)
            if len(ended) == count:
                for stream_id in reversed(ended):
                    path = server.requests[stream_id].header(b":path")
                    assert path is not None
                    server.respond(stream_id, body=path)

    return handler


def silent(server: H2Server, event: h2.events.Event) -> None:
    """A server that never answers."""


# One request --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_returns_the_response_with_http2_extensions() -> None:
    connection, _, stream = connect()
    assert connection.state is HTTP2ConnectionState.NEW
    assert connection.is_available()
    response = await connection.handle_async_request(request())
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"
    assert response.extensions["stream_id"] == 1
    assert response.extensions["network_stream"] is stream
    assert await response.aread() == HELLO
    assert connection.is_idle()
    assert connection.active_streams == 0
    assert connection.request_count == 1


@pytest.mark.anyio
async def test_request_headers_reach_the_server_as_http2_fields() -> None:
    connection, server, _ = connect()
    req = heron.Request(
        "GET",
        "https://example.org/path?q=1",
        headers={"X-Custom": "yes", "Connection": "keep-alive", "Accept": "*/*"},
    )
    await fetch(connection, req)
    fields = server.requests[1].headers
    assert fields[:4] == [
        (b":method", b"GET"),
        (b":authority", b"example.org"),
        (b":scheme", b"https"),
        (b":path", b"/path?q=1"),
    ]
    names = [name for name, _ in fields]
    assert b"host" not in names
    assert b"connection" not in names
    assert (b"x-custom", b"yes") in fields


@pytest.mark.anyio
async def test_the_target_extension_sets_the_path() -> None:
    connection, server, _ = connect()
    await fetch(connection, request(target=b"/raw%2Fpath"))
    assert server.requests[1].header(b":path") == b"/raw%2Fpath"


@pytest.mark.anyio
async def test_the_first_request_sends_the_preface_and_settings() -> None:
    connection, server, stream = connect()
    await fetch(connection)
    assert bytes(server.received).startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert server.conn.remote_settings.enable_push == 0
    assert server.conn.remote_settings.initial_window_size == 16 * 1024 * 1024
    # Preface, settings, window and the request in one write; then the acknowledgement of the
    # server's SETTINGS.
    assert stream.writes == 2


@pytest.mark.anyio
async def test_post_with_a_body_in_memory() -> None:
    connection, server, _ = connect()
    await fetch(connection, request("POST", content=b"x" * 1000))
    assert bytes(server.requests[1].body) == b"x" * 1000
    assert server.requests[1].ended


@pytest.mark.anyio
async def test_post_with_a_streamed_body() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"hello, "
        yield b""
        yield b"world"

    connection, server, _ = connect()
    await fetch(connection, request("POST", content=body()))
    assert bytes(server.requests[1].body) == b"hello, world"


@pytest.mark.anyio
async def test_a_streamed_body_may_be_empty() -> None:
    async def body() -> AsyncIterator[bytes]:
        empty: list[bytes] = []
        for chunk in empty:
            yield chunk

    connection, server, _ = connect()
    assert await fetch(connection, request("POST", content=body())) == HELLO
    assert server.requests[1].body == b""


@pytest.mark.anyio
async def test_response_headers_and_status() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(
                event.stream_id, 404, [(b"content-type", b"text/plain")], body=b"missing"
            )

    connection, _, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain"
    assert await response.aread() == b"missing"


# Several requests -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_requests_share_the_connection() -> None:
    count = 20
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 100})
    connection, _, _ = connect(server)
    await fetch(connection, request(url=URL + "warm-up"))  # the server's SETTINGS are known
    server.handler = answer_together(count)
    bodies: dict[int, bytes] = {}

    async def one(index: int) -> None:
        bodies[index] = await fetch(connection, request(url=f"{URL}{index}"))

    async with AsyncTaskGroup() as group:
        for index in range(count):
            group.start_soon(one, index)
    assert bodies == {index: f"/{index}".encode() for index in range(count)}
    assert server.max_open_streams == count
    assert connection.active_streams == 0
    assert connection.request_count == count + 1


@pytest.mark.anyio
async def test_a_new_connection_waits_for_the_server_settings_before_a_second_stream() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10}, handler=answer_together(3))
    connection, _, _ = connect(server)
    assert connection.max_concurrent_streams == 1

    async def one() -> None:
        await fetch(connection)

    async with AsyncTaskGroup() as group:
        for _ in range(3):
            group.start_soon(one)
    assert connection.max_concurrent_streams == 10


@pytest.mark.anyio
async def test_max_concurrent_streams_of_one_serializes_requests() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    await fetch(connection)
    results: list[bytes] = []

    async def one() -> None:
        results.append(await fetch(connection))

    async with AsyncTaskGroup() as group:
        for _ in range(8):
            group.start_soon(one)
    assert results == [HELLO] * 8
    assert server.max_open_streams == 1
    assert connection.max_concurrent_streams == 1


@pytest.mark.anyio
async def test_a_full_connection_is_not_available() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    response = await connection.handle_async_request(request())
    assert not connection.is_available()
    assert connection.active_streams == 1
    assert not connection.is_idle()
    await response.aclose()
    assert connection.is_available()
    assert connection.is_idle()


@pytest.mark.anyio
async def test_rst_stream_fails_only_its_request() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and len(server.requests) == 4:
            for stream_id in (3, 5, 7):
                if stream_id == 5:
                    server.reset(stream_id, ErrorCodes.INTERNAL_ERROR)
                else:
                    server.respond(stream_id)

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, _ = connect(server)
    await fetch(connection)
    server.handler = handler
    outcomes: dict[str, object] = {}

    async def one(name: str) -> None:
        try:
            outcomes[name] = await fetch(connection, request(url=URL + name))
        except RemoteProtocolError as exc:
            outcomes[name] = exc

    async with AsyncTaskGroup() as group:
        for name in ("a", "b", "c"):
            group.start_soon(one, name)
    failed = [value for value in outcomes.values() if isinstance(value, Exception)]
    assert len(failed) == 1
    assert str(failed[0]) == (
        f"{ORIGIN} reset HTTP/2 stream 5 with error code INTERNAL_ERROR (0x2)."
    )
    assert sorted(value for value in outcomes.values() if value == HELLO) == [HELLO, HELLO]
    assert connection.is_available()
    server.handler = None
    assert await fetch(connection) == HELLO


@pytest.mark.anyio
async def test_refused_stream_raises_connection_not_available() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.reset(event.stream_id, ErrorCodes.REFUSED_STREAM)

    connection, _, _ = connect(H2Server(handler=handler))
    with pytest.raises(ConnectionNotAvailable, match="REFUSED_STREAM"):
        await connection.handle_async_request(request())
    assert connection.is_available()
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_goaway_with_requests_in_flight() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and len(server.requests) == 4:
            server.goaway(last_stream_id=5)
            server.respond(3)
            server.respond(5)

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = handler
    outcomes: dict[str, object] = {}

    async def one(name: str) -> None:
        try:
            outcomes[name] = await fetch(connection, request(url=URL + name))
        except ConnectionNotAvailable as exc:
            outcomes[name] = exc

    async with AsyncTaskGroup() as group:
        for name in ("a", "b", "c"):
            group.start_soon(one, name)
    retry = [value for value in outcomes.values() if isinstance(value, Exception)]
    assert len(retry) == 1
    assert "GOAWAY (NO_ERROR (0x0)) before it processed HTTP/2 stream 7" in str(retry[0])
    assert [value for value in outcomes.values() if value == HELLO] == [HELLO, HELLO]
    assert not connection.is_available()
    # Drained: the last stream closed it.
    assert connection.is_closed()
    assert stream.closed
    with pytest.raises(ConnectionNotAvailable, match="sent GOAWAY"):
        await connection.handle_async_request(request())


@pytest.mark.anyio
async def test_goaway_stops_new_requests_while_others_finish() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.goaway(last_stream_id=1, code=ErrorCodes.NO_ERROR)
            server.respond(event.stream_id, body=b"", end=False)

    connection, server, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    assert connection.state is HTTP2ConnectionState.DRAINING
    assert not connection.is_available()
    with pytest.raises(ConnectionNotAvailable, match="sent GOAWAY"):
        await connection.handle_async_request(request())
    server.send_body(1, b"late but complete")
    assert await response.aread() == b"late but complete"
    assert connection.is_closed()


@pytest.mark.anyio
async def test_goaway_with_an_error_and_a_close_fails_the_rest() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, body=b"part", end=False)
            server.goaway(last_stream_id=1, code=ErrorCodes.INTERNAL_ERROR)
            server.close()

    connection, _, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    with pytest.raises(RemoteProtocolError, match=r"after GOAWAY with INTERNAL_ERROR \(0x2\)"):
        await response.aread()
    assert connection.is_closed()


# Faults ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_connection_dropped_mid_response() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
            server.respond(1, body=b"first part", end=False)
        elif isinstance(event, h2.events.StreamEnded):
            server.close()

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10}, handler=handler)
    connection, _, stream = connect(server)
    first = await connection.handle_async_request(request())
    with pytest.raises(RemoteProtocolError) as info:
        await connection.handle_async_request(request())
    assert str(info.value) == f"{ORIGIN} closed the HTTP/2 connection with requests in flight."
    assert connection.is_closed()
    assert stream.closed
    chunks = first.aiter_raw()
    assert await chunks.__anext__() == b"first part"
    with pytest.raises(RemoteProtocolError):
        await chunks.__anext__()
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_a_read_error_fails_the_requests_in_flight() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.fail_reads(ReadError(f"Could not read the response from {ORIGIN}: reset."))

    connection, _, _ = connect(H2Server(handler=handler))
    with pytest.raises(ReadError, match="reset"):
        await connection.handle_async_request(request())
    assert connection.is_closed()


@pytest.mark.anyio
async def test_a_reused_connection_lost_before_the_answer_is_retryable() -> None:
    connection, server, _ = connect()
    await fetch(connection)

    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.close()

    server.handler = handler
    with pytest.raises(ConnectionNotAvailable, match="lost before it answered stream 3"):
        await connection.handle_async_request(request())


@pytest.mark.anyio
async def test_a_write_error_fails_the_connection() -> None:
    server = H2Server()
    server.write_error = WriteError(f"Could not send the request to {ORIGIN}: broken pipe.")
    connection, _, _ = connect(server)
    with pytest.raises(WriteError, match="broken pipe"):
        await connection.handle_async_request(request())
    assert connection.is_closed()


@pytest.mark.anyio
async def test_an_unexpected_error_from_the_stream_becomes_a_write_error() -> None:
    server = H2Server()
    server.write_error = ValueError("a bug in a backend")
    connection, _, _ = connect(server)
    with pytest.raises(WriteError, match="a bug in a backend"):
        await connection.handle_async_request(request())


@pytest.mark.anyio
async def test_a_protocol_error_from_the_server_fails_the_connection() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.send_raw(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")

    connection, _, _ = connect(H2Server(handler=handler))
    with pytest.raises(RemoteProtocolError, match="broke the HTTP/2 protocol"):
        await connection.handle_async_request(request())
    assert connection.is_closed()


@pytest.mark.anyio
async def test_a_malformed_response_head_fails_its_request() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.conn.config.validate_outbound_headers = False
            server.conn.send_headers(event.stream_id, [(b"x", b"y")], end_stream=True)
            server.flush()

    connection, _, _ = connect(H2Server(handler=handler))
    with pytest.raises(RemoteProtocolError, match="without a valid :status"):
        await connection.handle_async_request(request())
    assert connection.is_available()


@pytest.mark.anyio
async def test_push_promises_are_refused() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            # Push before the acknowledgements of our SETTINGS (ENABLE_PUSH=0) are read:
            # take them out of what the server sends, and put them after the PUSH_PROMISE.
            queued = bytes(server.outbox[preface:]) + server.conn.data_to_send()
            del server.outbox[preface:]
            server.conn.remote_settings._settings[Codes.ENABLE_PUSH].appendleft(1)
            fields = [(b":method", b"GET"), (b":authority", b"example.org")]
            fields += [(b":scheme", b"https"), (b":path", b"/pushed")]
            server.conn.push_stream(event.stream_id, 2, fields)
            server.outbox += server.conn.data_to_send() + queued
        elif isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id)

    server = H2Server(handler=handler)
    preface = len(server.outbox)  # the server's SETTINGS
    connection, _, _ = connect(server)
    assert await fetch(connection) == HELLO
    assert server.resets() == {2: ErrorCodes.REFUSED_STREAM}


@pytest.mark.anyio
async def test_a_push_after_disabling_pushes_is_a_protocol_error() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            server.conn.remote_settings._settings[Codes.ENABLE_PUSH].appendleft(1)
            fields = [(b":method", b"GET"), (b":authority", b"example.org")]
            fields += [(b":scheme", b"https"), (b":path", b"/pushed")]
            server.conn.push_stream(event.stream_id, 2, fields)
            server.flush()

    connection, server, _ = connect(H2Server(handler=handler))
    with pytest.raises(RemoteProtocolError, match="Received pushed stream"):
        await connection.handle_async_request(request())
    assert connection.is_closed()
    # h2's GOAWAY (PROTOCOL_ERROR) went out before the connection was closed.
    goaways = [e for e in server.events if isinstance(e, h2.events.ConnectionTerminated)]
    assert [e.error_code for e in goaways] == [ErrorCodes.PROTOCOL_ERROR]


@pytest.mark.anyio
async def test_pings_are_answered() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.ping(b"heron!!!")
            server.respond(event.stream_id)

    connection, server, _ = connect(H2Server(handler=handler))
    await fetch(connection)
    acks = [e for e in server.events if isinstance(e, h2.events.PingAckReceived)]
    assert [e.ping_data for e in acks] == [b"heron!!!"]


# Flow control ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_one_byte_initial_window_still_completes_uploads() -> None:
    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 1})
    connection, _, _ = connect(server)
    body = bytes(range(256)) * 4
    assert await fetch(connection, request("POST", content=body)) == HELLO
    assert bytes(server.requests[1].body) == body
    frames = [e for e in server.events if isinstance(e, h2.events.DataReceived)]
    assert len(frames) >= len(body)


@pytest.mark.anyio
async def test_a_large_upload_through_small_windows() -> None:
    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 16384})
    connection, _, _ = connect(server)
    body = hashlib.sha256(b"heron").digest() * (4 * 1024 * 1024 // 32)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    assert await fetch(connection, request("POST", content=chunks())) == HELLO
    assert bytes(server.requests[1].body) == body


@pytest.mark.anyio
async def test_a_large_download_refills_the_window() -> None:
    body = hashlib.sha256(b"heron").digest() * (40 * 1024 * 1024 // 32)

    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, body=body)

    connection, _, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    digest = hashlib.sha256()
    size = 0
    async for chunk in response.aiter_raw():
        digest.update(chunk)
        size += len(chunk)
    assert size == len(body)
    assert digest.digest() == hashlib.sha256(body).digest()


# Closing responses --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_closing_a_response_early_resets_its_stream() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
            server.respond(1, body=b"x" * 1000, end=False)
        elif isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id)

    connection, server, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    chunks = response.aiter_raw()
    assert await chunks.__anext__() == b"x" * 1000
    await cast(Any, chunks).aclose()  # stops early
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert connection.active_streams == 0
    assert connection.is_available()
    assert await fetch(connection) == HELLO
    with pytest.raises(StreamClosed):
        async for _ in response.stream:  # type: ignore[union-attr]
            pass


@pytest.mark.anyio
async def test_a_response_ended_by_the_server_is_not_reset_on_close() -> None:
    connection, server, _ = connect()
    response = await connection.handle_async_request(request())
    await response.aclose()
    assert server.resets() == {}
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_a_response_before_the_whole_upload_stops_the_upload() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            server.respond(event.stream_id, 413, body=b"too large")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 100

    connection, server, _ = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request("POST", content=body()))
    assert response.status_code == 413
    assert await response.aread() == b"too large"
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert connection.is_available()


@pytest.mark.anyio
async def test_frames_queued_while_writing_go_out_in_the_same_flush() -> None:
    connection, server, stream = connect()

    def queue_more() -> None:
        stream.after_write = None
        connection._state.h2.ping(b"queued!!")

    stream.after_write = queue_more
    assert await fetch(connection) == HELLO
    pings = [e for e in server.events if isinstance(e, h2.events.PingReceived)]
    assert [e.ping_data for e in pings] == [b"queued!!"]


@pytest.mark.anyio
async def test_small_reads_deliver_everything() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10}, handler=answer_together(3))
    server.read_size = 7
    connection, _, _ = connect(server)
    bodies: list[bytes] = []

    async def one(index: int) -> None:
        bodies.append(await fetch(connection, request(url=f"{URL}{index}")))

    async with AsyncTaskGroup() as group:
        for index in range(3):
            group.start_soon(one, index)
    assert sorted(bodies) == [b"/0", b"/1", b"/2"]


@pytest.mark.anyio
async def test_a_slot_is_given_back_when_no_stream_can_be_opened() -> None:
    connection, _, _ = connect()
    await fetch(connection)
    connection._state.h2.highest_outbound_stream_id = 2**31 - 1
    with pytest.raises(ConnectionNotAvailable, match="used all its stream ids"):
        await connection.handle_async_request(request())
    assert connection.active_streams == 0
    assert not connection.is_available()


@pytest.mark.anyio
async def test_an_answer_during_the_upload_stops_it() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived) and event.stream_id == 3:
            server.respond(event.stream_id, 413, body=b"too large")

    produced: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for index in range(100):
            produced.append(index)
            yield b"x" * 10

    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 10}, ack_data=False)
    connection, _, _ = connect(server)
    await fetch(connection)  # the server's SETTINGS are known
    server.handler = handler
    response = await connection.handle_async_request(request("POST", content=body()))
    assert response.status_code == 413
    assert await response.aread() == b"too large"
    # The answer was read while waiting for the window: the rest of the body was not produced.
    assert len(produced) < 5
    assert server.resets() == {3: ErrorCodes.CANCEL}
    assert connection.is_available()


class PlainChunks:
    """An iterator with nothing to close."""

    def __init__(self, count: int) -> None:
        self.left = count

    def __aiter__(self) -> PlainChunks:
        return self

    async def __anext__(self) -> bytes:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        return b"x" * 10


class PlainStream(AsyncByteStream):
    def __init__(self, chunks: PlainChunks) -> None:
        self.chunks = chunks

    def __aiter__(self) -> PlainChunks:
        return self.chunks


@pytest.mark.anyio
async def test_an_answer_during_the_upload_stops_a_plain_iterator() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived) and event.stream_id == 3:
            server.respond(event.stream_id, 413, body=b"")

    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 10}, ack_data=False)
    connection, _, _ = connect(server)
    await fetch(connection)
    server.handler = handler
    chunks = PlainChunks(100)
    req = heron.Request("POST", URL, stream=PlainStream(chunks))
    response = await connection.handle_async_request(req)
    assert response.status_code == 413
    assert chunks.left > 90


# Timeouts -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_read_timeout_names_the_phase_the_origin_and_the_limit() -> None:
    server = H2Server(handler=silent)
    connection, _, _ = connect(server)
    server.stalled = True
    with pytest.raises(ReadTimeout) as info:
        await connection.handle_async_request(request(timeout={"read": 2.5}))
    assert str(info.value) == (
        f"Timed out after 2.5 s reading the response from {ORIGIN} (read timeout). If the "
        "server is slow, raise the limit with Timeout(read=...)."
    )
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert connection.is_available()
    server.stalled = False
    server.handler = None
    assert await fetch(connection) == HELLO


@pytest.mark.anyio
async def test_read_timeout_while_another_request_reads() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = silent
    reading = AsyncEvent()
    stream.on_read = reading.set
    outcome: list[object] = []

    async def reader() -> None:
        outcome.append(await fetch(connection, request(url=URL + "reader")))

    async def impatient() -> None:
        await reading.wait()
        stream.on_read = None
        try:
            await connection.handle_async_request(request(timeout={"read": 0}))
        except ReadTimeout as exc:
            outcome.append(exc)
        server.respond(3)

    async with AsyncTaskGroup() as group:
        group.start_soon(reader)
        group.start_soon(impatient)
    assert isinstance(outcome[0], ReadTimeout)
    assert outcome[1] == HELLO
    assert server.resets() == {5: ErrorCodes.CANCEL}
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_the_reader_hands_other_requests_their_answers() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and len(server.requests) == 3:
            server.respond(5)  # the second request's answer first ...
            server.respond(3, body=b"", end=False)  # ... then the head only

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = handler
    reading = AsyncEvent()
    stream.on_read = reading.set
    results: list[object] = []

    async def first() -> None:
        response = await connection.handle_async_request(request(url=URL + "first"))
        results.append(response.status_code)
        server.send_body(3, b"done")
        results.append(await response.aread())

    async def second() -> None:
        await reading.wait()
        stream.on_read = None
        results.append(await fetch(connection, request(url=URL + "second")))

    async with AsyncTaskGroup() as group:
        group.start_soon(first)
        group.start_soon(second)
    assert sorted(map(repr, results)) == sorted(map(repr, [200, b"done", HELLO]))


@pytest.mark.anyio
async def test_a_read_timeout_for_the_body() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, body=b"", end=False)

    server = H2Server(handler=handler)
    connection, _, _ = connect(server)
    response = await connection.handle_async_request(request(timeout={"read": 1.0}))
    server.stalled = True
    with pytest.raises(ReadTimeout, match=r"after 1\.0 s reading the response"):
        await response.aread()
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_a_timeout_of_zero_fails_at_once() -> None:
    server = H2Server(handler=silent)
    connection, _, _ = connect(server)
    with pytest.raises(ReadTimeout, match="after 0 s"):
        await connection.handle_async_request(request(timeout={"read": 0}))


@pytest.mark.anyio
async def test_write_timeout_waiting_for_the_flow_control_window() -> None:
    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 1}, ack_data=False)
    connection, _, _ = connect(server)
    await fetch(connection)  # the server's SETTINGS are known
    with pytest.raises(WriteTimeout) as info:
        await connection.handle_async_request(
            request("POST", content=b"0123456789", timeout={"write": 0})
        )
    assert str(info.value) == (
        f"Timed out after 0 s sending the request to {ORIGIN} (write timeout): the server "
        "does not open its HTTP/2 flow control window to take more of the body. If it is "
        "slow, raise the limit with Timeout(write=...)."
    )
    assert server.requests[3].body == b"0"
    assert connection.active_streams == 0


@pytest.mark.anyio
async def test_pool_timeout_waiting_for_a_stream_slot() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    response = await connection.handle_async_request(request())
    with pytest.raises(PoolTimeout) as info:
        await connection.handle_async_request(request(timeout={"pool": 0}))
    assert str(info.value) == (
        f"Timed out after 0 s waiting for a free stream on the HTTP/2 connection to {ORIGIN} "
        "(pool timeout; the server allows 1 at once). Close responses you are done with, or "
        "raise Timeout(pool=...)."
    )
    assert connection.active_streams == 1
    await response.aclose()
    assert connection.active_streams == 0
    assert await fetch(connection) == HELLO


class SignallingQueue(deque[Any]):
    """A slot queue that says when a request joins it."""

    def __init__(self) -> None:
        super().__init__()
        self.joined = AsyncEvent()

    def append(self, item: Any) -> None:
        super().append(item)
        self.joined.set()


def watch_slot_queue(connection: AsyncHTTP2Connection) -> SignallingQueue:
    queue = SignallingQueue()
    connection._state.slot_waiters = queue
    return queue


@pytest.mark.anyio
async def test_a_queued_request_gets_the_slot_when_a_response_closes() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    first = await connection.handle_async_request(request())
    queue = watch_slot_queue(connection)
    results: list[bytes] = []

    async def queued() -> None:
        results.append(await fetch(connection, request(url=URL + "queued")))

    async def closer() -> None:
        await queue.joined.wait()
        results.append(await first.aread())

    async with AsyncTaskGroup() as group:
        group.start_soon(queued)
        group.start_soon(closer)
    assert results == [HELLO, HELLO]
    assert server.max_open_streams == 1


@pytest.mark.anyio
async def test_queued_requests_fail_over_when_the_connection_is_lost() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    first = await connection.handle_async_request(request())
    queue = watch_slot_queue(connection)
    outcome: list[object] = []

    async def queued() -> None:
        try:
            await connection.handle_async_request(request(url=URL + "queued"))
        except ConnectionNotAvailable as exc:
            outcome.append(exc)

    async def closer() -> None:
        await queue.joined.wait()
        server.close()
        outcome.append(await first.aread())  # it had arrived whole

    async with AsyncTaskGroup() as group:
        group.start_soon(queued)
        group.start_soon(closer)
    assert outcome[0] == HELLO
    assert "lost before it answered stream 3" in str(outcome[1])
    assert connection.is_closed()


@pytest.mark.anyio
async def test_queued_requests_fail_over_on_goaway() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, body=b"", end=False)

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1}, handler=handler)
    connection, _, _ = connect(server)
    first = await connection.handle_async_request(request())
    queue = watch_slot_queue(connection)
    outcome: list[object] = []

    async def queued() -> None:
        try:
            await connection.handle_async_request(request(url=URL + "queued"))
        except ConnectionNotAvailable as exc:
            outcome.append(exc)

    async def reader() -> None:
        await queue.joined.wait()
        server.goaway(last_stream_id=1)
        server.send_body(1, b"rest")
        # Reading the first body reads the GOAWAY, which wakes the queued request.
        outcome.append(await first.aread())

    async with AsyncTaskGroup() as group:
        group.start_soon(queued)
        group.start_soon(reader)
    assert sorted(map(type, outcome), key=str) == sorted([bytes, ConnectionNotAvailable], key=str)
    assert b"rest" in outcome
    assert "sent GOAWAY (NO_ERROR (0x0))" in str(next(o for o in outcome if o != b"rest"))


# Interruptions (cancellation stand-ins that run in both flavours) ---------------------------


@pytest.mark.anyio
async def test_an_interrupted_request_body_resets_the_stream() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"start"
        raise Interrupted()

    connection, server, _ = connect()
    with pytest.raises(Interrupted):
        await connection.handle_async_request(request("POST", content=body()))
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert connection.active_streams == 0
    assert await fetch(connection) == HELLO


@pytest.mark.anyio
async def test_an_interrupted_write_finishes_sending_then_raises() -> None:
    server = H2Server(handler=silent)
    connection, _, stream = connect(server)

    def interrupt() -> None:
        stream.after_write = None
        raise Interrupted()

    stream.after_write = interrupt
    with pytest.raises(Interrupted):
        await connection.handle_async_request(request())
    # The request went out whole, then the stream was reset; the connection is fine.
    assert server.requests[1].ended
    assert server.resets() == {1: ErrorCodes.CANCEL}
    server.handler = None
    assert await fetch(connection) == HELLO


@pytest.mark.anyio
async def test_an_interrupted_reader_hands_the_reading_over() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 5:
            server.ping()  # gets the reader to read again

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = handler
    reading = AsyncEvent()
    stream.on_read = reading.set
    outcome: list[object] = []

    def interrupt() -> None:
        stream.on_read = None
        server.respond(5)
        raise Interrupted()

    async def reader() -> None:
        try:
            await connection.handle_async_request(request(url=URL + "reader"))
        except Interrupted:
            outcome.append("interrupted")

    async def sleeper() -> None:
        await reading.wait()
        stream.on_read = interrupt
        outcome.append(await fetch(connection, request(url=URL + "sleeper")))

    async with AsyncTaskGroup() as group:
        group.start_soon(reader)
        group.start_soon(sleeper)
    assert outcome == ["interrupted", HELLO]
    assert server.resets() == {3: ErrorCodes.CANCEL}
    assert connection.active_streams == 0


# State, closing, tracing ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_keepalive_expiry_is_measured_with_the_clock() -> None:
    now = [100.0]
    connection, _, _ = connect(keepalive_expiry=5.0, clock=lambda: now[0])
    assert not connection.has_expired(1e12)  # never used: no expiry yet
    await fetch(connection)
    assert connection.is_available()
    assert not connection.has_expired(105.0)
    assert connection.has_expired(105.5)
    now[0] = 106.0
    assert not connection.is_available()
    # A new request takes it out of the idle state.
    now[0] = 100.0
    response = await connection.handle_async_request(request())
    assert not connection.has_expired(1e12)
    await response.aclose()


@pytest.mark.anyio
async def test_closing_the_connection_fails_the_requests_in_flight() -> None:
    connection, _, stream = connect(H2Server(handler=silent))
    reading = AsyncEvent()
    stream.on_read = reading.set
    outcome: list[object] = []

    async def waiting() -> None:
        try:
            await connection.handle_async_request(request())
        except ReadError as exc:
            outcome.append(exc)

    async def closer() -> None:
        await reading.wait()
        await connection.aclose()
        await connection.aclose()

    async with AsyncTaskGroup() as group:
        group.start_soon(waiting)
        group.start_soon(closer)
    assert "was closed by the client while requests were in flight" in str(outcome[0])
    assert connection.is_closed()
    assert stream.closed
    assert connection.state is HTTP2ConnectionState.CLOSED
    with pytest.raises(ConnectionNotAvailable, match="is closed"):
        await connection.handle_async_request(request())


@pytest.mark.anyio
async def test_repr_and_readable() -> None:
    connection, _, stream = connect()
    assert repr(connection) == (
        f"<AsyncHTTP2Connection ['{ORIGIN}', NEW, Request Count: 0, Streams: 0/1]>"
    )
    await fetch(connection)
    assert repr(connection).startswith(
        f"<AsyncHTTP2Connection ['{ORIGIN}', IDLE, Request Count: 1, Streams: 0/"
    )
    assert not connection.is_readable()
    stream.extra["is_readable"] = True
    assert connection.is_readable()


@pytest.mark.anyio
async def test_trace_events_and_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        events.append(name)

    connection, _, _ = connect()
    with caplog.at_level(logging.DEBUG, logger="heron.http2"):
        await fetch(connection, request("POST", content=b"body", trace=trace))
    assert events == [
        "http2.send_connection_init.started",
        "http2.send_connection_init.complete",
        "http2.send_request_headers.started",
        "http2.send_request_headers.complete",
        "http2.send_request_body.started",
        "http2.send_request_body.complete",
        "http2.receive_response_headers.started",
        "http2.receive_response_headers.complete",
        "http2.receive_response_body.started",
        "http2.response_closed.started",  # reading to the end closes the response
        "http2.response_closed.complete",
        "http2.receive_response_body.complete",
    ]
    assert "http2.receive_response_headers.complete" in caplog.text
    # A second traced request has no connection init.
    events.clear()
    response = await connection.handle_async_request(request(trace=trace))
    await response.aclose()
    await response.aclose()
    assert events[0] == "http2.send_request_headers.started"
    assert events[-1] == "http2.response_closed.complete"
