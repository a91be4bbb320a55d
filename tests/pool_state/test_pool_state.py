"""The pool's bookkeeping as plain functions: no sockets, no event loop, a fake clock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Hashable

import pytest

from heron._pool_state import (
    ACTIVE,
    ASSIGNED,
    BUSY,
    CLOSED,
    DONE,
    DRAINING,
    IDLE,
    NEW,
    OPENING,
    WAITING,
    Actions,
    AsyncStateLock,
    ConnectionNotAvailable,
    Entry,
    PoolState,
    StateLock,
    Ticket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_state(
    max_connections: int | None = 2,
    max_keepalive_connections: int | None = None,
    keepalive_expiry: float | None = None,
    clock: Clock | None = None,
    multiplexed: tuple[str, ...] = (),
) -> PoolState[str]:
    counter = itertools.count()

    def factory(origin: Hashable) -> str:
        return f"{origin}#{next(counter)}"

    return PoolState(
        factory,
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=keepalive_expiry,
        clock=clock or Clock(),
        may_multiplex=multiplexed.__contains__ if multiplexed else None,
    )


def run(state: PoolState[str], origin: str = "a") -> Ticket[str]:
    """Acquire and start, expecting a connection at once."""
    ticket, _ = state.acquire(origin)
    assert ticket.status in (ASSIGNED, OPENING)
    state.start(ticket)
    return ticket


# Acquiring ---------------------------------------------------------------------------------


def test_first_request_opens_a_new_connection() -> None:
    state = make_state()
    ticket, actions = state.acquire("a")
    assert ticket.status == OPENING
    assert ticket.connection == "a#0"
    assert not actions
    assert repr(ticket) == "<Ticket [opening] 'a'>"
    assert repr(ticket.entry) == "<Entry [new, 1/1] 'a'>"
    assert repr(state) == (
        "<PoolState [Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
    )


def test_start_marks_the_ticket_active_and_the_connection_busy() -> None:
    state = make_state()
    ticket, _ = state.acquire("a")
    state.start(ticket)
    assert ticket.status == ACTIVE
    assert ticket.entry is not None
    assert ticket.entry.status == BUSY
    state.start(ticket)  # a second start changes nothing
    assert ticket.status == ACTIVE


def test_released_connection_becomes_idle_and_is_reused() -> None:
    state = make_state()
    first = run(state)
    assert not state.release(first)
    assert state.idle == 1
    assert first.status == DONE
    assert repr(state) == (
        "<PoolState [Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
    )
    second, _ = state.acquire("a")
    assert second.status == ASSIGNED
    assert second.connection == "a#0"
    assert state.idle == 0


def test_most_recently_idle_connection_is_reused_first() -> None:
    state = make_state()
    first, second = run(state), run(state)
    state.release(first)
    state.release(second)
    ticket, _ = state.acquire("a")
    assert ticket.connection == "a#1"


def test_idle_connection_of_one_origin_is_not_used_for_another() -> None:
    state = make_state(max_connections=None)
    state.release(run(state, "a"))
    ticket, _ = state.acquire("b")
    assert ticket.status == OPENING
    assert ticket.connection == "b#1"
    assert state.total == 2


def test_request_waits_when_the_pool_is_full() -> None:
    state = make_state(max_connections=1)
    run(state)
    ticket, actions = state.acquire("a")
    assert ticket.status == WAITING
    assert not actions
    assert state.queued == 1
    with pytest.raises(RuntimeError, match="holds no connection"):
        _ = ticket.connection


def test_release_hands_the_connection_to_the_first_waiter_of_its_origin() -> None:
    state = make_state(max_connections=1)
    holder = run(state)
    first, _ = state.acquire("a")
    second, _ = state.acquire("a")
    actions = state.release(holder)
    assert actions.wake == [first]
    assert actions.close == []
    assert first.status == ASSIGNED
    assert first.connection == "a#0"
    assert second.status == WAITING


def test_same_origin_waiter_is_served_before_an_earlier_waiter_of_another_origin() -> None:
    state = make_state(max_connections=1)
    holder = run(state, "a")
    other, _ = state.acquire("b")
    same, _ = state.acquire("a")
    actions = state.release(holder)
    assert actions.wake == [same]
    assert other.status == WAITING


def test_released_connection_is_closed_to_make_room_for_another_origin() -> None:
    state = make_state(max_connections=1)
    holder = run(state, "a")
    other, _ = state.acquire("b")
    actions = state.release(holder)
    assert actions.close == ["a#0"]
    assert actions.wake == [other]
    assert other.status == OPENING
    assert other.connection == "b#1"
    assert state.total == 1


def test_full_pool_evicts_the_least_recently_used_idle_connection_of_another_origin() -> None:
    state = make_state(max_connections=2)
    clock_a, clock_b = run(state, "a"), run(state, "b")
    state.release(clock_a)
    state.release(clock_b)
    ticket, actions = state.acquire("c")
    assert actions.close == ["a#0"]
    assert ticket.status == OPENING
    assert state.total == 2
    assert state.idle == 1


def test_failed_connection_frees_its_slot_for_the_first_waiter() -> None:
    state = make_state(max_connections=1)
    holder = run(state, "a")
    waiter, _ = state.acquire("b")
    actions = state.release(holder, reusable=False)
    assert actions.close == ["a#0"]
    assert actions.wake == [waiter]
    assert waiter.status == OPENING


def test_connection_not_reusable_is_closed_even_with_waiters_of_its_origin() -> None:
    state = make_state(max_connections=1)
    holder = run(state)
    waiter, _ = state.acquire("a")
    actions = state.release(holder, reusable=False)
    assert actions.close == ["a#0"]
    assert waiter.status == OPENING
    assert waiter.connection == "a#1"


# Keep-alive limits -------------------------------------------------------------------------


def test_idle_connections_over_max_keepalive_close_the_oldest() -> None:
    state = make_state(max_connections=None, max_keepalive_connections=1)
    first, second = run(state), run(state, "b")
    assert not state.release(first)
    actions = state.release(second)
    assert actions.close == ["a#0"]
    assert state.idle == 1
    assert state.total == 1


def test_max_keepalive_zero_closes_every_released_connection() -> None:
    state = make_state(max_keepalive_connections=0)
    actions = state.release(run(state))
    assert actions.close == ["a#0"]
    assert state.total == 0


def test_max_keepalive_zero_still_hands_over_to_a_waiter() -> None:
    state = make_state(max_connections=1, max_keepalive_connections=0)
    holder = run(state)
    waiter, _ = state.acquire("a")
    actions = state.release(holder)
    assert actions.wake == [waiter]
    assert actions.close == []


def test_max_keepalive_is_capped_by_max_connections() -> None:
    state = make_state(max_connections=1, max_keepalive_connections=5)
    assert state._max_idle == 1
    state = make_state(max_connections=3, max_keepalive_connections=None)
    assert state._max_idle == 3
    state = make_state(max_connections=None, max_keepalive_connections=None)
    assert state._max_idle is None


def test_expired_idle_connection_is_closed_when_the_pool_is_next_used() -> None:
    clock = Clock()
    state = make_state(keepalive_expiry=5.0, clock=clock)
    state.release(run(state))
    clock.now += 5.0
    ticket, actions = state.acquire("a")
    assert actions.close == ["a#0"]
    assert ticket.status == OPENING
    assert ticket.connection == "a#1"


def test_idle_connection_younger_than_the_expiry_is_reused() -> None:
    clock = Clock()
    state = make_state(keepalive_expiry=5.0, clock=clock)
    state.release(run(state))
    clock.now += 4.9
    ticket, actions = state.acquire("a")
    assert not actions
    assert ticket.status == ASSIGNED


def test_expiry_closes_only_the_expired_connections_of_every_origin() -> None:
    clock = Clock()
    state = make_state(max_connections=None, keepalive_expiry=5.0, clock=clock)
    old_a, old_b, new_a = run(state, "a"), run(state, "b"), run(state, "a")
    state.release(old_a)
    state.release(old_b)
    clock.now += 3.0
    state.release(new_a)
    clock.now += 2.5
    ticket, actions = state.acquire("c")
    assert actions.close == ["a#0", "b#1"]
    assert state.idle == 1
    ticket, _ = state.acquire("a")
    assert ticket.connection == "a#2"


def test_no_keepalive_expiry_keeps_idle_connections_forever() -> None:
    clock = Clock()
    state = make_state(clock=clock)
    state.release(run(state))
    clock.now += 1e9
    ticket, actions = state.acquire("a")
    assert ticket.status == ASSIGNED
    assert not actions


# Giving back: cancellation and errors at every stage -----------------------------------


def test_cancelled_waiter_leaves_the_queue() -> None:
    state = make_state(max_connections=1)
    holder = run(state)
    waiter, _ = state.acquire("b")
    assert not state.release(waiter)
    assert waiter.status == DONE
    assert state.queued == 0
    # The origin it waited for is forgotten; the holder's is kept.
    assert set(state._origins) == {"a"}
    actions = state.release(holder)
    assert not actions.wake
    assert state.idle == 1


def test_cancelled_after_assignment_gives_the_connection_to_the_next_waiter() -> None:
    state = make_state(max_connections=1)
    holder = run(state)
    cancelled, _ = state.acquire("a")
    next_one, _ = state.acquire("a")
    state.release(holder)
    assert cancelled.status == ASSIGNED
    actions = state.release(cancelled)
    assert actions.wake == [next_one]
    assert next_one.connection == "a#0"
    assert state.requests == 1


def test_cancelled_after_assignment_with_no_one_waiting_leaves_the_connection_idle() -> None:
    state = make_state()
    state.release(run(state))
    ticket, _ = state.acquire("a")
    assert ticket.status == ASSIGNED
    assert not state.release(ticket)
    assert state.idle == 1
    assert state.requests == 0


def test_cancelled_before_connecting_closes_the_new_connection_and_frees_its_slot() -> None:
    state = make_state(max_connections=1)
    opening, _ = state.acquire("a")
    waiter, _ = state.acquire("b")
    actions = state.release(opening)
    assert actions.close == ["a#0"]
    assert actions.wake == [waiter]
    assert waiter.status == OPENING
    assert state.total == 1


def test_new_connection_released_before_start_is_not_kept_idle() -> None:
    state = make_state()
    opening, _ = state.acquire("a")
    actions = state.release(opening, reusable=True)
    assert actions.close == ["a#0"]
    assert state.total == 0
    assert state._origins == {}


def test_dead_assigned_connection_is_closed_and_a_new_one_can_be_acquired() -> None:
    state = make_state(max_connections=1)
    state.release(run(state))
    assigned, _ = state.acquire("a")
    actions = state.release(assigned, reusable=False)
    assert actions.close == ["a#0"]
    ticket, _ = state.acquire("a")
    assert ticket.status == OPENING


def test_release_twice_does_nothing_the_second_time() -> None:
    state = make_state()
    ticket = run(state)
    state.release(ticket)
    assert not state.release(ticket)
    assert not state.release(ticket, reusable=False)
    assert state.idle == 1
    assert state.requests == 0


# Fresh connections (retries) --------------------------------------------------------------


def test_fresh_acquire_skips_idle_connections() -> None:
    state = make_state()
    state.release(run(state))
    ticket, actions = state.acquire("a", fresh=True)
    assert ticket.status == OPENING
    assert ticket.fresh
    assert not actions
    assert state.idle == 1


def test_fresh_acquire_in_a_full_pool_evicts_an_idle_connection_of_its_own_origin() -> None:
    state = make_state(max_connections=1)
    state.release(run(state))
    ticket, actions = state.acquire("a", fresh=True)
    assert actions.close == ["a#0"]
    assert ticket.status == OPENING
    assert ticket.connection == "a#1"
    assert state.total == 1
    assert "a" in state._origins


def test_fresh_acquire_for_an_unknown_origin_opens() -> None:
    state = make_state()
    ticket, _ = state.acquire("z", fresh=True)
    assert ticket.status == OPENING


# Several requests per connection (HTTP/2) ------------------------------------------------


def test_connection_with_capacity_serves_several_requests_at_once() -> None:
    state = make_state(max_connections=1)
    first = run(state)
    entry = first.entry
    assert entry is not None
    assert not state.set_capacity(entry, 3)
    second, third = run(state), run(state)
    assert second.connection == third.connection == "a#0"
    assert repr(entry) == "<Entry [busy, 3/3] 'a'>"
    fourth, _ = state.acquire("a")
    assert fourth.status == WAITING
    actions = state.release(second)
    assert actions.wake == [fourth]
    assert fourth.status == ASSIGNED


def test_available_but_busy_connection_is_preferred_to_an_idle_one() -> None:
    state = make_state(max_connections=None)
    idle = run(state)
    busy = run(state)
    state.release(idle)
    assert busy.entry is not None
    state.set_capacity(busy.entry, 2)
    ticket, _ = state.acquire("a")
    assert ticket.connection == "a#1"
    assert state.idle == 1


def test_idle_connection_taken_again_still_offers_its_other_slots() -> None:
    state = make_state(max_connections=None)
    first = run(state)
    state.release(first, capacity=3)
    assert state.idle == 1
    second, third = run(state), run(state)
    assert second.connection == third.connection == "a#0"
    assert state.total == 1


def test_raising_capacity_wakes_waiters_of_the_origin() -> None:
    state = make_state(max_connections=1)
    first = run(state)
    waiters = [state.acquire("a")[0] for _ in range(3)]
    assert first.entry is not None
    actions = state.set_capacity(first.entry, 3)
    assert actions.wake == waiters[:2]
    assert waiters[2].status == WAITING


def test_capacity_of_a_connection_that_is_not_busy_changes_no_assignment() -> None:
    state = make_state()
    ticket, _ = state.acquire("a")
    assert ticket.entry is not None
    assert not state.set_capacity(ticket.entry, 5)  # NEW: not connected yet
    assert ticket.entry.capacity == 5


def test_capacity_lowered_below_the_active_count_takes_no_more_requests() -> None:
    state = make_state(max_connections=1)
    first = run(state)
    assert first.entry is not None
    state.set_capacity(first.entry, 3)
    second = run(state)
    state.set_capacity(first.entry, 1)
    waiter, _ = state.acquire("a")
    assert waiter.status == WAITING
    state.release(second)
    assert waiter.status == WAITING
    state.release(first)
    assert waiter.status == ASSIGNED


def test_broken_shared_connection_drains_then_closes() -> None:
    state = make_state(max_connections=1)
    first = run(state)
    assert first.entry is not None
    entry = first.entry
    state.set_capacity(entry, 2)
    second = run(state)
    actions = state.release(first, reusable=False)
    assert not actions
    assert entry.status == DRAINING
    waiter, _ = state.acquire("a")
    assert waiter.status == WAITING
    # Its last request ending well does not revive it.
    actions = state.release(second, reusable=True)
    assert actions.close == ["a#0"]
    assert actions.wake == [waiter]
    assert waiter.status == OPENING


# Settling: the first connection to an origin that may speak HTTP/2 ------------------------


def settling(state: PoolState[str], origin: str = "a") -> Ticket[str]:
    """The request that opens the origin's settling connection."""
    ticket, _ = state.acquire(origin, start=True)
    assert ticket.entry is not None
    assert ticket.entry.settling
    return ticket


