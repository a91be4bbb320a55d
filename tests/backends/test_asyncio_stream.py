"""The native asyncio stream's buffering, flow control, timers and cancellation.

The stream is an asyncio protocol, so most of these tests drive it directly through the
protocol callbacks over a recording transport; the cancellation tests use real sockets.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from heron import ConnectError, ReadError, ReadTimeout, WriteError, WriteTimeout
from heron._backends import asyncio as asyncio_backend
from heron._backends.asyncio import AsyncioBackend, AsyncioStream

from .conftest import HOST, Certificates, LoopbackServer, full_backlog_listener, open_fd_count

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingTransport(asyncio.Transport):
    """Records what the stream asks of its transport; abort() reports the loss like asyncio."""

    def __init__(self, stream: AsyncioStream, sock: socket.socket) -> None:
        super().__init__()
        self.stream = stream
        self.sock = sock
        self.written: list[bytes] = []
        self.calls: list[str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.calls.append("pause_reading")

    def resume_reading(self) -> None:
        self.calls.append("resume_reading")

    def abort(self) -> None:
        self.calls.append("abort")
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.stream.connection_lost, None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"socket": self.sock, "sockname": ("127.0.0.1", 1)}.get(name, default)


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    with left, right:
        yield left, right


@pytest.fixture
async def stream(socket_pair: tuple[socket.socket, socket.socket]) -> AsyncioStream:
    stream = AsyncioStream(asyncio.get_running_loop())
    stream.connection_made(RecordingTransport(stream, socket_pair[0]))
    stream.origin = "http://example.org:80"
    return stream


def transport_of(stream: AsyncioStream) -> RecordingTransport:
    transport = stream._transport
    assert isinstance(transport, RecordingTransport)
    return transport


# Reading


def feed(stream: AsyncioStream, data: bytes, fill: bool = False) -> None:
    """What a transport does with received bytes: ask for room, write into it, report; as
    many times as the room asks. With ``fill``, one read fills all the room offered (as when
    more is waiting)."""
    if fill:
        room = stream.get_buffer(-1)
        room[:] = b"." * len(room)
        stream.buffer_updated(len(room))
    while data:
        room = stream.get_buffer(-1)
        size = min(len(room), len(data))
        room[:size] = data[:size]
        stream.buffer_updated(size)
        data = data[size:]


async def test_reads_return_what_arrived(stream: AsyncioStream) -> None:
    feed(stream, b"x" * 1000)
    data = await stream.read(65536)
    assert data == b"x" * 1000
    assert type(data) is bytes


async def test_chunks_that_arrive_together_are_read_together(stream: AsyncioStream) -> None:
    feed(stream, b"abc")
    feed(stream, b"def")
    assert await stream.read(65536) == b"abcdef"


async def test_reads_take_at_most_max_bytes(stream: AsyncioStream) -> None:
    feed(stream, b"abcdef")
    assert await stream.read(4) == b"abcd"
    assert await stream.read(4) == b"ef"
    feed(stream, b"ghi")
    feed(stream, b"jkl")
    assert await stream.read(4) == b"ghij"
    assert await stream.read(4) == b"kl"


async def test_the_buffer_starts_small_and_grows_while_reads_fill_it(
    stream: AsyncioStream,
) -> None:
    first = len(stream.get_buffer(-1))
    assert first == asyncio_backend._INITIAL_BUFFER
    sizes = []
    for _ in range(4):
        feed(stream, b"", fill=True)
        data = await stream.read(10**9)
        sizes.append(len(data))
    assert sizes == [first, 2 * first, 4 * first, 4 * first]
    assert 4 * first == asyncio_backend._MAX_BUFFER
    # Reads that leave room keep the size.
    feed(stream, b"abc")
    assert await stream.read(100) == b"abc"
    assert len(stream.get_buffer(-1)) == asyncio_backend._MAX_BUFFER


async def test_unread_bytes_move_to_the_start_when_room_runs_out(stream: AsyncioStream) -> None:
    size = asyncio_backend._INITIAL_BUFFER - asyncio_backend._MIN_ROOM + 1
    feed(stream, b"a" * size)
    assert await stream.read(size - 10) == b"a" * (size - 10)
    # Less than _MIN_ROOM left at the end: the ten unread bytes move, the size stays.
    room = stream.get_buffer(-1)
    assert len(room) == asyncio_backend._INITIAL_BUFFER - 10
    room[:3] = b"bcd"
    stream.buffer_updated(3)
    assert await stream.read(100) == b"a" * 10 + b"bcd"


async def test_reading_pauses_while_the_buffer_is_full(stream: AsyncioStream) -> None:
    transport = transport_of(stream)
    chunk = b"x" * (asyncio_backend._HIGH_WATER // 2)
    feed(stream, chunk)
    assert transport.calls == []
    feed(stream, chunk)
    assert transport.calls == ["pause_reading"]
    # Still above the low mark after a partial read: stay paused.
    await stream.read(len(chunk) // 2)
    assert transport.calls == ["pause_reading"]
    await stream.read(len(chunk) * 3 // 2 - asyncio_backend._LOW_WATER // 2)
    assert transport.calls == ["pause_reading", "resume_reading"]
    # A read that takes everything resumes too.
    feed(stream, chunk)
    feed(stream, chunk)
    assert (
        len(await stream.read(len(chunk) * 4)) == asyncio_backend._LOW_WATER // 2 + len(chunk) * 2
    )
    assert transport.calls == ["pause_reading", "resume_reading"] * 2


async def test_a_waiting_read_wakes_at_eof(stream: AsyncioStream) -> None:
    asyncio.get_running_loop().call_soon(stream.eof_received)
    assert await stream.read(100) == b""


async def test_data_is_read_before_the_error_that_followed_it(stream: AsyncioStream) -> None:
    feed(stream, b"last words")
    error = ConnectionResetError(104, "Connection reset by peer")
    stream.connection_lost(error)
    assert await stream.read(100) == b"last words"
    with pytest.raises(ReadError, match="Connection reset by peer") as info:
        await stream.read(100)
    assert info.value.__cause__ is error


async def test_two_reads_at_once_are_refused(stream: AsyncioStream) -> None:
    async def read_second() -> None:
        with pytest.raises(RuntimeError, match="another read is waiting"):
            await stream.read(100)
        feed(stream, b"done")

    task = asyncio.get_running_loop().create_task(read_second())
    assert await stream.read(100) == b"done"
    await task


# Read timeouts: one timer per stream, re-armed only when needed.


async def test_a_finished_read_leaves_its_timer_for_the_next(stream: AsyncioStream) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(feed, stream, b"a")
    assert await stream.read(100, timeout=30) == b"a"
    timer = stream._read_timer
    assert timer is not None
    loop.call_soon(feed, stream, b"b")
    assert await stream.read(100, timeout=60) == b"b"
    assert stream._read_timer is timer  # a later deadline reuses the timer


async def test_a_shorter_timeout_rearms_the_timer(stream: AsyncioStream) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(feed, stream, b"a")
    assert await stream.read(100, timeout=30) == b"a"
    start = time.monotonic()
    with pytest.raises(ReadTimeout, match=r"Timed out after 0\.05 s"):
        await stream.read(100, timeout=0.05)
    assert time.monotonic() - start < 5


async def test_an_early_timer_waits_on_for_a_later_deadline(stream: AsyncioStream) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(feed, stream, b"a")
    assert await stream.read(100, timeout=0.01) == b"a"
    start = time.monotonic()
    with pytest.raises(ReadTimeout, match=r"Timed out after 0\.1 s"):
        await stream.read(100, timeout=0.1)
    assert time.monotonic() - start >= 0.09


async def test_a_timer_that_fires_between_reads_does_nothing(stream: AsyncioStream) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(feed, stream, b"a")
    assert await stream.read(100, timeout=30) == b"a"
    stream._on_read_timer()
    assert stream._read_timer is None


async def test_losing_the_connection_cancels_the_timer(stream: AsyncioStream) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(feed, stream, b"a")
    assert await stream.read(100, timeout=30) == b"a"
    timer = stream._read_timer
    assert timer is not None
    stream.connection_lost(None)
    assert timer.cancelled()
    assert stream._read_timer is None


def test_an_expired_waiter_that_is_already_done_is_left_alone() -> None:
    loop = asyncio.new_event_loop()
    try:
        waiter: asyncio.Future[bool] = loop.create_future()
        waiter.set_result(True)
        asyncio_backend._expire(waiter)
        assert waiter.result() is True
    finally:
        loop.close()


# Writing and flow control


async def test_writes_go_straight_to_the_transport(stream: AsyncioStream) -> None:
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    await stream.write(b"")
    assert transport_of(stream).written == [b"GET / HTTP/1.1\r\n\r\n"]


async def test_a_paused_transport_makes_writes_wait(stream: AsyncioStream) -> None:
    stream.pause_writing()
    asyncio.get_running_loop().call_soon(stream.resume_writing)
    await stream.write(b"body", timeout=5)
    assert transport_of(stream).written == [b"body"]


async def test_a_transport_that_stays_paused_times_the_write_out(stream: AsyncioStream) -> None:
    stream.pause_writing()
    with pytest.raises(WriteTimeout) as info:
        await stream.write(b"body", timeout=0.05)
    assert str(info.value).startswith(
        "Timed out after 0.05 s sending the request to http://example.org:80 (write timeout)"
    )


async def test_losing_the_connection_while_paused_is_a_write_error(
    stream: AsyncioStream,
) -> None:
    stream.pause_writing()
    error = BrokenPipeError(32, "Broken pipe")
    asyncio.get_running_loop().call_soon(stream.connection_lost, error)
    with pytest.raises(WriteError, match="Broken pipe") as info:
        await stream.write(b"body")
    assert info.value.__cause__ is error


async def test_a_failed_write_is_reported_once_the_transport_closes(
    stream: AsyncioStream,
) -> None:
    # asyncio reports a failed send by closing the transport; the reason follows in
    # connection_lost.
    transport = transport_of(stream)
    transport.closing = True
    asyncio.get_running_loop().call_soon(
        stream.connection_lost, ConnectionResetError(104, "Connection reset by peer")
    )
    with pytest.raises(WriteError, match="Connection reset by peer"):
        await stream.write(b"body")


async def test_writing_after_the_server_closed_is_a_write_error(stream: AsyncioStream) -> None:
    stream.eof_received()
    with pytest.raises(WriteError) as info:
        await stream.write(b"body")
    assert str(info.value) == (
        "Could not send the request to http://example.org:80: the server closed the connection."
    )


async def test_a_cancelled_write_wait_forgets_its_waiter(stream: AsyncioStream) -> None:
    stream.pause_writing()
    task = asyncio.get_running_loop().create_task(stream.write(b"body"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream._write_waiter is None


# Closing


async def test_aclose_aborts_and_waits_for_the_connection_to_go(stream: AsyncioStream) -> None:
    transport = transport_of(stream)
    await stream.aclose()
    assert transport.calls == ["abort"]
    assert stream._lost
    await stream.aclose()
    assert transport.calls == ["abort"]
    assert repr(stream) == "<AsyncioStream http://example.org:80 plain closed>"


async def test_aclose_after_the_connection_was_lost_leaves_the_transport_alone(
    stream: AsyncioStream,
) -> None:
    stream.connection_lost(None)
    await stream.aclose()
    assert transport_of(stream).calls == []


async def test_aclose_with_the_socket_gone_waits_for_the_loss_without_aborting(
    stream: AsyncioStream, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    # A TLS transport learns of its raw transport's loss one loop iteration late.
    socket_pair[0].close()
    asyncio.get_running_loop().call_soon(stream.connection_lost, None)
    await stream.aclose()
    assert transport_of(stream).calls == []
    assert stream._lost


async def test_tls_cannot_start_on_a_closed_stream(
    stream: AsyncioStream, certs: Certificates
) -> None:
    stream.eof_received()
    with pytest.raises(ConnectError, match="the connection is already closed"):
        await stream.start_tls(certs.client_context(), server_hostname="localhost")


async def test_extra_info(
    stream: AsyncioStream, socket_pair: tuple[socket.socket, socket.socket]
) -> None:
    assert stream.get_extra_info("client_addr") == ("127.0.0.1", 1)
    assert stream.get_extra_info("socket") is socket_pair[0]
    assert stream.get_extra_info("is_readable") is False
    # Known from what the transport delivered, without a system call: bytes still in the
    # kernel don't count until the loop polls.
    socket_pair[1].send(b"x")
    assert stream.get_extra_info("is_readable") is False
    feed(stream, b"x")
    assert stream.get_extra_info("is_readable") is True
    assert await stream.read(10) == b"x"
    stream.eof_received()
    assert stream.get_extra_info("is_readable") is True


# Cancellation with plain asyncio task.cancel(), on real sockets


async def test_cancelled_connect_task_leaves_no_socket() -> None:
    with full_backlog_listener() as (host, port):
        before = open_fd_count()
        task = asyncio.get_running_loop().create_task(AsyncioBackend().connect_tcp(host, port))
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        assert open_fd_count() == before


async def test_cancelled_tls_task_closes_the_socket(certs: Certificates) -> None:
    from .conftest import read_until_eof

    with LoopbackServer(read_until_eof) as server:
        stream = await AsyncioBackend().connect_tcp(HOST, server.port)
        task = asyncio.get_running_loop().create_task(
            stream.start_tls(certs.client_context(), server_hostname="localhost")
        )
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.client_closed.wait, 5)
        with pytest.raises(ReadError, match="already closed"):
            await stream.read(100)
