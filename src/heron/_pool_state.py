"""The connection pool's bookkeeping: which request gets which connection, what to open, what
to close. Pure: no I/O, no event loop, and a clock passed in, so every decision is unit-tested.

How this works
--------------
Each request takes a ``Ticket`` with ``acquire(origin)``. The ticket comes back either holding a
connection (``ASSIGNED``: an existing one; ``OPENING``: a new one it must connect) or
``WAITING`` in its origin's queue. The I/O shell (``_async/pool.py``) carries out the returned
``Actions`` (close these connections, wake these tickets), calls ``start(ticket)`` when a woken
ticket resumes (a ticket served at once is started by ``acquire(..., start=True)``), and
``release(ticket, reusable)`` exactly once when the request is over, whatever happened:
finished, failed, timed out or cancelled, before or after it was assigned. Between being
woken and resuming, a ticket is "assigned but not started": its connection is reserved for it,
neither idle nor handed to anyone else.

A connection can carry ``capacity`` requests at once: 1 for HTTP/1.1, the server's
``MAX_CONCURRENT_STREAMS`` for HTTP/2 (``set_capacity``). So "available" (it has a free slot)
is not "idle" (it has no request at all).

Settling: whether a new connection carries one request or many is only known once it is open
(ALPN picks HTTP/1.1 or HTTP/2; the server's SETTINGS say how many streams). For an origin
where it may carry many (``may_multiplex(origin)``), the first new connection is opened
*settling*: the origin's next requests are ``held`` until it settles (``set_capacity``, or a
release) rather than each opening a connection of its own, so a hundred concurrent requests to
an HTTP/2 server make one connection. When it settles, the held tickets take its free slots;
the rest go on as if they had just arrived. Once a connection of the origin settles at one
request at a time (HTTP/1.1), its next connections are opened without holding anyone.

Per origin: ``idle`` connections (a dict used as a LIFO stack, so warm connections are reused
and cold ones age out), ``shared`` ones (busy but with a free slot: HTTP/2), and ``waiters``
(FIFO). Across origins: ``_idle_lru``, every idle connection oldest first, and ``_waiters``,
every waiting ticket in arrival order. Every operation is O(1) apart from closing things, and
each connection is closed once. Nothing ever walks all connections or all waiters.

Keep-alive expiry: connections become idle in clock order, so ``_idle_lru`` is sorted by idle
time and the expired ones are exactly at its head. Each ``acquire`` first closes those (and
stops at the first one still fresh), so an idle connection is never handed out expired.

Invariants (checked by tests/pool_state): connections <= ``max_connections``; idle <=
``max_keepalive_connections``; a ticket waits only while the pool is full and nothing is idle,
or (held) while a settling connection of its origin is being opened; no ticket waits while a
connection of its origin has a free slot; every connection slot taken is given back exactly
once.

Tickets::

    from                event                                      to
    ------------------  -----------------------------------------  -----------------------
    (new)               acquire: a connection of the origin has    ASSIGNED
                        a free slot (HTTP/2 first, then the most
                        recently idle one)
    (new)               acquire: room under max_connections, or    OPENING (a NEW entry)
                        an idle connection of another origin to
                        evict (the least recently used one)
    (new)               acquire: a settling connection of the      WAITING (held)
                        origin is being opened
    (new)               acquire: the pool is full, nothing idle    WAITING
    (new)               acquire(start=True) served at once         ACTIVE
    WAITING             release of a connection of its origin      ASSIGNED  (woken)
    WAITING             a connection closed, freeing a slot        OPENING   (woken)
    WAITING (held)      the settling connection settles or closes  ASSIGNED, OPENING (woken)
                                                                   or WAITING
    WAITING             wait_timed_out: held, and there is room    OPENING
    WAITING             wait_timed_out otherwise                   DONE
    ASSIGNED, OPENING   start: the request is about to be sent     ACTIVE
    WAITING             close (the pool)                           CLOSED    (woken)
    any                 release                                    DONE

Connections (``Entry.status``)::

    (new)               acquire (room or eviction)                 NEW (BUSY when
                                                                   acquired with start=True;
                                                                   settling if it may carry
                                                                   several requests)
    NEW                 start of its ticket                        BUSY
    NEW                 release before start (never connected)     CLOSED
    BUSY, IDLE          a ticket takes a slot                      BUSY
    BUSY                set_capacity                               BUSY, settled
    BUSY                release, reusable, no request left         IDLE, or CLOSED when
                                                                   another origin is waiting
                                                                   or over keep-alive limits
    BUSY                release, not reusable, requests left       DRAINING
    BUSY                release, not reusable, no request left     CLOSED
    DRAINING            release, no request left                   CLOSED
    IDLE                expired / evicted / over the keep-alive    CLOSED
                        limit / pool closed
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import Any, Final, Generic, TypeAlias, TypeVar

from ._exceptions import UnsupportedProtocol

# ConnectionNotAvailable: raised by a connection that could not take a request after all, and
# nothing of it was processed (a reused HTTP/1.1 connection found closed before any byte of the
# response; later, an HTTP/2 connection that stopped taking streams). The pool catches it and
# retries or raises a heron error; users never see it. One class for the whole package: it was
# written with the HTTP/1.1 parser seam, and is re-exported here, where the pool's contract
# names it.
from ._http11_parser import ConnectionNotAvailable
from ._request import Request, _display_url

__all__ = [
    "ACTIVE",
    "ASSIGNED",
    "BUSY",
    "CLOSED",
    "DONE",
    "DRAINING",
    "IDLE",
    "NEW",
    "OPENING",
    "WAITING",
    "Actions",
    "AsyncStateLock",
    "ConnectionNotAvailable",
    "Entry",
    "Origin",
    "PoolState",
    "StateLock",
    "Ticket",
    "origin_url",
    "request_origin",
]

# Ticket statuses.
WAITING: Final = "waiting"
ASSIGNED: Final = "assigned"  # holds an existing connection, request not started yet
OPENING: Final = "opening"  # holds a new connection to connect, request not started yet
ACTIVE: Final = "active"  # the request is being sent or its response read
DONE: Final = "done"
# Entry statuses (CLOSED is shared: a ticket woken by the pool closing is CLOSED too).
NEW: Final = "new"
BUSY: Final = "busy"
IDLE: Final = "idle"
DRAINING: Final = "draining"
CLOSED: Final = "closed"

C = TypeVar("C")

#: What connections are pooled by: ``(scheme, host, port)``, as ``("https", "a.org", 443)``.
Origin: TypeAlias = tuple[str, str, int]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def request_origin(request: Request) -> Origin:
    """The origin of the request's URL; ``UnsupportedProtocol`` if it can't go over HTTP."""
    url = request.url
    # The parsed parts directly: this runs for every request, and they are already validated
    # and normalised (lower-case scheme, IDNA-encoded host).
    parts = url._uri_reference
    scheme = parts.scheme
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port is None:
        if not scheme:
            raise UnsupportedProtocol(
                f"Request URL {_display_url(url)!r} is missing an 'http://' or 'https://' "
                "protocol. Pass an absolute URL, or set base_url= on the client.",
                request=request,
            )
        raise UnsupportedProtocol(
            f"Request URL {_display_url(url)!r} has an unsupported protocol '{scheme}://': "
            "this transport speaks 'http://' and 'https://'. Mount a transport for other "
            "schemes with mounts=.",
            request=request,
        )
    host = parts.host
    if not host:
        raise UnsupportedProtocol(
            f"Request URL {_display_url(url)!r} has no host to connect to.", request=request
        )
    return scheme, host, parts.port or default_port


def origin_url(origin: Origin) -> str:
    """``("https", "::1", 8443)`` -> ``"https://[::1]:8443"``: the origin in messages."""
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class AsyncStateLock:
    """Guards the pool state in async code: a no-op, since an event loop runs the (await-free)
    state changes of one task without interruption. ``StateLock`` is the threaded twin."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


