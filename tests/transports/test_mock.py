"""MockTransport: sync and async handlers, the request body read first, the response as is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest

import heron
from heron._transports.base import AsyncBaseTransport, BaseTransport
from heron._transports.mock import MockTransport


def echo(request: heron.Request) -> heron.Response:
    return heron.Response(200, content=request.content)


async def async_echo(request: heron.Request) -> heron.Response:
    return heron.Response(200, content=request.content)


def chunks() -> Iterator[bytes]:
    yield b"a"
    yield b"b"


async def async_chunks() -> AsyncIterator[bytes]:
    yield b"a"
    yield b"b"


def test_sync_handler_sees_the_streamed_body_already_read() -> None:
    transport = MockTransport(echo)
    response = transport.handle_request(heron.Request("POST", "http://x/", content=chunks()))
    assert response.read() == b"ab"


def test_the_handlers_response_is_returned_as_is() -> None:
    sent = heron.Response(204)
    transport = MockTransport(lambda request: sent)
    assert transport.handle_request(heron.Request("GET", "http://x/")) is sent


@pytest.mark.anyio
async def test_async_handler_sees_the_streamed_body_already_read() -> None:
    transport = MockTransport(async_echo)
    request = heron.Request("POST", "http://x/", content=async_chunks())
    response = await transport.handle_async_request(request)
    assert await response.aread() == b"ab"


@pytest.mark.anyio
async def test_sync_handler_serves_async_requests_too() -> None:
    sent = heron.Response(200)
    transport = MockTransport(lambda request: sent)
    assert await transport.handle_async_request(heron.Request("GET", "http://x/")) is sent


def test_async_handler_from_sync_code_is_a_clear_error_without_a_warning() -> None:
    transport = MockTransport(async_echo)
    with pytest.raises(RuntimeError, match="is async, so it can only serve an AsyncClient"):
        transport.handle_request(heron.Request("GET", "http://x/"))


class Ready:
    """An awaitable that isn't a coroutine."""

    def __await__(self) -> Generator[Any, None, heron.Response]:
        return heron.Response(201)
        yield  # pragma: no cover - makes this a generator


def test_handler_returning_another_awaitable_from_sync_code_is_a_clear_error() -> None:
    transport = MockTransport(lambda request: Ready())
    with pytest.raises(RuntimeError, match="only serve an AsyncClient"):
        transport.handle_request(heron.Request("GET", "http://x/"))


@pytest.mark.anyio
async def test_handler_may_return_any_awaitable_to_async_code() -> None:
    transport = MockTransport(lambda request: Ready())
    response = await transport.handle_async_request(heron.Request("GET", "http://x/"))
    assert response.status_code == 201


def test_handler_returning_something_else_is_a_type_error() -> None:
    transport = MockTransport(lambda request: "ok")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"returned str; it must return a heron\.Response"):
        transport.handle_request(heron.Request("GET", "http://x/"))


@pytest.mark.anyio
async def test_async_handler_returning_something_else_is_a_type_error() -> None:
    async def handler(request: heron.Request) -> Any:
        return None

    transport = MockTransport(handler)
    with pytest.raises(TypeError, match="returned NoneType"):
        await transport.handle_async_request(heron.Request("GET", "http://x/"))


def test_one_transport_serves_both_interfaces_and_closes_quietly() -> None:
    transport = MockTransport(echo)
    assert isinstance(transport, BaseTransport)
    assert isinstance(transport, AsyncBaseTransport)
    with transport:
        pass
    assert transport.handler is echo
    assert repr(transport) == f"<MockTransport handler={echo!r}>"


@pytest.mark.anyio
async def test_async_context_manager_closes_quietly() -> None:
    async with MockTransport(async_echo) as transport:
        assert transport.handler is async_echo
