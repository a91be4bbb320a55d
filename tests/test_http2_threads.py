"""One sync HTTP2Connection shared by many threads (sync only, so outside tests/_sync)."""

from __future__ import annotations

import threading

import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes

import heron
import heron._sync.http2
from heron._synchronization import Event
from tests._sync.test_http2 import URL, connect, fetch, request, silent
from tests.h2_helpers import HELLO, H2Server, TaskGroup

Codes = h2.settings.SettingCodes


class Interrupted(BaseException):
    pass


def test_threads_share_one_connection() -> None:
    threads, per_thread = 16, 25
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 4})
    pending: list[int] = []
    alive = [threads]

    def answer_if_enough() -> None:
        # Hold answers until four requests wait (or every live thread waits): the streams
        # overlap.
        if pending and len(pending) >= min(4, alive[0]):
            for stream_id in pending:
                body = bytes(server.requests[stream_id].body) or HELLO
                server.respond(stream_id, body=body)
            pending.clear()

    def handler(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            pending.append(event.stream_id)
            answer_if_enough()

    server.handler = handler
    connection, _, _ = connect(server)
    lock = threading.Lock()
    done = [0]

    def worker(index: int) -> None:
        for number in range(per_thread):
            body = f"{index}-{number}".encode() if number % 2 else None
            method = "POST" if body else "GET"
            req = heron.Request(method, URL, content=body)
            response = connection.handle_request(req)
            assert response.read() == (body or HELLO)
            with lock:
                done[0] += 1
        with server.lock:
            alive[0] -= 1
            answer_if_enough()

    with TaskGroup() as group:
        for index in range(threads):
            group.start_soon(worker, index)
    assert done[0] == threads * per_thread
    assert server.max_open_streams <= 4
    assert connection.active_streams == 0
    assert connection.request_count == threads * per_thread
    state = connection._state
    assert not state.reading
    assert not state.writing
    assert not state.sleepers


def test_an_interrupted_sleeper_gives_up_its_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    server = H2Server({Codes.MAX_CONCURRENT_STREAMS: 10})
    connection, _, stream = connect(server)
    fetch(connection)
    server.handler = silent
    reading = Event()
    stream.on_read = reading.set
    outcome: list[object] = []

    class InterruptingEvent(Event):
        def wait(self, timeout: float | None = None) -> None:
            raise Interrupted()

    def reader() -> None:
        outcome.append(fetch(connection, request(url=URL + "reader")))

    def sleeper() -> None:
        reading.wait()
        stream.on_read = None
        monkeypatch.setattr(heron._sync.http2, "Event", InterruptingEvent)
        try:
            connection.handle_request(request(url=URL + "sleeper"))
        except Interrupted:
            outcome.append("interrupted")
        monkeypatch.undo()
        server.respond(3)

    with TaskGroup() as group:
        group.start_soon(reader)
        group.start_soon(sleeper)
    assert outcome == ["interrupted", HELLO]
    assert server.resets() == {5: ErrorCodes.CANCEL}
    assert connection.active_streams == 0
