"""The HTTP/1.1 connection driver over scripted bytes (MockStream): requests, responses,
keep-alive, failures, timeouts, cancellation and tracing, on both HTTP/1.1 parsers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import heron
from heron._async import http11 as async_http11
from heron._backends import mock
from heron._backends.mock import AsyncMockBackend, AsyncMockStream
from heron._http11_parser import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    PARSER_ENV,
    ConnectionNotAvailable,
    H11Parser,
    HTTP11State,
    ParserEvent,
    ResponseHead,
)
from heron._streams import AsyncByteStream
from heron._sync import http11 as sync_http11

# True here; the generated sync twin reads `mock.MockStream is not mock.MockStream`: False.
IS_ASYNC = mock.AsyncMockStream is not mock.MockStream

# scripts/unasync.py has no rule for the module path `heron._async.http11` yet, so the
# module of this test's flavour is chosen here; the class names are renamed as usual.
http11 = async_http11 if IS_ASYNC else sync_http11
AsyncHTTP11Connection = http11.AsyncHTTP11Connection
AsyncHTTP11UpgradeStream = http11.AsyncHTTP11UpgradeStream
MAX_INTERIM_RESPONSES = http11.MAX_INTERIM_RESPONSES

ORIGIN = "http://example.org:80"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!"


@pytest.fixture(autouse=True, params=["h11", "httptools"])
def http1_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both parsers: the driver's default follows HERON_HTTP1_PARSER."""
    name = str(request.param)
    if name == "httptools":
        pytest.importorskip("httptools")
    monkeypatch.setenv(PARSER_ENV, name)
    return name


def connection(
    *chunks: Any, on_write: Any = None, **kwargs: Any
) -> tuple[AsyncHTTP11Connection, AsyncMockStream]:
    stream = AsyncMockStream(chunks, on_write=on_write)
    return AsyncHTTP11Connection(stream, ORIGIN, **kwargs), stream


def get(url: str = "http://example.org/", **kwargs: Any) -> heron.Request:
    return heron.Request("GET", url, **kwargs)


class Interrupted(BaseException):
    """Stands in for a cancellation in the sync flavour, where nothing can be cancelled."""


class Interruption:
    """Interrupts a request at a chosen await point: a real cancellation of the enclosing
    scope on asyncio and trio; in sync code, the nearest thing: a BaseException raised there.

    ``with Interruption() as interruption:`` then ``interruption.trigger`` as a script item
    (or ``on_write``) of the mock stream. The block swallows the interruption it caused.
    """

    def __init__(self) -> None:
        self._scope = anyio.CancelScope() if IS_ASYNC else None
        self.triggered = False

    def __enter__(self) -> Interruption:
        if self._scope is not None:
            self._scope.__enter__()
        return self

    def trigger(self, *args: object) -> None:
        self.triggered = True
        if self._scope is None:
            raise Interrupted()
        self._scope.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._scope is not None:
            return bool(self._scope.__exit__(exc_type, exc_value, traceback))
        return exc_type is Interrupted


class PartsIterator:
    """A plain iterator over body parts: not a generator, so it has no ``aclose``."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = list(parts)

    def __aiter__(self) -> PartsIterator:
        return self

    async def __anext__(self) -> bytes:
        if not self._parts:
            raise StopAsyncIteration
        return self._parts.pop(0)


class PartsBody(AsyncByteStream):
    """A body stream whose iterator is a ``PartsIterator``."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = parts

    def __aiter__(self) -> PartsIterator:  # type: ignore[override]
        return PartsIterator(self._parts)


async def body_chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# --- requests and responses ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_get_writes_the_request_and_returns_the_response(http1_parser: str) -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
        b"Content-Length: 13\r\n\r\nHello, world!",
    )
    request = get(headers={"Accept": "*/*"})
    response = await conn.handle_async_request(request)

    assert stream.written == [b"GET / HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n"]
    assert response.status_code == 200
    assert response.headers.raw == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"13")]
    assert response.request is request
    assert response.extensions == {
        "http_version": b"HTTP/1.1",
        "reason_phrase": b"OK",
        "network_stream": stream,
        "http11_parser": http1_parser,
    }
    assert repr(conn) == f"<AsyncHTTP11Connection [{ORIGIN!r}, ACTIVE, Request Count: 1]>"
    assert await response.aread() == b"Hello, world!"
    assert repr(conn) == f"<AsyncHTTP11Connection [{ORIGIN!r}, IDLE, Request Count: 1]>"
    assert conn.state is HTTP11State.IDLE
    assert conn.is_idle()
    assert not conn.is_closed()


