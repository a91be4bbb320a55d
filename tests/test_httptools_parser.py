"""Choosing the HTTP/1.1 parser, and ``HttptoolsParser``: what it does beyond the cases every
parser shares (those run on both parsers in ``test_http11_parser.py`` and ``_async/
test_http11.py``), and that it agrees with ``H11Parser`` on any response."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import heron
from heron import _http11_parser
from heron._async.pool import AsyncConnectionPool
from heron._backends.mock import AsyncMockBackend, AsyncMockStream, MockStream
from heron._http11_parser import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    MAX_HEAD_SIZE,
    NEED_DATA,
    PARSER_ENV,
    H11Parser,
    HTTP11Parser,
    ParserEvent,
    ResponseHead,
    select_parser,
)
from heron._sync.http11 import HTTP11Connection

HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
needs_httptools = pytest.mark.skipif(not HAS_HTTPTOOLS, reason="httptools is not installed")

ORIGIN = "http://example.org:80"
HOST = [(b"Host", b"example.org")]


@pytest.fixture
def without_httptools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if httptools were not installed (``import httptools`` raises ImportError)."""
    _http11_parser._find_httptools.cache_clear()
    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.delitem(sys.modules, "heron._httptools_parser", raising=False)
    yield
    _http11_parser._find_httptools.cache_clear()


# --- choosing a parser ------------------------------------------------------------------------


def test_by_default_httptools_is_used_when_installed_and_h11_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PARSER_ENV, raising=False)
    parser = select_parser()("o")
    assert parser.name == ("httptools" if HAS_HTTPTOOLS else "h11")


@pytest.mark.usefixtures("without_httptools")
def test_without_httptools_the_default_is_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PARSER_ENV, raising=False)
    assert select_parser() is H11Parser


@pytest.mark.usefixtures("without_httptools")
@pytest.mark.parametrize(
    ("name", "env", "source"),
    [("httptools", None, "http1_parser='httptools'"), (None, "httptools", PARSER_ENV)],
)
def test_asking_for_httptools_without_it_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, name: str | None, env: str | None, source: str
) -> None:
    monkeypatch.delenv(PARSER_ENV, raising=False)
    if env is not None:
        monkeypatch.setenv(PARSER_ENV, env)
    with pytest.raises(ImportError, match=r"pip install heron\[speedups\]") as info:
        select_parser(name)
    assert source in str(info.value)
    assert "httptools package can't be imported" in str(info.value)


@pytest.mark.parametrize("env", ["h11", "httptools"])
def test_the_environment_variable_chooses_the_default(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    if env == "httptools" and not HAS_HTTPTOOLS:
        pytest.skip("httptools is not installed")
    monkeypatch.setenv(PARSER_ENV, env)
    assert select_parser()("o").name == env


@needs_httptools
def test_an_explicit_choice_wins_over_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PARSER_ENV, "httptools")
    assert select_parser("h11") is H11Parser
    monkeypatch.setenv(PARSER_ENV, "h11")
    assert select_parser("httptools")("o").name == "httptools"


def test_an_empty_environment_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARSER_ENV, "")
    assert select_parser() is select_parser(None)


@pytest.mark.parametrize(
    ("name", "env", "shown"),
    [("llhttp", None, "http1_parser='llhttp'"), (None, "H11", "HERON_HTTP1_PARSER='H11'")],
)
def test_an_unknown_parser_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str | None, env: str | None, shown: str
) -> None:
    if env is not None:
        monkeypatch.setenv(PARSER_ENV, env)
    with pytest.raises(ValueError, match="choose 'h11' or 'httptools'") as info:
        select_parser(name)
    assert shown in str(info.value)


@pytest.mark.parametrize("transport_class", [heron.HTTPTransport, heron.AsyncHTTPTransport])
def test_the_transport_takes_the_parser_choice(transport_class: type) -> None:
    transport = transport_class(http1_parser="h11")
    assert transport._pool._parser_factory is H11Parser
    with pytest.raises(ValueError, match=r"Unknown HTTP/1\.1 parser http1_parser='nope'"):
        transport_class(http1_parser="nope")


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["h11", "httptools"])
async def test_the_pool_hands_the_parser_to_its_connections_and_responses_name_it(
    name: str,
) -> None:
    if name == "httptools" and not HAS_HTTPTOOLS:
        pytest.skip("httptools is not installed")
    stream = AsyncMockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    async with AsyncConnectionPool(
        backend=AsyncMockBackend([stream]), parser_factory=select_parser(name)
    ) as pool:
        response = await pool.handle_async_request(heron.Request("GET", "http://example.org/"))
        assert response.extensions["http11_parser"] == name
        assert await response.aread() == b"ok"


