from __future__ import annotations

import io
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from heron._content import (
    AsyncIteratorByteStream,
    IteratorByteStream,
    UnattachedStream,
    encode_request,
    encode_response,
)
from heron._exceptions import StreamClosed, StreamConsumed
from heron._multipart import CHUNK_SIZE, MultipartStream
from heron._streams import AsyncByteStream, ByteStream, SyncByteStream


def chunks_of(stream: SyncByteStream | AsyncByteStream) -> list[bytes]:
    assert isinstance(stream, SyncByteStream)
    return list(stream)


def read(stream: SyncByteStream | AsyncByteStream) -> bytes:
    return b"".join(chunks_of(stream))


async def aread(stream: SyncByteStream | AsyncByteStream) -> bytes:
    assert isinstance(stream, AsyncByteStream)
    return b"".join([chunk async for chunk in stream])


def generate(*chunks: Any) -> Iterator[Any]:
    yield from chunks


async def agenerate(*chunks: Any) -> AsyncIterator[Any]:
    for chunk in chunks:
        yield chunk


class ReplayableAsyncIterable:
    """An async iterable that hands out a fresh iterator every time, like a list does."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return agenerate(b"a", b"b")


class PipeLikeFile:
    """A binary file-like object that cannot seek, like a pipe; iterable, as files are."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self._buffer.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._buffer)


# No body


def test_no_body_gives_no_headers_and_an_empty_stream() -> None:
    headers, stream = encode_request()
    assert headers == {}
    assert read(stream) == b""


@pytest.mark.anyio
async def test_empty_stream_is_also_async() -> None:
    _, stream = encode_request()
    assert await aread(stream) == b""


def test_empty_headers_are_a_fresh_dict_each_time() -> None:
    first, _ = encode_request()
    first["X"] = "y"
    assert encode_request()[0] == {}


# content=


@pytest.mark.parametrize(
    ("content", "body"),
    [
        pytest.param(b"abc", b"abc", id="bytes"),
        pytest.param("héllo", b"h\xc3\xa9llo", id="str"),
        pytest.param(bytearray(b"ab"), b"ab", id="bytearray"),
        pytest.param(memoryview(b"ab"), b"ab", id="memoryview"),
    ],
)
def test_content_in_memory_has_a_content_length(content: Any, body: bytes) -> None:
    headers, stream = encode_request(content=content)
    assert headers == {"Content-Length": str(len(body))}
    assert isinstance(stream, ByteStream)
    assert read(stream) == body


@pytest.mark.parametrize("content", [b"", ""])
def test_empty_content_sets_no_headers(content: bytes | str) -> None:
    headers, stream = encode_request(content=content)
    assert headers == {}
    assert read(stream) == b""


def test_content_list_is_chunked_and_can_be_replayed() -> None:
    headers, stream = encode_request(content=[b"a", b"b"])
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, IteratorByteStream)
    assert chunks_of(stream) == [b"a", b"b"]
    assert chunks_of(stream) == [b"a", b"b"]


@pytest.mark.parametrize(
    "make", [lambda: generate(b"a", b"b"), lambda: iter([b"a", b"b"])], ids=["gen", "iter"]
)
def test_content_iterator_can_be_read_only_once(make: Any) -> None:
    headers, stream = encode_request(content=make())
    assert headers == {"Transfer-Encoding": "chunked"}
    assert chunks_of(stream) == [b"a", b"b"]
    with pytest.raises(StreamConsumed):
        chunks_of(stream)


def test_bytes_like_chunks_are_converted_to_bytes() -> None:
    _, stream = encode_request(content=generate(bytearray(b"a"), memoryview(b"b")))
    chunks = chunks_of(stream)
    assert chunks == [b"a", b"b"]
    assert all(type(chunk) is bytes for chunk in chunks)


def test_iterator_of_str_raises_a_type_error_about_chunks() -> None:
    _, stream = encode_request(content=generate("a"))
    with pytest.raises(TypeError, match="Body chunks must be bytes, got str"):
        chunks_of(stream)


def test_sync_stream_refuses_async_iteration_with_a_runtime_error() -> None:
    stream = IteratorByteStream([b"a"])
    with pytest.raises(RuntimeError, match="pass an async iterable"):
        stream.__aiter__()