def test_requests_wait_for_a_new_connection_that_may_carry_them_all() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(3)]
    assert [ticket.status for ticket in held] == [WAITING] * 3
    assert state.total == 1
    assert state.queued == 3
    assert repr(state) == (
        "<PoolState [Requests: 1 active, 3 queued | Connections: 1 active, 0 idle]>"
    )
    # Other origins are not held.
    assert state.acquire("b")[0].status == OPENING
    assert opener.entry is not None
    actions = state.set_capacity(opener.entry, 100)
    assert actions.wake == held
    assert all(ticket.connection == "a#0" for ticket in held)
    assert not opener.entry.settling
    assert state.queued == 0


def test_requests_beyond_the_settled_capacity_wait_for_the_next_new_connection() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(3)]
    assert opener.entry is not None
    actions = state.set_capacity(opener.entry, 2)
    # One slot left on it; the next opens a new connection, settling in turn, and the last
    # waits for that one.
    assert actions.wake == held[:2]
    assert (held[0].status, held[1].status, held[2].status) == (ASSIGNED, OPENING, WAITING)
    assert held[1].entry is not None
    assert held[1].entry.settling
    state.start(held[1])
    state.set_capacity(held[1].entry, 2)
    assert held[2].connection == "a#1"


def test_origin_settled_at_one_request_per_connection_holds_nobody() -> None:
    state = make_state(max_connections=3, multiplexed=("a",))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(3)]
    assert opener.entry is not None
    actions = state.set_capacity(opener.entry, 1)  # HTTP/1.1 after all
    # Each opens its own, within the limit; the last waits for room.
    assert actions.wake == held[:2]
    assert [ticket.status for ticket in held] == [OPENING, OPENING, WAITING]
    assert not any(ticket.entry is not None and ticket.entry.settling for ticket in held[:2])
    assert state.acquire("a")[0].status == WAITING
    state.release(opener)
    assert held[2].connection == "a#0"