#: Guards the pool state in sync code, where one pool is shared by many threads.
StateLock: Final = threading.Lock


class Entry(Generic[C]):
    """The pool's record of one connection."""

    __slots__ = (
        "active",
        "capacity",
        "connection",
        "idle_since",
        "origin",
        "settling",
        "status",
    )

    def __init__(self, connection: C, origin: Hashable) -> None:
        self.connection = connection
        self.origin = origin
        self.status: str = NEW
        #: Tickets holding a slot on this connection (assigned or active).
        self.active = 0
        #: How many requests it can carry at once: 1 until told otherwise (HTTP/2).
        self.capacity = 1
        #: Opened for an origin where it may carry several requests, and not settled yet:
        #: the origin's next requests wait for it (see the module docstring).
        self.settling = False
        self.idle_since = 0.0

    def __repr__(self) -> str:
        return f"<Entry [{self.status}, {self.active}/{self.capacity}] {self.origin!r}>"


class Ticket(Generic[C]):
    """One request's claim on the pool, from ``acquire`` to ``release``."""

    __slots__ = ("entry", "fresh", "origin", "status", "waker")

    def __init__(self, origin: Hashable, fresh: bool) -> None:
        self.origin = origin
        self.fresh = fresh
        self.status: str = WAITING
        self.entry: Entry[C] | None = None
        #: Whatever the I/O shell uses to wake a waiting ticket (an event); unused here.
        self.waker: object = None

    @property
    def connection(self) -> C:
        """The connection this ticket holds (``ASSIGNED``, ``OPENING`` or ``ACTIVE``)."""
        if self.entry is None:
            raise RuntimeError(f"{self!r} holds no connection.")
        return self.entry.connection

    def __repr__(self) -> str:
        return f"<Ticket [{self.status}] {self.origin!r}>"