@pytest.mark.anyio
async def test_a_kept_alive_connection_serves_requests_one_after_another() -> None:
    conn, stream = connection(OK, b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone")
    first = await conn.handle_async_request(get())
    assert await first.aread() == b"Hello, world!"
    second = await conn.handle_async_request(get("http://example.org/missing"))
    assert second.status_code == 404
    assert await second.aread() == b"gone"
    assert conn.request_count == 2
    assert conn.is_idle()
    assert stream.written[1].startswith(b"GET /missing HTTP/1.1\r\n")


@pytest.mark.anyio
async def test_the_target_extension_replaces_the_request_target() -> None:
    conn, stream = connection(OK)
    await conn.handle_async_request(get(extensions={"target": b"*"}))
    assert stream.written[0].startswith(b"GET * HTTP/1.1\r\n")


@pytest.mark.anyio
async def test_an_unusual_method_is_sent_as_given() -> None:
    conn, stream = connection(OK)
    await conn.handle_async_request(heron.Request("PROPFIND", "http://example.org/"))
    assert stream.written[0].startswith(b"PROPFIND / HTTP/1.1\r\n")


@pytest.mark.anyio
async def test_the_reason_phrase_and_http_1_0_version_are_reported() -> None:
    conn, _ = connection(b"HTTP/1.0 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n")
    response = await conn.handle_async_request(get())
    assert response.extensions["http_version"] == b"HTTP/1.0"
    assert response.http_version == "HTTP/1.0"
    assert response.reason_phrase == "I'm a teapot"
    await response.aread()
    assert conn.is_closed()  # HTTP/1.0 means no keep-alive


@pytest.mark.anyio
async def test_a_server_connection_close_closes_the_connection_after_the_body() -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    )
    response = await conn.handle_async_request(get())
    assert not conn.is_closed()
    assert await response.aread() == b"ok"
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_request_connection_close_closes_the_connection_after_the_body() -> None:
    conn, stream = connection(OK)
    response = await conn.handle_async_request(get(headers={"Connection": "close"}))
    await response.aread()
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
async def test_head_204_and_304_responses_have_no_body(method: str, status: int) -> None:
    conn, _ = connection(b"HTTP/1.1 %d X\r\nContent-Length: 100\r\n\r\n" % status, OK)
    response = await conn.handle_async_request(heron.Request(method, "http://example.org/"))
    assert await response.aread() == b""
    assert conn.is_idle()
    # The next response on the connection is read correctly.
    assert await (await conn.handle_async_request(get())).aread() == b"Hello, world!"


@pytest.mark.anyio
async def test_interim_responses_are_skipped() -> None:
    conn, _ = connection(
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + OK,
    )
    response = await conn.handle_async_request(get())
    assert response.status_code == 200
    assert await response.aread() == b"Hello, world!"


@pytest.mark.anyio
async def test_endless_interim_responses_are_a_remote_protocol_error() -> None:
    conn, stream = connection(b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM_RESPONSES + 1))
    with pytest.raises(heron.RemoteProtocolError, match="more than 100 interim"):
        await conn.handle_async_request(get())
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_body_delimited_by_the_connection_closing_is_read_to_the_end() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\n\r\nfirst ", b"second")
    response = await conn.handle_async_request(get())
    assert [chunk async for chunk in response.aiter_raw()] == [b"first ", b"second"]
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_chunked_response_body_is_decoded() -> None:
    conn, _ = connection(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n",
        b"7\r\n, world\r\n0\r\n\r\n",
    )
    response = await conn.handle_async_request(get())
    assert await response.aread() == b"hello, world"
    assert conn.is_idle()


