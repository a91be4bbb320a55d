from __future__ import annotations

import datetime
import gzip
import json
import pickle
import subprocess
import sys
import textwrap
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import heron
from heron._content import UnattachedStream

REQUEST = heron.Request("GET", "https://example.org/a")


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


async def async_chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class RecordingStream(heron.SyncByteStream, heron.AsyncByteStream):
    """A body that records whether it was closed, usable sync and async."""

    def __init__(self, *parts: bytes) -> None:
        self.parts = parts
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


class SyncOnlyStream(heron.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b"sync"


class AsyncOnlyStream(heron.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"async"


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# Construction ------------------------------------------------------------------------------


def test_bodiless_response_is_complete_at_once() -> None:
    response = heron.Response(200)
    assert response.status_code == 200
    assert response.headers == {}
    assert response.content == b""
    assert response.text == ""
    assert response.is_closed
    assert response.is_stream_consumed
    assert response.num_bytes_downloaded == 0
    assert repr(response) == "<Response [200 OK]>"


def test_bytes_content_is_read_at_once_with_content_length() -> None:
    response = heron.Response(200, content=b"Hello")
    assert response.headers == {"Content-Length": "5"}
    assert response.content == b"Hello"
    assert response.is_closed
    assert response.is_stream_consumed
    assert response.num_bytes_downloaded == 5


@pytest.mark.parametrize(
    ("kwargs", "content_type", "body"),
    [
        ({"text": "héllo"}, "text/plain; charset=utf-8", "héllo".encode()),
        ({"html": "<p>hi</p>"}, "text/html; charset=utf-8", b"<p>hi</p>"),
        ({"json": {"a": [1, 2]}}, "application/json", b'{"a":[1,2]}'),
    ],
)
def test_text_html_and_json_set_their_content_type(
    kwargs: dict[str, Any], content_type: str, body: bytes
) -> None:
    response = heron.Response(200, **kwargs)
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(body))
    assert response.content == body


def test_iterator_content_is_streamed_not_read() -> None:
    response = heron.Response(200, content=chunks(b"a", b"b"))
    assert response.headers == {"Transfer-Encoding": "chunked"}
    assert not response.is_closed
    assert not response.is_stream_consumed
    with pytest.raises(heron.ResponseNotRead, match=r"response\.read\(\)"):
        _ = response.content
    with pytest.raises(heron.ResponseNotRead):
        _ = response.text
    with pytest.raises(heron.ResponseNotRead):
        response.json()


def test_user_headers_win_over_body_headers() -> None:
    response = heron.Response(200, content=b"abc", headers={"Content-Length": "7"})
    assert response.headers.raw == [(b"Content-Length", b"7")]


def test_user_transfer_encoding_suppresses_content_length() -> None:
    response = heron.Response(200, content=b"abc", headers={"Transfer-Encoding": "chunked"})
    assert response.headers.raw == [(b"Transfer-Encoding", b"chunked")]


def test_explicit_stream_is_not_read_even_in_memory() -> None:
    stream = heron.ByteStream(b"abc")
    response = heron.Response(200, stream=stream)
    assert response.stream is stream
    assert not response.is_closed
    with pytest.raises(heron.ResponseNotRead):
        _ = response.content
    assert response.read() == b"abc"


def test_status_code_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="status_code must be an int"):
        heron.Response("200")  # type: ignore[arg-type]


def test_status_code_may_be_an_int_subclass() -> None:
    assert heron.Response(heron.codes.NOT_FOUND).status_code == 404


def test_headers_history_and_extensions() -> None:
    headers = heron.Headers({"X-A": "1"})
    history = [heron.Response(301)]
    extensions = {"http_version": b"HTTP/2"}
    response = heron.Response(200, headers=headers, history=history, extensions=extensions)
    assert response.headers == headers
    assert response.headers is not headers
    assert response.history == history
    assert response.history is not history
    assert response.extensions is extensions


def test_extensions_default_to_a_dict_and_mappings_are_copied() -> None:
    assert heron.Response(200).extensions == {}
    proxy = __import__("types").MappingProxyType({"reason_phrase": b"Fine"})
    response = heron.Response(200, extensions=proxy)
    assert type(response.extensions) is dict
    assert response.reason_phrase == "Fine"


def test_responses_accept_weak_references() -> None:
    response = heron.Response(200)
    assert weakref.ref(response)() is response


# Metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extensions", "reason"),
    [
        ({}, "Not Found"),
        ({"reason_phrase": b"Nope"}, "Nope"),
        ({"reason_phrase": "Nope"}, "Nope"),
        ({"reason_phrase": b"Caf\xe9"}, "Caf"),
        ({"reason_phrase": b""}, ""),
    ],
)
def test_reason_phrase(extensions: dict[str, Any], reason: str) -> None:
    assert heron.Response(404, extensions=extensions).reason_phrase == reason


def test_unknown_status_code_has_an_empty_reason() -> None:
    response = heron.Response(599)
    assert response.reason_phrase == ""
    assert repr(response) == "<Response [599 ]>"


