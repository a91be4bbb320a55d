"""HTTP/2 connection bookkeeping around h2: streams, stream slots, flow control and faults.

Pure: no I/O, no event loop. ``_async/http2.py`` (and its generated sync twin) does the reading,
writing and waiting; every decision is made here, under the driver's lock, so it can be tested
with two h2 connections talking through memory.

How this works
--------------
h2 turns bytes into events and requests into bytes. ``HTTP2State`` owns the h2 connection and
one ``HTTP2Stream`` per request in flight, and files each event where its request will look:
response headers, body chunks and the end of the body on the stream; resets, GOAWAY and a lost
connection as a ``problem`` (the exception the request will raise). Whoever changes something a
request waits for wakes it through its ``waker`` (an event the driver created).

Waiting is cooperative. At most one task reads the socket at a time (``reading``); it dispatches
whatever arrives to every stream, then goes on reading until what *it* waits for is there. The
others sleep on their waker. When the reader leaves, it wakes the longest sleeper, which either
finds what it waited for or becomes the next reader, so someone always reads while anyone waits.
Writes are serialized the same way (``writing``): whoever holds it sends everything h2 has
queued, including what other tasks queued meanwhile, so frames go out in the order h2 made them
(HPACK depends on it). While sleepers that were woken have yet to resume (``waking``), sends
are put off, and the last of them to resume sends everything at once.

Where the time goes: h2 is pure Python, and a request costs it more than all of heron's layers
above. ``_h2_connection.H2Connection`` skips some of h2's work in the common cases; here, the
DATA frames of one read make one chunk, and bodies are given back to the flow control windows
in batches (``_ACK_BATCH``).

A request first takes a stream slot. The server's ``SETTINGS_MAX_CONCURRENT_STREAMS`` bounds
the slots; until its first SETTINGS frame arrives we assume 1, so a burst of requests on a new
connection never provokes ``REFUSED_STREAM``. Requests beyond the limit queue (FIFO) for a slot,
and only sleep: a slot is freed by another request closing its stream, which a task blocked
reading the socket would not notice. A slot is given back exactly once, by ``close_stream``,
whatever ended the request.

Streams::

    from       event                                              to
    ---------  -------------------------------------------------  ---------------------
    (new)      open_stream: HEADERS queued                        OPEN
    OPEN       response headers / data / END_STREAM received      OPEN (head, chunks, ended)
    OPEN       RST_STREAM received                                OPEN with a problem
    OPEN       GOAWAY below its id; connection lost or closed     OPEN with a problem
    OPEN       close_stream: ended both ways                      CLOSED (slot given back)
    OPEN       close_stream: otherwise                            CLOSED (RST_STREAM CANCEL)

The connection::

    from       event                                              to
    ---------  -------------------------------------------------  ---------------------
    NEW        the first request: preface and SETTINGS queued     ACTIVE
    ACTIVE     the last stream closes                             IDLE
    IDLE       a stream opens                                     ACTIVE
    ACTIVE     GOAWAY received, or stream ids used up: no new     DRAINING
    or IDLE    streams (those open may finish)
    any        EOF, read or write error, protocol error, close()  CLOSED
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Sequence
from typing import Final, Protocol

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
from h2.errors import ErrorCodes
from hpack import NeverIndexedHeaderTuple

from ._exceptions import ReadError, RemoteProtocolError
from ._h2_connection import H2Connection
from ._pool_state import ConnectionNotAvailable

__all__ = [
    "CONNECTION_WINDOW",
    "MAX_FRAME_SIZE",
    "MAX_STREAMS",
    "STREAM_WINDOW",
    "HTTP2ConnectionState",
    "HTTP2State",
    "HTTP2Stream",
    "SlotWaiter",
    "Waker",
    "error_code_name",
    "request_headers",
    "response_head",
]

#: How much response body the server may send on one stream before we have read it: large
#: enough that one stream downloads at full speed (the protocol default is 64 KiB).
STREAM_WINDOW: Final = 16 * 1024 * 1024
#: The same for the whole connection. Far above one stream's window, so that responses nobody
#: reads yet can't starve the one being read (the stream windows bound the memory used).
CONNECTION_WINDOW: Final = 1024 * 1024 * 1024
#: The largest frame the server may send: fewer, bigger DATA frames cost less to parse.
MAX_FRAME_SIZE: Final = 1024 * 1024
#: Our SETTINGS_MAX_HEADER_LIST_SIZE: response heads larger than this are refused.
MAX_HEADER_LIST_SIZE: Final = 256 * 1024
#: The most requests one connection carries at once, whatever the server allows (servers that
#: set no limit allow any number).
MAX_STREAMS: Final = 1000
#: Tell h2 to forget its closed streams after this many of ours have closed.
_CULL_EVERY: Final = 64
#: Body bytes given back to the flow control windows in one go (h2 sends a WINDOW_UPDATE once
#: half a window is given back): per stream as its body is read, and for the connection as
#: streams close with their bodies read or not. Far below the windows, even for MAX_STREAMS
#: streams together, so that holding them back can never stall the server.
_ACK_BATCH: Final = 512 * 1024
# Request fields that HTTP/2 forbids (RFC 9113 section 8.2.2); Host becomes :authority.
_DROPPED = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host")
)
# Fields never added to the HPACK table, so they can't be recovered by compression side channels
# (the choice h2 makes when it normalizes headers, which heron does itself).
_NEVER_INDEXED = frozenset((b"authorization", b"proxy-authorization"))
_FORBIDDEN = re.compile(rb"[\x00\r\n]")

_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    # heron's Headers already refuse CR, LF and NUL; request_headers() lower-cases the names,
    # drops the connection-specific fields and orders the pseudo-headers. h2's own pass over
    # every header byte costs more than the rest of a request.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    # response_head() checks what Headers._from_raw relies on, for a fraction of the cost.
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)


def error_code_name(code: int) -> str:
    """``8`` -> ``"CANCEL (0x8)"``: an HTTP/2 error code for messages."""
    try:
        return f"{ErrorCodes(code).name} (0x{code:x})"
    except ValueError:
        return f"0x{code:x}"


def request_headers(
    method: bytes,
    scheme: bytes,
    authority: bytes,
    path: bytes,
    entries: list[tuple[bytes, bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """The HEADERS field list for a request.

    ``entries`` are ``Headers._list`` triples ``(raw name, lower-cased name, value)``. The
    pseudo-headers come first; a Host field replaces ``authority``; connection-specific fields
    are dropped, and TE is kept only as ``TE: trailers`` (RFC 9113 section 8.2.2).
    """
    fields: list[tuple[bytes, bytes]] = []
    for _, name, value in entries:
        if name in _DROPPED:
            if name == b"host":
                authority = value
            continue
        if name == b"te":
            if value.strip().lower() != b"trailers":
                continue
        elif name in _NEVER_INDEXED or (name == b"cookie" and len(value) < 20):
            fields.append(NeverIndexedHeaderTuple(name, value))
            continue
        fields.append((name, value))
    if method == b"CONNECT":
        # RFC 9113 section 8.5: a CONNECT request has no :scheme and no :path.
        return [(b":method", method), (b":authority", authority), *fields]
    return [
        (b":method", method),
        (b":authority", authority),
        (b":scheme", scheme),
        (b":path", path),
        *fields,
    ]


def response_head(
    origin: str, stream_id: int, fields: Sequence[tuple[bytes, bytes]]
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """``(status code, header fields)`` from a response's HEADERS; ``RemoteProtocolError`` when
    the head is malformed (no valid ``:status``, another pseudo-header, CR/LF/NUL in a field)."""
    status = b""
    headers: list[tuple[bytes, bytes]] = []
    search = _FORBIDDEN.search
    for name, value in fields:
        if name[:1] == b":":
            if name != b":status" or status:
                raise RemoteProtocolError(
                    f"{origin} sent a malformed response head on HTTP/2 stream {stream_id}: "
                    f"unexpected pseudo-header {name!r}."
                )
            status = value
        elif search(name) or search(value) or not name:
            raise RemoteProtocolError(
                f"{origin} sent a malformed response header on HTTP/2 stream {stream_id}: "
                f"{name!r}: {value!r} (empty name, or CR, LF or NUL)."
            )
        else:
            headers.append((name, value))
    if len(status) != 3 or not status.isdigit():
        raise RemoteProtocolError(
            f"{origin} sent a response on HTTP/2 stream {stream_id} without a valid :status "
            f"({status!r})."
        )
    return int(status), headers


class Waker(Protocol):
    """Whatever the driver sleeps on: an ``AsyncEvent`` or an ``Event``."""

    def set(self) -> None: ...


class HTTP2Stream:
    """One request's stream: what has arrived for it, and whether something went wrong."""

    __slots__ = (
        "chunks",
        "closed",
        "ended",
        "head",
        "incoming",
        "incoming_length",
        "problem",
        "request_ended",
        "reused",
        "stream_id",
        "unacked",
        "waker",
    )

    def __init__(self, stream_id: int, reused: bool) -> None:
        self.stream_id = stream_id
        #: True when another request had completed on the connection before this one.
        self.reused = reused
        #: The response's header fields, once they arrived.
        self.head: Sequence[tuple[bytes, bytes]] | None = None
        #: Body chunks not read yet, with their flow-controlled lengths.
        self.chunks: deque[tuple[bytes, int]] = deque()
        #: The body arriving in the read being dispatched, becoming one chunk at its end.
        self.incoming: list[bytes] = []
        self.incoming_length = 0
        #: Body bytes read but not yet given back to the stream's flow control window.
        self.unacked = 0
        #: The server ended its side of the stream (the body is complete).
        self.ended = False
        #: We ended our side (the request body is sent).
        self.request_ended = False
        #: What the request raises: a reset, a GOAWAY that excludes it, a lost connection.
        self.problem: Exception | None = None
        #: Set while the request's task sleeps.
        self.waker: Waker | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"<HTTP2Stream {self.stream_id}>"


