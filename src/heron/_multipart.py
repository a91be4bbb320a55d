"""The ``multipart/form-data`` encoder behind ``files=``, and chunked reading of binary files.

Fields are rendered once, when the request is built, into a few framing ``bytes`` with the file
bodies between them; files are then read in 64 KiB chunks as the body is sent, never whole.
``FileSource`` is also what ``content=<binary file>`` uses (see ``_content``).
"""

from __future__ import annotations

import io
import itertools
import mimetypes
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import IO, Any

from ._exceptions import LocalProtocolError, StreamConsumed
from ._streams import AsyncByteStream, SyncByteStream
from ._types import FileTypes, RequestFiles

__all__ = [
    "CHUNK_SIZE",
    "FileSource",
    "MultipartStream",
    "as_bytes",
    "encode_utf8",
    "primitive_to_str",
]

# Read files in chunks this big: large enough to keep per-chunk overhead low, small enough
# that an upload never holds much of the file in memory.
CHUNK_SIZE = 64 * 1024

# Bodies of bytes-valued fields up to this size are copied into the framing around them, so a
# form becomes a handful of large writes; bigger ones are yielded as they are, without a copy.
INLINE_LIMIT = CHUNK_SIZE

DEFAULT_FILENAME = "upload"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# How names and filenames are escaped inside Content-Disposition's quoted strings. This matches
# httpx 0.28 byte for byte: C0 controls other than ESC become %XX (as browsers do for CR, LF),
# '"' becomes %22, and a backslash is doubled.
_PARAM_ESCAPES: dict[int, str] = {c: f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_PARAM_ESCAPES[ord('"')] = "%22"
_PARAM_ESCAPES[ord("\\")] = "\\\\"

_BYTES_LIKE = (bytes, bytearray, memoryview)
_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0")


def encode_utf8(text: str, what: str) -> bytes:
    """Encode ``text`` as UTF-8, naming ``what`` it was if it holds a lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} cannot be encoded as UTF-8: it contains the lone surrogate "
            f"{text[exc.start]!r} at position {exc.start}. Fix the text where it was decoded, "
            "or encode it yourself and pass bytes."
        ) from exc


def as_bytes(chunk: object) -> bytes:
    """Check one body chunk: bytes pass through, other bytes-like objects are copied."""
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, _BYTES_LIKE):
        return bytes(chunk)
    raise TypeError(
        f"Body chunks must be bytes, got {type(chunk).__name__}: {chunk!r:.40}. Encode text "
        "before yielding it (chunk.encode()), and open files in binary mode ('rb')."
    )


def primitive_to_str(value: object) -> str:
    """Form values as browsers and httpx send them: ``true``/``false``, ``""`` for None."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _measure(file: IO[bytes], *, from_start: bool) -> tuple[int | None, int | None]:
    """Return (position to send from, number of bytes to send), or (None, None) if unknown.

    Only seek/tell is used: it works for every regular file and for in-memory files, and it
    flushes buffered writes first, where ``os.fstat`` would report a stale size. A pipe or a
    socket is not seekable, and its size is unknown until it has been read.
    """
    seekable = getattr(file, "seekable", None)
    if seekable is None or not seekable():
        return None, None
    position = 0 if from_start else file.tell()
    file.seek(0, os.SEEK_END)
    end = file.tell()
    file.seek(position)
    return position, max(end - position, 0)


class FileSource:
    """A binary file read in ``CHUNK_SIZE`` pieces as the body is sent.

    Pass ``from_start=True`` to send the whole file whatever its position (multipart fields, as
    httpx does), or False to send from the current position (``content=<file>``). A seekable
    file is rewound on every iteration, so a redirect or an auth retry can send it again, and
    exactly the measured number of bytes is sent, so the body always matches its
    Content-Length. A file that cannot seek can be read only once.
    """

    __slots__ = ("_file", "_is_consumed", "_start", "size")

    def __init__(self, file: IO[bytes], *, from_start: bool) -> None:
        self._file = file
        self._start, self.size = _measure(file, from_start=from_start)
        self._is_consumed = False

    @property
    def is_replayable(self) -> bool:
        return self._start is not None

    def __iter__(self) -> Iterator[bytes]:
        if self._start is None:
            if self._is_consumed:
                raise StreamConsumed()
        else:
            self._file.seek(self._start)
        self._is_consumed = True
        read = self._file.read
        remaining = self.size
        if remaining is None:
            while chunk := read(CHUNK_SIZE):
                yield as_bytes(chunk)
            return
        while remaining > 0:
            chunk = read(min(remaining, CHUNK_SIZE))
            if not chunk:
                # The file shrank after it was measured. Stop, rather than loop on empty
                # reads: the transport reports the body as shorter than its Content-Length.
                return
            remaining -= len(chunk)
            yield as_bytes(chunk)


def _escape_param(value: str) -> str:
    return value.translate(_PARAM_ESCAPES)


def _check_header_text(text: object, field: str) -> str:
    if not isinstance(text, str):
        raise TypeError(
            f"Headers of multipart file field {field!r} must be str, got "
            f"{type(text).__name__}: {text!r}."
        )
    if not _FORBIDDEN_IN_HEADERS.isdisjoint(text):
        raise LocalProtocolError(
            f"Invalid header text {text!r} in multipart file field {field!r}: "
            "header names and values must not contain CR, LF or NUL."
        )
    return text


def _field_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"Multipart field names must be str, got {type(name).__name__}: {name!r}. "
            "Convert the key with str() first."
        )
    return name