@pytest.mark.anyio
async def test_the_body_is_read_in_the_parsers_read_size_as_it_is_iterated(
    http1_parser: str,
) -> None:
    # h11 copies what it is fed: 64 KiB reads. httptools passes a read that is all body on
    # as it came: 256 KiB reads.
    read_size = {"h11": 64 * 1024, "httptools": 256 * 1024}[http1_parser]
    body = b"x" * 600_000
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 600000\r\n\r\n" + body)
    response = await conn.handle_async_request(get())
    assert len(stream.reads) == 1
    chunks = [chunk async for chunk in response.aiter_raw()]
    assert b"".join(chunks) == body
    assert {size for size, _ in stream.reads} == {read_size}
    assert len(stream.reads) == -(-(len(body) + 40) // read_size)


@pytest.mark.anyio
async def test_a_body_shorter_than_its_content_length_raises_and_closes() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    response = await conn.handle_async_request(get())
    with pytest.raises(heron.RemoteProtocolError, match="received 3 bytes, expected 10"):
        await response.aread()
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_malformed_response_head_raises_and_closes() -> None:
    conn, stream = connection(b"HTTP/1.1 abc\r\n\r\n")
    with pytest.raises(heron.RemoteProtocolError, match=r"not valid HTTP/1\.1"):
        await conn.handle_async_request(get())
    assert conn.is_closed()
    assert stream.is_closed


# --- request bodies ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_small_in_memory_body_goes_out_with_the_head_in_one_write() -> None:
    conn, stream = connection(OK)
    await conn.handle_async_request(heron.Request("POST", "http://example.org/", content=b"abc"))
    assert stream.written == [
        b"POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 3\r\n\r\nabc"
    ]


@pytest.mark.anyio
async def test_a_large_in_memory_body_is_written_after_the_head() -> None:
    body = b"x" * (64 * 1024 + 1)
    conn, stream = connection(OK)
    await conn.handle_async_request(heron.Request("PUT", "http://example.org/", content=body))
    assert len(stream.written) == 2
    assert stream.written[0].endswith(b"Content-Length: 65537\r\n\r\n")
    assert stream.written[1] == body


@pytest.mark.anyio
async def test_a_streamed_body_with_content_length_is_written_chunk_by_chunk() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "6"},
        content=body_chunks([b"abc", b"", b"def"]),
    )
    response = await conn.handle_async_request(request)
    assert stream.written[1:] == [b"abc", b"def"]
    await response.aread()
    assert conn.is_idle()


@pytest.mark.anyio
async def test_a_streamed_body_without_length_is_sent_chunked() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST", "http://example.org/", content=body_chunks([b"hello", b"", b", world"])
    )
    await conn.handle_async_request(request)
    assert b"Transfer-Encoding: chunked\r\n" in stream.written[0]
    assert stream.written[1:] == [b"5\r\nhello\r\n", b"7\r\n, world\r\n", b"0\r\n\r\n"]


@pytest.mark.anyio
async def test_a_streamed_body_longer_than_its_content_length_raises_and_closes() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "2"},
        content=body_chunks([b"abc"]),
    )
    with pytest.raises(heron.LocalProtocolError, match="longer than its Content-Length"):
        await conn.handle_async_request(request)
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_body_stream_without_aclose_stopped_early_is_left_as_is() -> None:
    conn, _ = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "2"},
        stream=PartsBody([b"abc"]),
    )
    with pytest.raises(heron.LocalProtocolError, match="longer than its Content-Length"):
        await conn.handle_async_request(request)
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_request_the_parser_refuses_raises_local_protocol_error() -> None:
    conn, stream = connection(OK)
    request = get(headers={"X-Bad": b"a\x0bb"})
    with pytest.raises(heron.LocalProtocolError, match="Invalid value for header 'X-Bad'"):
        await conn.handle_async_request(request)
    assert stream.written == []
    assert conn.is_closed()


# --- timeouts ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_read_and_write_timeouts_apply_to_every_read_and_write() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"ab", b"cd")
    timeout = {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}
    request = heron.Request(
        "POST",
        "http://example.org/",
        content=body_chunks([b"x", b"y"]),
        extensions={"timeout": timeout},
    )
    response = await conn.handle_async_request(request)
    await response.aread()
    assert stream.write_timeouts == [3.0, 3.0, 3.0, 3.0]
    assert [timeout for _, timeout in stream.reads] == [2.0, 2.0, 2.0]


@pytest.mark.anyio
async def test_without_a_timeout_extension_operations_have_no_timeout() -> None:
    conn, stream = connection(OK)
    await (await conn.handle_async_request(get())).aread()
    assert stream.write_timeouts == [None]
    assert [timeout for _, timeout in stream.reads] == [None]


