from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from heron._exceptions import LocalProtocolError, StreamConsumed
from heron._multipart import CHUNK_SIZE, MultipartStream

# The expected bodies below were checked against httpx 0.28.1 run with the same boundary.


def body_of(stream: MultipartStream) -> bytes:
    return b"".join(stream)


class RecordingFile(io.RawIOBase):
    """A seekable binary file over a real file that records the size of every read."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.reads: list[int] = []
        self.name = str(path)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return self._file.read(size)

    def close(self) -> None:
        self._file.close()
        super().close()


class UnseekableFile:
    """A file-like object that can only be read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def test_data_and_file_fields_render_exactly() -> None:
    stream = MultipartStream({"a": "b"}, {"f": b"x"}, boundary=b"BB")
    expected = (
        b'--BB\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="f"; filename="upload"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nx\r\n"
        b"--BB--\r\n"
    )
    assert body_of(stream) == expected
    assert stream.get_headers() == {
        "Content-Length": "173",
        "Content-Type": "multipart/form-data; boundary=BB",
    }
    assert stream.get_content_length() == len(expected)


def test_primitive_data_values_render_as_form_values() -> None:
    data = {"i": 1, "fl": 1.5, "t": True, "f": False, "b": b"by", "s": "é", "n": None}
    stream = MultipartStream(data, {}, boundary=b"BB")
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="i"\r\n\r\n1\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="fl"\r\n\r\n1.5\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="t"\r\n\r\ntrue\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="f"\r\n\r\nfalse\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="b"\r\n\r\nby\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="s"\r\n\r\n\xc3\xa9\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="n"\r\n\r\n\r\n'
        b"--BB--\r\n"
    )


def test_list_and_tuple_values_repeat_the_field() -> None:
    stream = MultipartStream({"l": ["a", 3], "t": ("x",), "e": []}, {}, boundary=b"BB")
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="l"\r\n\r\na\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="l"\r\n\r\n3\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="t"\r\n\r\nx\r\n'
        b"--BB--\r\n"
    )


def test_filename_quotes_and_line_breaks_are_percent_escaped() -> None:
    stream = MultipartStream({}, {"f": ('a"b\\c\r\nd.txt', b"x")}, boundary=b"BB")
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="f"; filename="a%22b\\\\c%0D%0Ad.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--BB--\r\n"
    )


def test_all_control_characters_but_escape_are_percent_escaped_in_names() -> None:
    name = "".join(chr(c) for c in range(0x20))
    stream = MultipartStream({name: "v"}, {}, boundary=b"BB")
    escaped = (
        b"%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F"
        b"%10%11%12%13%14%15%16%17%18%19%1A\x1b%1C%1D%1E%1F"
    )
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="' + escaped + b'"\r\n\r\nv\r\n--BB--\r\n'
    )


def test_non_ascii_names_are_sent_as_utf8() -> None:
    stream = MultipartStream({}, {'a"ü': ("ünï€.txt", b"x")}, boundary=b"BB")
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="a%22\xc3\xbc"; '
        b'filename="\xc3\xbcn\xc3\xaf\xe2\x82\xac.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--BB--\r\n"
    )