@pytest.mark.parametrize(
    ("extensions", "version"),
    [
        ({}, "HTTP/1.1"),
        ({"http_version": b"HTTP/2"}, "HTTP/2"),
        ({"http_version": "HTTP/1.0"}, "HTTP/1.0"),
    ],
)
def test_http_version(extensions: dict[str, Any], version: str) -> None:
    assert heron.Response(200, extensions=extensions).http_version == version


def test_request_is_required_to_read_it_and_settable() -> None:
    response = heron.Response(200)
    with pytest.raises(RuntimeError, match=r"has no \.request"):
        _ = response.request
    with pytest.raises(RuntimeError, match=r"has no \.request"):
        _ = response.url
    response.request = REQUEST
    assert response.request is REQUEST
    assert response.url == "https://example.org/a"
    assert response.next_request is None


def test_elapsed_before_close_says_to_read_or_close() -> None:
    response = heron.Response(200, content=chunks(b"a"))
    with pytest.raises(RuntimeError, match="read or closed"):
        _ = response.elapsed


def test_elapsed_of_a_response_no_client_timed() -> None:
    response = heron.Response(200)
    with pytest.raises(RuntimeError, match="measured by the client"):
        _ = response.elapsed


def test_elapsed_is_measured_until_close() -> None:
    response = heron.Response(200, content=chunks(b"a"))
    response._set_started_at(time.perf_counter() - 2.0)
    with pytest.raises(RuntimeError):
        _ = response.elapsed
    response.read()
    elapsed = response.elapsed
    assert datetime.timedelta(seconds=2) <= elapsed < datetime.timedelta(seconds=60)
    response.close()
    assert response.elapsed == elapsed


def test_elapsed_of_an_already_closed_response_is_set_when_the_clock_starts() -> None:
    response = heron.Response(200, content=b"abc")
    response._set_started_at(time.perf_counter() - 1.0)
    assert response.elapsed >= datetime.timedelta(seconds=1)


def test_elapsed_clock_start_does_not_override_a_measurement() -> None:
    response = heron.Response(200)
    response.elapsed = datetime.timedelta(milliseconds=5)
    response._set_started_at(time.perf_counter() - 100.0)
    assert response.elapsed == datetime.timedelta(milliseconds=5)


def test_elapsed_can_be_set() -> None:
    response = heron.Response(200, content=chunks(b"a"))
    response.elapsed = datetime.timedelta(seconds=1.5)
    assert response.elapsed == datetime.timedelta(seconds=1.5)


@pytest.mark.anyio
async def test_elapsed_is_measured_until_aclose() -> None:
    response = heron.Response(200, content=async_chunks(b"a"))
    response._set_started_at(time.perf_counter())
    await response.aread()
    assert response.elapsed >= datetime.timedelta(0)


# Status predicates and raise_for_status -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (99, ""),
        (100, "informational"),
        (199, "informational"),
        (200, "success"),
        (299, "success"),
        (300, "redirect"),
        (399, "redirect"),
        (400, "client_error error"),
        (499, "client_error error"),
        (500, "server_error error"),
        (599, "server_error error"),
        (600, ""),
    ],
)
def test_status_predicates(status: int, flags: str) -> None:
    response = heron.Response(status)
    for name in ("informational", "success", "redirect", "client_error", "server_error", "error"):
        assert getattr(response, f"is_{name}") is (name in flags.split()), name


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (301, {"Location": "/b"}, True),
        (302, {"Location": "/b"}, True),
        (303, {"Location": "/b"}, True),
        (307, {"Location": "/b"}, True),
        (308, {"Location": "/b"}, True),
        (304, {"Location": "/b"}, False),
        (300, {"Location": "/b"}, False),
        (200, {"Location": "/b"}, False),
        (301, {}, False),
    ],
)
def test_has_redirect_location(status: int, headers: dict[str, str], expected: bool) -> None:
    assert heron.Response(status, headers=headers).has_redirect_location is expected


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_raise_for_status_returns_the_response_for_2xx(status: int) -> None:
    response = heron.Response(status, request=REQUEST)
    assert response.raise_for_status() is response


@pytest.mark.parametrize(
    ("status", "first_line"),
    [
        (100, "Informational response '100 Continue' for url 'https://example.org/a'"),
        (304, "Redirect response '304 Not Modified' for url 'https://example.org/a'"),
        (404, "Client error '404 Not Found' for url 'https://example.org/a'"),
        (418, "Client error '418 I'm a teapot' for url 'https://example.org/a'"),
        (500, "Server error '500 Internal Server Error' for url 'https://example.org/a'"),
        (599, "Server error '599' for url 'https://example.org/a'"),
        (600, "Invalid status code '600' for url 'https://example.org/a'"),
        (99, "Invalid status code '99' for url 'https://example.org/a'"),
    ],
)
def test_raise_for_status_message(status: int, first_line: str) -> None:
    response = heron.Response(status, request=REQUEST)
    with pytest.raises(heron.HTTPStatusError) as info:
        response.raise_for_status()
    assert str(info.value) == (
        f"{first_line}\nFor more information check: "
        f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}"
    )
    assert info.value.request is REQUEST
    assert info.value.response is response


