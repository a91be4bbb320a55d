"""Cancelling HTTP/2 requests at every await point, on asyncio and trio.

Async only (threads are not cancelled), so it lives outside tests/_async. After each
cancellation the connection's books must balance (no slot held, nobody left reading, writing or
sleeping), the cancelled stream must have been reset, and the connection must serve the next
request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes

import heron
from heron._async.http2 import AsyncHTTP2Connection
from heron._synchronization import AsyncEvent
from tests._async.test_http2 import (
    ORIGIN,
    URL,
    connect,
    fetch,
    request,
    silent,
    watch_slot_queue,
)
from tests.h2_helpers import HELLO, AsyncTaskGroup, H2Server

pytestmark = pytest.mark.anyio

Codes = h2.settings.SettingCodes


def assert_settled(connection: AsyncHTTP2Connection, active: int = 0) -> None:
    state = connection._state
    assert state.active == active
    assert not state.reading
    assert not state.writing
    assert not state.sleepers
    assert not state.window_waiters
    assert not state.slot_waiters
    assert len(state.streams) == active


async def cancel_when(event: AsyncEvent, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def test_cancel_while_waiting_for_a_stream_slot() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    first = await connection.handle_async_request(request())
    queue = watch_slot_queue(connection)
    scope = anyio.CancelScope()

    async def queued() -> None:
        with scope:
            await connection.handle_async_request(request(url=URL + "queued"))

    async with AsyncTaskGroup() as group:
        group.start_soon(queued)
        group.start_soon(cancel_when, queue.joined, scope)
    assert scope.cancelled_caught
    assert_settled(connection, active=1)
    assert await first.aread() == HELLO
    assert_settled(connection)
    assert await fetch(connection) == HELLO


async def test_cancel_just_after_the_slot_was_handed_over() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 1})
    connection, _, _ = connect(server)
    first = await connection.handle_async_request(request())
    await first.aread()
    second = await connection.handle_async_request(request())
    queue = watch_slot_queue(connection)
    scope = anyio.CancelScope()

    async def queued() -> None:
        with scope:
            await connection.handle_async_request(request(url=URL + "queued"))

    async def hand_over_then_cancel() -> None:
        await queue.joined.wait()
        await second.aread()  # grants the slot to the queued request ...
        scope.cancel()  # ... which is cancelled before it runs

    async with AsyncTaskGroup() as group:
        group.start_soon(queued)
        group.start_soon(hand_over_then_cancel)
    assert scope.cancelled_caught
    assert_settled(connection)
    assert await fetch(connection) == HELLO


async def test_cancel_while_sending_headers_finishes_the_write() -> None:
    server = H2Server(handler=silent)
    connection, _, stream = connect(server)
    with anyio.CancelScope() as scope:
        stream.on_write = lambda data: scope.cancel()
        await connection.handle_async_request(request())
    stream.on_write = None
    assert scope.cancelled_caught
    # The request went out whole (the write is shielded), then the stream was reset.
    assert server.requests[1].ended
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert_settled(connection)
    server.handler = None
    assert await fetch(connection) == HELLO


async def test_cancel_while_the_body_is_produced() -> None:
    scope = anyio.CancelScope()

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        scope.cancel()
        await anyio.lowlevel.checkpoint()
        yield b"never"

    connection, server, _ = connect()
    with scope:
        await connection.handle_async_request(request("POST", content=body()))
    assert scope.cancelled_caught
    assert bytes(server.requests[1].body) == b"first"
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert_settled(connection)
    assert await fetch(connection) == HELLO


async def test_cancel_while_waiting_for_the_flow_control_window() -> None:
    server = H2Server({Codes.INITIAL_WINDOW_SIZE: 1}, ack_data=False)
    connection, _, stream = connect(server)
    await fetch(connection)
    reading = AsyncEvent()
    stream.on_read = reading.set
    scope = anyio.CancelScope()

    async def upload() -> None:
        with scope:
            await connection.handle_async_request(request("POST", content=b"0123456789"))

    async with AsyncTaskGroup() as group:
        group.start_soon(upload)
        group.start_soon(cancel_when, reading, scope)
    stream.on_read = None
    assert scope.cancelled_caught
    assert server.resets() == {3: ErrorCodes.CANCEL}
    assert_settled(connection)
    assert await fetch(connection) == HELLO


async def test_cancel_the_reader_waiting_for_the_response_head() -> None:
    server = H2Server(handler=silent)
    connection, _, stream = connect(server)
    reading = AsyncEvent()
    stream.on_read = reading.set
    scope = anyio.CancelScope()

    async def waiting() -> None:
        with scope:
            await connection.handle_async_request(request())

    async with AsyncTaskGroup() as group:
        group.start_soon(waiting)
        group.start_soon(cancel_when, reading, scope)
    stream.on_read = None
    assert scope.cancelled_caught
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert_settled(connection)
    server.handler = None
    assert await fetch(connection) == HELLO


async def test_cancel_a_sleeper_waiting_for_the_response_head() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = silent
    reading = AsyncEvent()
    stream.on_read = reading.set
    scope = anyio.CancelScope()
    results: list[bytes] = []

    async def reader() -> None:
        results.append(await fetch(connection, request(url=URL + "reader")))

    async def sleeper() -> None:
        await reading.wait()
        stream.on_read = None
        with scope:
            await connection.handle_async_request(request(url=URL + "sleeper"))

    async def canceller() -> None:
        while not connection._state.sleepers:
            await anyio.lowlevel.checkpoint()
        scope.cancel()
        await anyio.lowlevel.checkpoint()
        server.respond(3)

    async with AsyncTaskGroup() as group:
        group.start_soon(reader)
        group.start_soon(sleeper)
        group.start_soon(canceller)
    assert scope.cancelled_caught
    assert results == [HELLO]
    assert server.resets() == {5: ErrorCodes.CANCEL}
    assert_settled(connection)


async def test_cancel_the_reader_while_another_request_sleeps() -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    await fetch(connection)
    server.handler = silent
    reading = AsyncEvent()
    stream.on_read = reading.set
    scope = anyio.CancelScope()
    results: list[bytes] = []

    async def reader() -> None:
        with scope:
            await connection.handle_async_request(request(url=URL + "reader"))

    async def sleeper() -> None:
        await reading.wait()
        stream.on_read = None
        results.append(await fetch(connection, request(url=URL + "sleeper")))

    async def canceller() -> None:
        while not connection._state.sleepers:
            await anyio.lowlevel.checkpoint()
        server.respond(5)  # the sleeper's answer, read by whoever reads next
        scope.cancel()

    async with AsyncTaskGroup() as group:
        group.start_soon(reader)
        group.start_soon(sleeper)
        group.start_soon(canceller)
    assert scope.cancelled_caught
    assert results == [HELLO]
    assert server.resets() == {3: ErrorCodes.CANCEL}
    assert_settled(connection)


async def test_cancel_while_reading_the_body() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
            server.respond(1, body=b"part", end=False)
        elif isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id)

    connection, server, stream = connect(H2Server(handler=handler))
    response = await connection.handle_async_request(request())
    reading = AsyncEvent()
    stream.on_read = reading.set
    scope = anyio.CancelScope()
    chunks: list[bytes] = []

    async def read_body() -> None:
        with scope:
            async for chunk in response.aiter_raw():
                chunks.append(chunk)

    async with AsyncTaskGroup() as group:
        group.start_soon(read_body)
        group.start_soon(cancel_when, reading, scope)
    stream.on_read = None
    assert scope.cancelled_caught
    assert chunks == [b"part"]
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert_settled(connection)
    assert await fetch(connection) == HELLO


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_native_asyncio_cancel_during_a_write_still_sends_everything() -> None:
    server = H2Server(handler=silent)
    connection, _, stream = connect(server)
    task: asyncio.Task[Any] | None = None

    def cancel_task(data: bytes) -> None:
        stream.on_write = None
        assert task is not None
        connection._state.h2.ping(b"queued!!")  # queued meanwhile: sent by the same writer
        task.cancel()  # delivered inside the write, whatever shield it is under

    async def send() -> None:
        await connection.handle_async_request(request())

    stream.on_write = cancel_task
    task = asyncio.ensure_future(send())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.requests[1].ended
    pings = [e for e in server.events if isinstance(e, h2.events.PingReceived)]
    assert len(pings) == 1
    assert server.resets() == {1: ErrorCodes.CANCEL}
    assert_settled(connection)
    server.handler = None
    assert await fetch(connection) == HELLO


class Canceller:
    """Cancels the current scope at the n-th I/O step of the connection's stream."""

    def __init__(self, countdown: int) -> None:
        self.countdown = countdown
        self.scope: anyio.CancelScope | None = None

    def step(self, *args: object) -> None:
        self.countdown -= 1
        if self.countdown == 0 and self.scope is not None:
            self.scope.cancel()


