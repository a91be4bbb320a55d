# Generated from tests/_async/test_http11.py by scripts/unasync.py: do not edit by hand.
"""The HTTP/1.1 connection driver over scripted bytes (MockStream): requests, responses,
keep-alive, failures, timeouts, cancellation and tracing, on both HTTP/1.1 parsers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import heron
from heron._backends import mock
from heron._backends.mock import MockBackend, MockStream
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
from heron._streams import SyncByteStream
from heron._sync import http11 as async_http11
from heron._sync import http11 as sync_http11

# True here; the generated sync twin reads `mock.MockStream is not mock.MockStream`: False.
IS_ASYNC = mock.MockStream is not mock.MockStream

# scripts/unasync.py has no rule for the module path `heron._async.http11` yet, so the
# module of this test's flavour is chosen here; the class names are renamed as usual.
http11 = async_http11 if IS_ASYNC else sync_http11
HTTP11Connection = http11.HTTP11Connection
HTTP11UpgradeStream = http11.HTTP11UpgradeStream
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
) -> tuple[HTTP11Connection, MockStream]:
    stream = MockStream(chunks, on_write=on_write)
    return HTTP11Connection(stream, ORIGIN, **kwargs), stream


def get(url: str = "http://example.org/", **kwargs: Any) -> heron.Request:
    return heron.Request("GET", url, **kwargs)


class Interrupted(BaseException):
    """Stands in for a cancellation in the sync flavour, where nothing can be cancelled."""


class Interruption:
    """Interrupts a request at a chosen point: a real cancellation of the enclosing
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
    """A plain iterator over body parts: not a generator, so it has no ``close``."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = list(parts)

    def __iter__(self) -> PartsIterator:
        return self

    def __next__(self) -> bytes:
        if not self._parts:
            raise StopIteration
        return self._parts.pop(0)


class PartsBody(SyncByteStream):
    """A body stream whose iterator is a ``PartsIterator``."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> PartsIterator:  # type: ignore[override]
        return PartsIterator(self._parts)


def body_chunks(parts: list[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield part


# --- requests and responses ---------------------------------------------------------------------


def test_a_get_writes_the_request_and_returns_the_response(http1_parser: str) -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
        b"Content-Length: 13\r\n\r\nHello, world!",
    )
    request = get(headers={"Accept": "*/*"})
    response = conn.handle_request(request)

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
    assert repr(conn) == f"<HTTP11Connection [{ORIGIN!r}, ACTIVE, Request Count: 1]>"
    assert response.read() == b"Hello, world!"
    assert repr(conn) == f"<HTTP11Connection [{ORIGIN!r}, IDLE, Request Count: 1]>"
    assert conn.state is HTTP11State.IDLE
    assert conn.is_idle()
    assert not conn.is_closed()


def test_a_kept_alive_connection_serves_requests_one_after_another() -> None:
    conn, stream = connection(OK, b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone")
    first = conn.handle_request(get())
    assert first.read() == b"Hello, world!"
    second = conn.handle_request(get("http://example.org/missing"))
    assert second.status_code == 404
    assert second.read() == b"gone"
    assert conn.request_count == 2
    assert conn.is_idle()
    assert stream.written[1].startswith(b"GET /missing HTTP/1.1\r\n")


def test_the_target_extension_replaces_the_request_target() -> None:
    conn, stream = connection(OK)
    conn.handle_request(get(extensions={"target": b"*"}))
    assert stream.written[0].startswith(b"GET * HTTP/1.1\r\n")


def test_an_unusual_method_is_sent_as_given() -> None:
    conn, stream = connection(OK)
    conn.handle_request(heron.Request("PROPFIND", "http://example.org/"))
    assert stream.written[0].startswith(b"PROPFIND / HTTP/1.1\r\n")


def test_the_reason_phrase_and_http_1_0_version_are_reported() -> None:
    conn, _ = connection(b"HTTP/1.0 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n")
    response = conn.handle_request(get())
    assert response.extensions["http_version"] == b"HTTP/1.0"
    assert response.http_version == "HTTP/1.0"
    assert response.reason_phrase == "I'm a teapot"
    response.read()
    assert conn.is_closed()  # HTTP/1.0 means no keep-alive


def test_a_server_connection_close_closes_the_connection_after_the_body() -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    )
    response = conn.handle_request(get())
    assert not conn.is_closed()
    assert response.read() == b"ok"
    assert conn.is_closed()
    assert stream.is_closed


def test_a_request_connection_close_closes_the_connection_after_the_body() -> None:
    conn, stream = connection(OK)
    response = conn.handle_request(get(headers={"Connection": "close"}))
    response.read()
    assert conn.is_closed()
    assert stream.is_closed


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_head_204_and_304_responses_have_no_body(method: str, status: int) -> None:
    conn, _ = connection(b"HTTP/1.1 %d X\r\nContent-Length: 100\r\n\r\n" % status, OK)
    response = conn.handle_request(heron.Request(method, "http://example.org/"))
    assert response.read() == b""
    assert conn.is_idle()
    # The next response on the connection is read correctly.
    assert (conn.handle_request(get())).read() == b"Hello, world!"


def test_interim_responses_are_skipped() -> None:
    conn, _ = connection(
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + OK,
    )
    response = conn.handle_request(get())
    assert response.status_code == 200
    assert response.read() == b"Hello, world!"


def test_endless_interim_responses_are_a_remote_protocol_error() -> None:
    conn, stream = connection(b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM_RESPONSES + 1))
    with pytest.raises(heron.RemoteProtocolError, match="more than 100 interim"):
        conn.handle_request(get())
    assert conn.is_closed()
    assert stream.is_closed


