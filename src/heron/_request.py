"""``Request``: the message a client sends, and what ``Request`` and ``Response`` share.

A request body is a byte stream (``_streams``), never assumed to be in memory; ``read()`` and
``aread()`` load a streamed body when it must be replayed (redirects, retries, digest auth).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._content import UnattachedStream, encode_request
from ._cookies import Cookies
from ._exceptions import (
    LocalProtocolError,
    RequestNotRead,
)
from ._headers import Headers
from ._streams import AsyncByteStream, ByteStream, SyncByteStream
from ._urls import URL
from ._utils import (
    is_http_token,
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
        URLTypes,
    )

__all__ = ["Request"]


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
