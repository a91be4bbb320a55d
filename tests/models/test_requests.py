from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Iterator

import pytest

import heron
from heron._content import UnattachedStream


def body_chunks() -> Iterator[bytes]:
    yield b"Hello, "
    yield b"world!"


async def async_body_chunks() -> AsyncIterator[bytes]:
    yield b"Hello, "
    yield b"world!"


# Method ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("GET", "GET"),
        ("get", "GET"),
        ("Post", "POST"),
        (b"delete", "DELETE"),
        ("propfind", "PROPFIND"),
        ("M-SEARCH", "M-SEARCH"),
        (b"x~custom!", "X~CUSTOM!"),
    ],
)
def test_method_is_upper_cased_from_str_or_bytes(given: str | bytes, expected: str) -> None:
    assert heron.Request(given, "https://example.org/").method == expected


@pytest.mark.parametrize("method", ["GE T", "GET\r\n", "GE\nT", "", "GET/1", b"G\xffT", "(GET)"])
def test_method_that_is_not_a_token_is_refused(method: str | bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="Invalid HTTP method") as info:
        heron.Request(method, "https://example.org/")
    assert "RFC 9110" in str(info.value)


def test_method_of_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str or bytes"):
        heron.Request(1, "https://example.org/")  # type: ignore[arg-type]


# URL and params ----------------------------------------------------------------------------


def test_url_is_parsed_from_str_and_kept_when_a_url() -> None:
    url = heron.URL("https://example.org/path")
    assert heron.Request("GET", url).url is url
    assert heron.Request("GET", "https://example.org/path").url == url


def test_params_replace_the_query_string() -> None:
    request = heron.Request("GET", "https://example.org/?a=1", params={"b": 2})
    assert request.url == "https://example.org/?b=2"


def test_empty_params_clear_the_query_string() -> None:
    assert (
        heron.Request("GET", "https://example.org/?a=1", params={}).url == "https://example.org/"
    )


def test_no_params_keep_the_query_string() -> None:
    assert heron.Request("GET", "https://example.org/?a=1").url == "https://example.org/?a=1"


def test_url_of_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        heron.Request("GET", 1)  # type: ignore[arg-type]


# Headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://example.org/", "example.org"),
        ("https://example.org:443/", "example.org"),
        ("http://example.org:80/", "example.org"),
        ("http://example.org:8080/", "example.org:8080"),
        ("https://user:secret@example.org/", "example.org"),
        ("http://[::1]/", "[::1]"),
        ("http://[::1]:8000/", "[::1]:8000"),
        ("https://münchen.de/", "xn--mnchen-3ya.de"),
    ],
)
def test_host_header_comes_from_the_url(url: str, host: str) -> None:
    request = heron.Request("GET", url)
    assert request.headers.raw == [(b"Host", host.encode())]


def test_host_header_goes_first() -> None:
    request = heron.Request("GET", "https://example.org/", headers={"Accept": "*/*", "X-A": "1"})
    assert request.headers.raw == [(b"Host", b"example.org"), (b"Accept", b"*/*"), (b"X-A", b"1")]


def test_user_host_header_is_kept() -> None:
    request = heron.Request("GET", "https://example.org/", headers={"host": "other.example"})
    assert request.headers.raw == [(b"host", b"other.example")]


def test_relative_url_gets_no_host_header() -> None:
    assert heron.Request("GET", "/path").headers.raw == []


def test_headers_are_copied() -> None:
    headers = heron.Headers({"X-A": "1"})
    request = heron.Request("GET", "https://example.org/", headers=headers)
    assert request.headers is not headers
    assert "host" not in headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_bodiless_post_put_patch_send_content_length_zero(method: str) -> None:
    request = heron.Request(method, "https://example.org/")
    assert request.headers["Content-Length"] == "0"
    assert request.content == b""


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"])
def test_bodiless_other_methods_send_no_framing_headers(method: str) -> None:
    request = heron.Request(method, "https://example.org/")
    assert request.headers.raw == [(b"Host", b"example.org")]
    assert request.content == b""


def test_empty_bytes_body_on_get_sends_no_content_length() -> None:
    request = heron.Request("GET", "https://example.org/", content=b"")
    assert "content-length" not in request.headers