# --- HttptoolsParser --------------------------------------------------------------------------


def httptools_parser(
    headers: list[tuple[bytes, bytes]] = HOST, method: bytes = b"GET"
) -> HTTP11Parser:
    """An httptools parser whose request (without a body) has been sent."""
    parser = select_parser("httptools")(ORIGIN)
    parser.request_bytes(method, b"/", headers)
    parser.end_bytes()
    return parser


def feed(parser: HTTP11Parser, *chunks: bytes) -> list[ParserEvent]:
    """Feed each chunk in turn, taking events until the parser needs more data."""
    received: list[ParserEvent] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        while (event := parser.next_event()) is not NEED_DATA:
            received.append(event)
            if event is END_OF_MESSAGE or event is CONNECTION_CLOSED:
                return received
    return received


def head_of(events: list[ParserEvent], index: int = 0) -> ResponseHead:
    head = events[index]
    assert isinstance(head, ResponseHead)
    return head


@needs_httptools
def test_a_head_cut_anywhere_across_reads_is_parsed_the_same() -> None:
    wire = b"HTTP/1.1 200 Fine\r\nContent-Digest: 1\r\nContent-Length: 2\r\n\r\nok"
    for cut in range(1, len(wire)):
        for second_cut in (cut + 1, cut + 2):
            pieces = [wire[:cut], wire[cut:second_cut], wire[second_cut:]]
            parser = httptools_parser()
            received = feed(parser, *[piece for piece in pieces if piece])
            head = head_of(received)
            assert (head.status_code, head.reason, head.headers) == (
                200,
                b"Fine",
                [(b"Content-Digest", b"1"), (b"Content-Length", b"2")],
            )
            assert b"".join(e for e in received if isinstance(e, bytes)) == b"ok"
            assert received[-1] is END_OF_MESSAGE
            assert parser.is_reusable()


@needs_httptools
def test_a_head_fed_one_byte_at_a_time_is_parsed() -> None:
    wire = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    received = feed(httptools_parser(), *[wire[i : i + 1] for i in range(len(wire))])
    assert head_of(received).reason == b"No Content"
    assert received[-1] is END_OF_MESSAGE


@needs_httptools
def test_a_content_length_body_that_fills_a_read_is_passed_on_without_a_copy() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    chunk = b"0123456789"
    parser.receive_data(chunk)
    assert parser.next_event() is chunk
    assert parser.next_event() is END_OF_MESSAGE


@needs_httptools
@pytest.mark.parametrize("data", [b"\r\nHTTP/1.1 200 OK\r\n\r\n", b"\nHTTP/1.1 200 OK\r\n\r\n"])
def test_a_response_starting_with_an_empty_line_is_refused(data: bytes) -> None:
    with pytest.raises(heron.RemoteProtocolError, match="starts with an empty line"):
        feed(httptools_parser(), data)