def test_raise_for_status_names_the_redirect_location() -> None:
    response = heron.Response(302, headers={"Location": "/b"}, request=REQUEST)
    with pytest.raises(heron.HTTPStatusError) as info:
        response.raise_for_status()
    assert str(info.value).splitlines() == [
        "Redirect response '302 Found' for url 'https://example.org/a'",
        "Redirect location: '/b'",
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/302",
    ]


def test_raise_for_status_hides_the_password() -> None:
    request = heron.Request("GET", "https://user:hunter2@example.org/")
    with pytest.raises(heron.HTTPStatusError) as info:
        heron.Response(401, request=request).raise_for_status()
    assert "hunter2" not in str(info.value)
    assert "https://user:[secure]@example.org/" in str(info.value)


def test_raise_for_status_without_request_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match=r"needs the response's \.request"):
        heron.Response(200).raise_for_status()


# Encoding and text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "charset", "encoding"),
    [
        (None, None, "utf-8"),
        ("text/plain", None, "utf-8"),
        ("text/plain; charset=latin-1", "latin-1", "latin-1"),
        ('text/plain; charset="ISO-8859-1"', "iso-8859-1", "iso-8859-1"),
        ("text/plain;CHARSET=Windows-1252;format=flowed", "windows-1252", "windows-1252"),
        ("text/plain; charset=", None, "utf-8"),
        ("text/plain; charset=bogus", "bogus", "utf-8"),
        ("text/plain; charset=hex", "hex", "utf-8"),
    ],
)
def test_encoding_comes_from_a_usable_charset(
    content_type: str | None, charset: str | None, encoding: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = heron.Response(200, headers=headers, content=b"abc")
    assert response.charset_encoding == charset
    assert response.encoding == encoding


def test_text_is_decoded_with_the_charset() -> None:
    response = heron.Response(
        200,
        headers={"Content-Type": "text/plain; charset=latin-1"},
        content="héllo".encode("latin-1"),
    )
    assert response.text == "héllo"


def test_undecodable_bytes_become_replacement_characters() -> None:
    response = heron.Response(200, content=b"h\xe9llo")
    assert response.text == "h\ufffdllo"


def test_default_encoding_name_is_used_without_charset() -> None:
    response = heron.Response(200, content="héllo".encode("latin-1"), default_encoding="latin-1")
    assert response.encoding == "latin-1"
    assert response.text == "héllo"


def test_charset_wins_over_default_encoding() -> None:
    response = heron.Response(
        200,
        headers={"Content-Type": "text/plain; charset=utf-8"},
        content=b"abc",
        default_encoding="latin-1",
    )
    assert response.encoding == "utf-8"


def test_default_encoding_callable_is_given_the_body() -> None:
    seen: list[bytes] = []

    def detect(content: bytes) -> str:
        seen.append(content)
        return "cp1252"

    response = heron.Response(200, content=b"caf\x80", default_encoding=detect)
    assert response.default_encoding is detect
    assert response.text == "caf€"
    assert response.encoding == "cp1252"
    assert seen == [b"caf\x80"]


def test_default_encoding_callable_returning_none_means_utf8() -> None:
    response = heron.Response(200, content=b"abc", default_encoding=lambda content: None)
    assert response.encoding == "utf-8"


def test_default_encoding_callable_waits_for_the_body() -> None:
    response = heron.Response(200, content=chunks(b"abc"), default_encoding=lambda _: "ascii")
    assert response.encoding == "utf-8"
    response.read()
    assert response.encoding == "ascii"


def test_empty_body_text_does_not_call_the_detector() -> None:
    def detect(content: bytes) -> str:
        raise AssertionError("not called for an empty body")

    assert heron.Response(200, default_encoding=detect).text == ""


def test_encoding_can_be_set_before_text() -> None:
    response = heron.Response(
        200, headers={"Content-Type": "text/plain; charset=utf-8"}, content="é".encode("latin-1")
    )
    response.encoding = "latin-1"
    assert response.encoding == "latin-1"
    assert response.text == "é"


def test_encoding_cannot_be_set_after_text() -> None:
    response = heron.Response(200, content=b"abc")
    assert response.text == "abc"
    with pytest.raises(ValueError, match=r"after \.text has been accessed.*'utf-8'"):
        response.encoding = "latin-1"


def test_unknown_encoding_set_by_hand_is_a_lookup_error() -> None:
    response = heron.Response(200, content=b"abc")
    response.encoding = "no-such-codec"
    with pytest.raises(LookupError):
        _ = response.text


def test_json_parses_the_body_with_kwargs() -> None:
    response = heron.Response(200, content=b'{"a": 1, "b": 2.5}')
    assert response.json() == {"a": 1, "b": 2.5}
    assert response.json(parse_float=str) == {"a": 1, "b": "2.5"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_json_detects_utf_encodings(encoding: str) -> None:
    response = heron.Response(200, content='{"é": 1}'.encode(encoding))
    assert response.json() == {"é": 1}


def test_json_with_a_utf8_charset_tolerates_a_bom() -> None:
    response = heron.Response(
        200,
        headers={"Content-Type": "application/json; charset=utf-8"},
        content='{"é": 1}'.encode("utf-8-sig"),
    )
    assert response.json() == {"é": 1}


def test_json_uses_a_non_utf_charset() -> None:
    response = heron.Response(
        200,
        headers={"Content-Type": "application/json; charset=latin-1"},
        content='{"é": 1}'.encode("latin-1"),
    )
    assert response.json() == {"é": 1}


def test_invalid_json_raises_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        heron.Response(200, content=b"not json").json()


# Cookies and links -------------------------------------------------------------------------


def test_cookies_are_extracted_from_set_cookie() -> None:
    response = heron.Response(
        200,
        headers=[("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")],
        request=REQUEST,
    )
    assert dict(response.cookies) == {"a": "1", "b": "2"}
    assert response.cookies is response.cookies


def test_cookies_need_the_request() -> None:
    with pytest.raises(RuntimeError, match=r"\.request"):
        _ = heron.Response(200, headers={"Set-Cookie": "a=1"}).cookies


@pytest.mark.parametrize(
    ("headers", "links"),
    [
        ({}, {}),
        ({"Link": ""}, {}),
        (
            {"Link": '<https://a/b>; rel="next", <https://a/c>; rel=last'},
            {
                "next": {"url": "https://a/b", "rel": "next"},
                "last": {"url": "https://a/c", "rel": "last"},
            },
        ),
        ({"Link": "<https://a/d>"}, {"https://a/d": {"url": "https://a/d"}}),
        (
            {"Link": '<https://a/e>; rel=next; title="Page, two"; type=text/html'},
            {
                "next": {
                    "url": "https://a/e",
                    "rel": "next",
                    "title": "Page, two",
                    "type": "text/html",
                }
            },
        ),
        (
            [("Link", "<a>; rel=one"), ("Link", "<b>; rel=two")],
            {"one": {"url": "a", "rel": "one"}, "two": {"url": "b", "rel": "two"}},
        ),
        (
            {"Link": 'junk, <b>;rel=x;; =y; REL="ignored", "quoted, junk", <c>'},
            {"x": {"url": "b", "rel": "x"}, "c": {"url": "c"}},
        ),
        (
            {"Link": r'<https://a/?q=1,2>; rel="esc\"aped"; title=plain value'},
            {'esc"aped': {"url": "https://a/?q=1,2", "rel": 'esc"aped', "title": "plain value"}},
        ),
    ],
)
def test_links(headers: Any, links: dict[str, dict[str, str]]) -> None:
    assert heron.Response(200, headers=headers).links == links


# Sync streaming ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk_size", "expected"),
    [
        (None, [b"ab", b"cdefg", b"h"]),
        (1, [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"]),
        (3, [b"abc", b"def", b"gh"]),
        (100, [b"abcdefgh"]),
    ],
)
def test_iter_raw_chunk_sizes(chunk_size: int | None, expected: list[bytes]) -> None:
    response = heron.Response(200, content=chunks(b"ab", b"", b"cdefg", b"h"))
    assert list(response.iter_raw(chunk_size)) == expected
    assert response.num_bytes_downloaded == 8
    assert response.is_closed


def test_iter_raw_does_not_decode() -> None:
    body = gzip.compress(b"hello")
    response = heron.Response(200, content=chunks(body), headers={"Content-Encoding": "gzip"})
    assert b"".join(response.iter_raw()) == body


def test_iter_raw_after_consumption_raises_stream_consumed() -> None:
    response = heron.Response(200, content=chunks(b"a", b"b"))
    iterator = response.iter_raw()
    assert next(iterator) == b"a"
    assert response.is_stream_consumed
    assert not response.is_closed
    with pytest.raises(heron.StreamConsumed, match="already been streamed"):
        response.read()
    assert list(iterator) == [b"b"]
    for method in (response.iter_raw, response.iter_bytes, response.iter_text):
        with pytest.raises(heron.StreamConsumed):
            list(method())
    with pytest.raises(heron.ResponseNotRead):
        _ = response.content


def test_reading_a_closed_response_raises_stream_closed() -> None:
    response = heron.Response(200, content=chunks(b"a"))
    response.close()
    with pytest.raises(heron.StreamClosed, match="stream has been closed"):
        response.read()
    with pytest.raises(heron.StreamClosed):
        list(response.iter_raw())


def test_iter_raw_of_a_read_response_raises_stream_consumed() -> None:
    response = heron.Response(200, content=b"abc")
    with pytest.raises(heron.StreamConsumed):
        list(response.iter_raw())


def test_read_returns_the_same_bytes_and_closes() -> None:
    stream = RecordingStream(b"ab", b"c")
    response = heron.Response(200, stream=stream)
    assert response.read() == b"abc"
    assert response.read() == b"abc"
    assert response.is_closed
    assert stream.closed == 1
    response.close()
    assert stream.closed == 1


def test_close_calls_close_on_a_duck_typed_stream_only_if_present() -> None:
    response = heron.Response(200, stream=iter([b"a"]))  # type: ignore[arg-type]
    response.close()
    assert response.is_closed
    generator = chunks(b"a")
    response = heron.Response(200, stream=generator)  # type: ignore[arg-type]
    assert response.read() == b"a"


@pytest.mark.parametrize(
    ("chunk_size", "expected"),
    [
        (None, [b"abcdefg"]),
        (1, [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]),
        (3, [b"abc", b"def", b"g"]),
        (7, [b"abcdefg"]),
        (8, [b"abcdefg"]),
    ],
)
def test_iter_bytes_of_a_read_body(chunk_size: int | None, expected: list[bytes]) -> None:
    response = heron.Response(200, content=b"abcdefg")
    assert list(response.iter_bytes(chunk_size)) == expected
    assert list(response.iter_bytes(chunk_size)) == expected


def test_iter_bytes_of_an_empty_body_yields_nothing() -> None:
    assert list(heron.Response(200).iter_bytes()) == []
    assert list(heron.Response(200).iter_bytes(3)) == []
    assert list(heron.Response(200, content=chunks(b"", b"")).iter_bytes()) == []


@pytest.mark.parametrize("chunk_size", [0, -1])
def test_chunk_size_must_be_positive(chunk_size: int) -> None:
    response = heron.Response(200, content=b"abc")
    for method in (response.iter_bytes, response.iter_raw, response.iter_text):
        with pytest.raises(ValueError, match="chunk_size must be a positive"):
            next(method(chunk_size))


@pytest.mark.parametrize("raw_chunk", [1, 5, 64, 10_000])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 4096])
def test_iter_bytes_decodes_gzip_in_any_chunking(raw_chunk: int, chunk_size: int | None) -> None:
    plain = b"".join(b"line %d of the body\n" % i for i in range(500))
    body = gzip.compress(plain)
    response = heron.Response(
        200, content=chunks(*split_every(body, raw_chunk)), headers={"Content-Encoding": "gzip"}
    )
    pieces = list(response.iter_bytes(chunk_size))
    assert b"".join(pieces) == plain
    assert all(pieces), "an empty chunk was yielded"
    if chunk_size is not None:
        assert all(len(piece) == chunk_size for piece in pieces[:-1])
        assert 0 < len(pieces[-1]) <= chunk_size
    assert response.num_bytes_downloaded == len(body)
    assert response.is_closed


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj()
    return compressor.compress(data) + compressor.flush()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def brotli_compress(data: bytes) -> bytes:
    import brotli

    return bytes(brotli.compress(data))


def zstd_compress(data: bytes) -> bytes:
    import zstandard

    return bytes(zstandard.ZstdCompressor().compress(data))


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", deflate),
        ("deflate", raw_deflate),
        ("br", brotli_compress),
        ("zstd", zstd_compress),
        ("identity", lambda data: data),
        ("unknown-coding", lambda data: data),
    ],
)
def test_content_encodings_are_decoded(coding: str, compress: Any) -> None:
    plain = b"hello world " * 100
    response = heron.Response(
        200,
        content=chunks(*split_every(compress(plain), 10)),
        headers={"Content-Encoding": coding},
    )
    assert response.read() == plain