async def test_random_cancellations_keep_the_books_balanced() -> None:
    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, body=b"y" * 300)

    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 2, Codes.INITIAL_WINDOW_SIZE: 50})
    server.handler = handler
    server.read_size = 40  # many small reads: many places to be cancelled
    connection, _, stream = connect(server)
    rng = random.Random(5)
    cancelled = completed = 0
    for _ in range(150):
        canceller = Canceller(rng.randint(1, 12))
        stream.on_read = canceller.step
        stream.on_write = canceller.step
        outcomes: list[str] = []

        async def one(
            name: str,
            cancellable: bool,
            canceller: Canceller = canceller,
            outcomes: list[str] = outcomes,
        ) -> None:
            with anyio.CancelScope() as scope:
                if cancellable:
                    canceller.scope = scope
                method, content = rng.choice([("GET", None), ("POST", b"x" * 120)])
                req = heron.Request(method, f"{URL}{name}", content=content)
                response = await connection.handle_async_request(req)
                await response.aread()
                outcomes.append(name)
            if scope.cancelled_caught:
                outcomes.append("cancelled")

        async with AsyncTaskGroup() as group:
            group.start_soon(one, "a", True)
            group.start_soon(one, "b", False)
        cancelled += outcomes.count("cancelled")
        completed += outcomes.count("a") + outcomes.count("b")
        assert "b" in outcomes
        assert_settled(connection)
    stream.on_read = stream.on_write = None
    assert cancelled > 30
    assert completed > 150
    assert connection.is_available()
    assert await fetch(connection) == b"y" * 300
    assert ORIGIN in repr(connection)
