"""``Request`` and ``Response``: the messages that clients, transports and the pool pass around.

A body is a byte stream (``_streams``), never assumed to be in memory: ``Response`` decodes
its content encoding, its charset and its lines incrementally, chunk by chunk, so a large
(or maliciously compressed) body can be streamed in bounded memory. A ``Response`` is built
for every request, so construction does the least it can; everything else (``encoding``,
``cookies``, ``links``, ``text``) is computed when first asked for.
"""

from __future__ import annotations

import datetime
import json as jsonlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NoReturn

from ._content import UnattachedStream, encode_request, encode_response
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
    LocalProtocolError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from ._headers import Headers
from ._status_codes import codes
from ._streams import AsyncByteStream, ByteStream, SyncByteStream
from ._urls import URL
from ._utils import (
    get_charset,
    is_http_token,
    is_text_encoding,
    parse_header_links,
    parse_header_params,
)

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._types import (
        CookieTypes,
        HeaderTypes,
        QueryParamTypes,
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
        ResponseContent,
        ResponseExtensions,
        URLTypes,
    )

__all__ = ["Request", "Response"]

# Methods as they usually arrive, mapped to their canonical form, so the common case skips
# the token check and the upper-casing.
_KNOWN_METHODS = {
    name: name.upper()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
    for name in (method, method.lower())
}

# RFC 9110 section 8.6: a user agent SHOULD send Content-Length: 0 when a method that
# expects a body (these three) is sent without one; httpx does the same.
_METHODS_EXPECTING_BODY = frozenset({"POST", "PUT", "PATCH"})

# The body of every request and response built without one. Immutable, so it can be shared.
_EMPTY_STREAM = ByteStream(b"")

_SYNC_ON_ASYNC_STREAM = (
    "This response's body is an async stream (it came from an AsyncClient or an async "
    "transport), so read it with the async methods: `await response.aread()`, "
    "`async for chunk in response.aiter_bytes()` (or aiter_text, aiter_lines, aiter_raw) and "
    "`await response.aclose()`."
)
_ASYNC_ON_SYNC_STREAM = (
    "This response's body is a sync stream (it came from a Client or a sync transport), so "
    "read it with the sync methods: `response.read()`, `for chunk in response.iter_bytes()` "
    "(or iter_text, iter_lines, iter_raw) and `response.close()`."
)

# Shown instead of a URL's password in reprs and error messages.
_SECURE = "[secure]"


def _display_url(url: URL) -> str:
    """``str(url)`` with any password replaced by ``[secure]``, for reprs and messages."""
    if not url.password:
        return str(url)
    userinfo = url.userinfo.decode("ascii")
    username = userinfo.partition(":")[0]
    return str(url).replace(f"{userinfo}@", f"{username}:{_SECURE}@", 1)


def _normalize_method(method: str | bytes) -> str:
    try:
        return _KNOWN_METHODS[method]  # type: ignore[index]
    except (KeyError, TypeError):
        pass
    if isinstance(method, bytes):
        text = method.decode("ascii", "replace")
    elif isinstance(method, str):
        text = method
    else:
        raise TypeError(
            f"The request method must be a str or bytes such as 'GET', not "
            f"{type(method).__name__} ({method!r})."
        )
    if not is_http_token(text):
        raise LocalProtocolError(
            f"Invalid HTTP method {method!r}: a method must be a non-empty token of letters, "
            "digits and !#$%&'*+-.^_`|~ (RFC 9110 section 9), such as 'GET' or 'PROPFIND'."
        )
    return text.upper()


def _add_body_headers(headers: Headers, body_headers: Mapping[str, str]) -> None:
    """Add the body's headers (framing, type) unless the user already set them."""
    for name, value in body_headers.items():
        if name in headers:
            continue
        # RFC 9112 section 6.3: a message must not carry both framing headers. If the user
        # chose one (say, Content-Length for a streamed upload of known size), keep it alone.
        lower = name.lower()
        if lower == "content-length" and "transfer-encoding" in headers:
            continue
        if lower == "transfer-encoding" and "content-length" in headers:
            continue
        headers[name] = value


def _multipart_boundary(headers: Headers) -> bytes | None:
    """The boundary to encode ``files=`` with, honouring a user's multipart Content-Type.

    If the user gave ``multipart/form-data`` without a boundary, one is chosen here and
    added to their header, so the header and the body always agree.
    """
    content_type = headers.get("content-type")
    if content_type is None or not content_type.lower().startswith("multipart/form-data"):
        return None
    boundary = parse_header_params(content_type).get("boundary")
    if boundary:
        return boundary.encode("latin-1", "replace")
    generated = os.urandom(16).hex()
    headers["Content-Type"] = f"{content_type.rstrip('; ')}; boundary={generated}"
    return generated.encode("ascii")


def _is_sync_stream(stream: object) -> bool:
    """False only for a stream that is async-only (a duck-typed iterable passes)."""
    return isinstance(stream, SyncByteStream) or not isinstance(stream, AsyncByteStream)


def _is_async_stream(stream: object) -> bool:
    """False only for a stream that is sync-only (a duck-typed async iterable passes)."""
    return isinstance(stream, AsyncByteStream) or not isinstance(stream, SyncByteStream)