def test_settling_connection_that_fails_passes_its_held_requests_on() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(3)]
    actions = state.release(opener, reusable=False)
    assert actions.close == ["a#0"]
    # The first opens the next settling connection; the others wait for it.
    assert actions.wake == held[:1]
    assert held[0].status == OPENING
    assert held[0].entry is not None
    assert held[0].entry.settling
    assert [held[1].status, held[2].status] == [WAITING, WAITING]
    assert state.queued == 2


def test_settling_connection_released_reusable_settles_as_it_is() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    opener = settling(state)
    held, _ = state.acquire("a")
    actions = state.release(opener, reusable=True, capacity=4)
    assert actions.wake == [held]
    assert held.connection == "a#0"
    assert held.entry is not None
    assert held.entry.capacity == 4


def test_fresh_request_is_held_for_a_settling_connection_too() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    state.release(run(state), reusable=True, capacity=2)
    assert state.idle == 1
    opener, _ = state.acquire("a", fresh=True, start=True)
    assert opener.connection == "a#1"
    retry, _ = state.acquire("a", fresh=True)
    assert retry.status == WAITING
    assert opener.entry is not None
    state.set_capacity(opener.entry, 10)
    assert retry.connection == "a#1"


def test_free_slot_on_another_connection_goes_to_a_held_request() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    shared = settling(state)
    assert shared.entry is not None
    state.set_capacity(shared.entry, 2)
    second = run(state)
    opener = settling(state)  # the first connection is full: another one
    held, _ = state.acquire("a")
    assert held.status == WAITING
    state.release(second)
    assert held.connection == "a#0"
    state.release(opener, reusable=False)


