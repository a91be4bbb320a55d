"""``Response``: the message a transport returns, with its body still a stream.

A body is a byte stream (``_streams``), never assumed to be in memory: ``Response`` decodes
its content encoding, its charset and its lines incrementally, chunk by chunk, so a large
(or maliciously compressed) body can be streamed in bounded memory. A ``Response`` is built
for every request, so construction does the least it can; everything else (``encoding``,
``cookies``, ``links``, ``text``) is computed when first asked for.
"""

from __future__ import annotations

import datetime
import json as jsonlib
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NoReturn

from ._content import UnattachedStream, encode_response
from ._cookies import Cookies
from ._decoders import (
    ByteChunker,
    ContentDecoder,
    IdentityDecoder,
    LineDecoder,
    TextChunker,
    TextDecoder,
    get_content_decoder,
)
from ._exceptions import (
    DecodingError,
    HTTPStatusError,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from ._headers import Headers
from ._request import (
    _ASYNC_ON_SYNC_STREAM,
    _EMPTY_STREAM,
    _SYNC_ON_ASYNC_STREAM,
    Request,
    _aclose_iterator,
    _add_body_headers,
    _check_chunk_size,
    _display_url,
    _is_async_stream,
    _is_sync_stream,
    _split,
)
from ._status_codes import codes
from ._streams import AsyncByteStream, ByteStream, SyncByteStream
from ._urls import URL
from ._utils import (
    get_charset,
    is_text_encoding,
    parse_header_links,
)

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._types import (
        HeaderTypes,
        ResponseContent,
        ResponseExtensions,
    )


__all__ = ["Response"]


class Response:
    """An HTTP response: status, headers, a body stream, and the request it answers.

    Transports build responses with a ``stream`` that is read as the user iterates; tests and
    mock transports can give the body directly as ``content``, ``text``, ``html`` or ``json``
    (the matching headers are added and the body is available at once)::

        >>> response = heron.Response(200, json={"ok": True})
        >>> response.status_code, response.json()
        (200, {'ok': True})

    ``default_encoding`` decodes ``.text`` when the Content-Type names no usable charset: an
    encoding name, or a callable that is given the body's bytes and returns one.
    """

    __slots__ = (
        "__weakref__",
        "_content",
        "_cookies",
        "_elapsed",
        "_encoding",
        "_num_bytes_downloaded",
        "_request",
        "_started_at",
        "_text",
        "default_encoding",
        "extensions",
        "headers",
        "history",
        "is_closed",
        "is_stream_consumed",
        "next_request",
        "status_code",
        "stream",
    )

    status_code: int
    headers: Headers
    stream: SyncByteStream | AsyncByteStream
    extensions: dict[str, Any]
    history: list[Response]
    next_request: Request | None
    is_closed: bool
    is_stream_consumed: bool
    default_encoding: str | Callable[[bytes], str | None]
    _request: Request | None
    _content: bytes | None
    _text: str | None
    _encoding: str | None
    _cookies: Cookies | None
    _num_bytes_downloaded: int
    _started_at: float | None
    _elapsed: float | None

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes | None = None,
        content: ResponseContent | None = None,
        text: str | None = None,
        html: str | None = None,
        json: Any = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        request: Request | None = None,
        extensions: ResponseExtensions | None = None,
        history: list[Response] | None = None,
        default_encoding: str | Callable[[bytes], str | None] = "utf-8",
    ) -> None:
        if type(status_code) is not int and not isinstance(status_code, int):
            raise TypeError(
                f"status_code must be an int such as 200, not {type(status_code).__name__} "
                f"({status_code!r})."
            )
        self.status_code = status_code
        self.headers = Headers(headers)
        self._request = request
        self.next_request = None
        if extensions is None:
            self.extensions = {}
        else:
            self.extensions = extensions if type(extensions) is dict else dict(extensions)
        self.history = [] if history is None else list(history)
        self.default_encoding = default_encoding
        self._content = None
        self._text = None
        self._encoding = None
        self._cookies = None
        self._num_bytes_downloaded = 0
        self._started_at = None
        self._elapsed = None

        if stream is not None:
            self.stream = stream
            self.is_closed = False
            self.is_stream_consumed = False
        elif content is None and text is None and html is None and json is None:
            # No body: nothing to read, so the response is complete already.
            self.stream = _EMPTY_STREAM
            self._content = b""
            self.is_closed = True
            self.is_stream_consumed = True
        else:
            body_headers, self.stream = encode_response(
                content=content, text=text, html=html, json=json
            )
            _add_body_headers(self.headers, body_headers)
            self.is_closed = False
            self.is_stream_consumed = False
            if isinstance(self.stream, ByteStream):
                # An in-memory body is read now, so that .content works without read().
                self.read()

    # Metadata ----------------------------------------------------------------------------

    @property
    def reason_phrase(self) -> str:
        """The reason phrase the server sent, else the standard one for the status code."""
        reason = self.extensions.get("reason_phrase")
        if reason is None:
            return codes.get_reason_phrase(self.status_code)
        if isinstance(reason, bytes):
            return reason.decode("ascii", "ignore")
        return str(reason)

    @property
    def http_version(self) -> str:
        """The protocol version, such as ``"HTTP/1.1"`` or ``"HTTP/2"``."""
        version = self.extensions.get("http_version")
        if version is None:
            return "HTTP/1.1"
        if isinstance(version, bytes):
            return version.decode("ascii", "ignore")
        return str(version)

    @property
    def request(self) -> Request:
        """The request this response answers; ``RuntimeError`` if it was never set."""
        if self._request is None:
            raise RuntimeError(
                "This response has no .request: responses returned by a client have one, "
                "but one built by hand needs `Response(..., request=request)` or "
                "`response.request = request`."
            )
        return self._request

    @request.setter
    def request(self, value: Request) -> None:
        self._request = value

    @property
    def url(self) -> URL:
        """The URL of the request this response answers."""
        return self.request.url

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request until the response was closed (read to the end)."""
        if self._elapsed is None:
            if not self.is_closed:
                raise RuntimeError(
                    "'.elapsed' is only known once the response has been read or closed: "
                    "call `response.read()` or `response.close()` first."
                )
            raise RuntimeError(
                "'.elapsed' is not available: it is measured by the client, from sending the "
                "request until the response is closed, and this response was not returned by "
                "a client."
            )
        return datetime.timedelta(seconds=self._elapsed)

    @elapsed.setter
    def elapsed(self, value: datetime.timedelta) -> None:
        self._elapsed = value.total_seconds()

    def _set_started_at(self, started_at: float) -> None:
        """Start the ``elapsed`` clock at ``started_at``, a ``time.perf_counter()`` reading.

        Called by the client when the transport returns. A response that is already closed
        (a mock's in-memory body) gets its ``elapsed`` at once.
        """
        self._started_at = started_at
        if self.is_closed and self._elapsed is None:
            self._elapsed = time.perf_counter() - started_at

    @property
    def num_bytes_downloaded(self) -> int:
        """How many bytes of the body have come in so far, before content decoding."""
        return self._num_bytes_downloaded

    # Status predicates ---------------------------------------------------------------------

    @property
    def is_informational(self) -> bool:
        """True for 1xx status codes."""
        return 100 <= self.status_code <= 199

    @property
    def is_success(self) -> bool:
        """True for 2xx status codes."""
        return 200 <= self.status_code <= 299

    @property
    def is_redirect(self) -> bool:
        """True for 3xx status codes (see ``has_redirect_location`` for followable ones)."""
        return 300 <= self.status_code <= 399

    @property
    def is_client_error(self) -> bool:
        """True for 4xx status codes."""
        return 400 <= self.status_code <= 499

    @property
    def is_server_error(self) -> bool:
        """True for 5xx status codes."""
        return 500 <= self.status_code <= 599

    @property
    def is_error(self) -> bool:
        """True for 4xx and 5xx status codes."""
        return 400 <= self.status_code <= 599

    @property
    def has_redirect_location(self) -> bool:
        """True for a redirect that can be followed: 301, 302, 303, 307 or 308 with a Location."""
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def raise_for_status(self) -> Response:
        """Return the response if it is a 2xx; raise ``HTTPStatusError`` otherwise.

        ::

            response = client.get("https://example.org/missing")
            response.raise_for_status()  # HTTPStatusError: Client error '404 Not Found' ...
        """
        request = self._request
        if request is None:
            raise RuntimeError(
                "raise_for_status() needs the response's .request, to say which URL failed, "
                "and this response has none: pass `Response(..., request=request)` or set "
                "`response.request` first."
            )
        if self.is_success:
            return self
        kind = _STATUS_KINDS.get(self.status_code // 100, "Invalid status code")
        status = f"{self.status_code} {self.reason_phrase}".rstrip()
        message = f"{kind} '{status}' for url '{_display_url(request.url)}'"
        if self.has_redirect_location:
            message += f"\nRedirect location: '{self.headers['location']}'"
        message += (
            "\nFor more information check: "
            f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{self.status_code}"
        )
        raise HTTPStatusError(message, request=request, response=self)

    # Body in memory ------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The decoded body; ``ResponseNotRead`` for a streaming response not yet read."""
        if self._content is None:
            raise ResponseNotRead()
        return self._content

    @property
    def charset_encoding(self) -> str | None:
        """The ``charset`` of the Content-Type header, lower-cased, or None."""
        return get_charset(self.headers.get("content-type"))

    @property
    def encoding(self) -> str:
        """The text encoding used for ``.text`` and ``iter_text()``.

        The Content-Type's charset when Python knows it, else ``default_encoding`` (called
        with the body when it is a callable and the body has been read), else ``"utf-8"``.
        Can be set, until ``.text`` has been accessed.
        """
        if self._encoding is not None:
            return self._encoding
        charset = self.charset_encoding
        if charset is not None and is_text_encoding(charset):
            self._encoding = charset
        elif isinstance(self.default_encoding, str):
            self._encoding = self.default_encoding
        elif self._content is not None:
            self._encoding = self.default_encoding(self._content) or "utf-8"
        else:
            # The detector needs the body; until it has been read, fall back without caching.
            return "utf-8"
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        if self._text is not None:
            raise ValueError(
                f"Can't set .encoding after .text has been accessed: the text was already "
                f"decoded as {self.encoding!r}. Set the encoding before reading .text."
            )
        self._encoding = value

    @property
    def text(self) -> str:
        """The body decoded to ``str`` with ``encoding`` (undecodable bytes become U+FFFD)."""
        if self._text is None:
            content = self.content
            self._text = content.decode(self.encoding, "replace") if content else ""
        return self._text

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON; ``kwargs`` are passed to ``json.loads``.

        JSON is UTF-8 (RFC 8259), and ``json.loads`` also detects UTF-16 and UTF-32 from the
        bytes; a body whose Content-Type names another charset is decoded with it first.
        """
        charset = self.charset_encoding
        if charset is not None and not charset.startswith("utf") and is_text_encoding(charset):
            return jsonlib.loads(self.text, **kwargs)
        return jsonlib.loads(self.content, **kwargs)

    @property
    def cookies(self) -> Cookies:
        """The cookies this response sets (its Set-Cookie headers, for its request's URL)."""
        if self._cookies is None:
            self._cookies = Cookies()
            self._cookies.extract_cookies(self)
        return self._cookies

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The Link header's links, keyed by their ``rel`` (or by their URL when they have none).

        ::

            >>> response.headers["Link"] = '<https://api.example.org/?page=2>; rel="next"'
            >>> response.links["next"]["url"]
            'https://api.example.org/?page=2'
        """
        header = self.headers.get("link")
        if not header:
            return {}
        return {link.get("rel") or link["url"]: link for link in parse_header_links(header)}

    # Sync streaming ------------------------------------------------------------------------

    def read(self) -> bytes:
        """Read the whole body into memory (decoded) and close the response."""
        if self._content is None:
            if self._content_decoder() is None:
                # Fast path: without a content coding the raw chunks are the content.
                self._content = self._read_raw()
            else:
                self._content = b"".join(self.iter_bytes())
        return self._content

    def _read_raw(self) -> bytes:
        """``iter_raw()`` joined, for ``read()``."""
        stream = self._claim_stream(_is_sync_stream, _SYNC_ON_ASYNC_STREAM)
        read_body = getattr(stream, "_read_body", None)
        if read_body is not None:
            # heron's own transports read a whole body in one call, without a generator.
            try:
                content: bytes = read_body()
            finally:
                self.close()
            self._num_bytes_downloaded += len(content)
            return content
        chunks = []
        for raw in stream:  # type: ignore[union-attr]
            self._num_bytes_downloaded += len(raw)
            chunks.append(raw)
        self.close()
        return b"".join(chunks)

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body as it arrives, without content decoding (gzip stays gzip)."""
        _check_chunk_size(chunk_size)
        stream = self._claim_stream(_is_sync_stream, _SYNC_ON_ASYNC_STREAM)
        if chunk_size is None:
            for raw in stream:  # type: ignore[union-attr]
                if raw:
                    self._num_bytes_downloaded += len(raw)
                    yield raw
        else:
            chunker = ByteChunker(chunk_size)
            for raw in stream:  # type: ignore[union-attr]
                self._num_bytes_downloaded += len(raw)
                yield from chunker.decode(raw)
            yield from chunker.flush()
        self.close()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body with its content encoding (gzip, br, ...) undone, in ``chunk_size`` pieces.

        Decompression happens piece by piece, so even a huge or maliciously compressed body
        is streamed in bounded memory. Never yields an empty chunk.
        """
        _check_chunk_size(chunk_size)
        if self._content is not None:
            yield from _split(self._content, chunk_size)
            return
        decoder = self._content_decoder()
        if decoder is None:
            yield from self.iter_raw(chunk_size)
            return
        chunker = ByteChunker(chunk_size)
        try:
            for raw in self.iter_raw():
                for decoded in decoder.decode_iter(raw):
                    yield from chunker.decode(decoded)
            tail = decoder.flush()
        except DecodingError as exc:
            self._attach_request(exc)
        yield from chunker.decode(tail)
        yield from chunker.flush()

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body decoded to text with ``encoding``, in ``chunk_size``-character pieces."""
        _check_chunk_size(chunk_size)
        decoder = TextDecoder(self.encoding)
        chunker = TextChunker(chunk_size)
        for raw in self.iter_bytes():
            for text in decoder.decode(raw):
                yield from chunker.decode(text)
        for text in decoder.flush():
            yield from chunker.decode(text)
        yield from chunker.flush()

    def iter_lines(self) -> Iterator[str]:
        """The body's text line by line, without the line endings (\\n, \\r\\n or \\r)."""
        decoder = LineDecoder()
        for text in self.iter_text():
            yield from decoder.decode(text)
        yield from decoder.flush()

    def close(self) -> None:
        """Close the body stream (returning its connection to the pool); idempotent."""
        stream = self.stream
        if not _is_sync_stream(stream):
            raise RuntimeError(_SYNC_ON_ASYNC_STREAM)
        if not self.is_closed:
            self.is_closed = True
            self._stop_clock()
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    # Async streaming -----------------------------------------------------------------------

    async def aread(self) -> bytes:
        """Read the whole body into memory (decoded) and close the response."""
        if self._content is None:
            if self._content_decoder() is None:
                # Fast path: without a content coding the raw chunks are the content, and
                # reading them here saves two async generators per response.
                self._content = await self._aread_raw()
            else:
                async with aclosing(self.aiter_bytes()) as byte_chunks:
                    self._content = b"".join([part async for part in byte_chunks])
        return self._content

    async def _aread_raw(self) -> bytes:
        """``aiter_raw()`` joined, for ``aread()``."""
        stream = self._claim_stream(_is_async_stream, _ASYNC_ON_SYNC_STREAM)
        read_body = getattr(stream, "_read_body", None)
        if read_body is not None:
            # heron's own transports read a whole body in one call, without a generator.
            try:
                content: bytes = await read_body()
            finally:
                await self.aclose()
            self._num_bytes_downloaded += len(content)
            return content
        chunks = []
        raw_chunks = stream.__aiter__()  # type: ignore[union-attr]
        try:
            async for raw in raw_chunks:
                self._num_bytes_downloaded += len(raw)
                chunks.append(raw)
        finally:
            await _aclose_iterator(raw_chunks)
        await self.aclose()
        return b"".join(chunks)

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """The body as it arrives, without content decoding (gzip stays gzip)."""
        _check_chunk_size(chunk_size)
        stream = self._claim_stream(_is_async_stream, _ASYNC_ON_SYNC_STREAM)
        chunker = None if chunk_size is None else ByteChunker(chunk_size)
        # Iterated by hand so that, if this generator is closed early, the stream's own
        # iterator is closed at once rather than left to the garbage collector (which trio
        # reports with a ResourceWarning).
        raw_chunks = stream.__aiter__()  # type: ignore[union-attr]
        try:
            async for raw in raw_chunks:
                self._num_bytes_downloaded += len(raw)
                if chunker is None:
                    if raw:
                        yield raw
                else:
                    for chunk in chunker.decode(raw):
                        yield chunk
        finally:
            await _aclose_iterator(raw_chunks)
        if chunker is not None:
            for chunk in chunker.flush():
                yield chunk
        await self.aclose()

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """The body with its content encoding undone; see ``iter_bytes()``."""
        _check_chunk_size(chunk_size)
        if self._content is not None:
            for chunk in _split(self._content, chunk_size):
                yield chunk
            return
        decoder = self._content_decoder()
        if decoder is None:
            async with aclosing(self.aiter_raw(chunk_size)) as raw_chunks:
                async for chunk in raw_chunks:
                    yield chunk
            return
        chunker = ByteChunker(chunk_size)
        try:
            async with aclosing(self.aiter_raw()) as raw_chunks:
                async for raw in raw_chunks:
                    for decoded in decoder.decode_iter(raw):
                        for chunk in chunker.decode(decoded):
                            yield chunk
            tail = decoder.flush()
        except DecodingError as exc:
            self._attach_request(exc)
        for chunk in [*chunker.decode(tail), *chunker.flush()]:
            yield chunk

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncGenerator[str, None]:
        """The body decoded to text; see ``iter_text()``."""
        _check_chunk_size(chunk_size)
        decoder = TextDecoder(self.encoding)
        chunker = TextChunker(chunk_size)
        async with aclosing(self.aiter_bytes()) as byte_chunks:
            async for raw in byte_chunks:
                for text in decoder.decode(raw):
                    for chunk in chunker.decode(text):
                        yield chunk
        for text in decoder.flush():
            for chunk in chunker.decode(text):
                yield chunk
        for chunk in chunker.flush():
            yield chunk

    async def aiter_lines(self) -> AsyncGenerator[str, None]:
        """The body's text line by line, without the line endings; see ``iter_lines()``."""
        decoder = LineDecoder()
        async with aclosing(self.aiter_text()) as texts:
            async for text in texts:
                for line in decoder.decode(text):
                    yield line
        for line in decoder.flush():
            yield line

    async def aclose(self) -> None:
        """Close the body stream (returning its connection to the pool); idempotent."""
        stream = self.stream
        if not _is_async_stream(stream):
            raise RuntimeError(_ASYNC_ON_SYNC_STREAM)
        if not self.is_closed:
            self.is_closed = True
            self._stop_clock()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    # Helpers -------------------------------------------------------------------------------

    def _content_decoder(self) -> ContentDecoder | None:
        """A decoder for the Content-Encoding, or None when there is nothing to undo."""
        # Scans the entries directly: this runs for every response body, and most have no
        # Content-Encoding, so it must cost next to nothing then.
        values = [
            value.decode("latin-1")
            for _, name, value in self.headers._list
            if name == b"content-encoding"
        ]
        if not values:
            return None
        # Unknown codings are passed through undecoded, as httpx does.
        decoder = get_content_decoder(values)
        return None if isinstance(decoder, IdentityDecoder) else decoder

    def _claim_stream(
        self, usable: Callable[[object], bool], wrong_kind: str
    ) -> SyncByteStream | AsyncByteStream:
        """The body stream, to be read now (once only): checks it can be, and marks it read."""
        if self.is_stream_consumed:
            raise StreamConsumed()
        if self.is_closed:
            raise StreamClosed()
        stream = self.stream
        if not usable(stream):
            raise RuntimeError(wrong_kind)
        self.is_stream_consumed = True
        self._num_bytes_downloaded = 0
        return stream

    def _stop_clock(self) -> None:
        if self._started_at is not None and self._elapsed is None:
            self._elapsed = time.perf_counter() - self._started_at

    def _attach_request(self, exc: DecodingError) -> NoReturn:
        if exc._request is None:
            exc._request = self._request
        raise exc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code} {self.reason_phrase}]>"

    def __getstate__(self) -> dict[str, Any]:
        # The stream is tied to a connection and extensions hold live objects: neither can
        # travel. Cookies are re-parsed from the headers on demand.
        state = {
            name: getattr(self, name)
            for name in Response.__slots__
            if name not in _UNPICKLED_RESPONSE_SLOTS
        }
        state["is_closed"] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.stream = UnattachedStream()
        self.extensions = {}
        self._cookies = None
        self._started_at = None


_STATUS_KINDS = {
    1: "Informational response",
    3: "Redirect response",
    4: "Client error",
    5: "Server error",
}

_UNPICKLED_RESPONSE_SLOTS = frozenset(
    {"__weakref__", "stream", "extensions", "_cookies", "_started_at"}
)