@needs_httptools
def test_a_complete_head_larger_than_the_limit_is_refused() -> None:
    filler = b"X-Filler: " + b"x" * 1000 + b"\r\n"
    head = b"HTTP/1.1 200 OK\r\n" + filler * (MAX_HEAD_SIZE // len(filler) + 1) + b"\r\n"
    with pytest.raises(heron.RemoteProtocolError, match=f"larger than {MAX_HEAD_SIZE} bytes"):
        feed(httptools_parser(), head)


@needs_httptools
@pytest.mark.parametrize(
    ("status_line", "problem"),
    [
        (b"HTTP/1.1 099 Low", "status code 099"),
        (b"HTTP/1.1 200 O\x00K", r"reason phrase b'O\\x00K'"),
        (b"HTTP/1.2 200 OK", "Invalid HTTP version"),
    ],
)
def test_a_bad_status_line_is_refused(status_line: bytes, problem: str) -> None:
    with pytest.raises(heron.RemoteProtocolError, match=problem):
        feed(httptools_parser(), status_line + b"\r\nContent-Length: 0\r\n\r\n")


@needs_httptools
def test_an_http_2_0_status_line_is_reported_as_such() -> None:
    received = feed(httptools_parser(), b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert head_of(received).http_version == b"HTTP/2.0"


@needs_httptools
@pytest.mark.parametrize(
    "headers",
    [
        b"Transfer-Encoding: gzip\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: chunked\t\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_a_transfer_encoding_other_than_a_single_chunked_is_refused(headers: bytes) -> None:
    with pytest.raises(heron.RemoteProtocolError, match="unsupported Transfer-Encoding"):
        feed(httptools_parser(), b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n0\r\n\r\n")


@needs_httptools
def test_transfer_encoding_is_reported_lower_cased_and_trailers_are_dropped() -> None:
    received = feed(
        httptools_parser(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked  \r\n\r\n3\r\nabc\r\n",
        b"0\r\nX-Trailer: 1\r\n\r\n",
    )
    assert head_of(received).headers == [(b"Transfer-Encoding", b"chunked")]
    assert received[1:] == [b"abc", END_OF_MESSAGE]


@pytest.mark.parametrize("name", ["h11", "httptools"])
@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    ],
)
def test_content_length_with_transfer_encoding_is_refused_by_both_parsers(
    name: str, wire: bytes
) -> None:
    # (h11 alone would let Transfer-Encoding win, and keep the connection.)
    if name == "httptools" and not HAS_HTTPTOOLS:
        pytest.skip("httptools is not installed")
    parser = select_parser(name)(ORIGIN)
    parser.request_bytes(b"GET", b"/", HOST)
    parser.end_bytes()
    with pytest.raises(heron.RemoteProtocolError, match="Content-Length"):
        feed(parser, wire + b"3\r\nabc\r\n0\r\n\r\n")


@needs_httptools
@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_an_interim_response_with_a_length_is_followed_by_the_final_one(version: bytes) -> None:
    received = feed(
        httptools_parser(),
        b"HTTP/" + version + b" 199 Odd\r\nContent-Length: 3\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    assert [head_of(received, i).status_code for i in (0, 1)] == [199, 200]
    assert received[2:] == [b"ok", END_OF_MESSAGE]


@needs_httptools
@pytest.mark.parametrize(
    "first",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",  # answer to HEAD
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody",
    ],
)
def test_the_next_response_is_parsed_after_one_llhttp_would_still_read_a_body_for(
    first: bytes,
) -> None:
    method = b"HEAD" if first.endswith(b"\r\n\r\n") else b"GET"
    parser = httptools_parser(method=method)
    assert feed(parser, first)[-1] is END_OF_MESSAGE
    parser.start_next_cycle()
    parser.request_bytes(b"GET", b"/", HOST)
    parser.end_bytes()
    received = feed(parser, b"HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx")
    assert head_of(received).status_code == 201
    assert received[1:] == [b"x", END_OF_MESSAGE]


@needs_httptools
def test_the_response_after_a_short_chunked_one_is_parsed() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n")
    parser.start_next_cycle()
    parser.request_bytes(b"GET", b"/", HOST)
    parser.end_bytes()
    received = feed(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    assert received[1:] == [b"x", END_OF_MESSAGE]


@needs_httptools
def test_an_http_1_0_response_is_not_reusable_even_with_keep_alive() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert not parser.is_reusable()


@needs_httptools
@pytest.mark.parametrize("taken", [1, 2])
def test_a_response_is_not_reusable_until_all_its_events_are_taken(taken: int) -> None:
    # The whole response arrives in one read and is parsed at once; the connection is reusable
    # only once the reader has had its body and its end, as with h11.
    parser = httptools_parser()
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    for _ in range(taken):
        parser.next_event()
    assert not parser.is_reusable()
    with pytest.raises(heron.LocalProtocolError, match="can't be reused"):
        parser.start_next_cycle()
    parser.receive_data(b"junk")
    while parser.next_event() is not END_OF_MESSAGE:
        pass
    assert not parser.is_reusable()


@pytest.mark.parametrize("name", ["h11", "httptools"])
def test_a_response_closed_unread_closes_its_connection_even_if_it_arrived_whole(
    name: str,
) -> None:
    if name == "httptools" and not HAS_HTTPTOOLS:
        pytest.skip("httptools is not installed")
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    stream = MockStream([ok, ok])
    connection = HTTP11Connection(stream, ORIGIN, parser_factory=select_parser(name))
    connection.handle_request(heron.Request("GET", "http://example.org/")).close()
    assert connection.is_closed()
    assert stream.is_closed


@needs_httptools
def test_bytes_after_a_content_length_body_are_not_read_as_the_next_response() -> None:
    parser = httptools_parser()
    received = feed(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1")
    assert received[1:] == [b"ok", END_OF_MESSAGE]
    assert not parser.is_reusable()
    # The parser stays at the end of the response, as h11 does.
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.trailing_data() == b"HTTP/1.1"


@needs_httptools
def test_bytes_arriving_after_a_complete_response_make_it_not_reusable() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert parser.is_reusable()
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"junk")
    assert parser.next_event() is END_OF_MESSAGE
    assert not parser.is_reusable()
    with pytest.raises(heron.LocalProtocolError, match="can't be reused"):
        parser.start_next_cycle()


@needs_httptools
@pytest.mark.parametrize(
    ("end", "reusable"),
    [
        (b"0\r\n\r\n", True),
        (b"0\r\nX-T: 1\r\n\r\n", True),
        (b"0\r\n\r\nHTTP/1.1 200 OK\r\n", False),
        (b"0\r\n\r\n\r\n", False),
        (b"0\r\n\r\n\n", False),
    ],
)
def test_bytes_after_the_last_chunk_make_the_connection_not_reusable(
    end: bytes, reusable: bool
) -> None:
    for pieces in ([end], [end[:1], end[1:]], [end[:-1], end[-1:]]):
        parser = httptools_parser()
        received = feed(
            parser, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
        )
        for piece in pieces:
            received += feed(parser, piece)  # (some of it may come after the end)
        assert received[1:3] == [b"ok", END_OF_MESSAGE]
        assert parser.is_reusable() is reusable


@needs_httptools
def test_bytes_after_a_chunked_response_that_closes_the_connection_are_ignored() -> None:
    parser = httptools_parser()
    received = feed(
        parser,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\nmore",
    )
    assert received[1:] == [b"ok", END_OF_MESSAGE]
    assert not parser.is_reusable()


@needs_httptools
def test_endless_trailers_are_refused() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n")
    parser.receive_data(b"X-Trailer: " + b"x" * 60_000)
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"x" * 60_000)
    with pytest.raises(heron.RemoteProtocolError, match="bytes of chunk framing or trailers"):
        parser.next_event()


@needs_httptools
def test_chunk_framing_between_body_data_is_not_counted_as_stalling() -> None:
    parser = httptools_parser()
    feed(parser, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(3):
        # An extension too long to fit in one read, then data.
        feed(parser, b"1;ext=" + b"e" * 60_000, b"e" * 30_000, b"\r\na\r\n")
    assert feed(parser, b"0\r\n\r\n") == [END_OF_MESSAGE]


@needs_httptools
def test_an_invalid_chunk_comes_after_the_head_and_errors_are_repeated() -> None:
    parser = httptools_parser()
    parser.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert isinstance(parser.next_event(), ResponseHead)
    with pytest.raises(heron.RemoteProtocolError, match="Invalid character in chunk size"):
        parser.next_event()
    parser.receive_data(b"more")
    with pytest.raises(heron.RemoteProtocolError, match="Invalid character in chunk size"):
        parser.next_event()


@needs_httptools
@pytest.mark.parametrize(
    ("wire", "problem"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "before its last chunk"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "received 3 bytes, expected 10"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "in the middle of the response head"),
        (b"HTTP/1.1 200 OK\r\nServer:", "in the middle of the response head"),
    ],
)
def test_the_connection_closing_early_is_an_error(wire: bytes, problem: str) -> None:
    parser = httptools_parser()
    with pytest.raises(heron.RemoteProtocolError, match=problem):
        feed(parser, wire, b"")
    with pytest.raises(heron.RemoteProtocolError, match=problem):
        parser.next_event()


@needs_httptools
def test_a_body_until_close_ends_with_the_connection() -> None:
    parser = httptools_parser()
    received = feed(parser, b"HTTP/1.1 200 OK\r\n\r\nsome", b" more", b"")
    assert received[1:] == [b"some", b" more", END_OF_MESSAGE]
    assert parser.next_event() is CONNECTION_CLOSED
    assert not parser.is_reusable()


@needs_httptools
def test_bytes_received_before_being_asked_for_are_kept_in_order() -> None:
    parser = httptools_parser()
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-")
    parser.receive_data(b"Length: 2\r\n\r\nok")
    assert [type(e) for e in feed(parser)] == []
    received = [parser.next_event() for _ in range(3)]
    assert received[1:] == [b"ok", END_OF_MESSAGE]


@needs_httptools
@pytest.mark.parametrize("connection", [b"", b"Connection: Upgrade\r\n"])
def test_a_101_hands_over_every_byte_after_its_head(connection: bytes) -> None:
    parser = httptools_parser([*HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"ws")])
    received = feed(
        parser, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\n" + connection + b"\r\nab"
    )
    assert head_of(received).status_code == 101
    assert received[1:] == [END_OF_MESSAGE]
    parser.receive_data(b"cd")
    parser.receive_data(b"")
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.trailing_data() == b"abcd"
    assert not parser.is_reusable()


@needs_httptools
def test_a_failed_connect_is_an_ordinary_response() -> None:
    parser = select_parser("httptools")(ORIGIN)
    parser.request_bytes(b"CONNECT", b"example.org:443", [(b"Host", b"example.org:443")])
    parser.end_bytes()
    received = feed(parser, b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno")
    assert received[1:] == [b"no", END_OF_MESSAGE]
    assert parser.is_reusable()


# --- both parsers agree -------------------------------------------------------------------------


def h11_parser(method: bytes = b"GET", headers: list[tuple[bytes, bytes]] = HOST) -> H11Parser:
    parser = H11Parser(ORIGIN)
    parser.request_bytes(method, b"/", headers)
    parser.end_bytes()
    return parser


def outcome(parser: HTTP11Parser, pieces: list[bytes], eof: bool = True) -> list[object]:
    """What a parser makes of ``pieces`` (then EOF, or EOF once it needs more): heads as tuples,
    body bytes joined, the end (with whether the connection is reusable), or ``"error"``."""
    pending = [*pieces, b""] if eof else [*pieces]
    result: list[object] = []
    try:
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                parser.receive_data(pending.pop(0) if pending else b"")
            elif isinstance(event, bytes):
                if result and isinstance(result[-1], bytes):
                    result[-1] += event
                else:
                    result.append(event)
            elif isinstance(event, ResponseHead):
                result.append((event.status_code, event.reason, event.headers, event.http_version))
            else:
                result.append(event)
                if event is END_OF_MESSAGE:
                    result.append(parser.is_reusable())
                return result
    except heron.RemoteProtocolError:
        result.append("error")
        return result


token = st.text("abcxyzABCXYZ0123456789-!#$%&'*+.^_`|~", min_size=1, max_size=8).map(str.encode)
field_value = st.binary(max_size=12).map(
    lambda value: bytes(byte for byte in value if byte > 0x20 and byte != 0x7F)
)
reason = st.sampled_from([b"OK", b"", b"Some Reason", b"caf\xc3\xa9"])
ows = st.sampled_from([b"", b" ", b"\t", b"  "])


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """A valid response (interim heads, then a final one and its body) to a request, with the
    request's method and headers."""
    method = draw(st.sampled_from([b"GET", b"HEAD"]))
    request_headers = list(HOST)
    # (Mostly kept alive, so that several responses follow one another on a connection.)
    if draw(st.integers(0, 3)) == 0:
        request_headers.append((b"Connection", b"close"))
    wire = b""
    for status, text in draw(
        st.lists(st.sampled_from([(100, b"Continue"), (103, b"Early Hints")]), max_size=2)
    ):
        wire += b"HTTP/1.1 %d %b\r\n" % (status, text)
        if status == 103:
            wire += b"Link: </style.css>\r\n"
        wire += b"\r\n"
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 206, 301, 304, 404, 500]))
    wire += b"HTTP/%b %d %b\r\n" % (version, status, draw(reason))
    for name, value in draw(st.lists(st.tuples(token, field_value), max_size=4)):
        if name.lower() not in {b"content-length", b"transfer-encoding", b"connection"}:
            wire += name + b":" + draw(ows) + value + draw(ows) + b"\r\n"
    if draw(st.booleans()):
        wire += (
            b"Connection: "
            + draw(st.sampled_from([b"close", b"keep-alive"] + [b"Keep-Alive"] * 2))
            + b"\r\n"
        )
    body = draw(st.binary(max_size=40))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    if framing == "length":
        wire += b"Content-Length: %d\r\n\r\n" % len(body)
    elif framing == "chunked":
        wire += b"Transfer-Encoding: chunked\r\n\r\n"
    else:
        wire += b"\r\n"
    if method == b"HEAD" or status in (204, 304):
        return method, wire, request_headers
    if framing == "chunked":
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
        for start, stop in zip([0, *cuts], [*cuts, len(body)], strict=True):
            if stop > start:
                extension = draw(st.sampled_from([b"", b";a=b", b";x"]))
                wire += b"%x%b\r\n%b\r\n" % (stop - start, extension, body[start:stop])
        wire += b"0\r\n" + draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"])) + b"\r\n"
    else:
        wire += body
    return method, wire, request_headers


def split(wire: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut for cut in cuts if 0 < cut < len(wire)})
    return [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]