def test_chained_content_encodings_are_undone_in_reverse_order() -> None:
    plain = b"hello world " * 100
    body = brotli_compress(gzip.compress(plain))
    response = heron.Response(
        200, content=chunks(*split_every(body, 10)), headers={"Content-Encoding": "gzip, br"}
    )
    assert response.read() == plain


def test_content_encoding_split_over_header_lines() -> None:
    plain = b"hello"
    body = gzip.compress(gzip.compress(plain))
    response = heron.Response(
        200, content=body, headers=[("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")]
    )
    assert response.content == plain


def test_identity_and_unknown_codings_in_a_chain_are_skipped() -> None:
    body = gzip.compress(b"hello")
    response = heron.Response(
        200, content=body, headers={"Content-Encoding": "identity, gzip, unknown"}
    )
    assert response.content == b"hello"


def test_empty_compressed_body_decodes_to_nothing() -> None:
    response = heron.Response(200, content=b"", headers={"Content-Encoding": "gzip"})
    assert response.content == b""


def test_bad_compressed_body_raises_decoding_error_with_the_request() -> None:
    response = heron.Response(
        200, content=chunks(b"not gzip"), headers={"Content-Encoding": "gzip"}, request=REQUEST
    )
    with pytest.raises(heron.DecodingError) as info:
        response.read()
    assert info.value.request is REQUEST