def test_post_with_user_transfer_encoding_gets_no_content_length() -> None:
    request = heron.Request(
        "POST", "https://example.org/", headers={"Transfer-Encoding": "chunked"}
    )
    assert "content-length" not in request.headers


def test_bytes_content_sets_content_length_after_user_headers() -> None:
    request = heron.Request("POST", "https://example.org/", content=b"abc", headers={"X": "1"})
    assert request.headers.raw == [
        (b"Host", b"example.org"),
        (b"X", b"1"),
        (b"Content-Length", b"3"),
    ]
    assert request.content == b"abc"


def test_str_content_is_utf8() -> None:
    request = heron.Request("POST", "https://example.org/", content="é")
    assert request.content == b"\xc3\xa9"
    assert request.headers["Content-Length"] == "2"


def test_iterator_content_is_chunked_and_streaming() -> None:
    request = heron.Request("POST", "https://example.org/", content=body_chunks())
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "content-length" not in request.headers
    with pytest.raises(heron.RequestNotRead, match=r"request\.read\(\)"):
        _ = request.content


def test_user_content_length_replaces_chunked_framing() -> None:
    request = heron.Request(
        "POST", "https://example.org/", content=body_chunks(), headers={"Content-Length": "13"}
    )
    assert request.headers["Content-Length"] == "13"
    assert "transfer-encoding" not in request.headers


def test_user_transfer_encoding_replaces_content_length() -> None:
    request = heron.Request(
        "POST", "https://example.org/", content=b"abc", headers={"Transfer-Encoding": "chunked"}
    )
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "content-length" not in request.headers


def test_user_content_length_is_never_overwritten() -> None:
    request = heron.Request(
        "POST", "https://example.org/", content=b"abc", headers={"content-length": "3"}
    )
    assert request.headers.raw == [(b"Host", b"example.org"), (b"content-length", b"3")]


def test_json_body_is_compact_with_content_type() -> None:
    request = heron.Request("POST", "https://example.org/", json={"a": [1, 2]})
    assert request.content == b'{"a":[1,2]}'
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Length"] == "11"


def test_form_body_is_urlencoded() -> None:
    request = heron.Request("POST", "https://example.org/", data={"a": "b c"})
    assert request.content == b"a=b+c"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_user_content_type_is_kept() -> None:
    request = heron.Request(
        "POST", "https://example.org/", json=[1], headers={"Content-Type": "application/x+json"}
    )
    assert request.headers["Content-Type"] == "application/x+json"


def test_files_are_multipart_with_a_generated_boundary() -> None:
    request = heron.Request("POST", "https://example.org/", files={"f": b"data"})
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1]
    body = request.read()
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert request.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/form-data; boundary=abc123", "abc123"),
        ('multipart/form-data; boundary="with space"', "with space"),
        ("Multipart/Form-Data; charset=utf-8; Boundary=XyZ", "XyZ"),
    ],
)
def test_boundary_in_user_content_type_is_honoured(content_type: str, boundary: str) -> None:
    request = heron.Request(
        "POST",
        "https://example.org/",
        files={"f": b"data"},
        headers={"Content-Type": content_type},
    )
    assert request.headers["Content-Type"] == content_type
    body = request.read()
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())


def test_multipart_content_type_without_boundary_gets_one_added() -> None:
    request = heron.Request(
        "POST",
        "https://example.org/",
        files={"f": b"data"},
        headers={"Content-Type": "multipart/form-data"},
    )
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert request.read().startswith(f"--{boundary}\r\n".encode())


def test_boundary_param_of_another_content_type_is_ignored() -> None:
    request = heron.Request(
        "POST",
        "https://example.org/",
        files={"f": b"data"},
        headers={"Content-Type": "text/plain; boundary=abc"},
    )
    assert not request.read().startswith(b"--abc\r\n")


def test_cookies_become_a_cookie_header_before_body_headers() -> None:
    request = heron.Request(
        "POST", "https://example.org/", content=b"abc", headers={"X": "1"}, cookies={"a": "b"}
    )
    assert request.headers.raw == [
        (b"Host", b"example.org"),
        (b"X", b"1"),
        (b"Cookie", b"a=b"),
        (b"Content-Length", b"3"),
    ]


def test_explicit_stream_gets_host_but_no_body_headers() -> None:
    stream = heron.ByteStream(b"abc")
    request = heron.Request("POST", "https://example.org/", stream=stream, content=b"ignored")
    assert request.stream is stream
    assert request.headers.raw == [(b"Host", b"example.org")]
    with pytest.raises(heron.RequestNotRead):
        _ = request.content
    assert request.read() == b"abc"