def test_a_body_delimited_by_the_connection_closing_is_read_to_the_end() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\n\r\nfirst ", b"second")
    response = conn.handle_request(get())
    assert [chunk for chunk in response.iter_raw()] == [b"first ", b"second"]
    assert conn.is_closed()
    assert stream.is_closed


def test_a_chunked_response_body_is_decoded() -> None:
    conn, _ = connection(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n",
        b"7\r\n, world\r\n0\r\n\r\n",
    )
    response = conn.handle_request(get())
    assert response.read() == b"hello, world"
    assert conn.is_idle()


def test_the_body_is_read_in_the_parsers_read_size_as_it_is_iterated(
    http1_parser: str,
) -> None:
    # h11 copies what it is fed: 64 KiB reads. httptools passes a read that is all body on
    # as it came: 256 KiB reads.
    read_size = {"h11": 64 * 1024, "httptools": 256 * 1024}[http1_parser]
    body = b"x" * 600_000
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 600000\r\n\r\n" + body)
    response = conn.handle_request(get())
    assert len(stream.reads) == 1
    chunks = [chunk for chunk in response.iter_raw()]
    assert b"".join(chunks) == body
    assert {size for size, _ in stream.reads} == {read_size}
    assert len(stream.reads) == -(-(len(body) + 40) // read_size)


def test_a_body_shorter_than_its_content_length_raises_and_closes() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    response = conn.handle_request(get())
    with pytest.raises(heron.RemoteProtocolError, match="received 3 bytes, expected 10"):
        response.read()
    assert conn.is_closed()
    assert stream.is_closed


def test_a_malformed_response_head_raises_and_closes() -> None:
    conn, stream = connection(b"HTTP/1.1 abc\r\n\r\n")
    with pytest.raises(heron.RemoteProtocolError, match=r"not valid HTTP/1\.1"):
        conn.handle_request(get())
    assert conn.is_closed()
    assert stream.is_closed


# --- request bodies ------------------------------------------------------------------------------


def test_a_small_in_memory_body_goes_out_with_the_head_in_one_write() -> None:
    conn, stream = connection(OK)
    conn.handle_request(heron.Request("POST", "http://example.org/", content=b"abc"))
    assert stream.written == [
        b"POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 3\r\n\r\nabc"
    ]


def test_a_large_in_memory_body_is_written_after_the_head() -> None:
    body = b"x" * (64 * 1024 + 1)
    conn, stream = connection(OK)
    conn.handle_request(heron.Request("PUT", "http://example.org/", content=body))
    assert len(stream.written) == 2
    assert stream.written[0].endswith(b"Content-Length: 65537\r\n\r\n")
    assert stream.written[1] == body


def test_a_streamed_body_with_content_length_is_written_chunk_by_chunk() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "6"},
        content=body_chunks([b"abc", b"", b"def"]),
    )
    response = conn.handle_request(request)
    assert stream.written[1:] == [b"abc", b"def"]
    response.read()
    assert conn.is_idle()


