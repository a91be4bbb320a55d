"""Turning body arguments (``content=``, ``data=``, ``files=``, ``json=``...) into byte streams.

Each argument becomes a byte stream plus the headers it implies: Content-Length when the size is
known, ``Transfer-Encoding: chunked`` when it is not, and Content-Type for encoded forms. Which
headers the request finally sends (say, Content-Length: 0 on a bodiless POST) is the model's call.
"""

from __future__ import annotations

import io
import json as jsonlib
import os
import sys
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, NoReturn
from urllib.parse import urlencode

from ._exceptions import StreamClosed, StreamConsumed
from ._multipart import (
    FileSource,
    MultipartStream,
    as_bytes,
    encode_utf8,
    primitive_to_str,
)
from ._streams import AsyncByteStream, ByteStream, SyncByteStream
from ._types import RequestContent, RequestData, RequestFiles, ResponseContent

__all__ = [
    "AsyncIteratorByteStream",
    "IteratorByteStream",
    "UnattachedStream",
    "encode_request",
    "encode_response",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

_BYTES_LIKE = (bytearray, memoryview)
_SEQUENCES = (list, tuple)

# Shared by every bodiless request: a GET should not allocate a stream of its own.
_EMPTY_STREAM = ByteStream(b"")

_SYNC_IN_ASYNC = (
    "This body comes from a sync iterable, so only sync code can send it (Client, .read()). "
    "To send it with AsyncClient, pass an async iterable instead, such as an async generator."
)
_ASYNC_IN_SYNC = (
    "This body comes from an async iterable, so only async code can send it (AsyncClient, "
    ".aread()). To send it with Client, pass bytes or a sync iterable such as a generator."
)


class IteratorByteStream(SyncByteStream):
    """A body produced by a sync iterable of ``bytes``.

    A re-iterable such as a list is iterated afresh each time, so the body can be sent again
    (after a redirect, or by an auth flow). An iterator such as a generator can be read once:
    the second iteration raises ``StreamConsumed``. Iterating it with ``async for`` raises a
    ``RuntimeError`` that says what to pass instead.
    """

    __slots__ = ("_is_consumed", "_is_one_shot", "_stream")

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream
        self._is_one_shot = isinstance(stream, Iterator)
        self._is_consumed = False

    def __iter__(self) -> Iterator[bytes]:
        if self._is_one_shot:
            if self._is_consumed:
                raise StreamConsumed()
            self._is_consumed = True
        for chunk in self._stream:
            yield as_bytes(chunk)

    def __aiter__(self) -> NoReturn:
        raise RuntimeError(_SYNC_IN_ASYNC)

    @property
    def is_replayable(self) -> bool:
        """Whether the body can be sent (again) now: redirects and auth retries ask this."""
        if self._is_one_shot:
            return not self._is_consumed
        return bool(getattr(self._stream, "is_replayable", True))


class AsyncIteratorByteStream(AsyncByteStream):
    """A body produced by an async iterable of ``bytes``; replays as ``IteratorByteStream`` does.

    An async iterator, such as an async generator, can be read once; an object whose
    ``__aiter__`` returns a fresh iterator each time can be read again.
    """

    __slots__ = ("_is_consumed", "_is_one_shot", "_stream")

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream
        self._is_one_shot = isinstance(stream, AsyncIterator)
        self._is_consumed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._is_one_shot:
            if self._is_consumed:
                raise StreamConsumed()
            self._is_consumed = True
        iterator = aiter(self._stream)
        try:
            async for chunk in iterator:
                yield as_bytes(chunk)
        finally:
            # If sending stopped early (an error, a cancelled upload), finish the source's
            # async generator now: left to the garbage collector, its cleanup would run late,
            # or under trio not at all.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    def __iter__(self) -> NoReturn:
        raise RuntimeError(_ASYNC_IN_SYNC)

    @property
    def is_replayable(self) -> bool:
        """Whether the body can be sent (again) now: redirects and auth retries ask this."""
        if self._is_one_shot:
            return not self._is_consumed
        return bool(getattr(self._stream, "is_replayable", True))


class UnattachedStream(SyncByteStream, AsyncByteStream):
    """The body of an unpickled request or response: its bytes did not travel with it.

    Iterating raises ``StreamClosed``; a body that was read before pickling is still available
    as ``.content``.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        raise StreamClosed()

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise StreamClosed()


def _user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside heron."""
    level = 1
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _encode_content(
    content: RequestContent | ResponseContent,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    if isinstance(content, bytes):
        body = content
    elif isinstance(content, str):
        body = encode_utf8(content, "The content= text")
    elif isinstance(content, _BYTES_LIKE):
        body = bytes(content)
    else:
        return _encode_stream(content)
    # An empty body needs no header here; the request decides about Content-Length: 0.
    return ({"Content-Length": str(len(body))} if body else {}), ByteStream(body)


def _encode_stream(content: object) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    if isinstance(content, SyncByteStream | AsyncByteStream):
        # Already a stream (perhaps another request's): send it as it is.
        return {"Transfer-Encoding": "chunked"}, content

    if isinstance(content, Mapping):
        raise TypeError(
            f"Unexpected type for 'content', {type(content).__name__}. To send JSON pass "
            "json=, and to send a form pass data=."
        )
    if isinstance(content, io.TextIOBase):
        raise TypeError(
            "content= was given a file open in text mode: open it with mode 'rb' "
            "(or use io.BytesIO instead of io.StringIO)."
        )

    if isinstance(content, Iterable):
        if callable(getattr(content, "read", None)):
            # A binary file: read it in chunks, from where it is now, and state its size.
            source = FileSource(content, from_start=False)  # type: ignore[arg-type]
            headers = (
                {"Transfer-Encoding": "chunked"}
                if source.size is None
                else {"Content-Length": str(source.size)}
            )
            return headers, IteratorByteStream(source)
        return {"Transfer-Encoding": "chunked"}, IteratorByteStream(content)

    if isinstance(content, AsyncIterable):
        return {"Transfer-Encoding": "chunked"}, AsyncIteratorByteStream(content)

    raise TypeError(
        f"Unexpected type for 'content', {type(content).__name__}. Pass bytes, str, "
        "a binary file, or a sync or async iterable of bytes."
    )


def _encode_urlencoded_data(data: RequestData) -> tuple[dict[str, str], ByteStream]:
    pairs: list[tuple[str | bytes, str | bytes]] = []
    for key, value in data.items():
        name = key if isinstance(key, str | bytes) else str(key)
        values = value if isinstance(value, _SEQUENCES) else (value,)
        for item in values:
            if isinstance(item, bytes | bytearray | memoryview):
                # Sent as they are, percent-encoded (httpx sends their repr, "b'...'").
                pairs.append((name, bytes(item)))
            else:
                pairs.append((name, primitive_to_str(item)))
    try:
        body = urlencode(pairs).encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"The data= form cannot be encoded as UTF-8: it contains the lone surrogate "
            f"{exc.object[exc.start : exc.end]!r}. Fix the text where it was decoded."
        ) from exc
    headers = {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, ByteStream(body)


def _encode_json(json: Any) -> tuple[dict[str, str], ByteStream]:
    # Compact, UTF-8 and strict JSON (no NaN or Infinity), as httpx 0.28 sends it.
    text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    body = encode_utf8(text, "The json= body")
    headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    return headers, ByteStream(body)


def _encode_text(text: str, media_type: str, argument: str) -> tuple[dict[str, str], ByteStream]:
    if not isinstance(text, str):
        raise TypeError(
            f"{argument}= must be str, got {type(text).__name__}. Pass bytes as content= instead."
        )
    body = encode_utf8(text, f"The {argument}= text")
    headers = {"Content-Length": str(len(body)), "Content-Type": f"{media_type}; charset=utf-8"}
    return headers, ByteStream(body)


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    boundary: bytes | None = None,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    """Return the headers a request body implies, and the stream that produces it.

    The first of these that applies wins: ``data=`` that is not a mapping (deprecated: it is
    sent as ``content=``), ``content=``, ``files=`` (multipart, with ``data=`` as its form
    fields and ``boundary`` if given), ``data=`` (urlencoded), ``json=``. With none of them the
    headers are empty and the stream is empty.

    >>> encode_request(json={"a": 1})[0]
    {'Content-Length': '7', 'Content-Type': 'application/json'}
    """
    if data is not None and not isinstance(data, Mapping):
        # httpx 0.28 still sends raw data= bodies, with this warning.
        warnings.warn(
            "Use 'content=<...>' to upload raw bytes/text content.",
            DeprecationWarning,
            stacklevel=_user_stacklevel(),
        )
        return _encode_content(data)

    if content is not None:
        return _encode_content(content)
    if files:
        multipart = MultipartStream(data or {}, files, boundary)
        return multipart.get_headers(), multipart
    if data:
        return _encode_urlencoded_data(data)
    if json is not None:
        return _encode_json(json)
    return {}, _EMPTY_STREAM


def encode_response(
    content: ResponseContent | None = None,
    text: str | None = None,
    html: str | None = None,
    json: Any | None = None,
) -> tuple[dict[str, str], SyncByteStream | AsyncByteStream]:
    """Return the headers a response body implies, and the stream that produces it.

    The first argument given wins, in the order ``content``, ``text``, ``html``, ``json``.

    >>> encode_response(text="hi")[0]
    {'Content-Length': '2', 'Content-Type': 'text/plain; charset=utf-8'}
    """
    if content is not None:
        return _encode_content(content)
    if text is not None:
        return _encode_text(text, "text/plain", "text")
    if html is not None:
        return _encode_text(html, "text/html", "html")
    if json is not None:
        return _encode_json(json)
    return {}, _EMPTY_STREAM