@pytest.mark.anyio
async def test_a_read_timeout_raises_and_closes_the_connection() -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", heron.ReadTimeout("slow")
    )
    response = await conn.handle_async_request(get())
    with pytest.raises(heron.ReadTimeout, match="slow"):
        await response.aread()
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_write_timeout_is_raised_not_swallowed() -> None:
    def stall(data: bytes) -> None:
        raise heron.WriteTimeout("server not reading")

    stream = AsyncMockStream([OK], on_write=stall)
    conn = AsyncHTTP11Connection(stream, ORIGIN)
    with pytest.raises(heron.WriteTimeout, match="server not reading"):
        await conn.handle_async_request(get())
    assert conn.is_closed()


# --- dead connections and early responses --------------------------------------------------------


async def reused_connection(
    *chunks: Any, **kwargs: Any
) -> tuple[AsyncHTTP11Connection, AsyncMockStream]:
    """A connection that has already served one request."""
    conn, stream = connection(OK, *chunks, **kwargs)
    await (await conn.handle_async_request(get())).aread()
    assert conn.is_idle()
    return conn, stream


@pytest.mark.anyio
async def test_a_reused_connection_closed_by_the_server_is_not_available() -> None:
    conn, stream = await reused_connection(b"")
    with pytest.raises(ConnectionNotAvailable, match="closed by the server"):
        await conn.handle_async_request(get())
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_reused_connection_reset_before_the_response_is_not_available() -> None:
    conn, _ = await reused_connection(heron.ReadError("connection reset"))
    with pytest.raises(ConnectionNotAvailable):
        await conn.handle_async_request(get())
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_reused_connection_whose_write_fails_and_that_sends_nothing_is_not_available() -> (
    None
):
    failures = iter([None, heron.WriteError("broken pipe")])

    def fail_second_write(data: bytes) -> None:
        failure = next(failures)
        if failure is not None:
            raise failure

    conn, _ = await reused_connection(b"", on_write=fail_second_write)
    with pytest.raises(ConnectionNotAvailable):
        await conn.handle_async_request(get())


@pytest.mark.anyio
async def test_a_reused_connection_failing_after_response_bytes_raises_the_real_error() -> None:
    conn, _ = await reused_connection(b"HTTP/1.1 200", heron.ReadError("connection reset"))
    with pytest.raises(heron.ReadError, match="connection reset"):
        await conn.handle_async_request(get())
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_fresh_connection_closed_before_the_response_is_a_remote_protocol_error() -> None:
    conn, _ = connection(b"")
    with pytest.raises(
        heron.RemoteProtocolError,
        match=r"example\.org:80 closed the connection without sending a response",
    ):
        await conn.handle_async_request(get())
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_fresh_connection_reset_before_the_response_raises_the_read_error() -> None:
    conn, _ = connection(heron.ReadError("connection reset"))
    with pytest.raises(heron.ReadError, match="connection reset"):
        await conn.handle_async_request(get())