@needs_httptools
@settings(max_examples=300)
@given(response=responses(), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_both_parsers_read_any_valid_response_the_same_however_it_is_cut(
    response: tuple[bytes, bytes, list[tuple[bytes, bytes]]], cuts: list[int]
) -> None:
    method, wire, headers = response
    whole = outcome(h11_parser(method, headers), [wire])
    assert whole[-1] != "error"
    assert outcome(httptools_parser(headers, method), split(wire, cuts)) == whole
    assert outcome(h11_parser(method, headers), split(wire, cuts)) == whole


def exchanges(
    parser: HTTP11Parser,
    script: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]],
    cuts: list[int],
) -> list[object]:
    """Send the scripted requests one after another on one connection, while it is reusable,
    each answered by its scripted response (cut at ``cuts``)."""
    transcript: list[object] = []
    for method, wire, headers in script:
        parser.request_bytes(method, b"/", headers)
        parser.end_bytes()
        transcript += outcome(parser, split(wire, cuts), eof=False)
        if transcript[-1] is not True:
            break
        parser.start_next_cycle()
    return transcript


@needs_httptools
@settings(max_examples=200)
@given(script=st.lists(responses(), min_size=2, max_size=4), cuts=st.lists(st.integers(0, 300)))
def test_both_parsers_read_responses_one_after_another_on_a_connection_the_same(
    script: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]], cuts: list[int]
) -> None:
    expected = exchanges(H11Parser(ORIGIN), script, [])
    assert exchanges(select_parser("httptools")(ORIGIN), script, cuts) == expected


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid response with a few bytes deleted, inserted or replaced."""
    wire = bytearray(draw(responses())[1])
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(wire)))
        byte = draw(st.sampled_from(b"\r\n \t:;,0123456789aZ\x00\x01\x7f\x80\xff/."))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "insert" or position == len(wire):
            wire[position:position] = bytes([byte])
        elif action == "delete":
            del wire[position]
        else:
            wire[position] = byte
    return bytes(wire)


@needs_httptools
@settings(max_examples=500)
@given(wire=mutated(), cuts=st.lists(st.integers(0, 400), max_size=4))
def test_httptools_never_accepts_a_response_that_h11_reads_differently_or_refuses(
    wire: bytes, cuts: list[int]
) -> None:
    # httptools is stricter in places (line endings without CR, obs-fold, control characters
    # in header values, versions other than 1.0 and 1.1, some chunk extensions): then it
    # refuses what h11 reads. Whatever it accepts, h11 reads the same way.
    # (The same cuts for both: whether bytes after a response arrive with it or later decides
    # whether the connection is reusable.)
    result = outcome(httptools_parser(), split(wire, cuts))
    if result[-1] != "error":
        assert outcome(h11_parser(), split(wire, cuts)) == result