def test_decoding_error_without_a_request() -> None:
    with pytest.raises(heron.DecodingError) as info:
        heron.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(RuntimeError):
        _ = info.value.request


def test_decoding_error_keeps_a_request_already_attached() -> None:
    class FailingStream(heron.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            raise heron.DecodingError("boom", request=other)
            yield b""  # pragma: no cover - makes this a generator

    other = heron.Request("GET", "https://other.example/")
    response = heron.Response(
        200, stream=FailingStream(), headers={"Content-Encoding": "gzip"}, request=REQUEST
    )
    with pytest.raises(heron.DecodingError) as info:
        response.read()
    assert info.value.request is other


@pytest.mark.parametrize(
    ("chunk_size", "expected"),
    [
        (None, ["héllo wörld"]),
        (1, list("héllo wörld")),
        (4, ["héll", "o wö", "rld"]),
    ],
)
def test_iter_text_chunk_sizes_count_characters(
    chunk_size: int | None, expected: list[str]
) -> None:
    data = "héllo wörld".encode()
    # Split every byte, so multi-byte characters straddle chunks.
    response = heron.Response(200, content=chunks(*split_every(data, 1)))
    pieces = list(response.iter_text(chunk_size))
    if chunk_size is None:
        assert "".join(pieces) == expected[0]
        assert all(pieces)
    else:
        assert pieces == expected


def test_iter_text_uses_the_charset() -> None:
    response = heron.Response(
        200,
        content=chunks("héllo".encode("utf-16")),
        headers={"Content-Type": "text/plain; charset=utf-16"},
    )
    assert "".join(response.iter_text()) == "héllo"


def test_iter_text_over_gzip() -> None:
    body = gzip.compress("héllo\n".encode() * 50)
    response = heron.Response(
        200, content=chunks(*split_every(body, 3)), headers={"Content-Encoding": "gzip"}
    )
    assert "".join(response.iter_text(5)) == "héllo\n" * 50


@pytest.mark.parametrize(
    ("parts", "lines"),
    [
        ([b""], []),
        ([b"no newline"], ["no newline"]),
        ([b"one\n"], ["one"]),
        ([b"a\nb\n\nc"], ["a", "b", "", "c"]),
        ([b"a\r\nb\r\n"], ["a", "b"]),
        ([b"a\r", b"\nb"], ["a", "b"]),
        ([b"a\rb\rc"], ["a", "b", "c"]),
        ([b"a\r", b"", b"\n", b"b"], ["a", "b"]),
        ([b"a", b"b", b"\n", b"c"], ["ab", "c"]),
        ([b"\n\n"], ["", ""]),
        ([b"a\r\r\nb"], ["a", "", "b"]),
        ([b"last\r"], ["last"]),
        (["é\nü".encode()[:1], "é\nü".encode()[1:]], ["é", "ü"]),
    ],
)
def test_iter_lines_splits_on_any_line_ending(parts: list[bytes], lines: list[str]) -> None:
    response = heron.Response(200, content=chunks(*parts))
    assert list(response.iter_lines()) == lines


def test_iter_lines_of_a_read_body() -> None:
    response = heron.Response(200, content=b"a\nb\r\nc")
    assert list(response.iter_lines()) == ["a", "b", "c"]
    assert list(response.iter_lines()) == ["a", "b", "c"]


def test_sync_methods_on_an_async_stream_say_to_use_async_ones() -> None:
    response = heron.Response(200, stream=AsyncOnlyStream())
    hint = r"async stream .* `await response\.aread\(\)`, `async for chunk in response\.aiter_bytes\(\)`"
    with pytest.raises(RuntimeError, match=hint):
        response.read()
    with pytest.raises(RuntimeError, match=hint):
        list(response.iter_raw())
    with pytest.raises(RuntimeError, match=hint):
        list(response.iter_bytes(3))
    with pytest.raises(RuntimeError, match=hint):
        list(response.iter_text())
    with pytest.raises(RuntimeError, match=hint):
        list(response.iter_lines())
    with pytest.raises(RuntimeError, match=r"`await response\.aclose\(\)`"):
        response.close()
    assert not response.is_stream_consumed
    assert not response.is_closed


def test_async_generator_content_cannot_be_read_synchronously() -> None:
    response = heron.Response(200, content=async_chunks(b"a"))
    with pytest.raises(RuntimeError, match="async"):
        response.read()


# Async streaming ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_aread_reads_and_closes() -> None:
    stream = RecordingStream(b"ab", b"c")
    response = heron.Response(200, stream=stream)
    assert await response.aread() == b"abc"
    assert await response.aread() == b"abc"
    assert response.is_closed
    assert stream.closed == 1
    await response.aclose()
    assert stream.closed == 1


@pytest.mark.anyio
async def test_aiter_raw_chunk_sizes() -> None:
    response = heron.Response(200, content=async_chunks(b"ab", b"", b"cdefg", b"h"))
    assert [chunk async for chunk in response.aiter_raw(3)] == [b"abc", b"def", b"gh"]
    assert response.num_bytes_downloaded == 8
    response = heron.Response(200, content=async_chunks(b"ab", b"", b"cdefg", b"h"))
    assert [chunk async for chunk in response.aiter_raw()] == [b"ab", b"cdefg", b"h"]


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 4096])
async def test_aiter_bytes_decodes_gzip(chunk_size: int | None) -> None:
    plain = b"".join(b"line %d\n" % i for i in range(300))
    body = gzip.compress(plain)
    response = heron.Response(
        200, content=async_chunks(*split_every(body, 50)), headers={"Content-Encoding": "gzip"}
    )
    pieces = [chunk async for chunk in response.aiter_bytes(chunk_size)]
    assert b"".join(pieces) == plain
    assert all(pieces)
    if chunk_size is not None:
        assert all(len(piece) == chunk_size for piece in pieces[:-1])
    assert response.num_bytes_downloaded == len(body)