def test_held_requests_without_room_wait_for_room() -> None:
    state = make_state(max_connections=1, multiplexed=("a",))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(2)]
    assert opener.entry is not None
    assert not state.set_capacity(opener.entry, 1)
    assert list(state._waiters) == held
    state.release(opener)
    assert held[0].connection == "a#0"
    assert held[1].status == WAITING


def test_held_requests_may_take_the_place_of_an_idle_connection() -> None:
    state = make_state(max_connections=2, multiplexed=("a",))
    state.release(run(state, "b"))
    opener = settling(state)
    held = [state.acquire("a")[0] for _ in range(2)]
    assert opener.entry is not None
    actions = state.set_capacity(opener.entry, 1)
    assert actions.close == ["b#0"]
    assert actions.wake == held[:1]
    assert held[0].status == OPENING
    assert held[1].status == WAITING


def test_held_fresh_request_may_take_the_place_of_an_idle_connection_of_its_origin() -> None:
    state = make_state(max_connections=2, multiplexed=("a",))
    state.release(run(state), capacity=2)  # an idle connection of "a", which a retry skips
    opener, _ = state.acquire("a", fresh=True, start=True)
    retry, _ = state.acquire("a", fresh=True)
    assert opener.entry is not None
    actions = state.set_capacity(opener.entry, 1)
    assert actions.close == ["a#0"]
    assert actions.wake == [retry]
    assert retry.connection == "a#2"