@pytest.mark.anyio
async def test_content_async_generator_is_chunked_and_one_shot() -> None:
    headers, stream = encode_request(content=agenerate(b"a", b"b"))
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, AsyncIteratorByteStream)
    assert await aread(stream) == b"ab"
    with pytest.raises(StreamConsumed):
        await aread(stream)


@pytest.mark.anyio
async def test_content_async_iterable_can_be_replayed() -> None:
    _, stream = encode_request(content=ReplayableAsyncIterable())
    assert await aread(stream) == b"ab"
    assert await aread(stream) == b"ab"


class TwoChunks:
    """A hand-written async iterator: it has no aclose() method."""

    def __init__(self) -> None:
        self._chunks = [b"a", b"b"]

    def __aiter__(self) -> TwoChunks:
        return self

    async def __anext__(self) -> bytes:
        if not self._chunks:
            raise StopAsyncIteration
        return self._chunks.pop(0)


@pytest.mark.anyio
async def test_content_async_iterator_without_aclose_is_one_shot() -> None:
    _, stream = encode_request(content=TwoChunks())
    assert await aread(stream) == b"ab"
    with pytest.raises(StreamConsumed):
        await aread(stream)


@pytest.mark.anyio
async def test_stopping_early_finishes_the_async_generator() -> None:
    finished = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            finished.append(True)

    _, stream = encode_request(content=body())
    assert isinstance(stream, AsyncIteratorByteStream)
    chunks = stream.__aiter__()
    assert await chunks.__anext__() == b"a"
    await chunks.aclose()  # type: ignore[attr-defined]
    assert finished == [True]


@pytest.mark.anyio
async def test_async_iterator_of_str_raises_a_type_error_about_chunks() -> None:
    _, stream = encode_request(content=agenerate(b"a", "b"))
    with pytest.raises(TypeError, match="Body chunks must be bytes, got str"):
        await aread(stream)


def test_async_stream_refuses_sync_iteration_with_a_runtime_error() -> None:
    stream = AsyncIteratorByteStream(agenerate(b"a"))
    with pytest.raises(RuntimeError, match="pass bytes or a sync iterable"):
        iter(stream)


def test_content_that_is_already_a_stream_is_sent_as_it_is() -> None:
    original = ByteStream(b"ab")
    headers, stream = encode_request(content=original)
    assert headers == {"Transfer-Encoding": "chunked"}
    assert stream is original


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(123, "Unexpected type for 'content', int. Pass bytes, str", id="int"),
        pytest.param(None.__class__, "Unexpected type for 'content', type", id="type"),
        pytest.param({"a": 1}, "To send JSON pass json=", id="dict"),
        pytest.param(io.StringIO("x"), "open it with mode 'rb'", id="stringio"),
    ],
)
def test_content_of_the_wrong_type_raises_type_error(content: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_request(content=content)


def test_content_text_with_a_lone_surrogate_raises_value_error() -> None:
    with pytest.raises(ValueError, match="content= text cannot be encoded as UTF-8") as info:
        encode_request(content="a\ud800")
    assert not isinstance(info.value, UnicodeError)


# content=<binary file>


def test_content_file_has_a_content_length_and_is_read_in_chunks() -> None:
    file = io.BytesIO(b"x" * 100_000)
    headers, stream = encode_request(content=file)
    assert headers == {"Content-Length": "100000"}
    assert [len(chunk) for chunk in chunks_of(stream)] == [CHUNK_SIZE, 100_000 - CHUNK_SIZE]


def test_content_file_is_sent_from_its_position_and_rewound_to_it() -> None:
    file = io.BytesIO(b"0123456789")
    file.seek(3)
    headers, stream = encode_request(content=file)
    assert headers == {"Content-Length": "7"}
    assert read(stream) == b"3456789"
    assert read(stream) == b"3456789"


def test_empty_content_file_states_a_zero_length() -> None:
    headers, stream = encode_request(content=io.BytesIO())
    assert headers == {"Content-Length": "0"}
    assert read(stream) == b""


def test_content_file_on_disk_counts_unflushed_writes() -> None:
    with tempfile.TemporaryFile() as file:
        file.write(b"hello\nworld\n")
        file.seek(0)
        file.write(b"H")  # buffered, not yet on disk
        file.seek(0)
        headers, stream = encode_request(content=file)
        assert headers == {"Content-Length": "12"}
        assert read(stream) == b"Hello\nworld\n"


def test_unseekable_content_file_is_chunked_and_one_shot() -> None:
    file = PipeLikeFile(b"abc")
    headers, stream = encode_request(content=file)
    assert headers == {"Transfer-Encoding": "chunked"}
    assert read(stream) == b"abc"
    assert file.reads == [CHUNK_SIZE, CHUNK_SIZE]
    with pytest.raises(StreamConsumed):
        read(stream)


def test_text_file_object_is_refused() -> None:
    with (
        tempfile.TemporaryFile("w+") as file,
        pytest.raises(TypeError, match="open it with mode 'rb'"),
    ):
        encode_request(content=file)  # type: ignore[arg-type]


# data=


def test_data_mapping_is_urlencoded() -> None:
    data: dict[Any, Any] = {
        "a": "b c",
        "l": [1, 2],
        "tu": (3,),
        "t": True,
        "f": False,
        "n": None,
        "fl": 1.5,
        "u": "é&=",
        1: "int key",
        "by": b"\xff raw",
        "ba": bytearray(b"x"),
        "e": [],
    }
    headers, stream = encode_request(data=data)
    body = b"a=b+c&l=1&l=2&tu=3&t=true&f=false&n=&fl=1.5&u=%C3%A9%26%3D&1=int+key&by=%FF+raw&ba=x"
    assert headers == {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert read(stream) == body


def test_data_escapes_everything_but_unreserved_characters() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x7F))
    _, stream = encode_request(data={"k": text})
    assert read(stream) == (
        b"k=+%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40"
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~"
    )