class SlotWaiter:
    """A request queued for a stream slot."""

    __slots__ = ("granted", "waker")

    def __init__(self) -> None:
        self.granted = False
        self.waker: Waker | None = None


#: Either kind of task that may sleep.
_Party = HTTP2Stream | SlotWaiter


class HTTP2ConnectionState(enum.Enum):
    """Where a connection is in its life; see the module docstring for the transitions."""

    NEW = 0
    ACTIVE = 1
    IDLE = 2
    DRAINING = 3
    CLOSED = 4


class HTTP2State:
    """The bookkeeping of one HTTP/2 connection to ``origin`` (used in messages).

    Not thread-safe by itself: the driver calls it under its lock, never across an await.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.h2 = H2Connection(config=_CONFIG)
        #: Our streams by id, open or waiting to be closed by their request.
        self.streams: dict[int, HTTP2Stream] = {}
        #: Stream slots held (by open streams, and granted to queued requests).
        self.active = 0
        #: The server's limit on concurrent streams; 1 until its SETTINGS arrive.
        self.max_streams = 1
        self.slot_waiters: deque[SlotWaiter] = deque()
        #: Requests asleep until something arrives for them (or it is their turn to read).
        self.sleepers: dict[HTTP2Stream, None] = {}
        #: Streams waiting for the server to open a flow control window.
        self.window_waiters: dict[HTTP2Stream, None] = {}
        #: A task is reading the socket / writing to it.
        self.reading = False
        self.writing = False
        #: Sleepers woken that have not resumed yet, and whether a send was put off until
        #: they have (see ``put_off_send``).
        self.waking = 0
        self.send_due = False
        #: The lowest last_stream_id of the GOAWAY frames received, and the last error code.
        self.goaway_last_stream_id: int | None = None
        self.goaway_error_code = 0
        #: ``(exception class, message)`` once the connection is lost or closed.
        self.failure: tuple[type[Exception], str] | None = None
        #: Why the connection takes no new streams (the first cause), once it doesn't.
        self.refusal: str | None = None
        self.started = False
        self.settings_received = False
        #: Requests started, and completed (for "reused").
        self.request_count = 0
        self.completed = 0
        self._closes = 0
        #: Body bytes of closed streams not yet given back to the connection's window.
        self._unacked = 0

    # Queries -------------------------------------------------------------------------------

    @property
    def connection_state(self) -> HTTP2ConnectionState:
        if self.failure is not None:
            return HTTP2ConnectionState.CLOSED
        if self.refusal is not None:
            return HTTP2ConnectionState.DRAINING
        if not self.started:
            return HTTP2ConnectionState.NEW
        return HTTP2ConnectionState.ACTIVE if self.active else HTTP2ConnectionState.IDLE

    def is_open(self) -> bool:
        """True while the connection takes new streams: no GOAWAY, not lost, not closed."""
        return self.refusal is None

    def has_free_slot(self) -> bool:
        return self.active < self.max_streams and self.is_open()

    # Connection start ----------------------------------------------------------------------

    def start(self) -> bool:
        """Queue the connection preface and our SETTINGS, once; True the first time."""
        if self.started:
            return False
        self.started = True
        connection = self.h2
        codes = h2.settings.SettingCodes
        connection.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                codes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                codes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
                codes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
                # MAX_CONCURRENT_STREAMS (for the streams the server opens) stays at h2's
                # default: at 0, h2 would take a late response for a stream it has forgotten
                # (reset by us) for a new pushed stream over the limit, a connection error.
            },
        )
        # h2 read these two from its default settings when it was created.
        connection.max_inbound_frame_size = MAX_FRAME_SIZE
        connection.decoder.max_header_list_size = MAX_HEADER_LIST_SIZE
        connection.initiate_connection()
        # Pushes are refused. Changed apart from the first SETTINGS so that, until the server
        # acknowledges it, a PUSH_PROMISE is still a stream we can refuse with REFUSED_STREAM
        # rather than a protocol error (RFC 9113 section 8.4).
        connection.update_settings({codes.ENABLE_PUSH: 0})
        connection.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        return True

    # Stream slots --------------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise ``ConnectionNotAvailable`` when the connection takes no new streams."""
        if not self.is_open():
            raise self.unavailable()

    def unavailable(self) -> ConnectionNotAvailable:
        """Why the connection takes no new streams."""
        return ConnectionNotAvailable(self.refusal or "")

    def acquire_slot(self) -> bool:
        """Take a stream slot if one is free (and nobody queues for one)."""
        self.check_open()
        if self.active < self.max_streams and not self.slot_waiters:
            self.active += 1
            return True
        return False

    def leave_slot_queue(self, waiter: SlotWaiter) -> None:
        """A queued request gives up (timed out, cancelled, or the connection closed)."""
        waiter.waker = None
        if waiter.granted:
            waiter.granted = False
            self.release_slot()
        else:
            self.slot_waiters.remove(waiter)

    def release_slot(self) -> None:
        self.active -= 1
        self._grant_slots()

    def _grant_slots(self) -> None:
        waiters = self.slot_waiters
        while waiters and self.active < self.max_streams and self.is_open():
            waiter = waiters.popleft()
            waiter.granted = True
            self.active += 1
            self._wake(waiter)

    # Sending -------------------------------------------------------------------------------

    def open_stream(self, headers: list[tuple[bytes, bytes]], end_stream: bool) -> HTTP2Stream:
        """Queue a request's HEADERS on a new stream (the caller holds a slot)."""
        self.check_open()
        connection = self.h2
        try:
            stream_id = connection.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError as exc:
            # After about a billion requests: the connection can't open more streams; the open
            # ones may finish.
            self.refusal = f"The HTTP/2 connection to {self.origin} has used all its stream ids."
            raise self.unavailable() from exc
        connection.send_headers(stream_id, headers, end_stream=end_stream)
        stream = HTTP2Stream(stream_id, self.completed > 0)
        stream.request_ended = end_stream
        self.streams[stream_id] = stream
        self.request_count += 1
        return stream

    def send_data(self, stream: HTTP2Stream, data: memoryview, end: bool) -> int:
        """Queue as much of ``data`` as the flow control windows allow; return how much.

        With ``end``, the last frame ends the request when all of ``data`` fits. 0 means the
        window is shut: wait for ``window_ready``. Raises the stream's problem, if any.
        """
        problem = stream.problem
        if problem is not None:
            raise problem
        size = len(data)
        if stream.ended:
            # The server sent its whole response already: it wants no more of the request.
            # close_stream() resets our side.
            return size
        connection = self.h2
        stream_id = stream.stream_id
        if not size:
            if end:
                connection.end_stream(stream_id)
                stream.request_ended = True
            return 0
        if not self.settings_received:
            # Some servers apply a small SETTINGS_INITIAL_WINDOW_SIZE before we could know
            # it: send no DATA until their SETTINGS arrived.
            return 0
        window = connection.local_flow_control_window(stream_id)
        if window <= 0:
            return 0
        if window < size:
            count, end = window, False
        else:
            count = size
        frame_size = connection.max_outbound_frame_size
        position = 0
        while position < count:
            stop = min(position + frame_size, count)
            connection.send_data(stream_id, data[position:stop], end_stream=end and stop == count)
            position = stop
        if end:
            stream.request_ended = True
        return count

    def window_ready(self, stream: HTTP2Stream) -> bool:
        return (
            stream.problem is not None
            or stream.ended
            or (self.settings_received and self.h2.local_flow_control_window(stream.stream_id) > 0)
        )

    # Receiving -----------------------------------------------------------------------------

    def head_ready(self, stream: HTTP2Stream) -> bool:
        return stream.head is not None or stream.problem is not None

    def take_head(self, stream: HTTP2Stream) -> tuple[int, list[tuple[bytes, bytes]]]:
        head = stream.head
        if head is None:
            assert stream.problem is not None, "take_head() before head_ready()"
            raise stream.problem
        return response_head(self.origin, stream.stream_id, head)

    def body_ready(self, stream: HTTP2Stream) -> bool:
        return bool(stream.chunks) or stream.ended or stream.problem is not None

    def next_chunk(self, stream: HTTP2Stream) -> bytes | None:
        """The next body chunk (acknowledged, so the server may send more), or ``None`` at the
        end of the body; raises the stream's problem once the chunks before it are read."""
        chunks = stream.chunks
        if chunks:
            data, flow_controlled = chunks.popleft()
            unacked = stream.unacked + flow_controlled
            if unacked >= _ACK_BATCH and self.failure is None:
                self.h2.acknowledge_received_data(unacked, stream.stream_id)
                unacked = 0
            stream.unacked = unacked
            return data
        if stream.ended:
            return None
        problem = stream.problem
        assert problem is not None, "next_chunk() before body_ready()"
        raise problem

    def receive_data(self, data: bytes) -> None:
        """Feed what the socket returned (``b""``: the server closed the connection)."""
        if self.failure is not None:
            return  # read just before the connection was closed: nobody wants it now
        if not data:
            self.fail(RemoteProtocolError, self._closed_by_server_message())
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.H2Error as exc:
            # h2 has queued a GOAWAY with the error; the driver sends it on its way out.
            self.fail(
                RemoteProtocolError,
                f"{self.origin} broke the HTTP/2 protocol ({exc}), so the connection was closed.",
            )
            return
        streams = self.streams
        # The streams that got body bytes: a read may bring dozens of DATA frames for one
        # stream, handed on as a single chunk (and acknowledged at once when it is read).
        receiving: list[HTTP2Stream] = []
        for event in events:
            kind = type(event)
            if kind is h2.events.DataReceived:
                assert isinstance(event, h2.events.DataReceived)
                stream = streams.get(event.stream_id)
                if stream is None:
                    # A stream closed on our side: just give the window back.
                    self._give_back(event.flow_controlled_length, event.stream_id)
                else:
                    incoming = stream.incoming
                    if not incoming:
                        receiving.append(stream)
                    incoming.append(event.data)
                    stream.incoming_length += event.flow_controlled_length
            elif kind is h2.events.ResponseReceived:
                assert isinstance(event, h2.events.ResponseReceived)
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.head = event.headers
                    self._wake(stream)
            elif kind is h2.events.StreamEnded:
                assert isinstance(event, h2.events.StreamEnded)
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.ended = True
                    self._wake(stream)
            elif kind is h2.events.WindowUpdated:
                assert isinstance(event, h2.events.WindowUpdated)
                self._window_opened(event.stream_id)
            elif kind is h2.events.StreamReset:
                assert isinstance(event, h2.events.StreamReset)
                self._stream_reset(event.stream_id, int(event.error_code))
            elif kind is h2.events.RemoteSettingsChanged:
                assert isinstance(event, h2.events.RemoteSettingsChanged)
                self._settings_changed(event)
            elif kind is h2.events.ConnectionTerminated:
                assert isinstance(event, h2.events.ConnectionTerminated)
                self._goaway(event.last_stream_id or 0, int(event.error_code or 0))
            elif kind is h2.events.PushedStreamReceived:
                assert isinstance(event, h2.events.PushedStreamReceived)
                assert event.pushed_stream_id is not None
                self.h2.reset_stream(event.pushed_stream_id, ErrorCodes.REFUSED_STREAM)
            # The rest needs nothing from us: h2 answers PINGs and acknowledges SETTINGS
            # itself; interim (1xx) responses, trailers, priority and unknown frames are
            # ignored.
        for stream in receiving:
            incoming = stream.incoming
            # (h2's payloads are views of the bytes read: bytes() copies a view, not bytes.)
            chunk = bytes(incoming[0]) if len(incoming) == 1 else b"".join(incoming)
            incoming.clear()
            length = stream.incoming_length
            stream.incoming_length = 0
            if chunk or length:  # (not the empty DATA frame that only ends a stream)
                stream.chunks.append((chunk, length))
                self._wake(stream)

    def _window_opened(self, stream_id: int) -> None:
        if not self.window_waiters:
            return
        if stream_id == 0:
            for waiter in list(self.window_waiters):
                self._wake(waiter)
        else:
            stream = self.streams.get(stream_id)
            if stream is not None and stream in self.window_waiters:
                self._wake(stream)

    def _stream_reset(self, stream_id: int, code: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if stream.ended:
            # The response is complete; the server only says it wants no more of the request
            # (RFC 9113 section 8.1, with NO_ERROR).
            if stream.waker is not None:
                self._wake(stream)
            return
        if code == ErrorCodes.REFUSED_STREAM and stream.head is None:
            # RFC 9113 section 8.7: the server did not process the request; retry it.
            stream.problem = ConnectionNotAvailable(
                f"{self.origin} refused HTTP/2 stream {stream_id} (REFUSED_STREAM) without "
                "processing it."
            )
        else:
            stream.problem = RemoteProtocolError(
                f"{self.origin} reset HTTP/2 stream {stream_id} with error code "
                f"{error_code_name(code)}."
            )
        self._wake(stream)

    def _settings_changed(self, event: h2.events.RemoteSettingsChanged) -> None:
        codes = h2.settings.SettingCodes
        changed = event.changed_settings
        first = not self.settings_received
        if codes.MAX_CONCURRENT_STREAMS in changed or first:
            # (The first SETTINGS frame sets the limit even when it omits it: unlimited.)
            self.settings_received = True
            self.max_streams = min(self.h2.remote_settings.max_concurrent_streams, MAX_STREAMS)
            self._grant_slots()
        if codes.INITIAL_WINDOW_SIZE in changed or first:
            self._window_opened(0)

    def _goaway(self, last_stream_id: int, code: int) -> None:
        previous = self.goaway_last_stream_id
        if previous is None or last_stream_id < previous:
            self.goaway_last_stream_id = last_stream_id
        self.goaway_error_code = code
        if self.refusal is None:
            self.refusal = (
                f"{self.origin} sent GOAWAY ({error_code_name(code)}): the HTTP/2 connection "
                "takes no new requests."
            )
        for stream in self.streams.values():
            if stream.stream_id > last_stream_id and stream.problem is None and not stream.ended:
                stream.problem = ConnectionNotAvailable(
                    f"{self.origin} sent GOAWAY ({error_code_name(code)}) before it processed "
                    f"HTTP/2 stream {stream.stream_id}: the request can be retried on a new "
                    "connection."
                )
                self._wake(stream)
        self._wake_slot_waiters()

    # Faults ----------------------------------------------------------------------------------

    def fail(self, kind: type[Exception], message: str) -> None:
        """The connection is lost (``message`` says how): every unfinished stream gets a
        problem, every sleeper wakes up."""
        if self.failure is not None:
            return
        self.failure = (kind, message)
        if self.refusal is None:
            self.refusal = f"The HTTP/2 connection to {self.origin} is closed: {message}"
        for stream in self.streams.values():
            if stream.problem is None and not stream.ended:
                stream.problem = self._lost_stream_problem(stream, kind, message)
            self._wake(stream)
        self._wake_slot_waiters()

    def close(self) -> None:
        """We close the connection: streams still in flight fail with ``ReadError``."""
        self.fail(
            ReadError,
            f"The HTTP/2 connection to {self.origin} was closed by the client while requests "
            "were in flight.",
        )

    def _lost_stream_problem(
        self, stream: HTTP2Stream, kind: type[Exception], message: str
    ) -> Exception:
        if stream.head is None and stream.reused:
            # Like a kept-alive HTTP/1.1 connection closed under a new request: nothing of
            # the response came, so the pool may retry the request on a new connection.
            return ConnectionNotAvailable(
                f"The HTTP/2 connection to {self.origin} was lost before it answered stream "
                f"{stream.stream_id}: {message}"
            )
        return kind(message)

    def _closed_by_server_message(self) -> str:
        message = f"{self.origin} closed the HTTP/2 connection with requests in flight"
        if self.goaway_last_stream_id is not None:
            message += f" (after GOAWAY with {error_code_name(self.goaway_error_code)})"
        return message + "."

    # Closing a stream ------------------------------------------------------------------------

    def close_stream(self, stream: HTTP2Stream) -> None:
        """The request is over, however it ended: reset the stream unless it ended both ways,
        give back the unread part of the window, and free the slot. Safe to call twice."""
        if stream.closed:
            return
        stream.closed = True
        stream_id = stream.stream_id
        del self.streams[stream_id]
        self.window_waiters.pop(stream, None)
        self.sleepers.pop(stream, None)
        stream.waker = None
        chunks = stream.chunks
        if self.failure is None:
            connection = self.h2
            h2_stream = connection.streams.get(stream_id)
            if h2_stream is not None and not h2_stream.closed:
                connection.reset_stream(stream_id, ErrorCodes.CANCEL)
            # The connection window still counts the body read but not given back yet, and
            # the body nobody will read.
            unread = sum(flow_controlled for _, flow_controlled in chunks)
            self._give_back(stream.unacked + unread, stream_id)
            self._closes += 1
            if self._closes % _CULL_EVERY == 0:
                connection.cull()
        chunks.clear()
        if stream.ended and stream.problem is None:
            self.completed += 1
        self.release_slot()

    def _give_back(self, size: int, stream_id: int) -> None:
        """Give ``size`` bytes received on a stream we closed (``stream_id``) back to the
        connection's flow control window, in batches."""
        unacked = self._unacked + size
        if unacked >= _ACK_BATCH:
            # (For a closed stream, h2 opens only the connection's window.)
            self.h2.acknowledge_received_data(unacked, stream_id)
            unacked = 0
        self._unacked = unacked

    # Sleeping and waking ---------------------------------------------------------------------

    def sleep(self, stream: HTTP2Stream, waker: Waker) -> None:
        """``stream``'s request is about to sleep on ``waker`` (someone else is reading)."""
        stream.waker = waker
        self.sleepers[stream] = None

    def stop_sleeping(self, stream: HTTP2Stream) -> None:
        """``stream``'s request gave up sleeping (timed out, or cancelled)."""
        stream.waker = None
        self.sleepers.pop(stream, None)

    def put_off_send(self) -> bool:
        """True when what h2 has queued should not be sent yet: sleepers were woken and will
        run first. Most of them send a request when they do (a reader hands out responses to
        many requests at once, and their tasks go on to the next ones), so the last of them to
        resume sends everyone's frames in one write rather than one write each."""
        if self.waking:
            self.send_due = True
            return True
        return False

    def resumed(self, stream: HTTP2Stream) -> bool:
        """``stream``'s request is back from a sleep, woken or not. True when it is the last of
        the woken to resume and a send was put off: it must send what h2 has queued."""
        if stream.waker is not None:
            return False  # not woken (it timed out, or was cancelled)
        self.waking -= 1
        if self.waking or not self.send_due:
            return False
        self.send_due = False
        return True

    def pass_reading(self) -> None:
        """If nobody is reading, wake the longest sleeper: it finds what it waited for, or
        becomes the reader. Called by every task that stops reading or leaves after a sleep,
        so that someone always reads while anyone sleeps."""
        if not self.reading and self.sleepers:
            self._wake(next(iter(self.sleepers)))

    def _wake(self, party: _Party) -> None:
        waker = party.waker
        if waker is not None:
            party.waker = None
            if type(party) is HTTP2Stream:
                self.sleepers.pop(party, None)
                self.waking += 1  # until its request calls resumed()
            waker.set()

    def _wake_slot_waiters(self) -> None:
        for waiter in self.slot_waiters:
            self._wake(waiter)
