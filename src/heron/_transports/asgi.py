"""ASGI transports: call a Starlette- or FastAPI-style app in-process, with streaming responses.

How a request runs. The app is run as its own task, and the caller talks to it through an
``_Exchange``: ``handle_async_request`` returns as soon as the app sends
``http.response.start``, and each ``http.response.body`` chunk is handed to the caller through
an unbuffered memory channel when the caller reads it (so a slow reader slows the app down,
as a socket would). Closing the response before the body's end cancels the app; closing it
after the end tells the app ``http.disconnect`` and waits for it to return (so that background
tasks have run by the time ``client.get()`` returns, as with httpx).

Why a detached task. The app's task outlives ``handle_async_request`` (it is still sending the
body when the response is returned), so it can't run in a task group opened there: a cancel
scope must be exited by the task that entered it, in last-in-first-out order, and the caller
goes on to enter and exit its own scopes before it closes the response. Driving the app's
coroutine from the response's iteration instead would run the app's own task groups and
cancel scopes inside the caller's task, which trio (and anyio on asyncio) reject. So the app
runs in a task of its own: ``asyncio`` tasks on asyncio, and on trio a system task (trio's
detached tasks, cancelled when ``trio.run`` ends). That task enters and exits its own cancel
scope, and the caller only ever calls ``cancel()`` on it, which any task may do.

``SyncASGITransport`` (private; what ``Client(app=asgi_app)`` uses) runs the same machinery on
an event loop in a private thread (an anyio blocking portal), chunk by chunk.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn, Self, TypeAlias

import anyio
import anyio.from_thread
import sniffio

from .._exceptions import RemoteProtocolError, RequestNotRead, StreamClosed
from .._models import Request, Response
from .._streams import AsyncByteStream, SyncByteStream
from .base import AsyncBaseTransport, BaseTransport

__all__ = [
    "ASGIApp",
    "ASGITransport",
    "SyncASGITransport",
    "is_asgi_app",
]

# What heron passes (dicts) and what it accepts (any mapping), so that apps annotated either
# way (a plain `dict`, or Starlette's `MutableMapping` types) type-check as an ASGIApp.
Scope: TypeAlias = dict[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[dict[str, Any]]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_LIFESPAN_REPLIES = {
    "startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}

# asyncio keeps only weak references to tasks: hold the app tasks until they finish.
_running_tasks: set[asyncio.Task[None]] = set()


def is_asgi_app(app: object) -> bool:
    """Tell an ASGI app from a WSGI one, for ``Client(app=...)``.

    An app is ASGI when it is a coroutine function (``async def app(scope, receive, send)``)
    or an object whose ``__call__`` is one (Starlette, FastAPI, Quart, Django's
    ``ASGIHandler``). Anything else is taken for WSGI (Flask, Django's ``WSGIHandler``). An
    ASGI app hidden behind a plain ``def`` wrapper is misread as WSGI: pass
    ``transport=ASGITransport(app)`` to say which it is.
    """
    if inspect.iscoroutinefunction(app):
        return True
    return callable(app) and inspect.iscoroutinefunction(type(app).__call__)


class ASGITransport(AsyncBaseTransport):
    """A transport that calls an ASGI application in-process, on the caller's event loop.

    Responses stream: ``handle_async_request`` returns when the app has sent its status and
    headers, and each body chunk reaches the caller as the app sends it::

        transport = heron.ASGITransport(app, lifespan=True)
        async with heron.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with client.stream("GET", "/events") as response:
                async for chunk in response.aiter_bytes():
                    ...

    Parameters:

    * ``app``: the ASGI 3 application, ``async app(scope, receive, send)``.
    * ``raise_app_exceptions``: re-raise an exception raised by the app (the default), even
      after the response started. When false, an error before the response started gives a
      ``500`` response, and one that cuts the body short raises ``RemoteProtocolError``.
    * ``root_path``: the prefix the app is mounted at (``scope["root_path"]``).
    * ``client``: the ``(host, port)`` the app sees as the client.
    * ``lifespan`` (heron addition): run the app's lifespan protocol: startup before the first
      request (or on ``async with transport``), shutdown on ``aclose()``. A failed startup
      raises ``RuntimeError``; the state the app stores in ``scope["state"]`` during startup
      is copied into every request's scope.

    Works on asyncio and trio.
    """

    __slots__ = ("_exchanges", "_lifespan", "app", "client", "raise_app_exceptions", "root_path")

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
        *,
        lifespan: bool = False,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client
        self._lifespan = _Lifespan(app) if lifespan else None
        self._exchanges: set[_Exchange] = set()

    async def __aenter__(self) -> Self:
        if self._lifespan is not None:
            await self._lifespan.startup()
        return self

    async def handle_async_request(self, request: Request) -> Response:
        exchange = await self._open(request, _async_body(request))
        if exchange is None:
            return Response(500, request=request)
        return Response(
            exchange.status,
            headers=exchange.headers,
            stream=_ASGIStream(exchange),
            request=request,
        )

    async def aclose(self) -> None:
        """End the responses still open, then run the lifespan shutdown if it started."""
        while self._exchanges:
            await self._exchanges.pop().abort()
        if self._lifespan is not None:
            await self._lifespan.shutdown()

    async def _open(
        self, request: Request, body: bytes | AsyncIterator[bytes]
    ) -> _Exchange | None:
        # Start the app; None means "answer 500" (an app error before the response started).
        state = None
        if self._lifespan is not None:
            state = await self._lifespan.startup()
        scope = _build_scope(request, self.root_path, self.client, state)
        exchange = _Exchange(self.app, scope, body, self.raise_app_exceptions, self._exchanges)
        if await exchange.start():
            return exchange
        return None


class SyncASGITransport(BaseTransport):
    """Call an ASGI app from sync code, through an event loop in a private thread.

    ``Client(app=asgi_app)`` uses this. The loop thread (an anyio blocking portal, asyncio
    backend) starts with the first request and stops in ``close()``. Response bodies are
    pulled through it chunk by chunk, so they stream as with ``ASGITransport``. The request
    body is read in the caller's thread first. The parameters are ``ASGITransport``'s.
    """

    __slots__ = ("_lock", "_portal", "_portal_manager", "_transport")

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
        *,
        lifespan: bool = False,
    ) -> None:
        self._transport = ASGITransport(
            app, raise_app_exceptions, root_path, client, lifespan=lifespan
        )
        self._lock = threading.Lock()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._portal_manager: AbstractContextManager[anyio.from_thread.BlockingPortal] | None = (
            None
        )

    @property
    def app(self) -> ASGIApp:
        return self._transport.app

    def __enter__(self) -> Self:
        if self._transport._lifespan is not None:
            self._get_portal().call(self._transport.__aenter__)
        return self

    def handle_request(self, request: Request) -> Response:
        body = request.read()
        portal = self._get_portal()
        exchange = portal.call(self._transport._open, request, body)
        if exchange is None:
            return Response(500, request=request)
        return Response(
            exchange.status,
            headers=exchange.headers,
            stream=_SyncASGIStream(portal, exchange),
            request=request,
        )

    def close(self) -> None:
        """Close the open responses, run the lifespan shutdown, and stop the loop thread."""
        with self._lock:
            portal, manager = self._portal, self._portal_manager
            self._portal = self._portal_manager = None
        if portal is None or manager is None:
            return
        try:
            portal.call(self._transport.aclose)
        finally:
            manager.__exit__(None, None, None)

    def _get_portal(self) -> anyio.from_thread.BlockingPortal:
        with self._lock:
            portal = self._portal
            if portal is None:
                manager = anyio.from_thread.start_blocking_portal(name="heron-asgi")
                portal = manager.__enter__()
                self._portal, self._portal_manager = portal, manager
            return portal


class _ASGIStream(AsyncByteStream):
    """A response body produced by an ASGI app, chunk by chunk."""

    __slots__ = ("_exchange",)

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        while (chunk := await exchange.receive_chunk()) is not None:
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        await self._exchange.aclose()


class _SyncASGIStream(SyncByteStream):
    """A response body produced by an ASGI app on the portal's loop, pulled from sync code."""

    __slots__ = ("_exchange", "_portal")

    def __init__(self, portal: anyio.from_thread.BlockingPortal, exchange: _Exchange) -> None:
        self._portal = portal
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        call, receive_chunk = self._portal.call, self._exchange.receive_chunk
        while (chunk := call(receive_chunk)) is not None:
            if chunk:
                yield chunk

    def close(self) -> None:
        if not self._exchange.is_closed:
            self._portal.call(self._exchange.aclose)


class _AppTask:
    """Runs an ASGI app call in a detached task, inside a cancel scope of that task's own."""

    __slots__ = ("_app_error", "_cancel_scope", "_done")

    _cancel_scope: anyio.CancelScope  # made by _spawn(), in the event loop

    def __init__(self) -> None:
        self._app_error: BaseException | None = None
        self._done = anyio.Event()

    async def _call_app(self) -> None:
        raise NotImplementedError

    def _finished(self) -> None:
        """Called in the app's task when the app has returned or raised."""

    def _spawn(self) -> None:
        # The scope is made here and entered by the app's task: cancelling it before the task
        # has started still works (the app is cancelled at its first await).
        self._cancel_scope = anyio.CancelScope()
        # anyio runs on asyncio or trio only, and has already failed on anything else by the
        # time an _AppTask (made of anyio events) exists.
        if sniffio.current_async_library() == "trio":
            import trio

            trio.lowlevel.spawn_system_task(self._run, context=contextvars.copy_context())
        else:
            task = asyncio.get_running_loop().create_task(self._run())
            _running_tasks.add(task)
            task.add_done_callback(_running_tasks.discard)

    async def _run(self) -> None:
        try:
            with self._cancel_scope:
                try:
                    await self._call_app()
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as exc:
                    self._app_error = exc
        finally:
            self._finished()
            self._done.set()

    def _cancel(self) -> None:
        self._cancel_scope.cancel()

    async def _wait_done(self) -> None:
        if self._done.is_set():
            return
        # Shielded: cleanup must finish even when the caller is being cancelled.
        with anyio.CancelScope(shield=True):
            await self._done.wait()


class _Exchange(_AppTask):
    """One HTTP request to an ASGI app: the app's ``receive``/``send`` and the caller's side."""

    __slots__ = (
        "_app",
        "_body_iterator",
        "_closed",
        "_disconnected",
        "_error_reported",
        "_finished_body",
        "_next_body",
        "_open_exchanges",
        "_raise_app_exceptions",
        "_receive_channel",
        "_request_complete",
        "_request_error",
        "_response_complete",
        "_scope",
        "_send_channel",
        "_started",
        "headers",
        "status",
    )

    def __init__(
        self,
        app: ASGIApp,
        scope: dict[str, Any],
        body: bytes | AsyncIterator[bytes],
        raise_app_exceptions: bool,
        open_exchanges: set[_Exchange],
    ) -> None:
        super().__init__()
        self._app = app
        self._scope = scope
        self._raise_app_exceptions = raise_app_exceptions
        self._open_exchanges = open_exchanges
        # The request body, one chunk ahead so that each message's more_body is exact.
        if isinstance(body, bytes):
            self._next_body: bytes | None = body or None
            self._body_iterator: AsyncIterator[bytes] | None = None
        else:
            self._next_body = None
            self._body_iterator = body
        self._request_complete = False
        self._request_error: BaseException | None = None
        # The response: status and headers, then body chunks through an unbuffered channel.
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._send_channel, self._receive_channel = anyio.create_memory_object_stream[
            tuple[bytes, bool]
        ](0)
        self._started = anyio.Event()  # set by http.response.start, or when the app ends
        self._disconnected = anyio.Event()
        self._response_complete = False  # the app sent more_body=False
        self._finished_body = False  # the caller received it
        self._closed = False
        self._error_reported = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    # The caller's side.

    async def start(self) -> bool:
        """Run the app until it starts the response; ``False`` means "answer 500"."""
        self._spawn()
        self._open_exchanges.add(self)
        try:
            await self._started.wait()
        except BaseException:
            await self.abort()
            raise
        if self._closed:
            raise RuntimeError(
                "The ASGITransport was closed while this request waited for the app's response."
            )
        if self.status and self._request_error is None:
            return True
        await self.abort()
        self._raise_request_error()
        if self._app_error is not None:
            if self._raise_app_exceptions:
                self._error_reported = True
                raise self._app_error
            return False
        if self._raise_app_exceptions:
            raise RuntimeError(
                "The ASGI app returned without sending 'http.response.start': an app must "
                "answer each HTTP request with a response."
            )
        return False

    async def receive_chunk(self) -> bytes | None:
        """The next body chunk, or ``None`` after the last one."""
        if self._finished_body:
            return None
        try:
            body, more_body = await self._receive_channel.receive()
        except anyio.EndOfStream:
            self._fail_incomplete()
        except anyio.ClosedResourceError:
            raise StreamClosed() from None
        if not more_body:
            self._finished_body = True
        return body

    async def aclose(self) -> None:
        """Close the response: cancel the app if the body isn't done, else let it finish."""
        if self._closed:
            return
        if not self._finished_body:
            self._cancel()
        await self._close()
        error = self._app_error
        if (
            error is not None
            and self._raise_app_exceptions
            and not self._error_reported
            # The error heron's send() raised after the close is the app's cue to stop.
            and not isinstance(error, _ClientDisconnected)
        ):
            self._error_reported = True
            raise error

    async def abort(self) -> None:
        """Stop the app and release everything, reporting nothing; idempotent."""
        self._cancel()
        await self._close()

    async def _close(self) -> None:
        self._closed = True
        self._open_exchanges.discard(self)
        self._disconnected.set()
        # Closed before waiting, so that an app blocked in send() (in a shielded scope, say)
        # gets an error instead of waiting for a reader that will never come.
        self._receive_channel.close()
        await self._wait_done()

    def _fail_incomplete(self) -> NoReturn:
        # The app's task has ended before the body's last chunk: nothing is left to wait for,
        # so the exchange is released now, whether or not the caller closes the response.
        self._finished_body = True
        self._closed = True
        self._open_exchanges.discard(self)
        self._receive_channel.close()
        self._raise_request_error()
        error = self._app_error
        if error is not None:
            self._error_reported = True
            if self._raise_app_exceptions:
                raise error
            raise RemoteProtocolError(
                "The ASGI app raised an exception after its response had started, so the "
                f"response body is incomplete ({type(error).__name__}: {error}). Use "
                "raise_app_exceptions=True to get the app's exception itself."
            ) from error
        raise RemoteProtocolError(
            "The ASGI app returned before finishing the response body: its last "
            "'http.response.body' message must have more_body=False."
        )

    def _raise_request_error(self) -> None:
        if self._request_error is not None:
            raise self._request_error

    # The app's side.

    async def _call_app(self) -> None:
        await self._app(self._scope, self._receive, self._send)

    def _finished(self) -> None:
        self._send_channel.close()
        self._started.set()
        self._disconnected.set()

    async def _receive(self) -> dict[str, Any]:
        if self._request_complete or self._closed:
            await self._disconnected.wait()
            return dict(_DISCONNECT)
        try:
            body = self._next_body
            if body is None:
                body = await self._pull_body()
            self._next_body = None if body is None else await self._pull_body()
        except Exception as exc:
            # The request body failed (the caller's stream raised): abort the exchange and
            # report that error to the caller, whatever the app makes of the disconnect.
            self._request_error = exc
            self._request_complete = True
            self._cancel()
            return dict(_DISCONNECT)
        more_body = self._next_body is not None
        if not more_body:
            self._request_complete = True
        return {"type": "http.request", "body": body or b"", "more_body": more_body}

    async def _pull_body(self) -> bytes | None:
        iterator = self._body_iterator
        if iterator is None:
            return None
        async for chunk in iterator:
            if chunk:
                return chunk
        self._body_iterator = None
        return None

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.body":
            if not self.status:
                raise RuntimeError(
                    "The ASGI app sent 'http.response.body' before 'http.response.start'."
                )
            if self._response_complete:
                raise RuntimeError(
                    "The ASGI app sent 'http.response.body' after the body had ended "
                    "(a message with more_body=False)."
                )
            body = message.get("body", b"")
            more_body = bool(message.get("more_body", False))
            if not isinstance(body, bytes | bytearray | memoryview):
                raise TypeError(
                    f"The ASGI app sent a body of type {type(body).__name__}; "
                    "'http.response.body' carries bytes."
                )
            if not more_body:
                self._response_complete = True
            elif not body:
                return
            if self._closed:
                raise _ClientDisconnected()
            try:
                await self._send_channel.send((bytes(body), more_body))
            except anyio.BrokenResourceError:
                raise _ClientDisconnected() from None
            if not more_body:
                self._disconnected.set()  # as a server does once the response is complete
        elif kind == "http.response.start":
            if self.status:
                raise RuntimeError("The ASGI app sent 'http.response.start' twice.")
            self.status, self.headers = _parse_start(message)
            self._started.set()
        else:
            raise RuntimeError(
                f"The ASGI app sent a message of type {kind!r}: an HTTP response is one "
                "'http.response.start' message, then 'http.response.body' messages."
            )


class _ClientDisconnected(OSError):
    """Raised in the app by ``send()`` when the caller has closed the response."""

    def __init__(self) -> None:
        super().__init__("The client closed the response; the app's message was not sent.")


class _Lifespan(_AppTask):
    """The app's lifespan protocol, run by a detached task that spans the requests."""

    __slots__ = (
        "_app",
        "_lock",
        "_phase",
        "_replied",
        "_reply",
        "_shutdown_requested",
        "_startup_sent",
        "_state",
    )

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app
        self._state: dict[str, Any] = {}
        self._phase = "new"  # new -> startup -> running -> shutdown -> closed
        self._lock: anyio.Lock | None = None
        self._startup_sent = False
        self._shutdown_requested = anyio.Event()
        self._replied = anyio.Event()  # a new one per phase
        self._reply: Message | None = None

    async def startup(self) -> dict[str, Any]:
        """Run the startup once; return the app's lifespan state."""
        if self._phase == "running":
            return self._state
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._phase == "new":
                await self._start()
        if self._phase != "running":
            raise RuntimeError(
                "This ASGITransport has been closed, and its app's lifespan has ended: "
                "create a new transport to send more requests."
            )
        return self._state

    async def _start(self) -> None:
        self._phase = "startup"
        self._spawn()
        try:
            await self._replied.wait()
        except BaseException:
            self._phase = "closed"
            self._cancel()
            await self._wait_done()
            raise
        if self._reply_is("lifespan.startup.complete"):
            self._phase = "running"
            return
        self._phase = "closed"
        self._cancel()
        await self._wait_done()
        self._raise_failure("startup")

    async def shutdown(self) -> None:
        """Run the shutdown, if the startup ran; later requests are refused."""
        if self._phase != "running":
            self._phase = "closed"
            return
        self._phase = "shutdown"
        self._replied = anyio.Event()
        self._reply = None
        self._shutdown_requested.set()
        if not self._done.is_set():  # else the app has ended already: no reply will come
            with anyio.CancelScope(shield=True):
                await self._replied.wait()
        self._phase = "closed"
        self._cancel()
        await self._wait_done()
        # An app that returned early, without an error, has nothing left to shut down.
        if self._reply is None and self._app_error is None:
            return
        if not self._reply_is("lifespan.shutdown.complete"):
            self._raise_failure("shutdown")

    def _reply_is(self, kind: str) -> bool:
        return self._reply is not None and self._reply.get("type") == kind

    def _raise_failure(self, phase: str) -> NoReturn:
        if self._reply is not None:
            message = self._reply.get("message", "") or "no message given"
            raise RuntimeError(f"The ASGI app's lifespan {phase} failed: {message}")
        if self._app_error is not None:
            raise RuntimeError(
                f"The ASGI app raised an exception during its lifespan {phase}: "
                f"{type(self._app_error).__name__}: {self._app_error}"
            ) from self._app_error
        raise RuntimeError(
            f"The ASGI app returned during its lifespan {phase} without sending "
            f"'lifespan.{phase}.complete'. If it doesn't support the lifespan protocol, "
            "create the transport with lifespan=False."
        )

    async def _call_app(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state}
        await self._app(scope, self._receive, self._send)

    def _finished(self) -> None:
        self._replied.set()

    async def _receive(self) -> dict[str, Any]:
        if not self._startup_sent:
            self._startup_sent = True
            return {"type": "lifespan.startup"}
        await self._shutdown_requested.wait()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        phase = "startup" if self._phase == "startup" else "shutdown"
        if self._reply is not None or kind not in _LIFESPAN_REPLIES[phase]:
            raise RuntimeError(
                f"The ASGI app sent {kind!r} during its lifespan {phase}; expected one of "
                f"{' or '.join(repr(k) for k in _LIFESPAN_REPLIES[phase])}."
            )
        self._reply = message
        self._replied.set()


def _async_body(request: Request) -> bytes | AsyncIterator[bytes]:
    try:
        return request.content
    except RequestNotRead:
        pass
    stream = request.stream
    if not isinstance(stream, AsyncByteStream):
        raise RuntimeError(
            "This request has a sync body, which an async transport can't read: send it with "
            "a sync Client, or give the body as bytes or an async iterable."
        )
    iterator: AsyncIterator[bytes] = stream.__aiter__()
    return iterator


def _build_scope(
    request: Request,
    root_path: str,
    client: tuple[str, int],
    state: dict[str, Any] | None,
) -> dict[str, Any]:
    url = request.url
    scheme = url.scheme
    port = url.port
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": scheme,
        "path": url.path,
        "raw_path": url.raw_path.partition(b"?")[0],
        "query_string": url.query,
        "root_path": root_path,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": client,
        "server": (url.host, port),
    }
    if state is not None:
        # ASGI lifespan state: each request gets a shallow copy of what startup stored.
        scope["state"] = dict(state)
    return scope


def _parse_start(message: Message) -> tuple[int, list[tuple[bytes, bytes]]]:
    status = message.get("status")
    if type(status) is not int or not 100 <= status <= 999:
        raise TypeError(
            f"The ASGI app sent 'http.response.start' with status {status!r}; "
            "the status is an int such as 200."
        )
    try:
        headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "The ASGI app sent 'http.response.start' with headers "
            f"{message.get('headers')!r}; headers are an iterable of [name, value] byte pairs."
        ) from exc
    return status, headers