@pytest.mark.anyio
async def test_aiter_bytes_without_content_encoding() -> None:
    response = heron.Response(200, content=async_chunks(b"ab", b"c"))
    assert [chunk async for chunk in response.aiter_bytes(2)] == [b"ab", b"c"]


@pytest.mark.anyio
async def test_aiter_bytes_of_a_read_body() -> None:
    response = heron.Response(200, content=b"abcdefg")
    assert [chunk async for chunk in response.aiter_bytes(3)] == [b"abc", b"def", b"g"]


@pytest.mark.anyio
async def test_aiter_text_and_lines() -> None:
    data = "héllo\r\nwörld\n".encode()
    response = heron.Response(200, content=async_chunks(*split_every(data, 1)))
    assert [text async for text in response.aiter_text(4)] == ["héll", "o\r\nw", "örld", "\n"]
    response = heron.Response(200, content=async_chunks(*split_every(data, 1)))
    assert [line async for line in response.aiter_lines()] == ["héllo", "wörld"]


@pytest.mark.anyio
async def test_aread_decoding_error_carries_the_request() -> None:
    response = heron.Response(
        200,
        content=async_chunks(b"not gzip"),
        headers={"Content-Encoding": "gzip"},
        request=REQUEST,
    )
    with pytest.raises(heron.DecodingError) as info:
        await response.aread()
    assert info.value.request is REQUEST


