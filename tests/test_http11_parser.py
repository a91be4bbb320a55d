"""The HTTP/1.1 parser seam: request serialization, framing and parsing, run against both
parsers (``H11Parser`` and, when httptools is installed, ``HttptoolsParser``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import heron
from heron import _http11_parser
from heron._http11_parser import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    MAX_HEAD_SIZE,
    NEED_DATA,
    PARSER_ENV,
    HTTP11Parser,
    ParserEvent,
    ResponseHead,
    select_parser,
)

HOST = [(b"Host", b"example.org")]


@pytest.fixture(autouse=True, params=["h11", "httptools"])
def parser_name(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs against both parsers, chosen as users choose one: by name."""
    name = str(request.param)
    if name == "httptools":
        pytest.importorskip("httptools")
    monkeypatch.setenv(PARSER_ENV, name)
    return name


def new_parser(origin: str = "the server") -> HTTP11Parser:
    return select_parser()(origin)


def parser_after(
    headers: list[tuple[bytes, bytes]] = HOST, method: bytes = b"GET"
) -> HTTP11Parser:
    """A parser whose request (without a body) has been sent."""
    parser = new_parser("http://example.org:80")
    parser.request_bytes(method, b"/", headers)
    parser.end_bytes()
    return parser


def events(parser: HTTP11Parser, *chunks: bytes) -> list[ParserEvent]:
    """Feed `chunks` and collect events until END_OF_MESSAGE or CONNECTION_CLOSED."""
    received: list[ParserEvent] = []
    pending = list(chunks)
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            parser.receive_data(pending.pop(0) if pending else b"")
            continue
        received.append(event)
        if event is END_OF_MESSAGE or event is CONNECTION_CLOSED:
            return received


def drain(parser: HTTP11Parser) -> None:
    """Take events until the parser needs more data."""
    while parser.next_event() is not NEED_DATA:
        pass


def body_of(received: list[ParserEvent]) -> bytes:
    return b"".join(event for event in received if isinstance(event, bytes))


# --- request serialization ----------------------------------------------------------------------


def test_request_head_is_serialized_in_the_order_given() -> None:
    parser = new_parser()
    head = parser.request_bytes(
        b"GET", b"/search?q=heron", [(b"Host", b"example.org"), (b"Accept", b"*/*")]
    )
    assert head == b"GET /search?q=heron HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n"


def test_the_parser_satisfies_the_protocol_and_has_its_name(parser_name: str) -> None:
    parser: HTTP11Parser = new_parser()
    assert parser.name == parser_name


@pytest.mark.parametrize("method", [b"PROPFIND", b"M-SEARCH", b"get"])
def test_any_token_is_accepted_as_a_method(method: bytes) -> None:
    head = new_parser().request_bytes(method, b"/", HOST)
    assert head.startswith(method + b" / HTTP/1.1\r\n")