def test_held_request_leaving_the_hold() -> None:
    state = make_state(max_connections=10, multiplexed=("a",))
    opener = settling(state)
    held, _ = state.acquire("a")
    assert not state.release(held)
    assert held.status == DONE
    assert state.queued == 0
    assert opener.entry is not None
    assert not state.set_capacity(opener.entry, 5)


def test_held_request_whose_time_runs_out_opens_its_own_connection_if_it_can() -> None:
    state = make_state(max_connections=2, multiplexed=("a",))
    opener = settling(state)
    held, _ = state.acquire("a")
    assert not state.wait_timed_out(held)
    assert held.status == OPENING
    assert held.entry is not None
    assert not held.entry.settling  # nobody waits for this one
    assert state.queued == 0
    # No room left: the next one times out for good.
    late, _ = state.acquire("a")
    assert not state.wait_timed_out(late)
    assert late.status == DONE
    state.release(opener)


def test_time_running_out_for_a_request_waiting_for_room_ends_its_wait() -> None:
    state = make_state(max_connections=1)
    first = run(state)
    waiter, _ = state.acquire("a")
    assert not state.wait_timed_out(waiter)
    assert waiter.status == DONE
    assert state.queued == 0
    # A ticket handed a connection just as its time ran out keeps it.
    late, _ = state.acquire("a")
    state.release(first)
    assert late.status == ASSIGNED
    assert not state.wait_timed_out(late)
    assert late.status == ASSIGNED