@pytest.mark.anyio
async def test_async_stream_misuse() -> None:
    response = heron.Response(200, content=async_chunks(b"a", b"b"))
    iterator = response.aiter_raw()
    assert await iterator.__anext__() == b"a"
    with pytest.raises(heron.StreamConsumed):
        await response.aread()
    assert [chunk async for chunk in iterator] == [b"b"]
    response = heron.Response(200, content=async_chunks(b"a"))
    await response.aclose()
    with pytest.raises(heron.StreamClosed):
        await response.aread()


@pytest.mark.anyio
async def test_async_methods_on_a_sync_stream_say_to_use_sync_ones() -> None:
    response = heron.Response(200, stream=SyncOnlyStream())
    hint = r"sync stream .* `response\.read\(\)`, `for chunk in response\.iter_bytes\(\)`"
    with pytest.raises(RuntimeError, match=hint):
        await response.aread()
    with pytest.raises(RuntimeError, match=hint):
        [chunk async for chunk in response.aiter_raw()]
    with pytest.raises(RuntimeError, match=hint):
        [chunk async for chunk in response.aiter_bytes(3)]
    with pytest.raises(RuntimeError, match=hint):
        [chunk async for chunk in response.aiter_text()]
    with pytest.raises(RuntimeError, match=hint):
        [chunk async for chunk in response.aiter_lines()]
    with pytest.raises(RuntimeError, match=r"`response\.close\(\)`"):
        await response.aclose()
    assert not response.is_closed


@pytest.mark.anyio
async def test_aclose_of_a_duck_typed_stream_without_aclose() -> None:
    class Bare:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return async_chunks(b"x")

    response = heron.Response(200, stream=Bare())  # type: ignore[arg-type]
    assert await response.aread() == b"x"
    assert response.is_closed


# Pickling ----------------------------------------------------------------------------------


def test_pickle_of_a_read_response() -> None:
    response = heron.Response(
        200,
        headers={"Set-Cookie": "a=1; Path=/", "Content-Type": "text/plain; charset=latin-1"},
        content=chunks(b"caf\xe9"),
        request=REQUEST,
        history=[heron.Response(301)],
        extensions={"http_version": b"HTTP/2", "network_stream": object()},
    )
    response.read()
    assert dict(response.cookies) == {"a": "1"}
    response.elapsed = datetime.timedelta(seconds=1)
    copy = pickle.loads(pickle.dumps(response))
    assert copy.status_code == 200
    assert copy.headers == response.headers
    assert copy.content == b"caf\xe9"
    assert copy.text == "café"
    assert copy.request.url == REQUEST.url
    assert [r.status_code for r in copy.history] == [301]
    assert copy.extensions == {}
    assert copy.is_closed
    assert copy.is_stream_consumed
    assert copy.num_bytes_downloaded == 4
    assert copy.elapsed == datetime.timedelta(seconds=1)
    assert dict(copy.cookies) == {"a": "1"}
    assert list(copy.iter_bytes()) == [b"caf\xe9"]