@pytest.mark.parametrize(
    ("value", "part_headers"),
    [
        pytest.param(
            ("name.png", b"x"),
            b'name="f"; filename="name.png"\r\nContent-Type: image/png\r\n',
            id="guessed-type",
        ),
        pytest.param(
            ("name.zzqq", b"x"),
            b'name="f"; filename="name.zzqq"\r\nContent-Type: application/octet-stream\r\n',
            id="unknown-type",
        ),
        pytest.param(
            ("/tmp/dir/name.txt", b"x"),
            b'name="f"; filename="/tmp/dir/name.txt"\r\nContent-Type: text/plain\r\n',
            id="filename-as-given",
        ),
        pytest.param((None, b"x"), b'name="f"\r\n', id="no-filename"),
        pytest.param(("", b"x"), b'name="f"\r\n', id="empty-filename"),
        pytest.param(
            ("name.png", b"x", "text/plain"),
            b'name="f"; filename="name.png"\r\nContent-Type: text/plain\r\n',
            id="explicit-type",
        ),
        pytest.param(
            ("name.png", b"x", None),
            b'name="f"; filename="name.png"\r\nContent-Type: image/png\r\n',
            id="none-type-guesses",
        ),
        pytest.param(
            (None, b"x", "text/plain"),
            b'name="f"\r\nContent-Type: text/plain\r\n',
            id="type-without-filename",
        ),
        pytest.param(
            ("name.png", b"x", "text/plain", {"X-A": "b", "Content-Type": "over/ride"}),
            b'name="f"; filename="name.png"\r\nX-A: b\r\nContent-Type: over/ride\r\n',
            id="headers-content-type-wins",
        ),
        pytest.param(
            ("name.png", b"x", None, {"X-\u00dc": "\u00e9"}),
            b'name="f"; filename="name.png"\r\nX-\xc3\x9c: \xc3\xa9\r\nContent-Type: image/png\r\n',
            id="extra-headers-then-type",
        ),
        pytest.param(
            (None, b"x", None, {"X": "y"}),
            b'name="f"\r\nX: y\r\n',
            id="headers-without-filename",
        ),
        pytest.param(
            ("a.txt", memoryview(b"x")),
            b'name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n',
            id="memoryview-content",
        ),
    ],
)
def test_file_tuple_forms(value: Any, part_headers: bytes) -> None:
    stream = MultipartStream({}, {"f": value}, boundary=b"BB")
    expected = b"--BB\r\nContent-Disposition: form-data; " + part_headers + b"\r\nx\r\n--BB--\r\n"
    assert body_of(stream) == expected
    assert stream.get_content_length() == len(expected)


def test_str_file_content_is_sent_as_utf8() -> None:
    stream = MultipartStream({}, {"f": "héllo"}, boundary=b"BB")
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="f"; filename="upload"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nh\xc3\xa9llo\r\n--BB--\r\n"
    )


def test_files_as_a_list_of_pairs_may_repeat_a_name() -> None:
    stream = MultipartStream({}, [("f", b"x"), ("f", b"y")], boundary=b"BB")
    part = b'--BB\r\nContent-Disposition: form-data; name="f"; filename="upload"\r\nContent-Type: application/octet-stream\r\n\r\n'
    assert body_of(stream) == part + b"x\r\n" + part + b"y\r\n--BB--\r\n"


def test_file_objects_are_named_after_their_path(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"a,b\n")
    with open(path, "rb") as file:
        stream = MultipartStream({}, {"f": file}, boundary=b"BB")
        body = body_of(stream)
    assert body == (
        b'--BB\r\nContent-Disposition: form-data; name="f"; filename="report.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\na,b\n\r\n--BB--\r\n"
    )
    assert stream.get_content_length() == len(body)


def test_file_objects_with_bytes_names_are_named_after_their_path(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"x")
    with open(os.fsencode(path), "rb") as file:
        body = body_of(MultipartStream({}, {"f": file}, boundary=b"BB"))
    assert b'filename="report.txt"' in body


def test_file_opened_from_a_descriptor_is_called_upload(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"x")
    with open(os.open(path, os.O_RDONLY), "rb") as file:
        body = body_of(MultipartStream({}, {"f": file}, boundary=b"BB"))
    assert b'filename="upload"' in body


def test_in_memory_file_is_sent_whole_from_its_start() -> None:
    file = io.BytesIO(b"0123456789")
    file.seek(4)
    stream = MultipartStream({}, {"f": file}, boundary=b"BB")
    body = body_of(stream)
    assert body.endswith(b"\r\n\r\n0123456789\r\n--BB--\r\n")
    assert stream.get_content_length() == len(body)


def test_unflushed_writes_count_towards_the_length() -> None:
    with tempfile.TemporaryFile() as file:
        file.write(b"0123456789")  # still in the write buffer: fstat would say 0
        stream = MultipartStream({}, {"f": (None, file)}, boundary=b"BB")
        expected = (
            b'--BB\r\nContent-Disposition: form-data; name="f"\r\n\r\n0123456789\r\n--BB--\r\n'
        )
        assert stream.get_content_length() == len(expected)
        assert body_of(stream) == expected


