"""HTTP2State as plain code: a client state and h2's server side, talking through memory."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from h2.errors import ErrorCodes
from hpack import Decoder, Encoder, NeverIndexedHeaderTuple
from hyperframe.frame import DataFrame, HeadersFrame

from heron._exceptions import ReadError, RemoteProtocolError, WriteError
from heron._h2_connection import CachingDecoder, CachingEncoder, _QuietDataFrame
from heron._http2_state import (
    CONNECTION_WINDOW,
    MAX_FRAME_SIZE,
    MAX_STREAMS,
    STREAM_WINDOW,
    HTTP2ConnectionState,
    HTTP2State,
    HTTP2Stream,
    SlotWaiter,
    error_code_name,
    request_headers,
    response_head,
)
from heron._pool_state import ConnectionNotAvailable

ORIGIN = "https://example.org:443"
GET = [
    (b":method", b"GET"),
    (b":authority", b"example.org"),
    (b":scheme", b"https"),
    (b":path", b"/"),
]
Codes = h2.settings.SettingCodes


class FakeWaker:
    def __init__(self) -> None:
        self.woken = 0

    def set(self) -> None:
        self.woken += 1


class Pair:
    """A client HTTP2State and a server H2Connection exchanging bytes by hand."""

    def __init__(self, settings: dict[int, int] | None = None) -> None:
        self.state = HTTP2State(ORIGIN)
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.server = h2.connection.H2Connection(config=config)
        initial: dict[Any, int] = dict(settings or {})
        self.server.local_settings = h2.settings.Settings(client=False, initial_values=initial)
        self.server.initiate_connection()
        self.server_events: list[h2.events.Event] = []

    def to_server(self) -> list[h2.events.Event]:
        events = self.server.receive_data(self.state.h2.data_to_send())
        self.server_events += events
        return events

    def to_client(self) -> None:
        self.state.receive_data(self.server.data_to_send())

    def start(self) -> None:
        """Preface both ways, settings acknowledged both ways."""
        assert self.state.start()
        self.to_server()
        self.to_client()
        self.to_server()

    def open(self, end_stream: bool = True) -> HTTP2Stream:
        assert self.state.acquire_slot()
        return self.state.open_stream(GET, end_stream=end_stream)


def entries(*pairs: tuple[bytes, bytes]) -> list[tuple[bytes, bytes, bytes]]:
    return [(name, name.lower(), value) for name, value in pairs]


# Request and response heads ---------------------------------------------------------------


def test_request_headers_put_pseudo_headers_first_and_host_in_authority() -> None:
    headers = request_headers(
        b"GET",
        b"https",
        b"fallback.example",
        b"/path?q=1",
        entries((b"Host", b"example.org"), (b"Accept", b"*/*"), (b"X-Custom", b"1")),
    )
    assert headers == [
        (b":method", b"GET"),
        (b":authority", b"example.org"),
        (b":scheme", b"https"),
        (b":path", b"/path?q=1"),
        (b"accept", b"*/*"),
        (b"x-custom", b"1"),
    ]


def test_request_headers_use_the_url_authority_without_host() -> None:
    headers = request_headers(b"GET", b"http", b"example.org:8080", b"/", [])
    assert headers[1] == (b":authority", b"example.org:8080")


def test_request_headers_drop_connection_specific_fields() -> None:
    headers = request_headers(
        b"POST",
        b"https",
        b"a",
        b"/",
        entries(
            (b"Connection", b"keep-alive"),
            (b"Keep-Alive", b"5"),
            (b"Proxy-Connection", b"x"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Upgrade", b"h2c"),
            (b"TE", b"gzip"),
            (b"Content-Length", b"3"),
        ),
    )
    assert headers[4:] == [(b"content-length", b"3")]


def test_request_headers_keep_te_trailers() -> None:
    headers = request_headers(b"GET", b"https", b"a", b"/", entries((b"TE", b"Trailers")))
    assert headers[4:] == [(b"te", b"Trailers")]


def test_request_headers_never_index_credentials_and_short_cookies() -> None:
    headers = request_headers(
        b"GET",
        b"https",
        b"a",
        b"/",
        entries(
            (b"Authorization", b"Basic x"),
            (b"Proxy-Authorization", b"Basic y"),
            (b"Cookie", b"a=1"),
            (b"Cookie", b"session=" + b"x" * 40),
        ),
    )
    kinds = [isinstance(field, NeverIndexedHeaderTuple) for field in headers[4:]]
    assert kinds == [True, True, True, False]


def test_request_headers_for_connect_have_no_scheme_or_path() -> None:
    headers = request_headers(b"CONNECT", b"https", b"example.org:443", b"/", [])
    assert headers == [(b":method", b"CONNECT"), (b":authority", b"example.org:443")]


def test_response_head_returns_status_and_fields() -> None:
    status, fields = response_head(
        ORIGIN, 1, [(b":status", b"204"), (b"server", b"test"), (b"x-empty", b"")]
    )
    assert status == 204
    assert fields == [(b"server", b"test"), (b"x-empty", b"")]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ([(b"server", b"x")], "without a valid :status"),
        ([(b":status", b"2000")], "without a valid :status"),
        ([(b":status", b"abc")], "without a valid :status"),
        ([(b":status", b"200"), (b":status", b"200")], "unexpected pseudo-header"),
        ([(b":status", b"200"), (b":path", b"/")], "unexpected pseudo-header"),
        ([(b":status", b"200"), (b"x", b"a\r\nb")], "CR, LF or NUL"),
        ([(b":status", b"200"), (b"x\n", b"a")], "CR, LF or NUL"),
        ([(b":status", b"200"), (b"x", b"a\x00")], "CR, LF or NUL"),
        ([(b":status", b"200"), (b"", b"a")], "empty name"),
    ],
)
def test_malformed_response_heads_are_remote_protocol_errors(
    fields: list[tuple[bytes, bytes]], fragment: str
) -> None:
    with pytest.raises(RemoteProtocolError, match=fragment) as info:
        response_head(ORIGIN, 3, fields)
    assert "stream 3" in str(info.value)
    assert ORIGIN in str(info.value)


def test_error_code_names() -> None:
    assert error_code_name(8) == "CANCEL (0x8)"
    assert error_code_name(0) == "NO_ERROR (0x0)"
    assert error_code_name(0x99) == "0x99"


# Starting the connection --------------------------------------------------------------------


def test_start_sends_preface_settings_and_a_large_connection_window() -> None:
    pair = Pair()
    state: HTTP2State = pair.state
    assert state.connection_state.name == "NEW"
    assert pair.state.start()
    assert not pair.state.start()  # once
    pair.to_server()
    remote = pair.server.remote_settings
    assert remote.initial_window_size == STREAM_WINDOW
    assert remote.max_frame_size == MAX_FRAME_SIZE
    assert remote.enable_push == 0
    assert pair.server.outbound_flow_control_window == CONNECTION_WINDOW
    assert pair.state.connection_state is HTTP2ConnectionState.IDLE


def test_server_settings_set_the_stream_limit() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 7})
    assert pair.state.max_streams == 1  # until the server's SETTINGS arrive
    pair.start()
    assert pair.state.max_streams == 7
    assert pair.state.settings_received


def test_settings_without_a_limit_allow_our_own_maximum() -> None:
    pair = Pair()
    pair.start()
    assert pair.state.max_streams == MAX_STREAMS == 1000


def test_later_settings_change_the_limit_and_grant_queued_slots() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 1})
    pair.start()
    state = pair.state
    assert state.acquire_slot()
    waiter = SlotWaiter()
    waker = FakeWaker()
    state.slot_waiters.append(waiter)
    waiter.waker = waker
    pair.server.update_settings({Codes.MAX_CONCURRENT_STREAMS: 2})
    pair.to_client()
    assert state.max_streams == 2
    assert waiter.granted
    assert waker.woken == 1
    assert state.active == 2


def test_settings_that_do_not_touch_the_limit_keep_it() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 3})
    pair.start()
    pair.server.update_settings({Codes.HEADER_TABLE_SIZE: 1024})
    pair.to_client()
    assert pair.state.max_streams == 3


# Slots ----------------------------------------------------------------------------------------


def test_slots_queue_in_order_and_are_handed_over_on_release() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 1})
    pair.start()
    state = pair.state
    assert state.acquire_slot()
    assert not state.has_free_slot()
    assert not state.acquire_slot()
    first, second = SlotWaiter(), SlotWaiter()
    state.slot_waiters.extend([first, second])
    state.release_slot()
    assert first.granted
    assert not second.granted
    assert state.active == 1
    # A newcomer does not jump the queue even when a slot is free.
    state.leave_slot_queue(first)  # gives its granted slot to the next one
    assert second.granted
    state.leave_slot_queue(second)
    assert state.active == 0
    assert state.acquire_slot()


def test_a_waiter_leaving_before_its_turn_leaves_the_queue() -> None:
    state = HTTP2State(ORIGIN)
    assert state.acquire_slot()
    waiter = SlotWaiter()
    state.slot_waiters.append(waiter)
    state.leave_slot_queue(waiter)
    assert not state.slot_waiters
    assert state.active == 1


def test_waiters_queued_ahead_keep_a_free_slot_from_newcomers() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 2})
    pair.start()
    state = pair.state
    state.slot_waiters.append(SlotWaiter())
    assert not state.acquire_slot()


def test_a_closed_connection_takes_no_streams() -> None:
    state = HTTP2State(ORIGIN)
    state.close()
    assert state.connection_state is HTTP2ConnectionState.CLOSED
    with pytest.raises(ConnectionNotAvailable, match="is closed"):
        state.acquire_slot()


def test_running_out_of_stream_ids_stops_new_streams() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    state.h2.highest_outbound_stream_id = 2**31 - 1
    assert state.acquire_slot()
    with pytest.raises(ConnectionNotAvailable, match="all its stream ids"):
        state.open_stream(GET, end_stream=True)
    assert not state.is_open()
    assert state.connection_state is HTTP2ConnectionState.DRAINING
    assert stream.problem is None  # the open stream may still finish


# Sending ------------------------------------------------------------------------------------


def test_send_data_respects_the_window_and_frame_size() -> None:
    pair = Pair({Codes.INITIAL_WINDOW_SIZE: 40000})
    pair.start()
    state = pair.state
    stream = pair.open(end_stream=False)
    data = memoryview(b"x" * 50000)
    assert state.send_data(stream, data, True) == 40000
    assert not stream.request_ended
    frames = [e for e in pair.to_server() if isinstance(e, h2.events.DataReceived)]
    assert [len(e.data) for e in frames] == [16384, 16384, 7232]
    assert state.send_data(stream, data[40000:], True) == 0  # the window is shut
    assert not state.window_ready(stream)
    pair.server.increment_flow_control_window(20000, stream.stream_id)
    pair.to_client()
    assert state.window_ready(stream)
    assert state.send_data(stream, data[40000:], True) == 10000
    assert stream.request_ended
    events = pair.to_server()
    assert isinstance(events[-1], h2.events.StreamEnded)


def test_send_data_with_nothing_left_ends_the_stream() -> None:
    pair = Pair()
    pair.start()
    stream = pair.open(end_stream=False)
    assert pair.state.send_data(stream, memoryview(b""), True) == 0
    assert stream.request_ended
    assert isinstance(pair.to_server()[-1], h2.events.StreamEnded)
    other = pair.open(end_stream=False)
    assert pair.state.send_data(other, memoryview(b""), False) == 0
    assert not other.request_ended


def test_send_data_after_the_response_ended_discards_the_rest() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open(end_stream=False)
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"413")], end_stream=True)
    pair.to_client()
    assert state.window_ready(stream)
    assert state.send_data(stream, memoryview(b"abc"), True) == 3
    assert not stream.request_ended
    state.close_stream(stream)  # resets our half
    events = pair.to_server()
    assert isinstance(events[-1], h2.events.StreamReset)


def test_send_data_raises_the_stream_problem() -> None:
    pair = Pair()
    pair.start()
    stream = pair.open(end_stream=False)
    pair.to_server()
    pair.server.reset_stream(stream.stream_id, ErrorCodes.INTERNAL_ERROR)
    pair.to_client()
    assert pair.state.window_ready(stream)
    with pytest.raises(RemoteProtocolError, match=r"INTERNAL_ERROR \(0x2\)"):
        pair.state.send_data(stream, memoryview(b"abc"), True)


# Receiving ----------------------------------------------------------------------------------


def test_response_head_and_body_arrive_on_the_stream() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    assert not state.head_ready(stream)
    assert not state.body_ready(stream)
    pair.server.send_headers(stream.stream_id, [(b":status", b"200"), (b"a", b"b")])
    pair.server.send_data(stream.stream_id, b"hello")
    pair.server.send_data(stream.stream_id, b"", end_stream=True)
    pair.to_client()
    assert state.head_ready(stream)
    assert state.take_head(stream) == (200, [(b"a", b"b")])
    assert state.body_ready(stream)
    assert state.next_chunk(stream) == b"hello"
    # The empty DATA frame that only ends the stream makes no chunk.
    assert state.next_chunk(stream) is None
    state.close_stream(stream)
    assert state.completed == 1
    assert state.active == 0
    assert state.connection_state is HTTP2ConnectionState.IDLE


def test_events_for_untracked_streams_are_ignored_and_their_data_given_back() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    del state.streams[stream.stream_id]
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(stream.stream_id, b"x" * 1000)
    pair.server.reset_stream(stream.stream_id, ErrorCodes.CANCEL)
    pair.to_client()
    assert stream.head is None
    assert not stream.chunks
    assert stream.problem is None
    ended = pair.open(end_stream=False)
    pair.to_server()
    del state.streams[ended.stream_id]
    pair.server.send_headers(ended.stream_id, [(b":status", b"200")], end_stream=True)
    waiter = pair.open(end_stream=False)
    state.window_waiters[waiter] = None
    pair.to_server()
    pair.server.increment_flow_control_window(10, ended.stream_id)
    pair.to_client()
    assert not ended.ended


def test_data_end_stream_arrives_separately() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")], end_stream=True)
    pair.to_client()
    state.take_head(stream)
    assert state.next_chunk(stream) is None
    stream_two = pair.open()
    pair.to_server()
    pair.server.send_headers(stream_two.stream_id, [(b":status", b"200")])
    pair.to_client()
    pair.server.end_stream(stream_two.stream_id)
    pair.to_client()
    assert stream_two.ended


def test_a_reset_stream_raises_after_the_data_before_it() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(stream.stream_id, b"part")
    pair.server.reset_stream(stream.stream_id, ErrorCodes.INTERNAL_ERROR)
    pair.to_client()
    assert state.next_chunk(stream) == b"part"
    with pytest.raises(RemoteProtocolError, match="reset HTTP/2 stream 1"):
        state.next_chunk(stream)
    state.close_stream(stream)  # no RST for a stream the server reset
    assert not any(isinstance(e, h2.events.StreamReset) for e in pair.to_server())
    assert state.completed == 0


def test_refused_stream_is_retryable() -> None:
    pair = Pair()
    pair.start()
    stream = pair.open()
    pair.to_server()
    pair.server.reset_stream(stream.stream_id, ErrorCodes.REFUSED_STREAM)
    pair.to_client()
    with pytest.raises(ConnectionNotAvailable, match="REFUSED_STREAM"):
        pair.state.take_head(stream)


def test_reset_after_a_complete_response_is_not_an_error() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open(end_stream=False)
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")], end_stream=True)
    pair.to_client()
    waker = FakeWaker()
    state.reading = True
    state.sleep(stream, waker)
    pair.server.reset_stream(stream.stream_id, ErrorCodes.NO_ERROR)
    pair.to_client()
    assert stream.problem is None
    assert waker.woken == 1
    assert state.take_head(stream) == (200, [])
    # Without a sleeper, nothing to wake.
    other = pair.open(end_stream=False)
    pair.to_server()
    pair.server.send_headers(other.stream_id, [(b":status", b"200")], end_stream=True)
    pair.server.reset_stream(other.stream_id, ErrorCodes.NO_ERROR)
    pair.to_client()
    assert other.problem is None


def test_bodies_are_given_back_to_the_connection_window_in_batches_on_close() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    manager = state.h2._inbound_flow_control_window_manager
    first = pair.open()
    pair.to_server()
    pair.server.send_headers(first.stream_id, [(b":status", b"200")])
    pair.server.send_data(first.stream_id, b"x" * 60000)
    pair.to_client()
    state.close_stream(first)  # its body unread
    assert manager.current_window_size == CONNECTION_WINDOW - 60000
    assert manager._bytes_processed == 0  # held back: not worth a call yet
    state.close_stream(first)  # twice is harmless
    second = pair.open()
    pair.to_server()
    pair.server.send_headers(second.stream_id, [(b":status", b"200")])
    for _ in range(8):
        pair.server.send_data(second.stream_id, b"y" * 60000)
    pair.to_client()
    assert state.next_chunk(second) == b"y" * 480000  # the frames of one read, as one chunk
    state.close_stream(second)
    assert manager._bytes_processed == 60000 + 480000  # read and unread alike, at once
    assert state.active == 0


def test_a_body_read_is_given_back_to_its_stream_window_in_batches() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(stream.stream_id, b"x" * 300000)
    pair.to_client()
    manager = state.h2.streams[stream.stream_id]._inbound_window_manager
    chunk = state.next_chunk(stream)
    assert type(chunk) is bytes
    assert len(chunk) == 300000
    assert manager._bytes_processed == 0
    pair.server.send_data(stream.stream_id, b"x" * 300000)
    pair.to_client()
    assert state.next_chunk(stream) == b"x" * 300000
    assert manager._bytes_processed == 600000
    assert stream.unacked == 0


def test_pushes_before_the_server_acknowledges_are_refused() -> None:
    pair = Pair()
    state = pair.state
    state.start()
    pair.to_server()
    stream = pair.open()
    pair.to_server()
    acks = pair.server.data_to_send()
    # A server that ignores our SETTINGS (or has not read them yet) pushes anyway.
    pair.server.remote_settings._settings[Codes.ENABLE_PUSH].appendleft(1)
    pair.server.push_stream(
        stream.stream_id,
        2,
        [(b":method", b"GET"), (b":authority", b"a"), (b":scheme", b"https"), (b":path", b"/x")],
    )
    state.receive_data(pair.server.data_to_send() + acks)
    events = pair.to_server()
    resets = [e for e in events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(2, ErrorCodes.REFUSED_STREAM)]
    assert state.failure is None


def test_garbage_from_the_server_loses_the_connection() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    state.receive_data(b"\x00\x00\x01\x99\x00\x00\x00\x00\x00" * 3 + b"\xff" * 20)
    assert state.failure is not None
    assert isinstance(stream.problem, RemoteProtocolError)
    assert "broke the HTTP/2 protocol" in str(stream.problem)
    assert state.connection_state is HTTP2ConnectionState.CLOSED
    # GOAWAY queued for the server; later data is ignored.
    assert state.h2.data_to_send()
    state.receive_data(b"more")


def test_eof_loses_the_connection_and_fails_unfinished_streams() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    done = pair.open()
    waiting = pair.open()
    pair.to_server()
    pair.server.send_headers(done.stream_id, [(b":status", b"200")], end_stream=True)
    pair.to_client()
    waker = FakeWaker()
    state.reading = True
    state.sleep(waiting, waker)
    state.receive_data(b"")
    assert done.problem is None
    assert isinstance(waiting.problem, RemoteProtocolError)
    assert (
        str(waiting.problem) == f"{ORIGIN} closed the HTTP/2 connection with requests in flight."
    )
    assert waker.woken == 1
    state.fail(ReadError, "ignored: already failed")
    assert state.failure == (RemoteProtocolError, str(waiting.problem))


def test_a_lost_connection_makes_unanswered_requests_on_a_reused_one_retryable() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    first = pair.open()
    pair.to_server()
    pair.server.send_headers(first.stream_id, [(b":status", b"200")], end_stream=True)
    pair.to_client()
    state.close_stream(first)
    answered = pair.open()
    unanswered = pair.open()
    pair.to_server()
    pair.server.send_headers(answered.stream_id, [(b":status", b"200")])
    pair.to_client()
    state.fail(WriteError, "Could not send the request: broken pipe.")
    assert type(answered.problem) is WriteError
    assert isinstance(unanswered.problem, ConnectionNotAvailable)
    assert "was lost before it answered stream 5" in str(unanswered.problem)


def test_goaway_fails_streams_above_the_last_id_and_wakes_queued_requests() -> None:
    pair = Pair({Codes.MAX_CONCURRENT_STREAMS: 3})
    pair.start()
    state = pair.state
    streams = [pair.open() for _ in range(3)]
    pair.to_server()
    waiter = SlotWaiter()
    waker = FakeWaker()
    state.slot_waiters.append(waiter)
    waiter.waker = waker
    pair.server.close_connection(error_code=ErrorCodes.NO_ERROR, last_stream_id=3)
    pair.to_client()
    assert [s.problem for s in streams[:2]] == [None, None]
    assert isinstance(streams[2].problem, ConnectionNotAvailable)
    assert "GOAWAY (NO_ERROR (0x0))" in str(streams[2].problem)
    assert waker.woken == 1
    assert not waiter.granted
    assert state.connection_state is HTTP2ConnectionState.DRAINING
    with pytest.raises(ConnectionNotAvailable, match="GOAWAY"):
        state.check_open()
    # A second GOAWAY with a higher id does not raise the limit.
    pair.server.close_connection(error_code=ErrorCodes.INTERNAL_ERROR, last_stream_id=5)
    pair.to_client()
    assert state.goaway_last_stream_id == 3
    assert state.goaway_error_code == ErrorCodes.INTERNAL_ERROR
    state.receive_data(b"")
    assert "after GOAWAY with INTERNAL_ERROR (0x2)" in str(streams[0].problem)


def test_windows_opening_wake_the_streams_waiting_for_them() -> None:
    pair = Pair({Codes.INITIAL_WINDOW_SIZE: 10})
    pair.start()
    state = pair.state
    a = pair.open(end_stream=False)
    b = pair.open(end_stream=False)
    pair.to_server()
    wakers = {a: FakeWaker(), b: FakeWaker()}
    state.reading = True
    for stream, waker in wakers.items():
        state.window_waiters[stream] = None
        state.sleep(stream, waker)
    pair.server.increment_flow_control_window(100, a.stream_id)
    pair.to_client()
    assert (wakers[a].woken, wakers[b].woken) == (1, 0)
    state.sleep(a, wakers[a])
    pair.server.increment_flow_control_window(100)
    pair.to_client()
    assert (wakers[a].woken, wakers[b].woken) == (2, 1)
    # A stream not waiting for its window is not woken by it.
    state.window_waiters.clear()
    state.sleep(a, wakers[a])
    pair.server.increment_flow_control_window(100, a.stream_id)
    pair.to_client()
    assert wakers[a].woken == 2
    # Nor is anyone when nobody waits for a window.
    pair.server.update_settings({Codes.INITIAL_WINDOW_SIZE: 1000})
    pair.to_client()
    assert wakers[a].woken == 2
    # A changed initial window wakes those who wait.
    state.window_waiters[a] = None
    pair.server.update_settings({Codes.INITIAL_WINDOW_SIZE: 2000})
    pair.to_client()
    assert wakers[a].woken == 3


def test_frames_cut_anywhere_by_reads_arrive_the_same() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    streams = [pair.open() for _ in range(2)]
    pair.to_server()
    for stream in streams:
        pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(streams[0].stream_id, b"a" * 100)
    pair.server.send_data(streams[1].stream_id, b"b" * 20, pad_length=7)  # (h2's way)
    pair.server.send_data(streams[0].stream_id, b"c" * 30, end_stream=True)
    pair.server.send_data(streams[1].stream_id, b"", end_stream=True)
    data = pair.server.data_to_send()
    for size in (1, 2, 8, 9, 10, 50, 117):
        other = Pair()
        other.start()
        others = [other.open() for _ in range(2)]
        other.to_server()
        for start in range(0, len(data), size):
            other.state.receive_data(data[start : start + size])
        bodies = []
        for stream in others:
            assert other.state.take_head(stream) == (200, [])
            body = b""
            while (chunk := other.state.next_chunk(stream)) is not None:
                assert type(chunk) is bytes
                body += chunk
            bodies.append(body)
        assert bodies == [b"a" * 100 + b"c" * 30, b"b" * 20], size
        assert other.state.failure is None
    state.receive_data(data)
    assert state.next_chunk(streams[0]) == b"a" * 100 + b"c" * 30  # one read, one chunk


def test_a_data_frame_breaking_the_protocol_loses_the_connection() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200"), (b"content-length", b"3")])
    pair.server.send_data(stream.stream_id, b"abcde")  # more than announced
    pair.to_client()
    assert state.failure is not None
    assert "InvalidBodyLengthError" in str(stream.problem)
    events = pair.to_server()
    assert isinstance(events[-1], h2.events.ConnectionTerminated)
    assert events[-1].error_code == ErrorCodes.PROTOCOL_ERROR


def test_a_data_frame_inside_a_header_block_loses_the_connection() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open()
    pair.to_server()
    head = HeadersFrame(stream.stream_id, data=b"\x88")  # :status 200, END_HEADERS not set
    body = DataFrame(stream.stream_id, data=b"abc")
    state.receive_data(head.serialize() + body.serialize())
    assert state.failure is not None
    assert "broke the HTTP/2 protocol" in state.failure[1]


def test_an_overlong_frame_loses_the_connection_without_waiting_for_it() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    pair.open()
    state.receive_data(b"\xff\xff\xff\x00\x00\x00\x00\x00\x01")  # a 16 MiB DATA frame
    assert state.failure is not None
    assert "overlong frame" in state.failure[1]
    events = pair.to_server()
    assert isinstance(events[-1], h2.events.ConnectionTerminated)
    assert events[-1].error_code == ErrorCodes.FRAME_SIZE_ERROR


# Sleeping and reading turns -------------------------------------------------------------------


def test_pass_reading_wakes_the_longest_sleeper_only_when_nobody_reads() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    a, b = pair.open(), pair.open()
    wa, wb = FakeWaker(), FakeWaker()
    state.sleep(a, wa)
    state.sleep(b, wb)
    state.reading = True
    state.pass_reading()
    assert (wa.woken, wb.woken) == (0, 0)
    state.reading = False
    state.pass_reading()
    assert (wa.woken, wb.woken) == (1, 0)
    state.stop_sleeping(b)
    state.pass_reading()
    assert wb.woken == 0
    assert not state.sleepers


def test_sends_are_put_off_until_the_last_woken_sleeper_resumes() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    a, b, c = pair.open(), pair.open(), pair.open()
    for stream in (a, b, c):
        state.sleep(stream, FakeWaker())
    assert not state.put_off_send()  # nobody woken: send at once
    state.pass_reading()  # wakes a
    state.fail(ReadError, "gone")  # wakes b and c
    assert state.waking == 3
    assert state.put_off_send()
    assert not state.resumed(a)
    assert not state.resumed(b)
    assert state.resumed(c)  # the last: it sends
    assert state.waking == 0
    assert not state.send_due
    assert not state.put_off_send()


def test_a_sleeper_that_was_not_woken_sends_nothing_when_it_resumes() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    a, b = pair.open(), pair.open()
    state.sleep(a, FakeWaker())
    state.sleep(b, FakeWaker())
    state.pass_reading()  # wakes a
    assert state.put_off_send()
    assert not state.resumed(b)  # b timed out: it was not woken
    state.stop_sleeping(b)
    assert state.waking == 1
    assert state.resumed(a)


def test_closing_a_stream_forgets_it_everywhere() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open(end_stream=False)
    state.window_waiters[stream] = None
    state.sleep(stream, FakeWaker())
    state.close_stream(stream)
    assert stream.closed
    assert stream.waker is None
    assert not state.window_waiters
    assert not state.sleepers
    assert not state.streams
    events = pair.to_server()
    assert isinstance(events[-1], h2.events.StreamReset)
    assert events[-1].error_code == ErrorCodes.CANCEL


def test_closing_streams_after_the_connection_is_lost_sends_nothing() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    stream = pair.open(end_stream=False)
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(stream.stream_id, b"abc")
    pair.to_client()
    state.close()
    assert state.next_chunk(stream) == b"abc"
    state.close_stream(stream)
    assert state.h2.data_to_send() == b""
    assert state.active == 0


def test_a_late_response_for_a_forgotten_reset_stream_is_ignored() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    late = pair.open()
    pair.to_server()
    pair.server.send_headers(late.stream_id, [(b":status", b"200")])
    in_flight = pair.server.data_to_send()  # sent before the server saw our reset
    state.close_stream(late)
    for _ in range(63):
        state.close_stream(pair.open(end_stream=False))
    assert late.stream_id not in state.h2.streams  # forgotten
    pair.to_server()
    state.receive_data(in_flight)
    assert state.failure is None
    assert pair.to_server() == []  # ignored (h2 already reset it)


def test_h2_forgets_closed_streams_every_so_often() -> None:
    pair = Pair()
    pair.start()
    state = pair.state
    for _ in range(64):
        stream = pair.open(end_stream=False)
        state.close_stream(stream)
    assert not state.h2.streams
    assert state.h2.open_outbound_streams == 0


def test_received_frames_are_not_hex_encoded_for_h2s_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import hyperframe.frame

    encoded: list[int] = []
    original = hyperframe.frame._raw_data_repr

    def record(data: bytes | None) -> str:
        encoded.append(len(data or b""))
        return original(data)

    pair = Pair()
    pair.start()
    stream = pair.open()
    pair.to_server()
    pair.server.send_headers(stream.stream_id, [(b":status", b"200")])
    pair.server.send_data(stream.stream_id, b"x" * 100_000, end_stream=True)
    # (The server's h2 hex-encodes what it receives: look only at the client receiving.)
    monkeypatch.setattr(hyperframe.frame, "_raw_data_repr", record)
    pair.to_client()
    assert pair.state.next_chunk(stream) == b"x" * 100_000
    assert encoded == []  # neither the HEADERS nor the DATA frames
    frame = _QuietDataFrame(1, data=b"abc")
    frame.body_len = 3
    assert repr(frame) == "<DataFrame stream=1 length=3>"


def test_stream_repr() -> None:
    pair = Pair()
    pair.start()
    assert repr(pair.open()) == "<HTTP2Stream 1>"


# HPACK: remembered header blocks ------------------------------------------------------------

# A response head as nginx sends it: literals added to the table, never referred to.
NGINX_HEAD = bytes.fromhex(
    "887689aa6355e580ae212e1f6196df697e94134a693f75040138a01ab8d3b71b0a98b46f5f87497ca58ae819aa5c023133"
)


class CountingDecodes:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = hpack.Decoder.decode

        def decode(decoder: Decoder, data: bytes, raw: bool = False) -> Any:
            self.count += 1
            return original(decoder, data, raw)

        monkeypatch.setattr(hpack.Decoder, "decode", decode)


def test_the_decoder_decodes_a_block_that_leaves_its_table_alone_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes = CountingDecodes(monkeypatch)
    plain, caching = Decoder(), CachingDecoder()
    for _ in range(3):
        assert caching.decode(NGINX_HEAD, raw=True) == plain.decode(NGINX_HEAD, raw=True)
    assert decodes.count == 3 + 1  # the plain decoder's three, and one
    # The entries the block adds are added every time, as a decoder would.
    assert caching.header_table.dynamic_entries == plain.header_table.dynamic_entries
    assert len(caching.header_table.dynamic_entries) == 12


def test_the_decoder_always_decodes_blocks_that_read_or_resize_its_table() -> None:
    encoder = Encoder()
    request = [(b":status", b"200"), (b"x-id", b"1")]
    first = encoder.encode(request)  # adds x-id to the table
    again = encoder.encode(request)  # refers to it
    encoder.header_table_size = 100
    resized = encoder.encode(request)  # starts with a table size update
    plain, caching = Decoder(), CachingDecoder()
    for block in (first, again, again, resized, resized):
        assert caching.decode(block, raw=True) == plain.decode(block, raw=True)
    assert list(caching._blocks) == [first]
    assert caching.decode(first) == plain.decode(first)  # (not raw: decoded, as text)


def test_the_decoder_still_refuses_a_remembered_block_over_the_size_limit() -> None:
    caching = CachingDecoder()
    caching.decode(NGINX_HEAD, raw=True)
    caching.max_header_list_size = 100
    with pytest.raises(hpack.OversizedHeaderListError):
        caching.decode(NGINX_HEAD, raw=True)


def test_the_decoder_remembers_a_bounded_number_of_blocks() -> None:
    encoder = Encoder()
    blocks = [
        encoder.encode([(b":status", b"200"), NeverIndexedHeaderTuple(b"x-n", b"%d" % n)])
        for n in range(40)
    ]
    caching = CachingDecoder()
    for block in blocks:
        caching.decode(block, raw=True)
    assert list(caching._blocks) == blocks[-32:]


def test_the_encoder_reuses_a_block_while_its_table_is_unchanged() -> None:
    plain, caching = Encoder(), CachingEncoder()
    a = [(b":method", b"GET"), (b":path", b"/a"), (b"user-agent", b"heron")]
    b = [(b":method", b"GET"), (b":path", b"/b"), (b"user-agent", b"heron")]
    for headers in (a, a, a, b, a, a):
        assert caching.encode(headers) == plain.encode(headers)
    plain.header_table_size = caching.header_table_size = 100  # a size update goes first
    assert caching.encode(a) == plain.encode(a)
    assert caching.encode(a) == plain.encode(a)
    assert caching.encode(a, huffman=False) == plain.encode(a, huffman=False)
    for encoder in (plain, caching):
        # Entries evicted, and (set twice) hpack forgets the size update: the block differs.
        encoder.header_table_size = 40
        encoder.header_table_size = 40
        assert not encoder.header_table.resized
    assert caching.encode(a) == plain.encode(a)
    assert caching.encode(a) == plain.encode(a)


def test_the_encoder_remembers_a_bounded_number_of_blocks() -> None:
    caching = CachingEncoder()
    lists = [[(b":method", b"GET"), NeverIndexedHeaderTuple(b"x-n", b"%d" % n)] for n in range(40)]
    for headers in lists:
        caching.encode(headers)
    assert len(caching._blocks) == 32
    assert tuple(lists[-1]) in caching._blocks