@pytest.mark.anyio
@pytest.mark.parametrize("after", [b"", heron.ReadError("reset")])
async def test_a_fresh_connection_whose_write_fails_and_that_sends_nothing_raises_the_write_error(
    after: Any,
) -> None:
    def broken(data: bytes) -> None:
        raise heron.WriteError("broken pipe")

    stream = AsyncMockStream([after], on_write=broken)
    conn = AsyncHTTP11Connection(stream, ORIGIN)
    with pytest.raises(heron.WriteError, match="broken pipe"):
        await conn.handle_async_request(get())
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_response_sent_while_the_body_is_uploading_is_read() -> None:
    writes = 0

    def server_stops_reading(data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise heron.WriteError("connection reset by peer")

    response_413 = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!"
    stream = AsyncMockStream([response_413], on_write=server_stops_reading)
    conn = AsyncHTTP11Connection(stream, ORIGIN)
    request = heron.Request(
        "POST", "http://example.org/", content=body_chunks([b"a" * 10, b"b" * 10, b"c" * 10])
    )
    response = await conn.handle_async_request(request)
    assert response.status_code == 413
    assert await response.aread() == b"too big!"
    # The request body never finished: the connection can't be reused.
    assert conn.is_closed()


# --- availability and keep-alive expiry ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_an_idle_connection_expires_after_keepalive_expiry() -> None:
    clock = Clock()
    conn, _ = connection(OK, OK, keepalive_expiry=5.0, clock=clock)
    assert conn.is_available()  # NEW
    assert not conn.has_expired(clock.now)
    response = await conn.handle_async_request(get())
    assert not conn.is_available()  # ACTIVE
    await response.aread()
    assert conn.is_available()
    assert not conn.has_expired(105.0)
    assert conn.has_expired(105.5)
    clock.now = 105.5
    assert not conn.is_available()
    # Taking a request clears the expiry until the connection is idle again.
    await conn.handle_async_request(get())
    assert not conn.has_expired(1000.0)


@pytest.mark.anyio
async def test_without_keepalive_expiry_an_idle_connection_never_expires() -> None:
    conn, _ = await reused_connection()
    assert not conn.has_expired(1e12)
    assert conn.is_available()


@pytest.mark.anyio
async def test_is_readable_reports_the_stream_state() -> None:
    conn, stream = await reused_connection()
    assert not conn.is_readable()
    stream.is_readable = True  # the server closed the idle connection
    assert conn.is_readable()


@pytest.mark.anyio
async def test_a_busy_or_closed_connection_refuses_requests_as_not_available() -> None:
    conn, _ = connection(OK)
    response = await conn.handle_async_request(get())
    with pytest.raises(ConnectionNotAvailable, match="is ACTIVE"):
        await conn.handle_async_request(get())
    assert conn.state is HTTP11State.ACTIVE  # the exchange under way is left alone
    await response.aread()
    await conn.aclose()
    with pytest.raises(ConnectionNotAvailable, match="is CLOSED"):
        await conn.handle_async_request(get())
    assert not conn.is_available()


@pytest.mark.anyio
async def test_closing_is_idempotent_and_ends_a_response_in_progress() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    response = await conn.handle_async_request(get())
    await conn.aclose()
    await conn.aclose()
    assert conn.is_closed()
    assert stream.is_closed
    await response.aclose()
    assert conn.is_closed()


# --- closing responses early ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_closing_a_response_before_its_end_closes_the_connection() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = await conn.handle_async_request(get())
    await response.aclose()
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_stopping_iteration_early_closes_the_connection() -> None:
    conn, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = await conn.handle_async_request(get())
    chunks = response.aiter_raw()
    assert await chunks.__anext__() == b"ab"
    await chunks.aclose()
    await response.aclose()
    assert conn.is_closed()


@pytest.mark.anyio
async def test_a_closed_response_stream_cannot_be_iterated() -> None:
    conn, _ = connection(OK, OK)
    response = await conn.handle_async_request(get())
    await response.aread()
    with pytest.raises(heron.StreamClosed):
        async for _ in response.stream:  # type: ignore[union-attr]
            pass  # pragma: no cover - never reached


# --- protocol switches ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_101_response_hands_over_the_network_stream() -> None:
    conn, stream = connection(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfirst",
        b"second",
    )
    request = get(headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    response = await conn.handle_async_request(request)
    assert response.status_code == 101
    network_stream = response.extensions["network_stream"]
    assert isinstance(network_stream, AsyncHTTP11UpgradeStream)
    assert network_stream.origin == stream.origin
    assert await network_stream.read(3) == b"fir"
    assert await network_stream.read(100) == b"st"
    assert await network_stream.read(100) == b"second"
    await network_stream.write(b"frame", timeout=1.0)
    assert stream.written[-1] == b"frame"
    assert network_stream.get_extra_info("is_readable") is False
    await response.aclose()
    assert conn.is_closed()
    await network_stream.aclose()
    assert stream.is_closed


@pytest.mark.anyio
async def test_a_successful_connect_hands_over_a_tunnel_that_can_start_tls() -> None:
    conn, stream = connection(b"HTTP/1.1 200 Connection established\r\n\r\n")
    request = heron.Request(
        "CONNECT", "http://example.org:443/", extensions={"target": b"example.org:443"}
    )
    response = await conn.handle_async_request(request)
    tunnel = response.extensions["network_stream"]
    assert isinstance(tunnel, AsyncHTTP11UpgradeStream)
    context = heron.create_ssl_context()
    assert await tunnel.start_tls(context, "example.org", timeout=5.0) is stream
    assert stream.tls_calls == [(context, "example.org", 5.0)]


@pytest.mark.anyio
async def test_a_failed_connect_is_an_ordinary_response() -> None:
    conn, stream = connection(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    )
    request = heron.Request(
        "CONNECT", "http://example.org:443/", extensions={"target": b"example.org:443"}
    )
    response = await conn.handle_async_request(request)
    assert response.extensions["network_stream"] is stream


# --- cancellation --------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("point", ["write", "read head", "read body"])
async def test_an_interruption_at_any_await_point_leaves_the_connection_closed(point: str) -> None:
    with Interruption() as interruption:
        on_write = interruption.trigger if point == "write" else None
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"
        if point == "read head":
            chunks: list[Any] = [interruption.trigger, head, b"cd"]
        else:
            chunks = [head, interruption.trigger, b"cd"]
        stream = AsyncMockStream(chunks, on_write=on_write)
        conn = AsyncHTTP11Connection(stream, ORIGIN)
        response = await conn.handle_async_request(get())
        await response.aread()
    assert interruption.triggered
    assert conn.is_closed()
    assert stream.is_closed


# --- tracing and logging -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_trace_reports_each_step_of_the_exchange() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        seen.append((name, info))

    conn, _ = connection(OK)
    request = heron.Request(
        "POST", "http://example.org/", content=b"abc", extensions={"trace": trace}
    )
    response = await conn.handle_async_request(request)
    await response.aread()
    assert [name for name, _ in seen] == [
        "http11.send_request_headers.started",
        "http11.send_request_headers.complete",
        "http11.send_request_body.started",
        "http11.send_request_body.complete",
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.complete",
        "http11.receive_response_body.started",
        "http11.receive_response_body.complete",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
    assert seen[0][1] == {"request": request}
    assert seen[5][1]["return_value"] == (
        b"HTTP/1.1",
        200,
        b"OK",
        [(b"Content-Length", b"13")],
    )
    assert conn.is_idle()


@pytest.mark.anyio
async def test_trace_reports_a_failure_and_the_early_close() -> None:
    seen: list[str] = []
    conn, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    request = get(extensions={"trace": lambda name, info: seen.append(name)})
    response = await conn.handle_async_request(request)
    await response.aclose()
    assert seen[-2:] == ["http11.response_closed.started", "http11.response_closed.complete"]
    await response.aclose()
    assert seen.count("http11.response_closed.started") == 1


@pytest.mark.anyio
async def test_trace_reports_a_body_abandoned_part_way() -> None:
    seen: list[str] = []
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    request = get(extensions={"trace": lambda name, info: seen.append(name)})
    response = await conn.handle_async_request(request)
    chunks = response.aiter_raw()
    assert await chunks.__anext__() == b"ab"
    await chunks.aclose()
    assert seen[-4:] == [
        "http11.receive_response_body.started",
        "http11.receive_response_body.failed",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.anyio
async def test_debug_logging_records_the_steps(caplog: pytest.LogCaptureFixture) -> None:
    conn, _ = connection(OK)
    with caplog.at_level(logging.DEBUG, logger="heron.http11"):
        await (await conn.handle_async_request(get())).aread()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("http11.send_request_headers.started request=<Request('GET'")
    assert "http11.response_closed.complete return_value=None" in messages


# --- the parser seam -----------------------------------------------------------------------------


class ScriptedParser(H11Parser):
    """An h11 parser whose events can be overridden, to reach the driver's can't-happen paths."""

    def __init__(self, origin: str, script: list[ParserEvent]) -> None:
        super().__init__(origin)
        self.script = script

    def next_event(self) -> ParserEvent:
        if self.script:
            return self.script.pop(0)
        return super().next_event()


@pytest.mark.anyio
async def test_body_bytes_before_a_response_head_are_a_protocol_error() -> None:
    stream = AsyncMockStream([OK])
    conn = AsyncHTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, [b"early"])
    )
    with pytest.raises(heron.RemoteProtocolError, match="before a response head"):
        await conn.handle_async_request(get())


@pytest.mark.anyio
async def test_a_response_head_inside_a_body_is_a_protocol_error() -> None:
    script: list[ParserEvent] = []
    stream = AsyncMockStream([OK])
    conn = AsyncHTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = await conn.handle_async_request(get())
    script.append(ResponseHead(200, b"OK", []))
    with pytest.raises(heron.RemoteProtocolError, match="in the middle of a response body"):
        await response.aread()
    assert conn.is_closed()


@pytest.mark.anyio
async def test_connection_closed_inside_a_body_is_a_protocol_error() -> None:
    script: list[ParserEvent] = []
    conn = AsyncHTTP11Connection(
        AsyncMockStream([OK]), ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = await conn.handle_async_request(get())
    script.append(CONNECTION_CLOSED)
    with pytest.raises(heron.RemoteProtocolError, match="CONNECTION_CLOSED"):
        await response.aread()
    assert END_OF_MESSAGE is not CONNECTION_CLOSED


@pytest.mark.anyio
@pytest.mark.parametrize("whole", [True, False], ids=["read", "iterated"])
async def test_empty_body_events_are_skipped(whole: bool) -> None:
    script: list[ParserEvent] = []
    stream = AsyncMockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"])
    conn = AsyncHTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = await conn.handle_async_request(get())
    script.append(b"")
    if whole:
        assert await response.aread() == b"hi"
    else:
        assert [chunk async for chunk in response.aiter_raw()] == [b"hi"]
    assert conn.is_idle()


@pytest.mark.anyio
async def test_a_closed_body_stream_cant_be_read_whole() -> None:
    conn, _ = connection(OK)
    response = await conn.handle_async_request(get())
    await response.aclose()
    with pytest.raises(heron.StreamClosed):
        await response.stream._read_body()  # type: ignore[union-attr]


# --- property: chunking never changes the body --------------------------------------------------


@pytest.mark.anyio
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    body=st.binary(max_size=200),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
async def test_the_body_is_the_same_whatever_the_chunking_of_the_response(
    body: bytes, chunked: bool, cuts: list[int]
) -> None:
    if chunked:
        parts = [body[:5], body[5:]]
        framed = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in parts if part)
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    else:
        wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    points = sorted({cut for cut in cuts if 0 < cut < len(wire)})
    pieces = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    conn, _ = connection(*pieces)
    response = await conn.handle_async_request(get())
    assert await response.aread() == body
    assert conn.is_idle()


# --- the mock backend ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_mock_stream_replays_its_script_then_reports_eof() -> None:
    calls: list[str] = []
    stream = AsyncMockStream(
        [b"abcdef", heron.ReadError("reset"), lambda: calls.append("hook"), b"g"]
    )
    assert await stream.read(4) == b"abcd"
    assert await stream.read(4, timeout=1.5) == b"ef"
    with pytest.raises(heron.ReadError, match="reset"):
        await stream.read(4)
    assert await stream.read(4) == b"g"
    assert calls == ["hook"]
    assert await stream.read(4) == b""
    assert stream.reads == [(4, None), (4, 1.5), (4, None), (4, None), (4, None)]


@pytest.mark.anyio
async def test_the_mock_stream_records_writes_tls_and_answers_extra_info() -> None:
    stream = AsyncMockStream(alpn_protocol="h2", extra_info={"server_addr": ("1.2.3.4", 443)})
    await stream.write(b"ab", timeout=2.0)
    await stream.write(b"cd")
    assert stream.written == [b"ab", b"cd"]
    assert stream.written_bytes == b"abcd"
    assert stream.write_timeouts == [2.0, None]
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("server_addr") == ("1.2.3.4", 443)
    assert stream.get_extra_info("unknown") is None
    assert stream.get_extra_info("is_readable") is False
    context = heron.create_ssl_context()
    assert await stream.start_tls(context, "example.org") is stream
    assert stream.is_tls
    assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
    assert stream.tls_calls == [(context, "example.org", None)]
    assert stream.origin == "the server"
    await stream.aclose()
    assert stream.is_closed


@pytest.mark.anyio
async def test_the_mock_backend_hands_out_its_streams_in_order() -> None:
    first, second = AsyncMockStream(), AsyncMockStream()
    backend = AsyncMockBackend([first, heron.ConnectError("refused"), second])
    assert await backend.connect_tcp("example.org", 80, timeout=5.0) is first
    with pytest.raises(heron.ConnectError, match="refused"):
        await backend.connect_tcp(
            "example.org", 80, local_address="0.0.0.0", socket_options=[(1, 2, 3)]
        )
    assert await backend.connect_unix_socket("/tmp/socket") is second
    assert backend.connects == [
        ("tcp", ("example.org", 80, None, None), 5.0),
        ("tcp", ("example.org", 80, "0.0.0.0", [(1, 2, 3)]), None),
        ("unix", "/tmp/socket", None),
    ]
    with pytest.raises(AssertionError, match="no scripted stream left"):
        await backend.connect_tcp("example.org", 80)
    await backend.sleep(0.5)
    await backend.sleep(1.0)
    assert backend.sleeps == [0.5, 1.0]