def _data_value(name: str, value: object) -> bytes:
    if isinstance(value, str):
        return encode_utf8(value, f"Multipart field {name!r}")
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    if value is None or isinstance(value, int | float):  # bool is an int
        return encode_utf8(primitive_to_str(value), f"Multipart field {name!r}")
    raise TypeError(
        f"Invalid value for multipart field {name!r}: expected str, bytes, int, float, bool or "
        f"None (or a list of them), got {type(value).__name__}: {value!r:.60}."
    )


def _data_parts(data: Mapping[str, Any]) -> Iterator[tuple[bytes, bytes]]:
    """Yield (headers, body) for each form field, lists giving one part per item."""
    for key, value in data.items():
        name = _field_name(key)
        headers = encode_utf8(
            f'Content-Disposition: form-data; name="{_escape_param(name)}"\r\n\r\n',
            f"Multipart field name {name!r}",
        )
        values = value if isinstance(value, list | tuple) else (value,)
        for item in values:
            yield headers, _data_value(name, item)


def _default_filename(file: object) -> str:
    name = getattr(file, "name", None)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if isinstance(name, str) and name:
        return os.path.basename(name)
    # No name, or a file opened from a descriptor (its name is an int): a neutral name.
    return DEFAULT_FILENAME


def _file_body(name: str, file: object) -> bytes | FileSource:
    if isinstance(file, _BYTES_LIKE):
        return bytes(file)
    if isinstance(file, str):
        return encode_utf8(file, f"The content of multipart file field {name!r}")
    if isinstance(file, io.TextIOBase):
        raise TypeError(
            f"The file for multipart field {name!r} is open in text mode: open it with "
            "mode 'rb' (or use io.BytesIO instead of io.StringIO)."
        )
    if callable(getattr(file, "read", None)):
        return FileSource(file, from_start=True)  # type: ignore[arg-type]
    raise TypeError(
        f"Invalid file for multipart field {name!r}: expected a file open in binary mode, "
        "bytes, str, or a tuple (filename, file[, content_type[, headers]]); got "
        f"{type(file).__name__}: {file!r:.60}."
    )


def _file_part(name: str, value: FileTypes) -> tuple[bytes, bytes | FileSource]:
    """Return (headers, body) for one file field."""
    headers: Mapping[str, str] = {}
    content_type: str | None = None
    if isinstance(value, tuple):
        if not 2 <= len(value) <= 4:
            raise TypeError(
                f"The tuple for multipart file field {name!r} must be (filename, file), "
                "(filename, file, content_type) or (filename, file, content_type, headers); "
                f"got {len(value)} items."
            )
        filename, file = value[0], value[1]
        if len(value) > 2:
            content_type = value[2]
        if len(value) > 3:
            headers = value[3]
            if not isinstance(headers, Mapping):
                raise TypeError(
                    f"The headers for multipart file field {name!r} must be a mapping of "
                    f"str to str, got {type(headers).__name__}."
                )
        if filename is not None and not isinstance(filename, str):
            raise TypeError(
                f"The filename for multipart file field {name!r} must be str or None, got "
                f"{type(filename).__name__}: {filename!r}."
            )
    else:
        file = value
        filename = _default_filename(file)

    body = _file_body(name, file)
    lines = [f'Content-Disposition: form-data; name="{_escape_param(name)}"']
    if filename:
        lines[0] += f'; filename="{_escape_param(filename)}"'
    lines.extend(
        f"{_check_header_text(key, name)}: {_check_header_text(val, name)}"
        for key, val in headers.items()
    )
    if not any(key.lower() == "content-type" for key in headers):
        if content_type is None and filename:
            content_type = mimetypes.guess_type(filename)[0] or DEFAULT_CONTENT_TYPE
        if content_type is not None:
            lines.append(f"Content-Type: {_check_header_text(content_type, name)}")
    lines.append("\r\n")
    rendered = encode_utf8("\r\n".join(lines), f"The headers of multipart file field {name!r}")
    return rendered, body


