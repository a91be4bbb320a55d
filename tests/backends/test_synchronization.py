"""The primitives in heron._synchronization, async (asyncio and trio) and sync."""

from __future__ import annotations

import asyncio
import inspect
import threading

import anyio
import anyio.lowlevel
import pytest

from heron import _synchronization as synchronization
from heron._backends.anyio import AnyIOBackend, AnyIOStream
from heron._backends.asyncio import AsyncioBackend, AsyncioStream
from heron._backends.sync import SharedTLSStream, SyncBackend, SyncStream, SyncTLSStream
from heron._synchronization import (
    AsyncEvent,
    AsyncLock,
    AsyncSemaphore,
    AsyncShieldCancellation,
    Event,
    Lock,
    Semaphore,
    ShieldCancellation,
    WaitTimeout,
)

# Async primitives


@pytest.mark.anyio
async def test_lock_lets_one_task_in_at_a_time() -> None:
    order: list[str] = []
    lock = AsyncLock()
    release = anyio.Event()

    async def holder() -> None:
        async with lock:
            order.append("holder in")
            await release.wait()
            order.append("holder out")

    async def waiter() -> None:
        async with lock:
            order.append("waiter in")

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert order == ["holder in"]
        release.set()
    assert order == ["holder in", "holder out", "waiter in"]


@pytest.mark.anyio
async def test_event_set_before_waiting_returns_at_once() -> None:
    event = AsyncEvent()
    assert not event.is_set()
    event.set()
    assert event.is_set()
    await event.wait(timeout=0)


@pytest.mark.anyio
async def test_event_wakes_a_waiting_task() -> None:
    event = AsyncEvent()
    woken: list[bool] = []

    async def wait() -> None:
        await event.wait(timeout=5)
        woken.append(True)

    async def wait_forever() -> None:
        await event.wait()
        woken.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        tg.start_soon(wait_forever)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        event.set()
    assert woken == [True, True]


@pytest.mark.anyio
async def test_event_wait_times_out() -> None:
    event = AsyncEvent()
    with pytest.raises(WaitTimeout, match=r"Not set within 0\.01 s"):
        await event.wait(timeout=0.01)
    with pytest.raises(WaitTimeout):  # again, now that the event exists
        await event.wait(timeout=0.01)


@pytest.mark.anyio
async def test_a_cancelled_wait_leaves_nothing_behind_and_set_is_idempotent() -> None:
    event = AsyncEvent()
    async with anyio.create_task_group() as tg:
        tg.start_soon(event.wait, 5)
        tg.start_soon(event.wait)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert event._waiters == []
    event.set()
    event.set()
    assert event.is_set()
    await event.wait()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_late_timer_leaves_a_woken_waiter_alone() -> None:
    # The timer and set() can fire in the same loop iteration: the first one wins.
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    waiter.set_result(True)
    synchronization._expire(waiter)
    assert waiter.result() is True


@pytest.mark.anyio
async def test_semaphore_bounds_the_holders() -> None:
    semaphore = AsyncSemaphore(1)
    order: list[str] = []

    async def second() -> None:
        async with semaphore:
            order.append("second")

    await semaphore.acquire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert order == []
        semaphore.release()
    assert order == ["second"]
    with pytest.raises(ValueError, match=r"."):
        semaphore.release()  # more releases than acquires


@pytest.mark.anyio
async def test_semaphore_release_before_any_acquire_is_refused() -> None:
    with pytest.raises(ValueError, match=r"."):
        AsyncSemaphore(2).release()


@pytest.mark.anyio
async def test_shield_defers_cancellation_to_the_end_of_the_block() -> None:
    steps: list[str] = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        with AsyncShieldCancellation():
            await anyio.lowlevel.checkpoint()
            steps.append("cleanup ran")
        await anyio.lowlevel.checkpoint()
        steps.append("not reached")  # pragma: no cover - cancelled above
    assert scope.cancelled_caught
    assert steps == ["cleanup ran"]


# Sync twins


def test_sync_lock_lets_one_thread_in_at_a_time() -> None:
    lock = Lock()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with lock:
            order.append("holder in")
            inside.set()
            release.wait(5)
            order.append("holder out")

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(5)
    assert not lock._lock.acquire(blocking=False)
    release.set()
    with lock:
        order.append("main in")
    thread.join()
    assert order == ["holder in", "holder out", "main in"]


def test_sync_event() -> None:
    event = Event()
    assert not event.is_set()
    with pytest.raises(WaitTimeout, match=r"Not set within 0\.01 s"):
        event.wait(timeout=0.01)
    event.set()
    assert event.is_set()
    event.wait()


def test_sync_semaphore() -> None:
    semaphore = Semaphore(1)
    semaphore.acquire()
    assert not semaphore._semaphore.acquire(blocking=False)
    semaphore.release()
    with semaphore:
        pass
    with pytest.raises(ValueError, match=r"."):
        semaphore.release()


def test_sync_shield_is_a_no_op() -> None:
    with ShieldCancellation() as shield:
        assert isinstance(shield, ShieldCancellation)


# Hand-written twins keep the same shape (STYLE.md section 3, rule 7).

RENAMED = {"__aenter__": "__enter__", "__aexit__": "__exit__", "aclose": "close"}


def public_signatures(cls: type) -> dict[str, list[str]]:
    methods = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") and name not in RENAMED and name not in {"__enter__", "__exit__"}:
            continue
        if name in {"connection_made", "get_buffer", "buffer_updated", "eof_received"}:
            continue  # asyncio.BufferedProtocol callbacks
        if name == "connection_lost":
            continue
        if name in {"pause_writing", "resume_writing"}:
            continue
        methods[RENAMED.get(name, name)] = list(inspect.signature(member).parameters)
    return methods


@pytest.mark.parametrize(
    ("async_class", "sync_class"),
    [
        (AsyncLock, Lock),
        (AsyncEvent, Event),
        (AsyncSemaphore, Semaphore),
        (AsyncShieldCancellation, ShieldCancellation),
        (AsyncioStream, SyncStream),
        (AnyIOStream, SyncStream),
        (AsyncioStream, SyncTLSStream),
        (AsyncioStream, SharedTLSStream),
        (AsyncioBackend, SyncBackend),
        (AnyIOBackend, SyncBackend),
    ],
)
def test_async_and_sync_twins_have_the_same_methods(async_class: type, sync_class: type) -> None:
    assert public_signatures(async_class) == public_signatures(sync_class)
