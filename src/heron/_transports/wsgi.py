"""WSGI (PEP 3333) transports: call a Flask- or Django-style app in-process.

``WSGITransport`` calls the app in the caller's thread. ``AsyncWSGITransport`` (private; what
``AsyncClient(app=...)`` uses for a WSGI app) calls it in a worker thread, chunk by chunk, so
that a slow or blocking app never stalls the event loop.

How a call runs (``_WSGICall``): the app is called with the environ and ``start_response``;
then, as PEP 3333 asks of a server, its iterable is advanced until the first non-empty chunk
(or its end) before the status and headers count as sent, so that an app may still replace
them by calling ``start_response`` again with ``exc_info``. The rest of the body is pulled from
the iterable as the caller reads the response, and the iterable's ``close()`` is called when
the response is closed.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_to_bytes

import anyio
import anyio.from_thread
import anyio.to_thread

from .._exceptions import RemoteProtocolError, RequestNotRead
from .._models import Request, Response
from .._streams import AsyncByteStream, SyncByteStream
from .base import AsyncBaseTransport, BaseTransport

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from _typeshed import OptExcInfo, WriteableBuffer
    from _typeshed.wsgi import WSGIApplication

__all__ = ["AsyncWSGITransport", "WSGITransport"]

# CGI puts these two headers in the environ without the HTTP_ prefix (PEP 3333, RFC 3875 4.1).
_UNPREFIXED_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


class WSGITransport(BaseTransport):
    """A transport that calls a WSGI application in-process, in the caller's thread.

    ``Client(app=flask_app)`` builds one for you; build it yourself to set the options::

        transport = heron.WSGITransport(app, script_name="/api", remote_addr="10.0.0.1")
        with heron.Client(transport=transport, base_url="http://testserver") as client:
            response = client.get("/api/users")

    Parameters:

    * ``app``: the WSGI application, ``app(environ, start_response) -> iterable of bytes``.
    * ``raise_app_exceptions``: re-raise an exception raised by the app (the default). When
      false, an error before the response started gives a ``500`` response, and an error
      after it started (a truncated body) raises ``RemoteProtocolError``.
    * ``script_name``: the prefix the app is mounted at (``SCRIPT_NAME``); a request path
      under it has the prefix moved out of ``PATH_INFO``.
    * ``remote_addr``: the client address the app sees (``REMOTE_ADDR``).
    * ``wsgi_errors``: the text stream for ``wsgi.errors`` (default: ``sys.stderr``).
    """

    __slots__ = ("app", "raise_app_exceptions", "remote_addr", "script_name", "wsgi_errors")

    def __init__(
        self,
        app: WSGIApplication,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    def handle_request(self, request: Request) -> Response:
        wsgi_input = _sync_input(request)
        environ = _build_environ(
            request, wsgi_input, self.script_name, self.remote_addr, self.wsgi_errors
        )
        call = _WSGICall(self.app, environ, self.raise_app_exceptions)
        if not call.start():
            return Response(500, request=request)
        return call.response(request, _WSGIStream(call))


class AsyncWSGITransport(AsyncBaseTransport):
    """Call a WSGI application from async code, in a worker thread.

    ``AsyncClient(app=flask_app)`` uses this. The app, its body iteration and its ``close()``
    all run in worker threads (``anyio.to_thread``), so the event loop keeps serving other
    tasks while the app blocks. The request body, when it is an async stream, is pulled from
    the event loop as the app reads ``wsgi.input``. The parameters are ``WSGITransport``'s.

    A worker thread can't be interrupted: cancelling a request waits for the app's current
    step (the app call itself, or the production of one chunk) to return. Every step runs in
    one ``contextvars`` context, so context variables an app sets while producing its body
    (as Flask's ``stream_with_context`` does) carry over from chunk to chunk.
    """

    __slots__ = ("app", "raise_app_exceptions", "remote_addr", "script_name", "wsgi_errors")

    def __init__(
        self,
        app: WSGIApplication,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    async def handle_async_request(self, request: Request) -> Response:
        wsgi_input = _async_input(request)
        environ = _build_environ(
            request, wsgi_input, self.script_name, self.remote_addr, self.wsgi_errors
        )
        call = _WSGICall(self.app, environ, self.raise_app_exceptions)
        # Every step of the call runs in this one context, whichever worker thread runs it:
        # apps keep state in context variables across the body's iteration (Flask's
        # stream_with_context does), and each to_thread call would otherwise get a fresh copy.
        context = contextvars.copy_context()
        if not await anyio.to_thread.run_sync(context.run, call.start):
            return Response(500, request=request)
        return call.response(request, _AsyncWSGIStream(call, context))


class _WSGICall:
    """One call of a WSGI app: ``start_response``, the prefetch, the body, ``close()``."""

    __slots__ = (
        "_app",
        "_closed",
        "_environ",
        "_headers",
        "_headers_sent",
        "_iterable",
        "_iterator",
        "_pending",
        "_raise_app_exceptions",
        "_reason",
        "_status",
    )

    def __init__(
        self, app: WSGIApplication, environ: dict[str, Any], raise_app_exceptions: bool
    ) -> None:
        self._app = app
        self._environ = environ
        self._raise_app_exceptions = raise_app_exceptions
        self._status: int | None = None
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._headers_sent = False
        self._iterable: Iterable[bytes] | None = None
        self._iterator: Iterator[bytes] | None = None
        # Chunks ready to hand out: the prefetched first chunk, and data given to write().
        self._pending: deque[bytes] = deque()
        self._closed = False

    def start(self) -> bool:
        """Run the app until its status and headers are final; ``False`` means "answer 500"."""
        try:
            iterable = self._app(self._environ, self._start_response)
            self._iterable = iterable
            self._iterator = iter(iterable)
            if not self._pending:
                # PEP 3333: the headers are sent with the first non-empty chunk, so until then
                # the app may replace them (start_response with exc_info).
                self._advance()
        except Exception:
            self.close_quietly()
            if self._raise_app_exceptions:
                raise
            return False
        if self._status is None:
            self.close_quietly()
            if self._raise_app_exceptions:
                raise RuntimeError(
                    "The WSGI app returned without calling start_response(status, headers); "
                    "it must call it before returning or yielding its body (PEP 3333)."
                )
            return False
        self._headers_sent = True
        return True

    def response(self, request: Request, stream: SyncByteStream | AsyncByteStream) -> Response:
        assert self._status is not None  # start() returned True
        return Response(
            self._status,
            headers=self._headers,
            stream=stream,
            request=request,
            extensions={"reason_phrase": self._reason},
        )

    @property
    def has_pending(self) -> bool:
        """True when the next chunk is ready without running app code."""
        return bool(self._pending) or self._iterator is None

    @property
    def is_closed(self) -> bool:
        return self._closed

    def next_chunk(self) -> bytes | None:
        """The next non-empty chunk of the body, or ``None`` at its end."""
        if not self._pending and self._iterator is not None:
            try:
                self._advance()
            except Exception as exc:
                self.close_quietly()
                if self._raise_app_exceptions:
                    raise
                raise RemoteProtocolError(
                    "The WSGI app raised an exception after its response had started, so the "
                    f"response body is incomplete ({type(exc).__name__}: {exc}). Use "
                    "raise_app_exceptions=True to get the app's exception itself."
                ) from exc
        return self._pending.popleft() if self._pending else None

    def _advance(self) -> None:
        # Pull from the iterable until there is something to hand out, or it ends.
        assert self._iterator is not None
        for chunk in self._iterator:
            if not isinstance(chunk, bytes):
                raise TypeError(
                    f"The WSGI app yielded {type(chunk).__name__}, but a WSGI body is made of "
                    "bytes (PEP 3333): encode text before returning it."
                )
            if chunk:
                self._pending.append(chunk)
                return
            if self._pending:  # write() was called while producing an empty chunk
                return
        self._iterator = None

    def close(self) -> None:
        """Call the iterable's ``close()`` (PEP 3333 requires it), once."""
        if self._closed:
            return
        self._closed = True
        self._iterator = None
        self._pending.clear()
        close = getattr(self._iterable, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                if self._raise_app_exceptions:
                    raise

    def close_quietly(self) -> None:
        """Close after an error: the first error is the one worth reporting."""
        with contextlib.suppress(Exception):  # the caller is handling an app error already
            self.close()

    def _start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        if exc_info is not None and exc_info[1] is not None:
            # PEP 3333: once the headers are sent, re-raise; before that, the new status and
            # headers replace the old ones (when the app's errors become 500 responses).
            if self._headers_sent or self._raise_app_exceptions:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self._status is not None:
            raise RuntimeError(
                "The WSGI app called start_response() a second time without exc_info; "
                "pass exc_info=sys.exc_info() when replacing the response after an error."
            )
        self._status, self._reason = _parse_status(status)
        self._headers = _encode_headers(response_headers)
        return self._write

    def _write(self, data: bytes) -> None:
        # The legacy write() callable (PEP 3333): the data goes out before the iterable's.
        if not isinstance(data, bytes):
            raise TypeError(
                f"The WSGI app passed {type(data).__name__} to write(); it takes bytes."
            )
        if data:
            self._pending.append(data)
            self._headers_sent = True


class _WSGIStream(SyncByteStream):
    """The response body: pulls chunks from the app's iterable as the caller reads."""

    __slots__ = ("_call",)

    def __init__(self, call: _WSGICall) -> None:
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        call = self._call
        while (chunk := call.next_chunk()) is not None:
            yield chunk
        call.close()

    def close(self) -> None:
        self._call.close()


class _AsyncWSGIStream(AsyncByteStream):
    """The response body, each chunk produced by the app in a worker thread."""

    __slots__ = ("_call", "_context")

    def __init__(self, call: _WSGICall, context: contextvars.Context) -> None:
        self._call = call
        self._context = context

    async def __aiter__(self) -> AsyncIterator[bytes]:
        call = self._call
        while True:
            if call.has_pending:
                chunk = call.next_chunk()
            else:
                chunk = await anyio.to_thread.run_sync(self._context.run, call.next_chunk)
            if chunk is None:
                break
            yield chunk
        await self.aclose()

    async def aclose(self) -> None:
        if not self._call.is_closed:
            await anyio.to_thread.run_sync(self._context.run, self._call.close)


class _BodyReader(io.RawIOBase):
    """``wsgi.input`` over a request body that hasn't been read into memory."""

    def __init__(self, pull: Callable[[], bytes | None]) -> None:
        self._pull: Callable[[], bytes | None] | None = pull
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._chunk:
            if self._pull is None:
                return 0
            chunk = self._pull()
            if chunk is None:
                self._pull = None
                return 0
            self._chunk = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        size = min(len(target), len(self._chunk))
        target[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size


class _AsyncBodyPuller:
    """Pull the chunks of an async request body from a worker thread, via the event loop."""

    __slots__ = ("_iterator",)

    def __init__(self, stream: AsyncByteStream) -> None:
        self._iterator = stream.__aiter__()

    def __call__(self) -> bytes | None:
        return anyio.from_thread.run(self._next)

    async def _next(self) -> bytes | None:
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            return None


def _sync_input(request: Request) -> io.BufferedIOBase:
    try:
        return io.BytesIO(request.content)
    except RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, SyncByteStream):
        raise RuntimeError(
            "This request has an async body, which a sync transport can't read: send it with "
            "an AsyncClient, or give the body as bytes or a sync iterable."
        )
    iterator = iter(stream)
    return io.BufferedReader(_BodyReader(lambda: next(iterator, None)))


def _async_input(request: Request) -> io.BufferedIOBase:
    try:
        return io.BytesIO(request.content)
    except RequestNotRead:
        pass
    stream = request.stream
    if isinstance(stream, AsyncByteStream):
        return io.BufferedReader(_BodyReader(_AsyncBodyPuller(stream)))
    # A sync body: the worker thread iterates it directly.
    iterator = iter(stream)
    return io.BufferedReader(_BodyReader(lambda: next(iterator, None)))


def _build_environ(
    request: Request,
    wsgi_input: io.BufferedIOBase,
    script_name: str,
    remote_addr: str,
    wsgi_errors: TextIO | None,
) -> dict[str, Any]:
    url = request.url
    scheme = url.scheme
    # PEP 3333 "native strings": the percent-decoded path bytes, decoded as latin-1. Frameworks
    # re-encode them as latin-1 and decode as UTF-8 themselves.
    raw_path = url.raw_path.partition(b"?")[0]
    if b"%" in raw_path:
        raw_path = unquote_to_bytes(raw_path)
    path_info = raw_path.decode("latin-1")
    script_name = script_name.rstrip("/")
    if script_name and (path_info == script_name or path_info.startswith(script_name + "/")):
        path_info = path_info[len(script_name) :]
    port = url.port
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80

    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": wsgi_input,
        "wsgi.errors": sys.stderr if wsgi_errors is None else wsgi_errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        # The input ends where the body ends, chunked or not: frameworks may read to EOF.
        "wsgi.input_terminated": True,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": url.query.decode("latin-1"),
        "SERVER_NAME": url.raw_host.decode("latin-1"),
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr,
    }
    for raw_name, raw_value in request.headers.raw:
        key = raw_name.decode("latin-1").upper().replace("-", "_")
        if key not in _UNPREFIXED_HEADERS:
            key = "HTTP_" + key
        value = raw_value.decode("latin-1")
        if key in environ:
            # A repeated header becomes one comma-separated value (RFC 9110 5.3); cookies
            # are joined the way RFC 6265 5.4 sends them.
            separator = "; " if key == "HTTP_COOKIE" else ", "
            value = environ[key] + separator + value
        environ[key] = value
    return environ


def _parse_status(status: str) -> tuple[int, bytes]:
    if isinstance(status, str):
        code, _, reason = status.partition(" ")
        if len(code) == 3 and code.isdigit() and reason.isascii():
            return int(code), reason.encode("ascii")
    raise ValueError(
        f"The WSGI app gave the status {status!r}; a status is a str such as '200 OK' "
        "(three digits, a space, an ASCII reason phrase)."
    )


def _encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    try:
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    except (AttributeError, TypeError, ValueError) as exc:
        raise TypeError(
            f"The WSGI app gave the response headers {headers!r}; headers are a list of "
            "(name, value) str pairs that encode as latin-1 (PEP 3333)."
        ) from exc