# Extensions --------------------------------------------------------------------------------


def test_extensions_default_to_an_empty_dict() -> None:
    assert heron.Request("GET", "https://example.org/").extensions == {}


def test_extensions_are_copied() -> None:
    given = {"timeout": {"connect": 1.0}}
    request = heron.Request("GET", "https://example.org/", extensions=given)
    assert request.extensions == given
    assert request.extensions is not given


# Reading -----------------------------------------------------------------------------------


def test_read_buffers_a_streaming_body_and_makes_it_replayable() -> None:
    request = heron.Request("POST", "https://example.org/", content=body_chunks())
    assert request.read() == b"Hello, world!"
    assert request.content == b"Hello, world!"
    assert isinstance(request.stream, heron.ByteStream)
    assert b"".join(request.stream) == b"Hello, world!"
    assert b"".join(request.stream) == b"Hello, world!"
    assert request.read() == b"Hello, world!"


def test_read_of_an_async_only_body_says_to_use_aread() -> None:
    request = heron.Request("POST", "https://example.org/", content=async_body_chunks())
    with pytest.raises(RuntimeError, match=r"await request\.aread\(\)"):
        request.read()


@pytest.mark.anyio
async def test_aread_buffers_an_async_body() -> None:
    request = heron.Request("POST", "https://example.org/", content=async_body_chunks())
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert await request.aread() == b"Hello, world!"
    assert request.content == b"Hello, world!"
    assert await request.aread() == b"Hello, world!"
    assert [chunk async for chunk in request.stream] == [b"Hello, world!"]  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_aread_of_a_sync_only_body_says_to_use_read() -> None:
    request = heron.Request("POST", "https://example.org/", content=body_chunks())
    with pytest.raises(RuntimeError, match=r"request\.read\(\)"):
        await request.aread()


@pytest.mark.anyio
async def test_aread_of_an_in_memory_body_needs_no_stream() -> None:
    request = heron.Request("POST", "https://example.org/", content=b"abc")
    assert await request.aread() == b"abc"


def test_read_of_a_consumed_one_shot_body_raises_stream_consumed() -> None:
    request = heron.Request("POST", "https://example.org/", content=body_chunks())
    assert b"".join(request.stream) == b"Hello, world!"  # type: ignore[arg-type]
    with pytest.raises(heron.StreamConsumed):
        request.read()


# Repr and pickling -------------------------------------------------------------------------


def test_repr_shows_method_and_url() -> None:
    request = heron.Request("GET", "https://example.org/path?q=1#frag")
    assert repr(request) == "<Request('GET', 'https://example.org/path?q=1#frag')>"


def test_repr_hides_the_password() -> None:
    request = heron.Request("GET", "https://user:hunter2@example.org/")
    assert repr(request) == "<Request('GET', 'https://user:[secure]@example.org/')>"
    assert "hunter2" not in repr(request)


def test_repr_keeps_a_username_without_password() -> None:
    request = heron.Request("GET", "https://user@example.org/")
    assert repr(request) == "<Request('GET', 'https://user@example.org/')>"


def test_pickle_keeps_a_read_body_sendable() -> None:
    request = heron.Request(
        "POST", "https://example.org/", content=b"abc", extensions={"trace": print}
    )
    copy = pickle.loads(pickle.dumps(request))
    assert copy.method == "POST"
    assert copy.url == request.url
    assert copy.headers == request.headers
    assert copy.content == b"abc"
    assert b"".join(copy.stream) == b"abc"
    assert copy.extensions == {}


def test_pickle_of_an_unread_body_leaves_a_closed_stream() -> None:
    request = heron.Request("POST", "https://example.org/", content=body_chunks())
    copy = pickle.loads(pickle.dumps(request))
    assert isinstance(copy.stream, UnattachedStream)
    assert copy.headers["Transfer-Encoding"] == "chunked"
    with pytest.raises(heron.RequestNotRead):
        _ = copy.content
    with pytest.raises(heron.StreamClosed):
        copy.read()


def test_requests_accept_weak_references() -> None:
    import weakref

    request = heron.Request("GET", "https://example.org/")
    assert weakref.ref(request)() is request
