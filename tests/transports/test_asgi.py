"""ASGITransport and SyncASGITransport: the scope, streaming responses, app errors, lifespan."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi import Request as FastAPIRequest
from fastapi.responses import StreamingResponse
from flask import Flask
from starlette.applications import Starlette

import heron
from heron._transports import asgi
from heron._transports.asgi import ASGITransport, SyncASGITransport, is_asgi_app

Scope = dict[str, Any]
Message = dict[str, Any]


@pytest.fixture(autouse=True)
def no_leaked_threads_or_tasks() -> Iterator[None]:
    yield
    assert not [thread for thread in threading.enumerate() if thread.name == "heron-asgi"]
    assert not asgi._running_tasks


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        body += bytes(message["body"])
        if not message["more_body"]:
            return body


async def hello(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-hello", b"1")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    body = await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def request(
    app: Any, url: str = "http://testserver/", method: str = "GET", **options: Any
) -> heron.Response:
    transport = ASGITransport(app, **options.pop("transport", {}))
    return await transport.handle_async_request(heron.Request(method, url, **options))


async def capture_scope(url: str = "http://testserver/", **options: Any) -> Scope:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)
        await hello(scope, receive, send)

    response = await request(app, url, **options)
    await response.aread()
    return seen[0]


# The scope -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_scope_describes_the_request() -> None:
    scope = await capture_scope(
        "http://example.org:8080/a%20b/%E2%9C%93/c%2Fd?x=1&y=%20",
        method="POST",
        headers=[("X-Foo", "bar"), ("x-foo", "baz")],
        content=b"abc",
    )
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/a b/✓/c/d",
        "raw_path": b"/a%20b/%E2%9C%93/c%2Fd",
        "query_string": b"x=1&y=%20",
        "root_path": "",
        "headers": [
            (b"host", b"example.org:8080"),
            (b"x-foo", b"bar"),
            (b"x-foo", b"baz"),
            (b"content-length", b"3"),
        ],
        "client": ("127.0.0.1", 123),
        "server": ("example.org", 8080),
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "server"), [("https://a.test/", ("a.test", 443)), ("http://a.test/", ("a.test", 80))]
)
async def test_scope_server_has_the_default_port(url: str, server: tuple[str, int]) -> None:
    scope = await capture_scope(url)
    assert scope["server"] == server
    assert scope["scheme"] == url.partition(":")[0]


@pytest.mark.anyio
async def test_root_path_and_client_are_configurable() -> None:
    scope = await capture_scope(
        "http://testserver/api/items",
        transport={"root_path": "/api", "client": ("10.0.0.1", 4000)},
    )
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/items"
    assert scope["client"] == ("10.0.0.1", 4000)


# The request body ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_bytes_body_arrives_in_one_message() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        messages.append(await receive())
        await hello(scope, receive, send)

    response = await request(app, method="POST", content=b"abc")
    await response.aread()
    assert messages == [{"type": "http.request", "body": b"abc", "more_body": False}]


@pytest.mark.anyio
async def test_empty_body_is_one_empty_message() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        messages.append(await receive())
        await hello(scope, receive, send)

    await (await request(app)).aread()
    assert messages == [{"type": "http.request", "body": b"", "more_body": False}]


@pytest.mark.anyio
async def test_streamed_body_arrives_chunk_by_chunk_with_exact_more_body() -> None:
    messages: list[Message] = []

    async def upload() -> AsyncIterator[bytes]:
        yield b"one"
        yield b""
        yield b"two"

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        messages.append(await receive())
        messages.append(await receive())
        await hello(scope, receive, send)

    await (await request(app, method="POST", content=upload())).aread()
    assert messages == [
        {"type": "http.request", "body": b"one", "more_body": True},
        {"type": "http.request", "body": b"two", "more_body": False},
    ]


@pytest.mark.anyio
async def test_streamed_empty_body() -> None:
    async def upload() -> AsyncIterator[bytes]:
        yield b""

    response = await request(echo, method="POST", content=upload())
    assert await response.aread() == b""


@pytest.mark.anyio
async def test_receive_after_the_body_waits_for_the_disconnect_at_the_end_of_the_response() -> (
    None
):
    after: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await read_body(receive)
        await hello(scope, receive, send)
        after.append(await receive())

    response = await request(app)
    assert await response.aread() == b"hello"
    assert after == [{"type": "http.disconnect"}]


@pytest.mark.anyio
async def test_failing_request_body_is_raised_to_the_caller() -> None:
    seen: list[Message] = []

    async def upload() -> AsyncIterator[bytes]:
        yield b"one"
        raise OSError("disk gone")

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(await receive())
        seen.append(await receive())
        await anyio.sleep_forever()

    with pytest.raises(OSError, match="disk gone"):
        await request(app, method="POST", content=upload())
    # The body is read one chunk ahead (for an exact more_body), so the failure shows first.
    assert seen == [{"type": "http.disconnect"}]


@pytest.mark.anyio
async def test_failing_request_body_read_after_the_response_started() -> None:
    read_now = anyio.Event()

    async def upload() -> AsyncIterator[bytes]:
        raise OSError("disk gone")
        yield b""  # pragma: no cover - makes this a generator

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await read_now.wait()
        message = await receive()
        await send(
            {"type": "http.response.body", "body": message["type"].encode(), "more_body": True}
        )
        await anyio.sleep_forever()  # pragma: no cover - cancelled when the body failed

    response = await request(app, method="POST", content=upload())
    read_now.set()
    with pytest.raises(OSError, match="disk gone"):
        await response.aread()
    await response.aclose()


@pytest.mark.anyio
async def test_sync_body_in_the_async_transport_is_a_clear_error() -> None:
    stream = heron.Request("POST", "http://x/", content=iter([b"x"])).stream
    with pytest.raises(RuntimeError, match="sync body, which an async transport can't read"):
        await request(echo, method="POST", stream=stream)


# The response --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_status_headers_and_body() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [[b"x-a", b"1"], (b"X-A", bytearray(b"2"))],
            }
        )
        await send({"type": "http.response.body", "body": bytearray(b"not "), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"found")})

    req = heron.Request("GET", "http://testserver/")
    response = await ASGITransport(app).handle_async_request(req)
    assert response.status_code == 404
    assert response.headers.get_list("x-a") == ["1", "2"]
    assert response.request is req
    assert await response.aread() == b"not found"


@pytest.mark.anyio
async def test_response_streams_each_chunk_as_the_app_sends_it() -> None:
    """The app sends three chunks with pauses; the caller reads the first before the last."""
    resume = [anyio.Event(), anyio.Event()]
    sent: list[bytes] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index, chunk in enumerate([b"one", b"two", b"three"]):
            if index:
                await resume[index - 1].wait()
            sent.append(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": index < 2})

    response = await request(app)
    chunks = response.aiter_bytes()
    assert await chunks.__anext__() == b"one"
    assert b"three" not in sent
    resume[0].set()
    assert await chunks.__anext__() == b"two"
    assert sent == [b"one", b"two"]
    resume[1].set()
    assert await chunks.__anext__() == b"three"
    with pytest.raises(StopAsyncIteration):
        await chunks.__anext__()
    assert response.is_closed


@pytest.mark.anyio
async def test_response_returns_before_the_body_is_sent() -> None:
    body_allowed = anyio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x-early", b"yes")]}
        )
        await body_allowed.wait()
        await send({"type": "http.response.body", "body": b"late"})

    response = await request(app)
    assert response.headers["x-early"] == "yes"
    body_allowed.set()
    assert await response.aread() == b"late"


@pytest.mark.anyio
async def test_closing_the_response_early_cancels_the_app() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise
        finally:
            events.append("finally")

    response = await request(app)
    async with aclosing(response.aiter_raw()) as chunks:
        assert await chunks.__anext__() == b"tick"
    await response.aclose()
    await response.aclose()
    assert events[-1] == "finally"


@pytest.mark.anyio
async def test_closing_after_the_body_lets_the_app_finish_its_work() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await hello(scope, receive, send)
        events.append((await receive())["type"])
        await anyio.lowlevel.checkpoint()
        events.append("background work done")

    response = await request(app)
    assert await response.aread() == b"hello"
    assert events == ["http.disconnect", "background work done"]


@pytest.mark.anyio
async def test_app_sending_after_the_client_closed_gets_an_os_error() -> None:
    errors: list[OSError] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        with anyio.CancelScope(shield=True):
            assert (await receive())["type"] == "http.request"
            assert (await receive())["type"] == "http.disconnect"
            try:
                await send({"type": "http.response.body", "body": b"late", "more_body": True})
            except OSError as exc:
                errors.append(exc)

    response = await request(app)
    await response.aclose()
    assert "client closed the response" in str(errors[0])


@pytest.mark.anyio
async def test_app_blocked_in_send_when_the_client_closes_gets_an_os_error() -> None:
    errors: list[OSError] = []
    sending = anyio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        with anyio.CancelScope(shield=True):
            sending.set()
            try:
                await send({"type": "http.response.body", "body": b"unread", "more_body": True})
            except OSError as exc:
                errors.append(exc)

    response = await request(app)
    await sending.wait()
    await response.aclose()
    assert isinstance(errors[0], OSError)


@pytest.mark.anyio
async def test_reading_the_stream_after_close_raises_stream_closed() -> None:
    response = await request(hello)
    await response.aclose()
    with pytest.raises(heron.StreamClosed):
        async for _ in response.stream:  # type: ignore[union-attr]
            pass  # pragma: no cover - nothing to read


@pytest.mark.anyio
async def test_stream_iterated_to_its_end_keeps_returning_nothing() -> None:
    response = await request(hello)
    stream = response.stream
    assert [chunk async for chunk in stream] == [b"hello"]  # type: ignore[union-attr]
    assert [chunk async for chunk in stream] == []  # type: ignore[union-attr]
    await response.aclose()


@pytest.mark.anyio
async def test_cancelling_the_caller_before_the_response_cancels_the_app() -> None:
    entered = anyio.Event()
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            events.append("app ended")

    transport = ASGITransport(app)
    async with anyio.create_task_group() as tg:
        tg.start_soon(transport.handle_async_request, heron.Request("GET", "http://x/"))
        await entered.wait()
        tg.cancel_scope.cancel()
    assert events == ["app ended"]
    assert not transport._exchanges


@pytest.mark.anyio
async def test_cancelling_before_the_app_task_started_cancels_it_at_once() -> None:
    ran: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        # On trio the app never starts; on asyncio it may start, and is cancelled at once.
        ran.append("started")
        await anyio.lowlevel.checkpoint()
        ran.append("finished")  # pragma: no cover - cancelled

    with anyio.CancelScope() as scope:
        scope.cancel()
        await request(app)
    assert "finished" not in ran


@pytest.mark.anyio
async def test_closing_the_transport_while_a_request_waits_is_a_clear_error() -> None:
    entered = anyio.Event()
    errors: list[Exception] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        entered.set()
        await anyio.sleep_forever()

    transport = ASGITransport(app)

    async def send_request() -> None:
        try:
            await transport.handle_async_request(heron.Request("GET", "http://x/"))
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(send_request)
        await entered.wait()
        await transport.aclose()
    assert "closed while this request waited" in str(errors[0])


@pytest.mark.anyio
async def test_closing_the_transport_ends_open_responses() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        finally:
            events.append("app ended")

    transport = ASGITransport(app)
    response = await transport.handle_async_request(heron.Request("GET", "http://x/"))
    await transport.aclose()
    assert events == ["app ended"]
    await response.aclose()


@pytest.mark.anyio
async def test_context_variables_reach_the_app() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from the caller")
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(var.get())
        await hello(scope, receive, send)

    await (await request(app)).aread()
    assert seen == ["from the caller"]


# App errors ----------------------------------------------------------------------------------


async def fails_before_start(scope: Scope, receive: Any, send: Any) -> None:
    raise ValueError("before start")


async def fails_mid_body(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("mid body")


async def fails_after_body(scope: Scope, receive: Any, send: Any) -> None:
    await hello(scope, receive, send)
    raise ValueError("after body")


@pytest.mark.anyio
async def test_error_before_the_response_is_raised() -> None:
    with pytest.raises(ValueError, match="before start"):
        await request(fails_before_start)


@pytest.mark.anyio
async def test_error_before_the_response_is_a_500_when_not_raising() -> None:
    response = await request(fails_before_start, transport={"raise_app_exceptions": False})
    assert response.status_code == 500
    assert await response.aread() == b""


@pytest.mark.anyio
async def test_error_mid_body_is_raised_while_reading() -> None:
    response = await request(fails_mid_body)
    with pytest.raises(ValueError, match="mid body"):
        await response.aread()
    await response.aclose()  # reported once, not again


@pytest.mark.anyio
async def test_error_mid_body_is_a_protocol_error_when_not_raising() -> None:
    response = await request(fails_mid_body, transport={"raise_app_exceptions": False})
    with pytest.raises(
        heron.RemoteProtocolError, match=r"incomplete \(ValueError: mid body\)"
    ) as info:
        await response.aread()
    assert isinstance(info.value.__cause__, ValueError)
    await response.aclose()


@pytest.mark.anyio
async def test_error_after_the_body_is_raised_on_close() -> None:
    response = await request(fails_after_body)
    with pytest.raises(ValueError, match="after body"):
        await response.aread()


@pytest.mark.anyio
async def test_error_after_the_body_is_dropped_when_not_raising() -> None:
    response = await request(fails_after_body, transport={"raise_app_exceptions": False})
    assert await response.aread() == b"hello"


@pytest.mark.anyio
async def test_error_while_the_caller_closes_early_is_raised_on_close() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            await anyio.sleep_forever()
        finally:
            raise ValueError("cleanup failed")

    response = await request(app)
    with pytest.raises(ValueError, match="cleanup failed"):
        await response.aclose()


@pytest.mark.anyio
async def test_app_returning_without_a_response() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(RuntimeError, match=r"returned without sending 'http\.response\.start'"):
        await request(app)
    response = await request(app, transport={"raise_app_exceptions": False})
    assert response.status_code == 500


@pytest.mark.anyio
async def test_app_returning_before_the_end_of_the_body() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    response = await request(app)
    with pytest.raises(
        heron.RemoteProtocolError, match="returned before finishing the response body"
    ):
        await response.aread()
    await response.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        (
            [{"type": "http.response.body", "body": b"x"}],
            RuntimeError,
            "before 'http.response.start'",
        ),
        (
            [{"type": "http.response.start", "status": 200}] * 2,
            RuntimeError,
            "'http.response.start' twice",
        ),
        ([{"type": "http.response.push", "path": "/"}], RuntimeError, "type 'http.response.push'"),
        ([{"type": "http.response.start", "status": "200"}], TypeError, "status '200'"),
        ([{"type": "http.response.start", "status": 99}], TypeError, "status 99"),
        (
            [{"type": "http.response.start", "status": 200, "headers": [(b"a", "text")]}],
            TypeError,
            "headers are an iterable",
        ),
        (
            [{"type": "http.response.start", "status": 200, "headers": [(b"a",)]}],
            TypeError,
            "headers are an iterable",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": "text"},
            ],
            TypeError,
            "a body of type str",
        ),
    ],
)
async def test_protocol_errors_are_raised_in_the_app(
    messages: list[Message], error: type[Exception], match: str
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    with pytest.raises(error, match=match):
        await (await request(app)).aread()


@pytest.mark.anyio
async def test_body_after_the_end_is_an_error() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await hello(scope, receive, send)
        await send({"type": "http.response.body", "body": b"more"})

    response = await request(app)
    with pytest.raises(RuntimeError, match="after the body had ended"):
        await response.aread()


# Lifespan ------------------------------------------------------------------------------------


class LifespanApp:
    """An app that records its lifespan and answers requests with what startup stored."""

    def __init__(self, startup: Message | None = None, shutdown: Message | None = None) -> None:
        self.events: list[str] = []
        self.startup = startup or {"type": "lifespan.startup.complete"}
        self.shutdown = shutdown or {"type": "lifespan.shutdown.complete"}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            self.events.append(message["type"])
            scope["state"]["db"] = "connected"
            await send(self.startup)
            message = await receive()
            self.events.append(message["type"])
            await send(self.shutdown)
            return
        self.events.append("request")
        scope["state"]["per-request"] = True
        body = repr(sorted(scope["state"].items())).encode()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.anyio
async def test_lifespan_runs_startup_before_the_first_request_and_shutdown_on_close() -> None:
    app = LifespanApp()
    transport = ASGITransport(app, lifespan=True)
    assert app.events == []
    for _ in range(2):
        response = await transport.handle_async_request(heron.Request("GET", "http://x/"))
        assert await response.aread() == b"[('db', 'connected'), ('per-request', True)]"
    await transport.aclose()
    assert app.events == ["lifespan.startup", "request", "request", "lifespan.shutdown"]


@pytest.mark.anyio
async def test_lifespan_starts_when_the_transport_is_entered() -> None:
    app = LifespanApp()
    async with ASGITransport(app, lifespan=True):
        assert app.events == ["lifespan.startup"]
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.anyio
async def test_lifespan_starts_once_for_concurrent_first_requests() -> None:
    app = LifespanApp()
    async with ASGITransport(app, lifespan=True) as transport:
        await transport.aclose()
    transport = ASGITransport(app, lifespan=True)
    app.events.clear()

    async def one() -> None:
        response = await transport.handle_async_request(heron.Request("GET", "http://x/"))
        await response.aread()

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    await transport.aclose()
    assert app.events == ["lifespan.startup", "request", "request", "lifespan.shutdown"]


@pytest.mark.anyio
async def test_lifespan_is_off_by_default() -> None:
    app = LifespanApp()
    async with ASGITransport(app) as transport:
        with pytest.raises(KeyError, match="state"):
            await transport.handle_async_request(heron.Request("GET", "http://x/"))
    assert app.events == ["request"]


@pytest.mark.anyio
async def test_requests_after_the_lifespan_shut_down_are_refused() -> None:
    transport = ASGITransport(LifespanApp(), lifespan=True)
    await transport.aclose()
    with pytest.raises(RuntimeError, match="has been closed, and its app's lifespan has ended"):
        await transport.handle_async_request(heron.Request("GET", "http://x/"))


@pytest.mark.anyio
async def test_lifespan_startup_failure_is_a_clear_error() -> None:
    app = LifespanApp(startup={"type": "lifespan.startup.failed", "message": "no database"})
    transport = ASGITransport(app, lifespan=True)
    with pytest.raises(RuntimeError, match="lifespan startup failed: no database"):
        await transport.handle_async_request(heron.Request("GET", "http://x/"))
    with pytest.raises(RuntimeError, match="lifespan has ended"):
        await transport.handle_async_request(heron.Request("GET", "http://x/"))
    await transport.aclose()


@pytest.mark.anyio
async def test_lifespan_failure_without_a_message() -> None:
    app = LifespanApp(startup={"type": "lifespan.startup.failed"})
    with pytest.raises(RuntimeError, match="startup failed: no message given"):
        async with ASGITransport(app, lifespan=True):
            pass  # pragma: no cover - startup failed


@pytest.mark.anyio
async def test_app_without_lifespan_support_fails_startup_clearly() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "only http"

    with pytest.raises(
        RuntimeError, match="raised an exception during its lifespan startup: AssertionError"
    ) as info:
        async with ASGITransport(app, lifespan=True):
            pass  # pragma: no cover - startup failed
    assert isinstance(info.value.__cause__, AssertionError)


@pytest.mark.anyio
async def test_app_returning_during_startup_fails_it() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()

    with pytest.raises(RuntimeError, match="returned during its lifespan startup without sending"):
        async with ASGITransport(app, lifespan=True):
            pass  # pragma: no cover - startup failed


@pytest.mark.anyio
async def test_wrong_lifespan_message_fails_startup() -> None:
    app = LifespanApp(startup={"type": "lifespan.shutdown.complete"})
    with pytest.raises(RuntimeError, match="during its lifespan startup") as info:
        async with ASGITransport(app, lifespan=True):
            pass  # pragma: no cover - startup failed
    assert "expected one of 'lifespan.startup.complete' or" in str(info.value.__cause__)


@pytest.mark.anyio
async def test_lifespan_shutdown_failure_is_a_clear_error() -> None:
    app = LifespanApp(shutdown={"type": "lifespan.shutdown.failed", "message": "flush failed"})
    transport = ASGITransport(app, lifespan=True)
    await transport.__aenter__()
    with pytest.raises(RuntimeError, match="lifespan shutdown failed: flush failed"):
        await transport.aclose()


@pytest.mark.anyio
async def test_lifespan_error_during_shutdown() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise OSError("flush failed")

    transport = ASGITransport(app, lifespan=True)
    await transport.__aenter__()
    with pytest.raises(RuntimeError, match="during its lifespan shutdown: OSError: flush failed"):
        await transport.aclose()


@pytest.mark.anyio
async def test_second_reply_in_a_phase_is_an_error() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.startup.complete"})

    transport = ASGITransport(app, lifespan=True)
    await transport.__aenter__()
    with pytest.raises(RuntimeError, match="lifespan shutdown: RuntimeError"):
        await transport.aclose()


@pytest.mark.anyio
async def test_app_ending_its_lifespan_early_shuts_down_quietly() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})

    transport = ASGITransport(app, lifespan=True)
    await transport.__aenter__()
    await transport.aclose()


@pytest.mark.anyio
async def test_app_returning_during_shutdown_without_reply_is_quiet() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()

    async with ASGITransport(app, lifespan=True):
        pass


@pytest.mark.anyio
async def test_cancelled_during_startup_stops_the_lifespan() -> None:
    entered = anyio.Event()
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            events.append("lifespan cancelled")

    transport = ASGITransport(app, lifespan=True)
    async with anyio.create_task_group() as tg:
        tg.start_soon(transport.__aenter__)
        await entered.wait()
        tg.cancel_scope.cancel()
    assert events == ["lifespan cancelled"]
    await transport.aclose()


# FastAPI and Starlette -----------------------------------------------------------------------


@pytest.fixture
def fastapi_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        app.state.log.append("startup")
        yield {"db": "ready"}
        app.state.log.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.state.log = []
    app.state.gates = [anyio.Event(), anyio.Event()]

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Tomato"}

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str = "") -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.post("/echo")
    async def echo_json(request: FastAPIRequest) -> Any:
        return {"json": await request.json(), "agent": request.headers["user-agent"]}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first "
            await app.state.gates[0].wait()
            yield b"second "
            await app.state.gates[1].wait()
            yield b"last"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, bool]:
        async def work() -> None:
            await anyio.lowlevel.checkpoint()
            app.state.log.append("background done")

        tasks.add_task(work)
        return {"queued": True}

    @app.get("/state")
    async def state(request: FastAPIRequest) -> dict[str, str]:
        return {"db": request.state.db}

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("fastapi boom")

    return app


@pytest.mark.anyio
async def test_fastapi_routes(fastapi_app: FastAPI) -> None:
    transport = ASGITransport(fastapi_app)
    response = await transport.handle_async_request(heron.Request("GET", "http://test/"))
    await response.aread()
    assert response.status_code == 200
    assert response.json() == {"message": "Tomato"}
    response = await transport.handle_async_request(
        heron.Request("GET", "http://test/items/5?q=x")
    )
    await response.aread()
    assert response.json() == {"item_id": 5, "q": "x"}
    request_ = heron.Request(
        "POST", "http://test/echo", json={"a": 1}, headers={"User-Agent": "ua/1"}
    )
    response = await transport.handle_async_request(request_)
    await response.aread()
    assert response.json() == {"json": {"a": 1}, "agent": "ua/1"}
    await transport.aclose()


@pytest.mark.anyio
async def test_fastapi_streaming_response_streams(fastapi_app: FastAPI) -> None:
    response = await request(fastapi_app, "http://test/stream")
    chunks = response.aiter_raw()
    assert await chunks.__anext__() == b"first "
    fastapi_app.state.gates[0].set()
    assert await chunks.__anext__() == b"second "
    fastapi_app.state.gates[1].set()
    assert [chunk async for chunk in chunks] == [b"last"]


@pytest.mark.anyio
async def test_fastapi_streaming_response_closed_early(fastapi_app: FastAPI) -> None:
    response = await request(fastapi_app, "http://test/stream")
    async with aclosing(response.aiter_raw()) as chunks:
        assert await chunks.__anext__() == b"first "
    await response.aclose()


@pytest.mark.anyio
async def test_fastapi_background_tasks_have_run_when_the_response_is_read(
    fastapi_app: FastAPI,
) -> None:
    response = await request(fastapi_app, "http://test/background")
    await response.aread()
    assert fastapi_app.state.log == ["background done"]


@pytest.mark.anyio
async def test_fastapi_lifespan_state(fastapi_app: FastAPI) -> None:
    async with ASGITransport(fastapi_app, lifespan=True) as transport:
        assert fastapi_app.state.log == ["startup"]
        response = await transport.handle_async_request(heron.Request("GET", "http://test/state"))
        await response.aread()
        assert response.json() == {"db": "ready"}
    assert fastapi_app.state.log == ["startup", "shutdown"]


@pytest.mark.anyio
async def test_fastapi_errors(fastapi_app: FastAPI) -> None:
    response = await request(fastapi_app, "http://test/boom")
    with pytest.raises(ValueError, match="fastapi boom"):
        await response.aread()
    response = await request(
        fastapi_app, "http://test/boom", transport={"raise_app_exceptions": False}
    )
    assert response.status_code == 500
    assert await response.aread() == b"Internal Server Error"


@pytest.mark.anyio
async def test_fastapi_under_a_root_path(fastapi_app: FastAPI) -> None:
    response = await request(
        fastapi_app, "http://test/api/items/1", transport={"root_path": "/api"}
    )
    await response.aread()
    assert response.json() == {"item_id": 1, "q": ""}


# SyncASGITransport ---------------------------------------------------------------------------


def test_sync_transport_calls_an_asgi_app() -> None:
    with SyncASGITransport(echo) as transport:
        assert transport.app is echo
        response = transport.handle_request(
            heron.Request("POST", "http://x/", content=iter([b"a", b"b"]))
        )
        assert response.read() == b"ab"


def test_sync_transport_streams_chunk_by_chunk() -> None:
    gate = threading.Event()
    sent: list[bytes] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        sent.append(b"one")
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await anyio.to_thread.run_sync(functools.partial(gate.wait, 10))
        sent.append(b"two")
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"two", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with SyncASGITransport(app) as transport:
        response = transport.handle_request(heron.Request("GET", "http://x/"))
        chunks = response.iter_raw()
        assert next(chunks) == b"one"
        assert sent == [b"one"]
        gate.set()
        assert list(chunks) == [b"two"]
        assert response.is_closed


def test_sync_transport_closes_a_response_early() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        finally:
            events.append("ended")

    with SyncASGITransport(app) as transport:
        response = transport.handle_request(heron.Request("GET", "http://x/"))
        response.close()
        response.stream.close()  # type: ignore[union-attr]
        assert events == ["ended"]


def test_sync_transport_closes_open_responses_and_its_thread() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})

    transport = SyncASGITransport(app)
    transport.handle_request(heron.Request("GET", "http://x/"))
    assert [thread for thread in threading.enumerate() if thread.name == "heron-asgi"]
    transport.close()
    transport.close()


def test_sync_transport_errors_and_500() -> None:
    with (
        SyncASGITransport(fails_before_start) as transport,
        pytest.raises(ValueError, match="before start"),
    ):
        transport.handle_request(heron.Request("GET", "http://x/"))
    with SyncASGITransport(fails_before_start, raise_app_exceptions=False) as transport:
        assert transport.handle_request(heron.Request("GET", "http://x/")).status_code == 500


def test_sync_transport_runs_the_lifespan() -> None:
    app = LifespanApp()
    with SyncASGITransport(app, lifespan=True) as transport:
        assert app.events == ["lifespan.startup"]
        response = transport.handle_request(heron.Request("GET", "http://x/"))
        assert response.read() == b"[('db', 'connected'), ('per-request', True)]"
    assert app.events == ["lifespan.startup", "request", "lifespan.shutdown"]


def test_sync_transport_starts_the_lifespan_with_the_first_request() -> None:
    app = LifespanApp()
    transport = SyncASGITransport(app, lifespan=True)
    transport.handle_request(heron.Request("GET", "http://x/")).read()
    transport.close()
    assert app.events == ["lifespan.startup", "request", "lifespan.shutdown"]


def test_sync_transport_over_fastapi(fastapi_app: FastAPI) -> None:
    with SyncASGITransport(fastapi_app, lifespan=True) as transport:
        response = transport.handle_request(heron.Request("GET", "http://test/state"))
        response.read()
        assert response.json() == {"db": "ready"}
        response = transport.handle_request(heron.Request("GET", "http://test/background"))
        response.read()
        assert fastapi_app.state.log == ["startup", "background done"]


def test_sync_transport_used_from_inside_a_running_event_loop() -> None:
    async def main() -> bytes:
        with SyncASGITransport(hello) as transport:
            return transport.handle_request(heron.Request("GET", "http://x/")).read()

    assert anyio.run(main) == b"hello"


# Detection -----------------------------------------------------------------------------------


class AsyncCallable:
    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        pass  # pragma: no cover - never called


class SyncCallable:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []  # pragma: no cover - never called


def wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []  # pragma: no cover - never called


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (hello, True),
        (functools.partial(hello), True),
        (AsyncCallable(), True),
        (FastAPI(), True),
        (Starlette(), True),
        (Flask(__name__), False),
        (wsgi_function, False),
        (SyncCallable(), False),
        (AsyncCallable, False),
        (object(), False),
    ],
)
def test_is_asgi_app(app: object, expected: bool) -> None:
    assert is_asgi_app(app) is expected