def test_pickle_of_an_unread_response() -> None:
    response = heron.Response(200, content=chunks(b"abc"), request=REQUEST)
    copy = pickle.loads(pickle.dumps(response))
    assert isinstance(copy.stream, UnattachedStream)
    assert copy.is_closed
    assert not copy.is_stream_consumed
    with pytest.raises(heron.ResponseNotRead):
        _ = copy.content
    with pytest.raises(heron.StreamClosed):
        copy.read()
    assert repr(copy) == "<Response [200 OK]>"


# Bounded memory ----------------------------------------------------------------------------

# Runs in a fresh interpreter, so the peak resident size it measures is this stream's alone
# and not whatever earlier tests left as the process's high-water mark.
GZIP_BOMB_SCRIPT = textwrap.dedent(
    """
    import resource, sys, zlib
    import heron

    GIB = 1 << 30
    BLOCK = bytes(1 << 20)
    WIRE_CHUNK = 256 << 10

    def gzip_bomb():
        # 1 GiB of zeros, gzip-compressed block by block (run-length matching is the fast
        # way to squeeze zeros): about 1 MiB on the wire, sent in 256 KiB chunks that each
        # inflate to 256 MiB, so a decoder that inflated a chunk at once would blow the limit.
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
        pending = bytearray()
        for _ in range(GIB // len(BLOCK)):
            pending += compressor.compress(BLOCK)
            if len(pending) >= WIRE_CHUNK:
                yield bytes(pending)
                pending.clear()
        yield bytes(pending) + compressor.flush()

    def peak_rss_bytes():
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024

    response = heron.Response(200, stream=gzip_bomb(), headers={"Content-Encoding": "gzip"})
    baseline = peak_rss_bytes()
    total = 0
    largest = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        largest = max(largest, len(chunk))
    print(total, largest, response.num_bytes_downloaded, peak_rss_bytes() - baseline)
    """
)


def test_streamed_gzip_bomb_stays_in_bounded_memory() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", GZIP_BOMB_SCRIPT],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    total, largest, downloaded, extra_rss = map(int, completed.stdout.split())
    assert total == 1 << 30
    assert downloaded < 2 << 20  # the compressed size: about a thousandth
    assert largest <= 1 << 20
    assert extra_rss < 100 << 20, f"resident memory grew by {extra_rss / (1 << 20):.0f} MiB"


# Edge cases --------------------------------------------------------------------------------


def test_chunk_size_must_be_an_int() -> None:
    response = heron.Response(200, content=b"abc")
    with pytest.raises(TypeError, match="chunk_size must be an int or None"):
        next(response.iter_bytes("3"))  # type: ignore[arg-type]


def test_text_is_decoded_once() -> None:
    response = heron.Response(200, content=b"abc")
    assert response.text is response.text


def test_truncated_character_at_the_end_becomes_a_replacement_character() -> None:
    body = "abc€".encode()[:-1]
    assert heron.Response(200, content=body).text == "abc\ufffd"
    response = heron.Response(200, content=chunks(body))
    assert "".join(response.iter_text()) == "abc\ufffd"


@pytest.mark.anyio
async def test_async_text_and_lines_flush_what_is_held_back() -> None:
    body = "abc\ndef€".encode()[:-1]
    response = heron.Response(200, content=async_chunks(body))
    assert [text async for text in response.aiter_text()] == ["abc\ndef", "\ufffd"]
    response = heron.Response(200, content=async_chunks(body))
    assert [line async for line in response.aiter_lines()] == ["abc", "def\ufffd"]


@pytest.mark.anyio
async def test_async_stream_whose_iterator_has_no_aclose() -> None:
    class Iterator_:
        def __init__(self) -> None:
            self.parts = [b"a", b"b"]

        def __aiter__(self) -> Iterator_:
            return self

        async def __anext__(self) -> bytes:
            if not self.parts:
                raise StopAsyncIteration
            return self.parts.pop(0)

    response = heron.Response(200, stream=Iterator_())  # type: ignore[arg-type]
    assert await response.aread() == b"ab"


@pytest.mark.anyio
async def test_closing_an_async_iterator_early_closes_the_stream_iterator() -> None:
    closed: list[bool] = []

    class Body(heron.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                yield b"a\n"
                yield b"b\n"
            finally:
                closed.append(True)

    response = heron.Response(200, stream=Body())
    iterator = response.aiter_lines()
    assert await iterator.__anext__() == "a"
    await iterator.aclose()
    assert closed == [True]