async def _aclose_iterator(iterator: object) -> None:
    """Close an async iterator that has an ``aclose()`` (as async generators do)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is None:
        return
    if not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int or None, not {type(chunk_size).__name__}.")
    if chunk_size <= 0:
        raise ValueError(
            f"chunk_size must be a positive number of bytes (or None for chunks as they "
            f"arrive), not {chunk_size!r}."
        )


def _split(content: bytes, chunk_size: int | None) -> Iterator[bytes]:
    """``content`` in chunks of ``chunk_size`` (the last may be shorter); nothing if empty."""
    if chunk_size is None or chunk_size >= len(content):
        if content:
            yield content
        return
    for start in range(0, len(content), chunk_size):
        yield content[start : start + chunk_size]


class Request:
    """An HTTP request: method, URL, headers, a body stream and extensions.

    The body is given as one of ``content`` (bytes, str, or an iterable of bytes), ``data``
    (a form, urlencoded), ``files`` (multipart, together with ``data``) or ``json``; the
    matching ``Content-Length`` or ``Transfer-Encoding`` and ``Content-Type`` headers are
    added unless already set. ``Host`` is added first, from the URL::

        >>> request = heron.Request("POST", "https://example.org/items", json={"name": "x"})
        >>> request.headers["Content-Type"]
        'application/json'
        >>> request.content
        b'{"name":"x"}'

    ``params`` replace the URL's query string. ``stream`` takes a ready-made body stream
    instead (no body headers are added then), and ``extensions`` carries per-request options
    for the transport, such as ``timeout``.
    """

    __slots__ = ("__weakref__", "_content", "extensions", "headers", "method", "stream", "url")

    method: str
    url: URL
    headers: Headers
    stream: SyncByteStream | AsyncByteStream
    extensions: dict[str, Any]
    _content: bytes | None

    def __init__(
        self,
        method: str | bytes,
        url: URLTypes,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        extensions: RequestExtensions | None = None,
    ) -> None:
        self.method = _normalize_method(method)
        target = url if isinstance(url, URL) else URL(url)
        if params is not None:
            # httpx 0.28: params replace the query string, they are not merged into it.
            target = target.copy_with(params=params)
        self.url = target
        self.headers = Headers(headers)
        self.extensions = {} if extensions is None else dict(extensions)
        self._content = None

        # RFC 9110 section 7.2: a user agent SHOULD send Host as the first header. (Put in
        # place directly: the entry is built from a parsed URL, so it needs no validation. The
        # parsed host is tested rather than `.host`, which would decode an IDNA name.)
        if target._uri_reference.host and "host" not in self.headers:
            self.headers._list.insert(0, (b"Host", b"host", target.netloc))
        if cookies:
            Cookies(cookies).set_cookie_header(self)

        if stream is not None:
            # A ready-made stream (a redirect or retry re-using a body): its headers are
            # the caller's business.
            self.stream = stream
            return
        if content is None and data is None and files is None and json is None:
            self.stream = _EMPTY_STREAM
            self._content = b""
        else:
            boundary = _multipart_boundary(self.headers) if files else None
            body_headers, self.stream = encode_request(
                content=content, data=data, files=files, json=json, boundary=boundary
            )
            _add_body_headers(self.headers, body_headers)
            if isinstance(self.stream, ByteStream):
                self._content = b"".join(self.stream)
        if (
            self.method in _METHODS_EXPECTING_BODY
            and "content-length" not in self.headers
            and "transfer-encoding" not in self.headers
        ):
            self.headers["Content-Length"] = "0"

    @property
    def content(self) -> bytes:
        """The body as bytes; ``RequestNotRead`` for a streaming body not yet ``read()``."""
        if self._content is None:
            raise RequestNotRead()
        return self._content

    def read(self) -> bytes:
        """Read a streaming body into memory, so that ``.content`` works and it can be resent."""
        if self._content is None:
            stream = self.stream
            if not _is_sync_stream(stream):
                raise RuntimeError(
                    "This request's body is an async stream and can't be read synchronously: "
                    "use `await request.aread()` instead."
                )
            self._content = b"".join(stream)  # type: ignore[arg-type]
            # Keep the stream replayable for redirects and retries.
            self.stream = ByteStream(self._content)
        return self._content

    async def aread(self) -> bytes:
        """Read a streaming body into memory; the async form of ``read()``."""
        if self._content is None:
            stream = self.stream
            if not _is_async_stream(stream):
                raise RuntimeError(
                    "This request's body is a sync stream and can't be read asynchronously: "
                    "use `request.read()` instead."
                )
            chunks = stream.__aiter__()  # type: ignore[union-attr]
            try:
                self._content = b"".join([part async for part in chunks])
            finally:
                # Close the body's iterator now, even if reading failed or was cancelled.
                await _aclose_iterator(chunks)
            self.stream = ByteStream(self._content)
        return self._content

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.method!r}, '{_display_url(self.url)}')>"

    def __getstate__(self) -> dict[str, Any]:
        # Extensions hold callables and live objects; a stream that was not read can't travel.
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "_content": self._content,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.method = state["method"]
        self.url = state["url"]
        self.headers = state["headers"]
        self._content = content = state["_content"]
        self.extensions = {}
        self.stream = UnattachedStream() if content is None else ByteStream(content)


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
