"""The transport base classes: the interface, and closing through the context managers."""

from __future__ import annotations

import pytest

import heron
from heron._transports.base import AsyncBaseTransport, BaseTransport


class ClosingTransport(BaseTransport):
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class AsyncClosingTransport(AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_handle_request_must_be_implemented_and_names_the_class() -> None:
    class Unfinished(BaseTransport):
        pass

    with pytest.raises(NotImplementedError, match="Unfinished must implement 'handle_request"):
        Unfinished().handle_request(heron.Request("GET", "http://example.org/"))


@pytest.mark.anyio
async def test_handle_async_request_must_be_implemented_and_names_the_class() -> None:
    class Unfinished(AsyncBaseTransport):
        pass

    with pytest.raises(NotImplementedError, match="Unfinished must implement 'async handle_async"):
        await Unfinished().handle_async_request(heron.Request("GET", "http://example.org/"))


def test_default_close_does_nothing() -> None:
    BaseTransport().close()


@pytest.mark.anyio
async def test_default_aclose_does_nothing() -> None:
    await AsyncBaseTransport().aclose()


def test_context_manager_returns_the_transport_and_closes_it() -> None:
    transport = ClosingTransport()
    with transport as entered:
        assert entered is transport
        assert not transport.closed
    assert transport.closed


def test_context_manager_closes_on_error() -> None:
    transport = ClosingTransport()
    with pytest.raises(ValueError, match="boom"), transport:
        raise ValueError("boom")
    assert transport.closed


@pytest.mark.anyio
async def test_async_context_manager_returns_the_transport_and_closes_it() -> None:
    transport = AsyncClosingTransport()
    async with transport as entered:
        assert entered is transport
        assert not transport.closed
    assert transport.closed


def test_subclasses_without_slots_can_keep_attributes() -> None:
    transport = ClosingTransport()
    transport.extra = 1  # type: ignore[attr-defined]
    assert transport.extra == 1  # type: ignore[attr-defined]
