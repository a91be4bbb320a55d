"""Locks, events, semaphores and cancellation shields: async primitives and their sync twins.

Code under ``_async/`` uses ``AsyncLock``, ``AsyncEvent``, ``AsyncSemaphore`` and
``AsyncShieldCancellation``; the generated ``_sync/`` code gets ``Lock``, ``Event``,
``Semaphore`` and ``ShieldCancellation``, with the same method names minus the ``async``.

The async primitives may be created outside any event loop (a client built at import time), so
each one picks its implementation on first use: asyncio's own on asyncio (fastest there), anyio's
anywhere else (trio). ``wait(timeout)`` raises ``WaitTimeout``; the pool turns that into a
``PoolTimeout`` with a message naming the origin and the limit.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import TYPE_CHECKING

import sniffio

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import anyio

__all__ = [
    "AsyncEvent",
    "AsyncLock",
    "AsyncSemaphore",
    "AsyncShieldCancellation",
    "Event",
    "Lock",
    "Semaphore",
    "ShieldCancellation",
    "WaitTimeout",
]


class WaitTimeout(Exception):
    """``Event.wait(timeout)`` (or ``AsyncEvent.wait``) ran out of time."""


def _on_asyncio() -> bool:
    return sniffio.current_async_library() == "asyncio"


# Async primitives


class AsyncLock:
    """A lock for ``async with``; not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: asyncio.Lock | anyio.Lock | None = None

    def _setup(self) -> asyncio.Lock | anyio.Lock:
        if _on_asyncio():
            self._lock = asyncio.Lock()
        else:
            import anyio

            self._lock = anyio.Lock(fast_acquire=True)
        return self._lock

    async def __aenter__(self) -> AsyncLock:
        await (self._lock or self._setup()).acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        (self._lock or self._setup()).release()


class AsyncEvent:
    """A one-shot flag that tasks can wait for, with an optional timeout.

    On asyncio a waiter is a bare future, and a timeout one ``call_later`` timer: about half
    the cost of ``asyncio.Event`` under ``asyncio.timeout``, which matters because every HTTP/2
    request sleeps on one while another reads for it.
    """

    __slots__ = ("_event", "_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._event: anyio.Event | None = None  # not on asyncio
        self._waiters: list[asyncio.Future[bool]] = []  # on asyncio

    def set(self) -> None:
        if self._is_set:
            return
        self._is_set = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(True)
        self._waiters.clear()
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        return self._is_set

    async def wait(self, timeout: float | None = None) -> None:
        """Return once ``set()`` was called; raise ``WaitTimeout`` after ``timeout`` seconds."""
        if self._is_set:
            return
        if self._event is None and _on_asyncio():
            await self._wait_on_asyncio(timeout)
            return
        import anyio

        event = self._event
        if event is None:
            event = self._event = anyio.Event()
        try:
            if timeout is None:
                await event.wait()
            else:
                with anyio.fail_after(timeout):
                    await event.wait()
        except TimeoutError as exc:
            raise WaitTimeout(f"Not set within {timeout} s.") from exc

    async def _wait_on_asyncio(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            is_set = await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if not self._is_set:
                self._waiters.remove(waiter)
        if not is_set:
            raise WaitTimeout(f"Not set within {timeout} s.")


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncSemaphore:
    """At most ``bound`` holders at once: ``await acquire()``/``release()``, or ``async with``."""

    __slots__ = ("_bound", "_semaphore")

    def __init__(self, bound: int) -> None:
        self._bound = bound
        self._semaphore: asyncio.Semaphore | anyio.Semaphore | None = None

    def _setup(self) -> asyncio.Semaphore | anyio.Semaphore:
        if _on_asyncio():
            self._semaphore = asyncio.BoundedSemaphore(self._bound)
        else:
            import anyio

            self._semaphore = anyio.Semaphore(
                self._bound, max_value=self._bound, fast_acquire=True
            )
        return self._semaphore

    async def acquire(self) -> None:
        await (self._semaphore or self._setup()).acquire()

    def release(self) -> None:
        (self._semaphore or self._setup()).release()

    async def __aenter__(self) -> AsyncSemaphore:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.release()


class AsyncShieldCancellation:
    """A ``with`` block that cancellation cannot interrupt: for closing connections when
    a request is cancelled, so the cleanup itself runs to the end.

    It is an anyio shielded cancel scope on every library. On trio, and under anyio cancel
    scopes on asyncio, cancellation is re-delivered at every await until the cancelled scope
    is left; the shield defers it to the end of the block. A plain ``task.cancel()`` on
    asyncio is delivered once and cannot be deferred by any block, but after it has been
    delivered the awaits in a ``finally`` clause run undisturbed.
    """

    __slots__ = ("_scope",)

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None

    def __enter__(self) -> AsyncShieldCancellation:
        import anyio

        self._scope = anyio.CancelScope(shield=True)
        self._scope.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        assert self._scope is not None, "ShieldCancellation exited without being entered"
        self._scope.__exit__(exc_type, exc_value, traceback)


# Sync twins


class Lock:
    """A thread lock for ``with``; not reentrant."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> Lock:
        self._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._lock.release()


class Event:
    """A one-shot flag that threads can wait for, with an optional timeout."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> None:
        """Return once ``set()`` was called; raise ``WaitTimeout`` after ``timeout`` seconds."""
        if not self._event.wait(timeout):
            raise WaitTimeout(f"Not set within {timeout} s.")


class Semaphore:
    """At most ``bound`` holders at a time: ``acquire()``/``release()``, or ``with``."""

    __slots__ = ("_semaphore",)

    def __init__(self, bound: int) -> None:
        self._semaphore = threading.BoundedSemaphore(bound)

    def acquire(self) -> None:
        self._semaphore.acquire()

    def release(self) -> None:
        self._semaphore.release()

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.release()


class ShieldCancellation:
    """The sync twin of ``AsyncShieldCancellation``: threads are not cancelled, so a no-op."""

    __slots__ = ()

    def __enter__(self) -> ShieldCancellation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        pass