_NOTHING: Final[list[Any]] = []


class Actions(Generic[C]):
    """What the I/O shell must do after a state change: close connections, wake tickets."""

    __slots__ = ("close", "wake")

    def __init__(self) -> None:
        # Usually there is nothing to do, so the lists are only made when something is added
        # (the shared empty list is never appended to).
        self.close: list[C] = _NOTHING
        self.wake: list[Ticket[C]] = _NOTHING

    def add_close(self, connection: C) -> None:
        if self.close:
            self.close.append(connection)
        else:
            self.close = [connection]

    def add_wake(self, ticket: Ticket[C]) -> None:
        if self.wake:
            self.wake.append(ticket)
        else:
            self.wake = [ticket]

    def __bool__(self) -> bool:
        return bool(self.close or self.wake)

    def __repr__(self) -> str:
        return f"<Actions close={self.close!r} wake={self.wake!r}>"


#: The answer when there is nothing to do; never added to.
_NO_ACTIONS: Final[Actions[Any]] = Actions()


class _Origin(Generic[C]):
    """The per-origin part of the state."""

    __slots__ = ("connections", "held", "idle", "multiplex", "settling", "shared", "waiters")

    def __init__(self, multiplex: bool) -> None:
        #: Idle entries; insertion order = idle order, so ``popitem()`` gives the warmest.
        self.idle: dict[Entry[C], None] = {}
        #: Busy entries with a free slot (HTTP/2).
        self.shared: dict[Entry[C], None] = {}
        #: Tickets waiting for room in the pool (also in ``PoolState._waiters``).
        self.waiters: OrderedDict[Ticket[C], None] = OrderedDict()
        #: Tickets waiting for ``settling`` to settle (only here).
        self.held: OrderedDict[Ticket[C], None] = OrderedDict()
        #: The entry being opened settling, if any.
        self.settling: Entry[C] | None = None
        #: A new connection may carry several requests: open it settling.
        self.multiplex = multiplex
        #: Live entries of this origin, whatever their status.
        self.connections = 0