def test_data_other_objects_are_sent_as_their_str() -> None:
    class Token:
        def __str__(self) -> str:
            return "tok en"

    _, stream = encode_request(data={"t": Token()})
    assert read(stream) == b"t=tok+en"


def test_data_with_only_empty_lists_is_an_empty_form() -> None:
    headers, stream = encode_request(data={"a": []})
    assert headers == {
        "Content-Length": "0",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert read(stream) == b""


def test_data_with_a_lone_surrogate_raises_value_error() -> None:
    with pytest.raises(ValueError, match="data= form cannot be encoded as UTF-8") as info:
        encode_request(data={"a": "\udcff"})
    assert not isinstance(info.value, UnicodeError)


def test_empty_data_mapping_is_no_body() -> None:
    assert encode_request(data={})[0] == {}


@pytest.mark.parametrize("data", [b"raw", "raw", [b"r", b"aw"]])
def test_raw_data_is_deprecated_and_sent_as_content(data: Any) -> None:
    with pytest.warns(DeprecationWarning, match=r"Use 'content=<\.\.\.>' to upload raw") as record:
        _, stream = encode_request(data=data)
    assert read(stream) == b"raw"
    # The warning points at the caller, not at heron's internals.
    assert record[0].filename == __file__


def test_raw_data_takes_precedence_over_content() -> None:
    with pytest.warns(DeprecationWarning, match="Use 'content="):
        headers, stream = encode_request(data=b"x", content=b"yy")  # type: ignore[arg-type]
    assert headers == {"Content-Length": "1"}
    assert read(stream) == b"x"


# files=


def test_files_give_a_multipart_body_with_the_data_fields() -> None:
    headers, stream = encode_request(data={"a": "b"}, files={"f": b"x"}, boundary=b"BB")
    body = (
        b'--BB\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="f"; filename="upload"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nx\r\n--BB--\r\n"
    )
    assert headers == {
        "Content-Length": str(len(body)),
        "Content-Type": "multipart/form-data; boundary=BB",
    }
    assert isinstance(stream, MultipartStream)
    assert read(stream) == body


def test_files_without_boundary_get_a_random_one() -> None:
    headers, stream = encode_request(files={"f": b"x"})
    assert isinstance(stream, MultipartStream)
    assert headers["Content-Type"].endswith("boundary=" + stream.boundary.decode())


def test_empty_files_fall_back_to_a_urlencoded_form() -> None:
    headers, stream = encode_request(data={"a": "b"}, files={})
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert read(stream) == b"a=b"


# json=


def test_json_is_compact_utf8() -> None:
    headers, stream = encode_request(json={"a": "é", "b": [1, 2.5, None, True], "c": "\u2028"})
    body = b'{"a":"\xc3\xa9","b":[1,2.5,null,true],"c":"\xe2\x80\xa8"}'
    assert headers == {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    assert read(stream) == body


@pytest.mark.parametrize(("value", "body"), [(False, b"false"), (0, b"0"), ([], b"[]")])
def test_falsy_json_values_are_still_sent(value: Any, body: bytes) -> None:
    assert read(encode_request(json=value)[1]) == body


def test_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="Out of range float values"):
        encode_request(json={"a": float("nan")})


def test_json_with_a_lone_surrogate_raises_value_error() -> None:
    with pytest.raises(ValueError, match="json= body cannot be encoded as UTF-8"):
        encode_request(json="\ud800")


def test_json_with_an_unserializable_value_raises_type_error() -> None:
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        encode_request(json=b"x")


# Which argument wins


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        pytest.param({"content": b"c", "data": {"a": "b"}, "json": 1}, b"c", id="content"),
        pytest.param({"content": b"", "json": 1}, b"", id="empty-content"),
        pytest.param({"data": {"a": "b"}, "json": 1}, b"a=b", id="data-over-json"),
        pytest.param({"data": {}, "json": 1}, b"1", id="empty-data-then-json"),
        pytest.param({"files": {}, "json": 1}, b"1", id="empty-files-then-json"),
    ],
)
def test_the_first_body_argument_wins(kwargs: dict[str, Any], body: bytes) -> None:
    assert read(encode_request(**kwargs)[1]) == body