def test_closing_the_pool_wakes_held_requests() -> None:
    state = make_state(multiplexed=("a",))
    settling(state)
    held, _ = state.acquire("a")
    actions = state.close()
    assert actions.wake == [held]
    assert held.status == CLOSED
    assert state.queued == 0


# Closing the pool --------------------------------------------------------------------------


def test_close_closes_every_connection_and_wakes_every_waiter() -> None:
    state = make_state(max_connections=2)
    active = run(state)
    state.release(run(state))
    waiter, _ = state.acquire("b")
    assert waiter.status == OPENING  # the idle one was evicted
    queued, _ = state.acquire("b")
    actions = state.close()
    assert sorted(actions.close) == ["a#0", "b#2"]
    assert actions.wake == [queued]
    assert queued.status == CLOSED
    assert state.is_closed
    assert state.total == 0
    assert state.queued == 0
    # Releases after closing are harmless and still count.
    assert not state.release(active)
    assert not state.release(waiter)
    assert not state.release(queued)
    assert state.requests == 0
    assert active.entry is None


def test_acquire_after_close_is_refused() -> None:
    state = make_state()
    state.close()
    with pytest.raises(RuntimeError, match="closed"):
        state.acquire("a")


def test_capacity_change_after_close_does_nothing() -> None:
    state = make_state()
    ticket = run(state)
    entry = ticket.entry
    assert entry is not None
    state.close()
    assert not state.set_capacity(entry, 10)


# Queries and small pieces ----------------------------------------------------------------


def test_connections_lists_every_live_connection() -> None:
    state = make_state(max_connections=None)
    run(state)
    state.release(run(state, "b"))
    assert sorted(state.connections) == ["a#0", "b#1"]


def test_origin_records_are_forgotten_when_unused() -> None:
    state = make_state(max_connections=None, max_keepalive_connections=0)
    for index in range(50):
        state.release(run(state, f"host{index}"))
    assert state._origins == {}


def test_entry_status_is_idle_after_release() -> None:
    state = make_state()
    ticket = run(state)
    entry = ticket.entry
    state.release(ticket)
    assert entry is not None
    assert entry.status == IDLE
    assert repr(entry) == "<Entry [idle, 0/1] 'a'>"


def test_actions_repr_and_truth() -> None:
    actions: Actions[str] = Actions()
    assert not actions
    actions.add_close("x")
    actions.add_close("y")
    actions.add_wake(Ticket("a", False))
    assert actions
    assert repr(actions) == "<Actions close=['x', 'y'] wake=[<Ticket [waiting] 'a'>]>"


def test_entry_starts_new_with_capacity_one() -> None:
    entry = Entry("conn", "a")
    assert (entry.status, entry.active, entry.capacity) == (NEW, 0, 1)


def test_state_locks_guard_a_block() -> None:
    with AsyncStateLock():
        pass
    lock = StateLock()
    with lock:
        assert lock.locked()
    assert isinstance(lock, type(threading.Lock()))


def test_connection_not_available_is_internal_not_a_heron_error() -> None:
    import heron

    assert not issubclass(ConnectionNotAvailable, heron.HTTPError)


def test_acquire_with_start_gives_an_active_ticket_at_once() -> None:
    state = make_state(max_connections=1)
    opened, _ = state.acquire("a", start=True)
    assert opened.status == ACTIVE
    assert opened.entry is not None
    assert opened.entry.status == BUSY
    state.release(opened)
    reused, _ = state.acquire("a", start=True)
    assert reused.status == ACTIVE
    assert reused.connection == "a#0"
    waiter, _ = state.acquire("a", start=True)
    assert waiter.status == WAITING  # a waiter is started when it resumes
    state.release(reused)
    assert waiter.status == ASSIGNED


def test_shared_connection_acquired_with_start_is_active() -> None:
    state = make_state()
    first = run(state)
    assert first.entry is not None
    state.set_capacity(first.entry, 2)
    second, _ = state.acquire("a", start=True)
    assert second.status == ACTIVE
    assert second.connection == first.connection
