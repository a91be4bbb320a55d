"""Random operation sequences against the pool's bookkeeping, checking its invariants."""

from __future__ import annotations

import itertools
from collections.abc import Hashable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from heron._pool_state import (
    ACTIVE,
    ASSIGNED,
    BUSY,
    CLOSED,
    DONE,
    OPENING,
    WAITING,
    Actions,
    PoolState,
    Ticket,
)

ORIGINS = st.sampled_from(["a", "b", "c"])


class PoolMachine(RuleBasedStateMachine):
    """Drives PoolState like many concurrent requests would, including cancellations."""

    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.counter = itertools.count()
        self.created: set[str] = set()
        self.closed: set[str] = set()
        self.state: PoolState[str] | None = None
        self.held: set[Ticket[str]] = set()
        self.waiting: set[Ticket[str]] = set()
        self.max_connections: int | None = None
        self.max_keepalive: int | None = None
        self.expiry: float | None = None

    def factory(self, origin: Hashable) -> str:
        name = f"{origin}#{next(self.counter)}"
        self.created.add(name)
        return name

    @initialize(
        max_connections=st.one_of(st.none(), st.integers(1, 4)),
        max_keepalive=st.one_of(st.none(), st.integers(0, 4)),
        expiry=st.one_of(st.none(), st.floats(0.0, 10.0)),
        multiplexed=st.frozensets(ORIGINS),
    )
    def setup(
        self,
        max_connections: int | None,
        max_keepalive: int | None,
        expiry: float | None,
        multiplexed: frozenset[str],
    ) -> None:
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.expiry = expiry
        self.state = PoolState(
            self.factory,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=expiry,
            clock=lambda: self.now,
            may_multiplex=multiplexed.__contains__,
        )

    # Applying actions, as the I/O shell does -------------------------------------------

    def apply(self, actions: Actions[str]) -> None:
        for connection in actions.close:
            assert connection in self.created
            assert connection not in self.closed, f"{connection} closed twice"
            self.closed.add(connection)
        for ticket in actions.wake:
            assert ticket in self.waiting, f"{ticket} woken but was not waiting"
            assert ticket.status in (ASSIGNED, OPENING, CLOSED)
            self.waiting.discard(ticket)
            if ticket.status != CLOSED:
                self.held.add(ticket)

    @property
    def pool(self) -> PoolState[str]:
        assert self.state is not None
        return self.state

    # Rules ------------------------------------------------------------------------------

    @precondition(lambda self: self.state is not None and not self.state.is_closed)
    @rule(target=tickets, origin=ORIGINS, fresh=st.booleans(), start=st.booleans())
    def acquire(self, origin: str, fresh: bool, start: bool) -> Ticket[str]:
        ticket, actions = self.pool.acquire(origin, fresh, start)
        self.apply(actions)
        assert not actions.wake
        if ticket.status == WAITING:
            self.waiting.add(ticket)
        else:
            assert ticket.status in ((ACTIVE,) if start else (ASSIGNED, OPENING))
            self.held.add(ticket)
        # Nothing idle is ever left expired after an acquire.
        if self.expiry is not None:
            for entry in self.pool._idle_lru:
                assert self.now - entry.idle_since < self.expiry
        return ticket

    @rule(ticket=tickets)
    def start(self, ticket: Ticket[str]) -> None:
        before = ticket.status
        self.pool.start(ticket)
        if before in (ASSIGNED, OPENING):
            assert ticket.status == ACTIVE
            assert ticket.entry is not None
            assert ticket.entry.status in (BUSY, "draining", CLOSED)
        else:
            assert ticket.status == before

    @rule(ticket=consumes(tickets), reusable=st.booleans())
    def release(self, ticket: Ticket[str], reusable: bool) -> None:
        self.apply(self.pool.release(ticket, reusable))
        assert ticket.status == DONE or (ticket.status == CLOSED and self.pool.is_closed)
        self.held.discard(ticket)
        self.waiting.discard(ticket)

    @rule(ticket=tickets)
    def release_again(self, ticket: Ticket[str]) -> None:
        # A `finally` that runs twice must be harmless.
        if ticket.status in (DONE, CLOSED):
            assert not self.pool.release(ticket)

    @rule(seconds=st.floats(0.0, 6.0))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule(ticket=tickets, capacity=st.integers(1, 4))
    def set_capacity(self, ticket: Ticket[str], capacity: int) -> None:
        # (What settles a settling connection.)
        if ticket.status == ACTIVE and ticket.entry is not None:
            self.apply(self.pool.set_capacity(ticket.entry, capacity))
            assert not ticket.entry.settling or ticket.entry.status != BUSY

    @rule(
        ticket=consumes(tickets),
        reusable=st.booleans(),
        capacity=st.one_of(st.none(), st.integers(1, 4)),
    )
    def release_with_capacity(
        self, ticket: Ticket[str], reusable: bool, capacity: int | None
    ) -> None:
        self.apply(self.pool.release(ticket, reusable, capacity))
        self.held.discard(ticket)
        self.waiting.discard(ticket)

    @rule(ticket=tickets)
    def wait_times_out(self, ticket: Ticket[str]) -> None:
        if ticket not in self.waiting:
            assert not self.pool.wait_timed_out(ticket)
            return
        self.apply(self.pool.wait_timed_out(ticket))
        assert ticket.status in (OPENING, DONE)
        self.waiting.discard(ticket)
        if ticket.status == OPENING:
            self.held.add(ticket)

    @precondition(lambda self: self.state is not None and not self.state.is_closed)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        # Rarely: closing the pool ends most of the interesting behaviour.
        if data.draw(st.integers(0, 20)) == 0:
            self.apply(self.pool.close())
            assert not self.waiting

    # Invariants -------------------------------------------------------------------------

    @invariant()
    def limits_hold(self) -> None:
        if self.state is None:
            return
        pool = self.pool
        if self.max_connections is not None:
            assert pool.total <= self.max_connections
        if self.max_keepalive is not None:
            assert pool.idle <= self.max_keepalive

    @invariant()
    def counts_are_exact(self) -> None:
        if self.state is None:
            return
        pool = self.pool
        assert pool.queued == len(self.waiting)
        assert pool.requests == len(self.held)
        live = self.created - self.closed
        assert set(pool.connections) == live
        assert pool.total == len(live)
        if not pool.is_closed:
            assert sum(entry.active for entry in pool._entries) == len(self.held)
            for ticket in self.held:
                assert ticket.entry is not None
                assert ticket.entry in pool._entries
                assert ticket.connection in live

    @invariant()
    def no_one_waits_needlessly(self) -> None:
        if self.state is None or self.pool.is_closed:
            return
        pool = self.pool
        if pool._waiters:
            # Waiting for room only happens when full and nothing can be evicted.
            assert pool.total == self.max_connections
            assert pool.idle == 0
        for ticket in self.waiting:
            record = pool._origins[ticket.origin]
            assert (ticket in record.waiters) != (ticket in record.held)
            if ticket in record.held:
                # Held only while a connection of its origin settles.
                assert record.settling is not None
            # (A fresh ticket, a retry, skips an idle connection, and a busy HTTP/2
            # connection's free slot, on purpose.)
            assert ticket.fresh or not record.idle
            assert ticket.fresh or not record.shared

    @invariant()
    def structures_agree(self) -> None:
        if self.state is None or self.pool.is_closed:
            return
        pool = self.pool
        assert sum(len(record.idle) for record in pool._origins.values()) == pool.idle
        assert (
            sum(len(record.waiters) + len(record.held) for record in pool._origins.values())
            == pool.queued
        )
        assert sum(len(record.held) for record in pool._origins.values()) == pool._held
        assert sum(record.connections for record in pool._origins.values()) == pool.total
        for entry in pool._idle_lru:
            assert entry.status == "idle"
            assert entry.active == 0
        for origin, record in pool._origins.items():
            assert record.connections or record.waiters
            for entry in record.shared:
                assert entry.origin == origin
                assert 0 < entry.active < entry.capacity
            settling = record.settling
            if settling is not None:
                assert settling.settling
                assert settling.origin == origin
                assert settling in pool._entries
                # Nobody shares it before it settles.
                assert settling.active == 1
        for entry in pool._entries:
            if entry.settling:
                assert pool._origins[entry.origin].settling is entry
            elif entry.status == BUSY and entry.active < entry.capacity:
                # A busy connection with a free slot is offered to the next request.
                assert entry in pool._origins[entry.origin].shared

    def teardown(self) -> None:
        if self.state is None:
            return
        # Every request ends, one way or another: nothing may be left held or queued.
        for ticket in list(self.held | self.waiting):
            self.apply(self.pool.release(ticket))
        self.held.clear()
        self.waiting.clear()
        assert self.pool.requests == 0
        assert self.pool.queued == 0
        assert self.pool.total == self.pool.idle
        self.apply(self.pool.close())
        assert self.closed == self.created


PoolMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_pool_state_invariants = PoolMachine.TestCase