def _file_parts(files: RequestFiles) -> Iterator[tuple[bytes, bytes | FileSource]]:
    items: Iterable[object] = files.items() if isinstance(files, Mapping) else files
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError(
                "files= must be a mapping of field name to file, or a sequence of "
                f"(name, file) pairs; got the item {item!r:.60}."
            )
        name = _field_name(item[0])
        yield _file_part(name, item[1])


class MultipartStream(SyncByteStream, AsyncByteStream):
    """A ``multipart/form-data`` body: the form fields of ``data``, then the files of ``files``.

    >>> stream = MultipartStream({"a": "1"}, {"f": ("a.txt", b"hi")}, boundary=b"xyz")
    >>> stream.get_headers()["Content-Type"]
    'multipart/form-data; boundary=xyz'

    Files are read in chunks while the body is sent; seekable ones are sent from their start and
    rewound for every iteration, so the body can be sent again (redirects, auth retries).
    Reading a file blocks, in async code too, as it does in httpx.
    """

    __slots__ = ("_is_replayable", "_is_started", "_segments", "boundary", "content_type")

    def __init__(
        self,
        data: Mapping[str, Any],
        files: RequestFiles,
        boundary: bytes | None = None,
    ) -> None:
        if boundary is None:
            boundary = os.urandom(16).hex().encode("ascii")
        self.boundary = boundary
        self.content_type = f"multipart/form-data; boundary={boundary.decode('latin-1')}"

        # Join all the framing between file bodies into single bytes objects, once.
        segments: list[bytes | FileSource] = []
        pending: list[bytes] = []
        separator = b"--" + boundary + b"\r\n"
        for headers, body in itertools.chain(_data_parts(data), _file_parts(files)):
            pending += (separator, headers)
            if isinstance(body, bytes) and len(body) <= INLINE_LIMIT:
                pending.append(body)
            else:
                segments += (b"".join(pending), body)
                pending = []
            pending.append(b"\r\n")
        pending.append(b"--" + boundary + b"--\r\n")
        segments.append(b"".join(pending))

        self._segments = segments
        self._is_replayable = all(
            segment.is_replayable for segment in segments if isinstance(segment, FileSource)
        )
        self._is_started = False

    @property
    def is_replayable(self) -> bool:
        """Whether the body can be sent (again) now: redirects and auth retries ask this."""
        return self._is_replayable or not self._is_started

    def get_content_length(self) -> int | None:
        """The body's size in bytes, or None when a file's size can't be known in advance."""
        total = 0
        for segment in self._segments:
            size = len(segment) if isinstance(segment, bytes) else segment.size
            if size is None:
                return None
            total += size
        return total

    def get_headers(self) -> dict[str, str]:
        """Content-Length (or chunked framing, if the size is unknown) and Content-Type."""
        content_length = self.get_content_length()
        if content_length is None:
            return {"Transfer-Encoding": "chunked", "Content-Type": self.content_type}
        return {"Content-Length": str(content_length), "Content-Type": self.content_type}

    def __iter__(self) -> Iterator[bytes]:
        if self._is_started and not self._is_replayable:
            # Checked before the first byte, so a retry fails cleanly instead of halfway.
            raise StreamConsumed()
        self._is_started = True
        for segment in self._segments:
            if isinstance(segment, bytes):
                yield segment
            else:
                yield from segment

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.__iter__():
            yield chunk