def test_seekable_file_is_rewound_so_the_body_can_be_sent_again() -> None:
    file = io.BytesIO(b"payload")
    stream = MultipartStream({"a": "b"}, {"f": file}, boundary=b"BB")
    first = body_of(stream)
    assert body_of(stream) == first
    assert b"payload" in first


def test_unseekable_file_is_sent_chunked_and_only_once() -> None:
    file: Any = UnseekableFile(b"abcd")
    stream = MultipartStream({}, {"f": (None, file)}, boundary=b"BB")
    assert stream.get_content_length() is None
    assert stream.get_headers() == {
        "Transfer-Encoding": "chunked",
        "Content-Type": "multipart/form-data; boundary=BB",
    }
    assert body_of(stream) == (
        b'--BB\r\nContent-Disposition: form-data; name="f"\r\n\r\nabcd\r\n--BB--\r\n'
    )
    chunks = iter(stream)
    with pytest.raises(StreamConsumed):
        next(chunks)  # fails before sending a single byte


def test_large_file_is_streamed_in_chunks_without_reading_it_whole(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    path = tmp_path / "big.bin"
    with open(path, "wb") as out:
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(20):
            out.write(block)
    file: Any = RecordingFile(path)
    try:
        stream = MultipartStream({}, {"f": file}, boundary=b"BB")
        assert file.reads == []  # measuring the size reads nothing
        total = 0
        largest = 0
        for chunk in stream:
            total += len(chunk)
            largest = max(largest, len(chunk))
        assert stream.get_content_length() == total
        assert total > size
        assert largest <= CHUNK_SIZE
        assert file.reads
        assert all(0 < read <= CHUNK_SIZE for read in file.reads)
        assert sum(file.reads) == size
    finally:
        file.close()


def test_large_bytes_content_is_yielded_without_a_copy() -> None:
    big = b"z" * (CHUNK_SIZE + 1)
    stream = MultipartStream({"a": "b"}, {"f": (None, big)}, boundary=b"BB")
    chunks = list(stream)
    assert any(chunk is big for chunk in chunks)
    assert stream.get_content_length() == sum(len(chunk) for chunk in chunks)


def test_file_that_shrinks_after_measuring_ends_the_body_early() -> None:
    file = io.BytesIO(b"0123456789")
    stream = MultipartStream({}, {"f": (None, file)}, boundary=b"BB")
    file.truncate(3)
    body = body_of(stream)
    assert body == b'--BB\r\nContent-Disposition: form-data; name="f"\r\n\r\n012\r\n--BB--\r\n'
    assert stream.get_content_length() == len(body) + 7


def test_file_that_grows_after_measuring_sends_only_the_measured_bytes() -> None:
    file = io.BytesIO(b"0123")
    stream = MultipartStream({}, {"f": (None, file)}, boundary=b"BB")
    file.seek(0, os.SEEK_END)
    file.write(b"4567")
    body = body_of(stream)
    assert body == b'--BB\r\nContent-Disposition: form-data; name="f"\r\n\r\n0123\r\n--BB--\r\n'
    assert stream.get_content_length() == len(body)


def test_random_boundary_is_32_hex_characters_and_unique() -> None:
    first = MultipartStream({"a": "b"}, {})
    second = MultipartStream({"a": "b"}, {})
    assert len(first.boundary) == 32
    int(first.boundary, 16)
    assert first.boundary != second.boundary
    content_type = first.get_headers()["Content-Type"]
    assert content_type == "multipart/form-data; boundary=" + first.boundary.decode()
    assert body_of(first).startswith(b"--" + first.boundary + b"\r\n")


@pytest.mark.anyio
async def test_async_iteration_gives_the_same_bytes() -> None:
    file = io.BytesIO(b"x" * (CHUNK_SIZE * 2 + 5))
    stream = MultipartStream({"a": "b"}, {"f": file}, boundary=b"BB")
    async_body = b"".join([chunk async for chunk in stream])
    assert async_body == body_of(stream)
    assert len(async_body) == stream.get_content_length()


def test_text_mode_file_is_refused() -> None:
    with (
        tempfile.TemporaryFile("w+") as file,
        pytest.raises(TypeError, match="text mode: open it with mode 'rb'"),
    ):
        MultipartStream({}, {"f": file})  # type: ignore[dict-item]


def test_string_io_is_refused() -> None:
    with pytest.raises(TypeError, match=r"io\.BytesIO instead of io\.StringIO"):
        MultipartStream({}, {"f": ("a.txt", io.StringIO("x"))})  # type: ignore[dict-item]


def test_file_like_object_returning_text_is_refused_when_read() -> None:
    class TextReader:
        def read(self, size: int = -1) -> str:
            return "text"

    stream = MultipartStream({}, {"f": TextReader()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="Body chunks must be bytes, got str"):
        body_of(stream)


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        pytest.param(
            {}, {"f": 123}, "Invalid file for multipart field 'f'.*got int", id="int-file"
        ),
        pytest.param({}, {"f": [b"x"]}, "Invalid file for multipart field 'f'", id="list-file"),
        pytest.param({}, {"f": ("a",)}, "got 1 items", id="short-tuple"),
        pytest.param({}, {"f": ("a", b"", None, {}, 1)}, "got 5 items", id="long-tuple"),
        pytest.param(
            {}, {"f": (Path("a.txt"), b"")}, "filename .* must be str or None", id="path-filename"
        ),
        pytest.param({}, {1: b""}, "field names must be str, got int", id="int-file-name"),
        pytest.param({1: "x"}, {}, "field names must be str, got int", id="int-data-name"),
        pytest.param(
            {"o": {}}, {}, "Invalid value for multipart field 'o'.*got dict", id="dict-value"
        ),
        pytest.param(
            {"o": [["x"]]}, {}, "Invalid value for multipart field 'o'.*got list", id="nested-list"
        ),
        pytest.param(
            {"o": object()}, {}, "Invalid value for multipart field 'o'", id="object-value"
        ),
        pytest.param({}, [b"f"], "sequence of \\(name, file\\) pairs", id="not-a-pair"),
        pytest.param({}, [("f", b"", 1)], "sequence of \\(name, file\\) pairs", id="triple"),
        pytest.param(
            {}, {"f": ("a", b"", None, {"X": 1})}, "must be str, got int", id="header-value"
        ),
        pytest.param(
            {}, {"f": ("a", b"", None, {1: "x"})}, "must be str, got int", id="header-name"
        ),
        pytest.param(
            {}, {"f": ("a", b"", None, [("X", "y")])}, "must be a mapping", id="header-list"
        ),
        pytest.param({}, {"f": ("a", b"", 1)}, "must be str, got int", id="content-type-int"),
    ],
)
def test_wrong_types_raise_type_errors_naming_the_field(
    data: Any, files: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        MultipartStream(data, files)


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"f": ("a", b"", None, {"X": "a\r\nY: b"})}, id="header-value"),
        pytest.param({"f": ("a", b"", None, {"X\n": "a"})}, id="header-name"),
        pytest.param({"f": ("a", b"", "text/plain\r\nX: y")}, id="content-type"),
        pytest.param({"f": ("a", b"", "text/plain\0")}, id="nul"),
    ],
)
def test_line_breaks_in_part_headers_are_refused(files: Any) -> None:
    with pytest.raises(LocalProtocolError, match="must not contain CR, LF or NUL"):
        MultipartStream({}, files)


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        pytest.param({"\ud800": "x"}, {}, "Multipart field name", id="data-name"),
        pytest.param({"a": "\ud800"}, {}, "Multipart field 'a'", id="data-value"),
        pytest.param({}, {"f": "\ud800"}, "content of multipart file field 'f'", id="file"),
        pytest.param({}, {"f": ("\ud800", b"")}, "headers of multipart file field", id="name"),
    ],
)
def test_lone_surrogates_raise_value_errors(data: Any, files: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        MultipartStream(data, files)
    assert not isinstance(info.value, UnicodeError)


def test_multipart_stream_says_whether_it_can_be_sent_again() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"piped")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        stream = MultipartStream(data={}, files={"f": ("f.txt", pipe)}, boundary=b"b")
        assert stream.is_replayable
        list(stream)
        assert not stream.is_replayable
    seekable = MultipartStream(data={}, files={"f": ("f.txt", io.BytesIO(b"x"))}, boundary=b"b")
    list(seekable)
    assert seekable.is_replayable