def test_a_streamed_body_without_length_is_sent_chunked() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST", "http://example.org/", content=body_chunks([b"hello", b"", b", world"])
    )
    conn.handle_request(request)
    assert b"Transfer-Encoding: chunked\r\n" in stream.written[0]
    assert stream.written[1:] == [b"5\r\nhello\r\n", b"7\r\n, world\r\n", b"0\r\n\r\n"]


def test_a_streamed_body_longer_than_its_content_length_raises_and_closes() -> None:
    conn, stream = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "2"},
        content=body_chunks([b"abc"]),
    )
    with pytest.raises(heron.LocalProtocolError, match="longer than its Content-Length"):
        conn.handle_request(request)
    assert conn.is_closed()
    assert stream.is_closed


def test_a_body_stream_without_aclose_stopped_early_is_left_as_is() -> None:
    conn, _ = connection(OK)
    request = heron.Request(
        "POST",
        "http://example.org/",
        headers={"Content-Length": "2"},
        stream=PartsBody([b"abc"]),
    )
    with pytest.raises(heron.LocalProtocolError, match="longer than its Content-Length"):
        conn.handle_request(request)
    assert conn.is_closed()


def test_a_request_the_parser_refuses_raises_local_protocol_error() -> None:
    conn, stream = connection(OK)
    request = get(headers={"X-Bad": b"a\x0bb"})
    with pytest.raises(heron.LocalProtocolError, match="Invalid value for header 'X-Bad'"):
        conn.handle_request(request)
    assert stream.written == []
    assert conn.is_closed()


# --- timeouts ------------------------------------------------------------------------------------


def test_read_and_write_timeouts_apply_to_every_read_and_write() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"ab", b"cd")
    timeout = {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}
    request = heron.Request(
        "POST",
        "http://example.org/",
        content=body_chunks([b"x", b"y"]),
        extensions={"timeout": timeout},
    )
    response = conn.handle_request(request)
    response.read()
    assert stream.write_timeouts == [3.0, 3.0, 3.0, 3.0]
    assert [timeout for _, timeout in stream.reads] == [2.0, 2.0, 2.0]


def test_without_a_timeout_extension_operations_have_no_timeout() -> None:
    conn, stream = connection(OK)
    (conn.handle_request(get())).read()
    assert stream.write_timeouts == [None]
    assert [timeout for _, timeout in stream.reads] == [None]


def test_a_read_timeout_raises_and_closes_the_connection() -> None:
    conn, stream = connection(
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", heron.ReadTimeout("slow")
    )
    response = conn.handle_request(get())
    with pytest.raises(heron.ReadTimeout, match="slow"):
        response.read()
    assert conn.is_closed()
    assert stream.is_closed


def test_a_write_timeout_is_raised_not_swallowed() -> None:
    def stall(data: bytes) -> None:
        raise heron.WriteTimeout("server not reading")

    stream = MockStream([OK], on_write=stall)
    conn = HTTP11Connection(stream, ORIGIN)
    with pytest.raises(heron.WriteTimeout, match="server not reading"):
        conn.handle_request(get())
    assert conn.is_closed()


# --- dead connections and early responses --------------------------------------------------------


def reused_connection(*chunks: Any, **kwargs: Any) -> tuple[HTTP11Connection, MockStream]:
    """A connection that has already served one request."""
    conn, stream = connection(OK, *chunks, **kwargs)
    (conn.handle_request(get())).read()
    assert conn.is_idle()
    return conn, stream


def test_a_reused_connection_closed_by_the_server_is_not_available() -> None:
    conn, stream = reused_connection(b"")
    with pytest.raises(ConnectionNotAvailable, match="closed by the server"):
        conn.handle_request(get())
    assert conn.is_closed()
    assert stream.is_closed


def test_a_reused_connection_reset_before_the_response_is_not_available() -> None:
    conn, _ = reused_connection(heron.ReadError("connection reset"))
    with pytest.raises(ConnectionNotAvailable):
        conn.handle_request(get())
    assert conn.is_closed()


def test_a_reused_connection_whose_write_fails_and_that_sends_nothing_is_not_available() -> None:
    failures = iter([None, heron.WriteError("broken pipe")])

    def fail_second_write(data: bytes) -> None:
        failure = next(failures)
        if failure is not None:
            raise failure

    conn, _ = reused_connection(b"", on_write=fail_second_write)
    with pytest.raises(ConnectionNotAvailable):
        conn.handle_request(get())


def test_a_reused_connection_failing_after_response_bytes_raises_the_real_error() -> None:
    conn, _ = reused_connection(b"HTTP/1.1 200", heron.ReadError("connection reset"))
    with pytest.raises(heron.ReadError, match="connection reset"):
        conn.handle_request(get())
    assert conn.is_closed()