# Responses


@pytest.mark.parametrize(
    ("kwargs", "headers", "body"),
    [
        pytest.param({}, {}, b"", id="nothing"),
        pytest.param({"content": b""}, {}, b"", id="empty-content"),
        pytest.param({"content": b"ab"}, {"Content-Length": "2"}, b"ab", id="content"),
        pytest.param(
            {"text": "é"},
            {"Content-Length": "2", "Content-Type": "text/plain; charset=utf-8"},
            b"\xc3\xa9",
            id="text",
        ),
        pytest.param(
            {"text": ""},
            {"Content-Length": "0", "Content-Type": "text/plain; charset=utf-8"},
            b"",
            id="empty-text",
        ),
        pytest.param(
            {"html": "<p>"},
            {"Content-Length": "3", "Content-Type": "text/html; charset=utf-8"},
            b"<p>",
            id="html",
        ),
        pytest.param(
            {"json": {"a": "é"}},
            {"Content-Length": "10", "Content-Type": "application/json"},
            b'{"a":"\xc3\xa9"}',
            id="json",
        ),
        pytest.param(
            {"content": "x", "text": "y", "html": "z", "json": 1},
            {"Content-Length": "1"},
            b"x",
            id="content-wins",
        ),
        pytest.param(
            {"text": "y", "html": "z", "json": 1},
            {"Content-Length": "1", "Content-Type": "text/plain; charset=utf-8"},
            b"y",
            id="text-wins",
        ),
        pytest.param(
            {"html": "z", "json": 1},
            {"Content-Length": "1", "Content-Type": "text/html; charset=utf-8"},
            b"z",
            id="html-wins",
        ),
    ],
)
def test_response_bodies(kwargs: dict[str, Any], headers: dict[str, str], body: bytes) -> None:
    got_headers, stream = encode_response(**kwargs)
    assert got_headers == headers
    assert read(stream) == body


def test_response_content_generator_is_chunked() -> None:
    headers, stream = encode_response(content=generate(b"a"))
    assert headers == {"Transfer-Encoding": "chunked"}
    assert read(stream) == b"a"


@pytest.mark.parametrize("argument", ["text", "html"])
def test_response_text_must_be_str(argument: str) -> None:
    with pytest.raises(TypeError, match=f"{argument}= must be str, got bytes"):
        encode_response(**{argument: b"x"})  # type: ignore[arg-type]


def test_response_text_with_a_lone_surrogate_raises_value_error() -> None:
    with pytest.raises(ValueError, match="text= text cannot be encoded"):
        encode_response(text="\ud800")


# Unpickled bodies


def test_unattached_stream_raises_stream_closed() -> None:
    stream = UnattachedStream()
    with pytest.raises(StreamClosed):
        iter(stream)


@pytest.mark.anyio
async def test_unattached_stream_raises_stream_closed_in_async_code() -> None:
    stream = UnattachedStream()
    with pytest.raises(StreamClosed):
        stream.__aiter__()


def test_no_warning_for_mapping_data() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encode_request(data={"a": "b"})