@pytest.mark.parametrize("method", [b"", b"GE T", b"GET\r\n", b"G\xc3\xa9T", b"(GET)"])
def test_a_method_that_is_not_a_token_is_refused(method: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid HTTP method"):
        new_parser().request_bytes(method, b"/", HOST)


@pytest.mark.parametrize(
    "target", [b"", b"/a b", b"/a\r\nX: y", b"/\x00", b"/caf\xc3\xa9", b"/\t"]
)
def test_a_target_with_whitespace_control_or_non_ascii_bytes_is_refused(target: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid request target"):
        new_parser().request_bytes(b"GET", target, HOST)


@pytest.mark.parametrize("name", [b"", b"X Y", b"X:Y", b"X\r\nY", b"Caf\xc3\xa9", b"(x)"])
def test_a_header_name_that_is_not_a_token_is_refused(name: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid header name"):
        new_parser().request_bytes(b"GET", b"/", [*HOST, (name, b"1")])


def test_validated_header_names_are_cached_but_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-Cached-Name", b"1")])
    assert _http11_parser._NAMES[b"X-Cached-Name"] == b"x-cached-name"

    monkeypatch.setattr(_http11_parser, "_NAMES_SIZE", 0)
    new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-Not-Cached", b"1")])
    assert b"X-Not-Cached" not in _http11_parser._NAMES


def test_short_valid_header_values_are_cached_but_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_http11_parser, "_VALUES", set())
    long_value = b"v" * (_http11_parser._VALUE_CACHED_LENGTH + 1)
    new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-A", b"cached"), (b"X-B", long_value)])
    assert b"cached" in _http11_parser._VALUES
    assert long_value not in _http11_parser._VALUES
    # A cached value skips the check: still sent as it is.
    head = new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-A", b"cached")])
    assert b"\r\nX-A: cached\r\n" in head

    monkeypatch.setattr(_http11_parser, "_VALUES_SIZE", len(_http11_parser._VALUES))
    new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-C", b"fresh")])
    assert b"fresh" in _http11_parser._VALUES
    assert b"cached" not in _http11_parser._VALUES


@pytest.mark.parametrize(
    "value", [b"a\x00b", b"a\rb", b"a\nb", b"a\x0bb", b"a\x0cb", b" a", b"a ", b"\ta", b"a\t"]
)
def test_a_header_value_with_nul_cr_lf_vt_ff_or_outer_whitespace_is_refused(value: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid value for header 'X-Value'"):
        new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-Value", value)])


@pytest.mark.parametrize("value", [b"", b"a b\tc", b"caf\xc3\xa9", b"\x01"])
def test_empty_values_inner_whitespace_and_obs_text_are_accepted(value: bytes) -> None:
    head = new_parser().request_bytes(b"GET", b"/", [*HOST, (b"X-Value", value)])
    assert b"\r\nX-Value: " + value + b"\r\n" in head


@pytest.mark.parametrize(
    "headers", [[], [(b"Accept", b"*/*")], [(b"Host", b"a"), (b"host", b"b")]]
)
def test_a_request_needs_exactly_one_host_header(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(heron.LocalProtocolError, match="exactly one Host header"):
        new_parser().request_bytes(b"GET", b"/", headers)


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1 2", b"1,1", b"1" * 21])
def test_an_invalid_content_length_is_refused(value: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid Content-Length"):
        new_parser().request_bytes(b"POST", b"/", [*HOST, (b"Content-Length", value)])


def test_conflicting_content_lengths_are_refused_and_repeated_equal_ones_accepted() -> None:
    headers = [*HOST, (b"Content-Length", b"3"), (b"Content-Length", b"4")]
    with pytest.raises(heron.LocalProtocolError, match="Conflicting Content-Length"):
        new_parser().request_bytes(b"POST", b"/", headers)

    parser = new_parser()
    parser.request_bytes(
        b"POST", b"/", [*HOST, (b"Content-Length", b"3")] * 1 + [(b"content-length", b"03")]
    )
    assert parser.body_bytes(b"abc") == b"abc"
    assert parser.end_bytes() == b""


@pytest.mark.parametrize("value", [b"gzip", b"gzip, chunked", b"identity"])
def test_a_transfer_encoding_other_than_chunked_is_refused(value: bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Unsupported Transfer-Encoding"):
        new_parser().request_bytes(b"POST", b"/", [*HOST, (b"Transfer-Encoding", value)])


def test_a_repeated_transfer_encoding_is_refused() -> None:
    headers = [*HOST, (b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")]
    with pytest.raises(heron.LocalProtocolError, match="Unsupported Transfer-Encoding"):
        new_parser().request_bytes(b"POST", b"/", headers)


def test_content_length_together_with_transfer_encoding_is_refused() -> None:
    headers = [*HOST, (b"Content-Length", b"3"), (b"Transfer-Encoding", b"chunked")]
    with pytest.raises(heron.LocalProtocolError, match="both Content-Length and Transfer"):
        new_parser().request_bytes(b"POST", b"/", headers)


# --- request body framing -----------------------------------------------------------------------


def test_content_length_body_is_passed_through_unchanged() -> None:
    parser = new_parser()
    parser.request_bytes(b"POST", b"/", [*HOST, (b"Content-Length", b"6")])
    data = b"abc"
    assert parser.body_bytes(data) is data
    assert parser.body_bytes(b"def") == b"def"
    assert parser.end_bytes() == b""


def test_a_body_longer_than_its_content_length_is_refused() -> None:
    parser = new_parser()
    parser.request_bytes(b"POST", b"/", [*HOST, (b"Content-Length", b"2")])
    with pytest.raises(heron.LocalProtocolError, match=r"longer than its Content-Length .*\(2"):
        parser.body_bytes(b"abc")


def test_a_body_shorter_than_its_content_length_is_refused_at_the_end() -> None:
    parser = new_parser()
    parser.request_bytes(b"POST", b"/", [*HOST, (b"Content-Length", b"5")])
    parser.body_bytes(b"abc")
    with pytest.raises(heron.LocalProtocolError, match=r"ended after 3 bytes.*announced 5"):
        parser.end_bytes()


def test_a_request_without_framing_headers_has_an_empty_body() -> None:
    parser = new_parser()
    parser.request_bytes(b"GET", b"/", HOST)
    with pytest.raises(heron.LocalProtocolError, match="longer than its Content-Length"):
        parser.body_bytes(b"x")


def test_chunked_body_is_framed_in_chunks_and_ended_by_the_last_chunk() -> None:
    parser = new_parser()
    parser.request_bytes(b"POST", b"/", [*HOST, (b"Transfer-Encoding", b"Chunked")])
    assert parser.body_bytes(b"hello, world") == b"c\r\nhello, world\r\n"
    assert parser.body_bytes(b"") == b""
    assert parser.end_bytes() == b"0\r\n\r\n"


# --- responses ----------------------------------------------------------------------------------


def test_a_response_gives_its_head_body_chunks_and_end() -> None:
    parser = parser_after()
    received = events(
        parser,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhel",
        b"lo",
    )
    head = received[0]
    assert isinstance(head, ResponseHead)
    assert (head.status_code, head.reason, head.http_version) == (200, b"OK", b"HTTP/1.1")
    assert head.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]
    assert repr(head) == "<ResponseHead [200 OK]>"
    assert received[1:] == [b"hel", b"lo", END_OF_MESSAGE]
    assert all(type(event) is bytes for event in received[1:-1])
    assert parser.is_reusable()
    parser.start_next_cycle()
    parser.request_bytes(b"GET", b"/", HOST)


def test_markers_have_readable_reprs() -> None:
    assert [repr(m) for m in (END_OF_MESSAGE, NEED_DATA, CONNECTION_CLOSED)] == [
        "END_OF_MESSAGE",
        "NEED_DATA",
        "CONNECTION_CLOSED",
    ]


def test_a_chunked_response_is_decoded() -> None:
    received = events(
        parser_after(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"1;ext=1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\n",
    )
    assert body_of(received) == b"hello!"
    assert received[-1] is END_OF_MESSAGE


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_responses_have_no_body(status: int) -> None:
    parser = parser_after()
    received = events(parser, b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status)
    assert received[1:] == [END_OF_MESSAGE]
    assert parser.is_reusable()


def test_a_head_response_has_no_body_whatever_its_content_length() -> None:
    parser = parser_after(method=b"HEAD")
    received = events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    assert received[1:] == [END_OF_MESSAGE]
    assert parser.is_reusable()


def test_interim_responses_come_before_the_final_one() -> None:
    received = events(
        parser_after(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )
    statuses = [event.status_code for event in received if isinstance(event, ResponseHead)]
    assert statuses == [100, 103, 200]


def test_an_http_1_0_response_without_length_is_read_until_close_and_not_reused() -> None:
    parser = parser_after()
    received = events(parser, b"HTTP/1.0 200 OK\r\n\r\nsome ", b"body")
    head = received[0]
    assert isinstance(head, ResponseHead)
    assert head.http_version == b"HTTP/1.0"
    assert body_of(received) == b"some body"
    assert received[-1] is END_OF_MESSAGE
    assert not parser.is_reusable()


def test_an_http_1_1_response_without_length_is_read_until_close() -> None:
    parser = parser_after()
    received = events(parser, b"HTTP/1.1 200 OK\r\n\r\nall", b" of it")
    assert body_of(received) == b"all of it"
    assert not parser.is_reusable()


def test_connection_close_from_the_server_makes_the_connection_not_reusable() -> None:
    parser = parser_after()
    events(parser, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert not parser.is_reusable()
    # Then the server closes: that is the end of the connection, not an error.
    parser.receive_data(b"")
    assert parser.next_event() is CONNECTION_CLOSED
    with pytest.raises(heron.LocalProtocolError, match="can't be reused"):
        parser.start_next_cycle()


@pytest.mark.parametrize("value", [b"close", b"Keep-Alive, Close", b"upgrade,close"])
def test_connection_close_from_our_request_makes_the_connection_not_reusable(
    value: bytes,
) -> None:
    parser = parser_after([*HOST, (b"Connection", value)])
    events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert not parser.is_reusable()


def test_connection_header_without_close_keeps_the_connection_reusable() -> None:
    parser = parser_after([*HOST, (b"Connection", b"keep-alive")])
    events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.is_reusable()


def test_the_connection_is_not_reusable_until_our_request_body_has_ended() -> None:
    parser = new_parser()
    parser.request_bytes(b"POST", b"/", [*HOST, (b"Content-Length", b"10")])
    parser.body_bytes(b"abc")
    # The server answered early (say, 413) while the body was still going out.
    events(parser, b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
    assert not parser.is_reusable()


def test_bytes_after_a_complete_response_make_the_connection_not_reusable() -> None:
    parser = parser_after()
    events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
    assert not parser.is_reusable()


def test_a_101_response_to_an_upgrade_request_switches_protocols() -> None:
    parser = parser_after([*HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")])
    parser.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05")
    head = parser.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status_code == 101
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.trailing_data() == b"\x81\x05"
    assert not parser.is_reusable()


def test_a_101_response_without_an_upgrade_request_is_refused() -> None:
    parser = parser_after()
    parser.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    with pytest.raises(heron.RemoteProtocolError, match=r"not valid HTTP/1\.1"):
        parser.next_event()


def test_a_successful_connect_turns_the_connection_into_a_tunnel() -> None:
    parser = new_parser()
    parser.request_bytes(b"CONNECT", b"example.org:443", [(b"Host", b"example.org:443")])
    parser.end_bytes()
    parser.receive_data(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03")
    head = parser.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status_code == 200
    assert parser.next_event() is END_OF_MESSAGE
    assert parser.trailing_data() == b"\x16\x03"


# --- response errors ----------------------------------------------------------------------------


def test_eof_before_any_response_byte_is_connection_closed() -> None:
    parser = parser_after()
    assert events(parser) == [CONNECTION_CLOSED]
    # Repeated EOF is harmless.
    parser.receive_data(b"")


def test_eof_in_the_middle_of_the_head_is_a_remote_protocol_error() -> None:
    with pytest.raises(
        heron.RemoteProtocolError,
        match=r"connection to http://example.org:80 closed before the response was complete",
    ):
        events(parser_after(), b"HTTP/1.1 200 OK\r\nContent-")


def test_a_body_shorter_than_its_content_length_is_a_remote_protocol_error() -> None:
    with pytest.raises(
        heron.RemoteProtocolError, match=r"closed before the response was complete.*received 3"
    ):
        events(parser_after(), b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")


def test_an_incomplete_chunked_body_is_a_remote_protocol_error() -> None:
    with pytest.raises(heron.RemoteProtocolError, match="closed before the response"):
        events(parser_after(), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01",
    ],
)
def test_a_malformed_response_is_a_remote_protocol_error(response: bytes) -> None:
    parser = parser_after()
    parser.receive_data(response)
    with pytest.raises(heron.RemoteProtocolError, match=r"example\.org:80 sent a response"):
        drain(parser)


def test_an_oversized_response_head_is_refused() -> None:
    parser = parser_after()
    parser.receive_data(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Filler: " + b"x" * 1000 + b"\r\n"
    for _ in range(MAX_HEAD_SIZE // len(line)):
        parser.receive_data(line)
        assert parser.next_event() is NEED_DATA
    parser.receive_data(line * 2)
    with pytest.raises(heron.RemoteProtocolError, match=f"larger than {MAX_HEAD_SIZE} bytes"):
        parser.next_event()


def test_a_request_before_the_previous_exchange_ended_is_refused() -> None:
    parser = parser_after()
    with pytest.raises(heron.LocalProtocolError, match="previous exchange on it is not finished"):
        parser.request_bytes(b"GET", b"/", HOST)


# --- property: chunking never changes the body -------------------------------------------------


@given(
    body=st.binary(max_size=300),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12),
)
def test_the_body_is_the_same_whatever_the_chunking_of_the_bytes(
    body: bytes, chunked: bool, cuts: list[int]
) -> None:
    if chunked:
        framed = b"".join(
            b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:7], body[7:]) if part
        )
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    else:
        wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    points = sorted({cut for cut in cuts if 0 < cut < len(wire)})
    pieces = [
        wire[start:stop] for start, stop in zip([0, *points], [*points, len(wire)], strict=True)
    ]
    parser = parser_after()
    received = events(parser, *pieces)
    assert body_of(received) == body
    assert parser.is_reusable()