def test_a_fresh_connection_closed_before_the_response_is_a_remote_protocol_error() -> None:
    conn, _ = connection(b"")
    with pytest.raises(
        heron.RemoteProtocolError,
        match=r"example\.org:80 closed the connection without sending a response",
    ):
        conn.handle_request(get())
    assert conn.is_closed()


def test_a_fresh_connection_reset_before_the_response_raises_the_read_error() -> None:
    conn, _ = connection(heron.ReadError("connection reset"))
    with pytest.raises(heron.ReadError, match="connection reset"):
        conn.handle_request(get())


@pytest.mark.parametrize("after", [b"", heron.ReadError("reset")])
def test_a_fresh_connection_whose_write_fails_and_that_sends_nothing_raises_the_write_error(
    after: Any,
) -> None:
    def broken(data: bytes) -> None:
        raise heron.WriteError("broken pipe")

    stream = MockStream([after], on_write=broken)
    conn = HTTP11Connection(stream, ORIGIN)
    with pytest.raises(heron.WriteError, match="broken pipe"):
        conn.handle_request(get())
    assert conn.is_closed()


def test_a_response_sent_while_the_body_is_uploading_is_read() -> None:
    writes = 0

    def server_stops_reading(data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise heron.WriteError("connection reset by peer")

    response_413 = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!"
    stream = MockStream([response_413], on_write=server_stops_reading)
    conn = HTTP11Connection(stream, ORIGIN)
    request = heron.Request(
        "POST", "http://example.org/", content=body_chunks([b"a" * 10, b"b" * 10, b"c" * 10])
    )
    response = conn.handle_request(request)
    assert response.status_code == 413
    assert response.read() == b"too big!"
    # The request body never finished: the connection can't be reused.
    assert conn.is_closed()


# --- availability and keep-alive expiry ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_connection_expires_after_keepalive_expiry() -> None:
    clock = Clock()
    conn, _ = connection(OK, OK, keepalive_expiry=5.0, clock=clock)
    assert conn.is_available()  # NEW
    assert not conn.has_expired(clock.now)
    response = conn.handle_request(get())
    assert not conn.is_available()  # ACTIVE
    response.read()
    assert conn.is_available()
    assert not conn.has_expired(105.0)
    assert conn.has_expired(105.5)
    clock.now = 105.5
    assert not conn.is_available()
    # Taking a request clears the expiry until the connection is idle again.
    conn.handle_request(get())
    assert not conn.has_expired(1000.0)


def test_without_keepalive_expiry_an_idle_connection_never_expires() -> None:
    conn, _ = reused_connection()
    assert not conn.has_expired(1e12)
    assert conn.is_available()


def test_is_readable_reports_the_stream_state() -> None:
    conn, stream = reused_connection()
    assert not conn.is_readable()
    stream.is_readable = True  # the server closed the idle connection
    assert conn.is_readable()


def test_a_busy_or_closed_connection_refuses_requests_as_not_available() -> None:
    conn, _ = connection(OK)
    response = conn.handle_request(get())
    with pytest.raises(ConnectionNotAvailable, match="is ACTIVE"):
        conn.handle_request(get())
    assert conn.state is HTTP11State.ACTIVE  # the exchange under way is left alone
    response.read()
    conn.close()
    with pytest.raises(ConnectionNotAvailable, match="is CLOSED"):
        conn.handle_request(get())
    assert not conn.is_available()


def test_closing_is_idempotent_and_ends_a_response_in_progress() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    response = conn.handle_request(get())
    conn.close()
    conn.close()
    assert conn.is_closed()
    assert stream.is_closed
    response.close()
    assert conn.is_closed()


# --- closing responses early ---------------------------------------------------------------------


def test_closing_a_response_before_its_end_closes_the_connection() -> None:
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = conn.handle_request(get())
    response.close()
    assert conn.is_closed()
    assert stream.is_closed


def test_stopping_iteration_early_closes_the_connection() -> None:
    conn, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    response = conn.handle_request(get())
    chunks = response.iter_raw()
    assert chunks.__next__() == b"ab"
    chunks.close()
    response.close()
    assert conn.is_closed()


def test_a_closed_response_stream_cannot_be_iterated() -> None:
    conn, _ = connection(OK, OK)
    response = conn.handle_request(get())
    response.read()
    with pytest.raises(heron.StreamClosed):
        for _ in response.stream:  # type: ignore[union-attr]
            pass  # pragma: no cover - never reached


# --- protocol switches ---------------------------------------------------------------------------


def test_a_101_response_hands_over_the_network_stream() -> None:
    conn, stream = connection(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfirst",
        b"second",
    )
    request = get(headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    response = conn.handle_request(request)
    assert response.status_code == 101
    network_stream = response.extensions["network_stream"]
    assert isinstance(network_stream, HTTP11UpgradeStream)
    assert network_stream.origin == stream.origin
    assert network_stream.read(3) == b"fir"
    assert network_stream.read(100) == b"st"
    assert network_stream.read(100) == b"second"
    network_stream.write(b"frame", timeout=1.0)
    assert stream.written[-1] == b"frame"
    assert network_stream.get_extra_info("is_readable") is False
    response.close()
    assert conn.is_closed()
    network_stream.close()
    assert stream.is_closed


def test_a_successful_connect_hands_over_a_tunnel_that_can_start_tls() -> None:
    conn, stream = connection(b"HTTP/1.1 200 Connection established\r\n\r\n")
    request = heron.Request(
        "CONNECT", "http://example.org:443/", extensions={"target": b"example.org:443"}
    )
    response = conn.handle_request(request)
    tunnel = response.extensions["network_stream"]
    assert isinstance(tunnel, HTTP11UpgradeStream)
    context = heron.create_ssl_context()
    assert tunnel.start_tls(context, "example.org", timeout=5.0) is stream
    assert stream.tls_calls == [(context, "example.org", 5.0)]


def test_a_failed_connect_is_an_ordinary_response() -> None:
    conn, stream = connection(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    )
    request = heron.Request(
        "CONNECT", "http://example.org:443/", extensions={"target": b"example.org:443"}
    )
    response = conn.handle_request(request)
    assert response.extensions["network_stream"] is stream


# --- cancellation --------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["write", "read head", "read body"])
def test_an_interruption_at_any_await_point_leaves_the_connection_closed(point: str) -> None:
    with Interruption() as interruption:
        on_write = interruption.trigger if point == "write" else None
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"
        if point == "read head":
            chunks: list[Any] = [interruption.trigger, head, b"cd"]
        else:
            chunks = [head, interruption.trigger, b"cd"]
        stream = MockStream(chunks, on_write=on_write)
        conn = HTTP11Connection(stream, ORIGIN)
        response = conn.handle_request(get())
        response.read()
    assert interruption.triggered
    assert conn.is_closed()
    assert stream.is_closed


# --- tracing and logging -------------------------------------------------------------------------


def test_trace_reports_each_step_of_the_exchange() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        seen.append((name, info))

    conn, _ = connection(OK)
    request = heron.Request(
        "POST", "http://example.org/", content=b"abc", extensions={"trace": trace}
    )
    response = conn.handle_request(request)
    response.read()
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


def test_trace_reports_a_failure_and_the_early_close() -> None:
    seen: list[str] = []
    conn, _ = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    request = get(extensions={"trace": lambda name, info: seen.append(name)})
    response = conn.handle_request(request)
    response.close()
    assert seen[-2:] == ["http11.response_closed.started", "http11.response_closed.complete"]
    response.close()
    assert seen.count("http11.response_closed.started") == 1


def test_trace_reports_a_body_abandoned_part_way() -> None:
    seen: list[str] = []
    conn, stream = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", b"cd")
    request = get(extensions={"trace": lambda name, info: seen.append(name)})
    response = conn.handle_request(request)
    chunks = response.iter_raw()
    assert chunks.__next__() == b"ab"
    chunks.close()
    assert seen[-4:] == [
        "http11.receive_response_body.started",
        "http11.receive_response_body.failed",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
    assert conn.is_closed()
    assert stream.is_closed


def test_debug_logging_records_the_steps(caplog: pytest.LogCaptureFixture) -> None:
    conn, _ = connection(OK)
    with caplog.at_level(logging.DEBUG, logger="heron.http11"):
        (conn.handle_request(get())).read()
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


def test_body_bytes_before_a_response_head_are_a_protocol_error() -> None:
    stream = MockStream([OK])
    conn = HTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, [b"early"])
    )
    with pytest.raises(heron.RemoteProtocolError, match="before a response head"):
        conn.handle_request(get())


def test_a_response_head_inside_a_body_is_a_protocol_error() -> None:
    script: list[ParserEvent] = []
    stream = MockStream([OK])
    conn = HTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = conn.handle_request(get())
    script.append(ResponseHead(200, b"OK", []))
    with pytest.raises(heron.RemoteProtocolError, match="in the middle of a response body"):
        response.read()
    assert conn.is_closed()


def test_connection_closed_inside_a_body_is_a_protocol_error() -> None:
    script: list[ParserEvent] = []
    conn = HTTP11Connection(
        MockStream([OK]), ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = conn.handle_request(get())
    script.append(CONNECTION_CLOSED)
    with pytest.raises(heron.RemoteProtocolError, match="CONNECTION_CLOSED"):
        response.read()
    assert END_OF_MESSAGE is not CONNECTION_CLOSED


@pytest.mark.parametrize("whole", [True, False], ids=["read", "iterated"])
def test_empty_body_events_are_skipped(whole: bool) -> None:
    script: list[ParserEvent] = []
    stream = MockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"])
    conn = HTTP11Connection(
        stream, ORIGIN, parser_factory=lambda origin: ScriptedParser(origin, script)
    )
    response = conn.handle_request(get())
    script.append(b"")
    if whole:
        assert response.read() == b"hi"
    else:
        assert [chunk for chunk in response.iter_raw()] == [b"hi"]
    assert conn.is_idle()


def test_a_closed_body_stream_cant_be_read_whole() -> None:
    conn, _ = connection(OK)
    response = conn.handle_request(get())
    response.close()
    with pytest.raises(heron.StreamClosed):
        response.stream._read_body()  # type: ignore[union-attr]


# --- property: chunking never changes the body --------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    body=st.binary(max_size=200),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_the_body_is_the_same_whatever_the_chunking_of_the_response(
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
    response = conn.handle_request(get())
    assert response.read() == body
    assert conn.is_idle()


# --- the mock backend ----------------------------------------------------------------------------


def test_the_mock_stream_replays_its_script_then_reports_eof() -> None:
    calls: list[str] = []
    stream = MockStream([b"abcdef", heron.ReadError("reset"), lambda: calls.append("hook"), b"g"])
    assert stream.read(4) == b"abcd"
    assert stream.read(4, timeout=1.5) == b"ef"
    with pytest.raises(heron.ReadError, match="reset"):
        stream.read(4)
    assert stream.read(4) == b"g"
    assert calls == ["hook"]
    assert stream.read(4) == b""
    assert stream.reads == [(4, None), (4, 1.5), (4, None), (4, None), (4, None)]


def test_the_mock_stream_records_writes_tls_and_answers_extra_info() -> None:
    stream = MockStream(alpn_protocol="h2", extra_info={"server_addr": ("1.2.3.4", 443)})
    stream.write(b"ab", timeout=2.0)
    stream.write(b"cd")
    assert stream.written == [b"ab", b"cd"]
    assert stream.written_bytes == b"abcd"
    assert stream.write_timeouts == [2.0, None]
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("server_addr") == ("1.2.3.4", 443)
    assert stream.get_extra_info("unknown") is None
    assert stream.get_extra_info("is_readable") is False
    context = heron.create_ssl_context()
    assert stream.start_tls(context, "example.org") is stream
    assert stream.is_tls
    assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
    assert stream.tls_calls == [(context, "example.org", None)]
    assert stream.origin == "the server"
    stream.close()
    assert stream.is_closed


def test_the_mock_backend_hands_out_its_streams_in_order() -> None:
    first, second = MockStream(), MockStream()
    backend = MockBackend([first, heron.ConnectError("refused"), second])
    assert backend.connect_tcp("example.org", 80, timeout=5.0) is first
    with pytest.raises(heron.ConnectError, match="refused"):
        backend.connect_tcp("example.org", 80, local_address="0.0.0.0", socket_options=[(1, 2, 3)])
    assert backend.connect_unix_socket("/tmp/socket") is second
    assert backend.connects == [
        ("tcp", ("example.org", 80, None, None), 5.0),
        ("tcp", ("example.org", 80, "0.0.0.0", [(1, 2, 3)]), None),
        ("unix", "/tmp/socket", None),
    ]
    with pytest.raises(AssertionError, match="no scripted stream left"):
        backend.connect_tcp("example.org", 80)
    backend.sleep(0.5)
    backend.sleep(1.0)
    assert backend.sleeps == [0.5, 1.0]