class PoolState(Generic[C]):
    """Connection pool bookkeeping; see the module docstring for how it works.

    ``connection_factory(origin)`` makes the (not yet connected) connection for a new entry:
    it must not do I/O. ``max_keepalive_connections`` caps idle connections,
    ``keepalive_expiry`` is in seconds of ``clock()``, which must never go backwards.
    ``None`` disables a limit. ``may_multiplex(origin)`` says whether a new connection to
    ``origin`` may carry several requests at once (HTTP/2 may be negotiated): its new
    connections are then opened settling.
    """

    def __init__(
        self,
        connection_factory: Callable[[Any], C],
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        may_multiplex: Callable[[Any], bool] | None = None,
    ) -> None:
        self._factory = connection_factory
        self._may_multiplex = may_multiplex
        self._max_connections = max_connections
        self._max_idle = max_keepalive_connections
        if max_connections is not None and (
            max_keepalive_connections is None or max_keepalive_connections > max_connections
        ):
            self._max_idle = max_connections
        self._expiry = keepalive_expiry
        self._clock = clock
        self._origins: dict[Hashable, _Origin[C]] = {}
        self._entries: dict[Entry[C], None] = {}
        self._idle_lru: OrderedDict[Entry[C], None] = OrderedDict()
        self._waiters: OrderedDict[Ticket[C], None] = OrderedDict()
        #: Tickets held for a settling connection, across origins.
        self._held = 0
        #: Tickets holding a connection slot (ASSIGNED, OPENING or ACTIVE).
        self._requests = 0
        self._closed = False
        self._out: Actions[C] | None = None

    # Queries ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def connections(self) -> list[C]:
        """Every live connection: connecting, busy and idle."""
        return [entry.connection for entry in self._entries]

    @property
    def requests(self) -> int:
        """Requests holding a connection (assigned, opening or active)."""
        return self._requests

    @property
    def queued(self) -> int:
        """Requests waiting for a connection (for room in the pool, or held)."""
        return len(self._waiters) + self._held

    @property
    def total(self) -> int:
        """Live connections, including ones still connecting."""
        return len(self._entries)

    @property
    def idle(self) -> int:
        """Idle connections."""
        return len(self._idle_lru)

    def describe(self) -> str:
        """``"Requests: 2 active, 1 queued | Connections: 2 active, 1 idle"``: for reprs."""
        idle = len(self._idle_lru)
        return (
            f"Requests: {self._requests} active, {len(self._waiters) + self._held} queued | "
            f"Connections: {len(self._entries) - idle} active, {idle} idle"
        )

    def __repr__(self) -> str:
        return f"<PoolState [{self.describe()}]>"

    # Operations ------------------------------------------------------------------------

    def acquire(
        self, origin: Hashable, fresh: bool = False, start: bool = False
    ) -> tuple[Ticket[C], Actions[C]]:
        """A ticket for a request to ``origin``, and what to close first.

        ``fresh=True`` never picks an existing connection (a retry after a reused connection
        was found dead); a waiting fresh ticket may still be handed a connection that has just
        finished a response, which is known to be alive. ``start=True`` starts a ticket that
        gets a connection at once (``ACTIVE``, saving a ``start`` call); the caller must then
        release a connection it never connected as not reusable.
        """
        if self._closed:
            raise RuntimeError("The connection pool is closed.")
        lru = self._idle_lru
        if lru and self._expiry is not None:
            # The least recently used idle connection is the one to expire first.
            deadline = self._clock() - self._expiry
            if next(iter(lru)).idle_since <= deadline:
                self._close_expired(deadline)
        ticket: Ticket[C] = Ticket(origin, fresh)
        record = self._origins.get(origin)
        if record is None:
            may_multiplex = self._may_multiplex
            record = self._origins[origin] = _Origin(
                may_multiplex is not None and may_multiplex(origin)
            )
        elif not fresh:
            # Fast path: reuse. An HTTP/2 connection with a free slot first, so idle ones can
            # age out; then the most recently idle one, whose socket is the most likely alive.
            if record.shared:
                entry = next(iter(record.shared))
                entry.active += 1
                if entry.active >= entry.capacity:
                    del record.shared[entry]
            elif record.idle:
                entry, _ = record.idle.popitem()
                del lru[entry]
                entry.status = BUSY
                entry.active = 1
                if entry.capacity > 1:
                    record.shared[entry] = None
            else:
                entry = None
            if entry is not None:
                ticket.status = ACTIVE if start else ASSIGNED
                ticket.entry = entry
                self._requests += 1
                return ticket, self._take_actions()
        if record.settling is not None:
            # A new connection of the origin may carry this request too: wait for it to
            # settle. (A fresh ticket too: that connection is new, so known to be alive.)
            record.held[ticket] = None
            self._held += 1
        elif self._max_connections is None or len(self._entries) < self._max_connections:
            self._open(ticket, record, start, record.multiplex)
        elif lru:
            # Full, but a connection sits idle (of another origin, or any when fresh): close
            # the least recently used one to make room.
            self._drop(next(iter(lru)), grant=False)
            # (When fresh, that may have been this origin's last entry, and its record gone.)
            record = self._origins.setdefault(origin, record)
            self._open(ticket, record, start, record.multiplex)
        else:
            record.waiters[ticket] = None
            self._waiters[ticket] = None
        return ticket, self._take_actions()

    def start(self, ticket: Ticket[C]) -> None:
        """The ticket's request is about to be sent on its connection."""
        if ticket.status in (ASSIGNED, OPENING):
            ticket.status = ACTIVE
            entry = ticket.entry
            assert entry is not None
            if entry.status == NEW:
                entry.status = BUSY

    def release(
        self, ticket: Ticket[C], reusable: bool = True, capacity: int | None = None
    ) -> Actions[C]:
        """The ticket's request is over: give back what it held. Safe to call twice.

        ``reusable`` says whether the connection can take more requests (it is alive and its
        protocol state is clean). A connection assigned but never started is given back as it
        is unless ``reusable`` is false; a new one never started is closed (it never connected).
        ``capacity``, when given, is how many requests the connection can carry now, as for
        ``set_capacity``.
        """
        status = ticket.status
        if status == WAITING:
            ticket.status = DONE
            record = self._origins[ticket.origin]
            if ticket in record.held:
                del record.held[ticket]
                self._held -= 1
            else:
                del self._waiters[ticket]
                del record.waiters[ticket]
            self._forget_if_unused(ticket.origin, record)
            return _NO_ACTIONS
        if status in (DONE, CLOSED):
            return _NO_ACTIONS
        entry = ticket.entry
        assert entry is not None
        ticket.status = DONE
        ticket.entry = None
        self._requests -= 1
        if entry.status == CLOSED:
            # The pool was closed under it.
            return _NO_ACTIONS
        entry.active -= 1
        if capacity is not None:
            entry.capacity = capacity
        if status == OPENING or not reusable or entry.status == DRAINING:
            if entry.active == 0:
                self._drop(entry)
            else:
                # Other requests still run on it (HTTP/2): take no new ones, close it after.
                entry.status = DRAINING
                self._origins[entry.origin].shared.pop(entry, None)
        else:
            self._make_available(entry)
        return self._take_actions()

    def set_capacity(self, entry: Entry[C], capacity: int) -> Actions[C]:
        """The connection can now carry ``capacity`` requests at once (HTTP/2 settings; 1 for
        HTTP/1.1). A settling connection that is busy settles: see the module docstring."""
        entry.capacity = capacity
        if entry.status == BUSY:
            self._make_available(entry)
        return self._take_actions()

    def wait_timed_out(self, ticket: Ticket[C]) -> Actions[C]:
        """A waiting ticket ran out of time (its pool timeout).

        Held for a settling connection, it opens a connection of its own if there is room
        (``OPENING``: the caller goes on with it); otherwise it leaves (``DONE``: the caller
        raises its timeout). A ticket handed a connection meanwhile is left as it is.
        """
        if ticket.status != WAITING:
            return _NO_ACTIONS
        record = self._origins[ticket.origin]
        if ticket in record.held and self._has_room():
            del record.held[ticket]
            self._held -= 1
            self._open_with_room(ticket, record, settle=False)
            return self._take_actions()
        return self.release(ticket)

    def close(self) -> Actions[C]:
        """Close the pool: every connection is to be closed and every waiter woken (CLOSED)."""
        self._closed = True
        for entry in self._entries:
            entry.status = CLOSED
            self._closing(entry.connection)
        for ticket in self._waiters:
            ticket.status = CLOSED
            self._waking(ticket)
        for record in self._origins.values():
            for ticket in record.held:
                ticket.status = CLOSED
                self._waking(ticket)
        self._held = 0
        self._entries.clear()
        self._idle_lru.clear()
        self._waiters.clear()
        self._origins.clear()
        return self._take_actions()

    # Helpers ---------------------------------------------------------------------------

    # What an operation asks of the I/O shell is collected in `_out`, made only when needed
    # (usually there is nothing to do), and handed over as the operation returns.

    def _closing(self, connection: C) -> None:
        if self._out is None:
            self._out = Actions()
        self._out.add_close(connection)

    def _waking(self, ticket: Ticket[C]) -> None:
        if self._out is None:
            self._out = Actions()
        self._out.add_wake(ticket)

    def _take_actions(self) -> Actions[C]:
        actions = self._out
        if actions is None:
            return _NO_ACTIONS
        self._out = None
        return actions

    def _has_room(self) -> bool:
        """A connection can be opened: under ``max_connections``, or by evicting an idle one."""
        max_connections = self._max_connections
        return (
            max_connections is None or len(self._entries) < max_connections or bool(self._idle_lru)
        )

    def _open_with_room(self, ticket: Ticket[C], record: _Origin[C], settle: bool) -> None:
        """Open a connection for a ticket that was waiting (``_has_room()`` holds): under
        ``max_connections``, or in place of the least recently used idle one."""
        max_connections = self._max_connections
        if max_connections is not None and len(self._entries) >= max_connections:
            # (Perhaps of the ticket's origin, when it is fresh: never its last connection,
            # since a settling one is open, or has just settled.)
            self._drop(next(iter(self._idle_lru)), grant=False)
        self._open(ticket, record, settle=settle)

    def _open(
        self, ticket: Ticket[C], record: _Origin[C], start: bool = False, settle: bool = False
    ) -> None:
        entry: Entry[C] = Entry(self._factory(ticket.origin), ticket.origin)
        entry.active = 1
        if settle:
            entry.settling = True
            record.settling = entry
        self._entries[entry] = None
        record.connections += 1
        if start:
            entry.status = BUSY
            ticket.status = ACTIVE
        else:
            ticket.status = OPENING
        ticket.entry = entry
        self._requests += 1

    def _make_available(self, entry: Entry[C]) -> None:
        """``entry`` has a free slot: hand it to its origin's waiters, else idle or close it.
        A settling entry settles here."""
        record = self._origins[entry.origin]
        settled = entry.settling
        if settled:
            entry.settling = False
            record.settling = None
            if entry.capacity <= 1:
                # One request at a time (HTTP/1.1): the origin's next connections are opened
                # without holding anyone.
                record.multiplex = False
        waiters = record.waiters
        held = record.held
        while (waiters or held) and entry.active < entry.capacity:
            if waiters:
                waiter, _ = waiters.popitem(last=False)
                del self._waiters[waiter]
            else:
                waiter, _ = held.popitem(last=False)
                self._held -= 1
            entry.active += 1
            waiter.status = ASSIGNED
            waiter.entry = entry
            self._requests += 1
            self._waking(waiter)
        if settled and held:
            self._dispatch_held(record)
        if entry.active == 0:
            if record.shared:
                record.shared.pop(entry, None)
            if self._waiters or self._max_idle == 0:
                # Tickets of other origins are waiting for room: make it.
                self._drop(entry)
                return
            entry.status = IDLE
            entry.idle_since = self._clock()
            record.idle[entry] = None
            lru = self._idle_lru
            lru[entry] = None
            if self._max_idle is not None and len(lru) > self._max_idle:
                self._drop(next(iter(lru)))
        elif entry.active < entry.capacity:
            record.shared[entry] = None
        else:
            record.shared.pop(entry, None)

    def _close_expired(self, deadline: float) -> None:
        """Close every connection idle since ``deadline`` or earlier: the head of the LRU."""
        lru = self._idle_lru
        while lru:
            entry = next(iter(lru))
            if entry.idle_since > deadline:
                break
            self._drop(entry)

    def _drop(self, entry: Entry[C], grant: bool = True) -> None:
        """Close ``entry``; with ``grant``, its slot goes to the first waiting ticket."""
        record = self._origins[entry.origin]
        if entry.status == IDLE:
            del record.idle[entry]
            del self._idle_lru[entry]
        else:
            record.shared.pop(entry, None)
        settling = entry.settling
        if settling:
            # Closed before it settled (it failed, or was given up): the held tickets go on.
            entry.settling = False
            record.settling = None
        entry.status = CLOSED
        del self._entries[entry]
        record.connections -= 1
        self._closing(entry.connection)
        self._forget_if_unused(entry.origin, record)
        if grant and self._waiters:
            waiter, _ = self._waiters.popitem(last=False)
            waiter_record = self._origins[waiter.origin]
            del waiter_record.waiters[waiter]
            self._open(waiter, waiter_record, settle=self._settles(waiter_record))
            self._waking(waiter)
        if settling and record.held:
            self._dispatch_held(record)

    @staticmethod
    def _settles(record: _Origin[C]) -> bool:
        """Whether the origin's next new connection is opened settling."""
        return record.multiplex and record.settling is None

    def _dispatch_held(self, record: _Origin[C]) -> None:
        """The connection that ``record``'s held tickets waited for settled with no slot left
        for them, or closed: they go on as if they had just arrived. The first opens the next
        settling connection (the others are held for it) or its own; without room, they
        wait for it."""
        held = record.held
        while held and record.settling is None:
            ticket, _ = held.popitem(last=False)
            self._held -= 1
            if self._has_room():
                self._open_with_room(ticket, record, record.multiplex)
                self._waking(ticket)
            else:
                record.waiters[ticket] = None
                self._waiters[ticket] = None

    def _forget_if_unused(self, origin: Hashable, record: _Origin[C]) -> None:
        # Keeps the origin table from growing without bound in a client that visits many hosts.
        if not record.connections and not record.waiters and not record.held:
            del self._origins[origin]
