"""``H2Connection``: h2's client connection, with the changes heron needs and its hot paths.

h2 is pure Python, and a request costs it more than all of heron's layers above. So the common
cases skip some of its work, each keeping h2's state exact:

- a DATA frame on an open stream goes straight to h2's stream (its state machine, flow control
  window and Content-Length check) rather than through h2's frame objects, with the payload as
  a view of the bytes received (``H2Connection.receive_data``);
- header blocks that decode or encode the same every time are remembered (``CachingDecoder``,
  ``CachingEncoder``);
- DATA and HEADERS frames get a cheap ``repr()`` (h2 takes one of every frame it receives);
- h2's count of open streams, O(n) per new stream, is skipped: ``HTTP2State`` counts its own;
- GOAWAY leaves the connection open for the streams the server still serves.

The DATA fast path and the repr change reach into h2's internals (``_frame_dispatch_table``,
``_inbound_flow_control_window_manager``, ``incoming_buffer``, ``H2Stream.receive_data``):
checked against h2 4.1.0 and 4.4.1 (pyproject.toml allows 4.x), and exercised by every HTTP/2
test in CI.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.stream
from h2.errors import ErrorCodes
from hpack import Decoder, Encoder, HeaderTuple
from hpack.table import HeaderTable
from hyperframe.exceptions import InvalidDataError, InvalidFrameError
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame

__all__ = ["CachingDecoder", "CachingEncoder", "H2Connection"]

#: Header blocks remembered per connection, each way (see CachingDecoder and CachingEncoder),
#: and the largest block remembered.
_BLOCK_CACHE_ENTRIES: Final = 32
_BLOCK_CACHE_MAX_BYTES: Final = 1024

# A frame header (RFC 9113 section 4.1): a 24-bit length, type, flags, 31-bit stream id.
_FRAME_HEADER = struct.Struct(">HBBBL")
_DATA = 0x0
_END_STREAM = 0x1
_PADDED = 0x8
# The states of our streams in which the server may send DATA.
_RECEIVING = frozenset((h2.stream.StreamState.OPEN, h2.stream.StreamState.HALF_CLOSED_LOCAL))


def _is_valid_frame_header(header: memoryview) -> bool:
    """False for a frame header that h2 refuses on sight (a frame type that must have a stream
    id and has none, or the other way round)."""
    try:
        Frame.parse_frame_header(header)
    except (InvalidDataError, InvalidFrameError):
        return False
    return True


def _quiet_repr(frame: Frame) -> str:
    # (type(frame) is the quiet subclass; the next class in its MRO is the frame type.)
    name = type(frame).__mro__[1].__name__
    return f"<{name} stream={frame.stream_id} length={frame.body_len}>"


class _QuietDataFrame(DataFrame):
    """A DATA frame with a cheap ``repr()`` (see ``H2Connection._receive_frame``)."""

    __repr__ = _quiet_repr


class _QuietHeadersFrame(HeadersFrame):
    """A HEADERS frame with a cheap ``repr()``."""

    __repr__ = _quiet_repr


#: The frames that come with every request, and their quiet classes.
_QUIET_FRAMES: Final[dict[type[Frame], type[Frame]]] = {
    DataFrame: _QuietDataFrame,
    HeadersFrame: _QuietHeadersFrame,
}


class _RecordingTable(HeaderTable):
    """A decoder's HPACK table that notes, while ``added`` is a list, the entries a header block
    adds, and whether the block read the dynamic table (``stateful``)."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[tuple[bytes, bytes]] | None = None
        self.stateful = False

    def get_by_index(self, index: int) -> tuple[bytes, bytes]:
        if index > HeaderTable.STATIC_TABLE_LENGTH:
            self.stateful = True
        return super().get_by_index(index)

    def add(self, name: bytes, value: bytes) -> None:
        if self.added is not None:
            self.added.append((name, value))
        super().add(name, value)


class CachingDecoder(Decoder):
    """hpack's decoder, remembering the header blocks that don't depend on its state.

    Servers send the same response head over and over, and hpack decodes Huffman-coded strings
    a bit at a time in Python: more than a fifth of a small request's cost. A block that reads
    nothing from the dynamic table (nginx, for one, sends only static references and literals)
    decodes to the same fields whatever the table holds; what it does to the table is a list of
    entries to add. So such a block is decoded once, and afterwards its fields are returned and
    its entries added again. A block that reads the dynamic table or resizes it is always
    decoded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.header_table = self._table = _RecordingTable()
        self._blocks: dict[bytes, tuple[list[HeaderTuple], list[tuple[bytes, bytes]], int]] = {}

    def decode(self, data: bytes, raw: bool = False) -> list[HeaderTuple]:
        table = self._table
        cached = self._blocks.get(data) if raw else None
        if cached is not None:
            fields, added, size = cached
            if size <= self.max_header_list_size:
                for name, value in added:
                    table.add(name, value)
                self._assert_valid_table_size()
                return list(fields)
        table.added = added = []
        table.stateful = False
        try:
            fields = list(super().decode(data, raw))
        finally:
            table.added = None
        if (
            raw
            and not table.stateful
            and len(data) <= _BLOCK_CACHE_MAX_BYTES
            # A dynamic table size update (RFC 7541 section 6.3), which can only come first.
            and not (data and data[0] & 0xE0 == 0x20)
        ):
            blocks = self._blocks
            if len(blocks) >= _BLOCK_CACHE_ENTRIES:
                del blocks[next(iter(blocks))]  # the oldest
            size = sum(32 + len(name) + len(value) for name, value in fields)
            blocks[bytes(data)] = (fields, added, size)
        return list(fields)


class _CountingTable(HeaderTable):
    """An encoder's HPACK table that counts the entries added to it."""

    def __init__(self) -> None:
        super().__init__()
        self.adds = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.adds += 1
        super().add(name, value)


class CachingEncoder(Encoder):
    """hpack's encoder, remembering the blocks it made without changing its table.

    Once the fields of a request are all in the table, encoding the same list again gives the
    same block, as long as the table holds the same entries: nothing was added since, and none
    evicted (by a resize), which the number of adds and of entries tell. hpack emits a pending
    table size update first; such a block is not remembered, nor reused while one is pending.
    (The key ignores whether a field is a ``NeverIndexedHeaderTuple``: a field the encoder
    found in the table is encoded the same either way, and a block is only remembered when
    none of its fields was added.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.header_table = self._table = _CountingTable()
        self._blocks: dict[tuple[tuple[bytes, bytes], ...], tuple[tuple[int, int], bytes]] = {}

    # (h2 passes a list of pairs, not all the forms hpack takes.)
    def encode(  # type: ignore[override]
        self, headers: Sequence[tuple[bytes, bytes]], huffman: bool = True
    ) -> bytes:
        table = self._table
        if not huffman or table.resized:
            return super().encode(headers, huffman)
        key = tuple(headers)
        state = (table.adds, len(table.dynamic_entries))
        cached = self._blocks.get(key)
        if cached is not None and cached[0] == state:
            return cached[1]
        encoded = super().encode(headers, huffman)
        if table.adds == state[0] and len(encoded) <= _BLOCK_CACHE_MAX_BYTES:
            blocks = self._blocks
            if len(blocks) >= _BLOCK_CACHE_ENTRIES and key not in blocks:
                del blocks[next(iter(blocks))]
            blocks[key] = (state, encoded)
        return encoded


class H2Connection(h2.connection.H2Connection):
    """h2's client connection with the changes heron needs."""

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config=config)
        table = self._frame_dispatch_table
        for frame_class, quiet_class in _QUIET_FRAMES.items():
            table[quiet_class] = table[frame_class]
        # Before any header block went either way.
        self.encoder = CachingEncoder()
        decoder = CachingDecoder()
        decoder.max_header_list_size = self.decoder.max_header_list_size
        self.decoder = decoder
        #: Received bytes that end in the middle of a frame, and how many make it whole.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._needed = 0

    def receive_data(self, data: bytes) -> list[h2.events.Event]:  # type: ignore[override]
        """h2's ``receive_data``, with its most common frame taken care of here.

        h2 turns each frame into a frame object, then passes it through its connection and
        stream state machines: for a DATA frame, over a dozen calls and three copies of the
        payload, which is most of the cost of a download (nginx sends 8 KiB frames). Here a
        DATA frame on one of our open streams, unpadded, outside a header block, goes straight
        to h2's stream (which keeps its state machine, flow control window and
        Content-Length check), with the payload as a view of the bytes received. All other
        frames, and any DATA frame that is not so simple, go to h2 as they came, in order.
        """
        events: list[h2.events.Event] = []
        partial = self._partial
        if partial:
            # Frames are handled whole: wait for the rest of the one the last read cut short.
            # (Joining it with all of this read frees the read's bytes at once, and measured
            # cheaper than joining the one frame: the chunks made from them reuse the memory.)
            partial.append(data)
            self._partial_size += len(data)
            if self._partial_size < self._needed:
                return events
            data = b"".join(partial)
            partial.clear()
        used = self._receive_frames(data, events)
        if used < len(data):
            self._keep(data, used)
        return events

    def _keep(self, data: bytes, used: int) -> None:
        """Keep the start of a frame that ends in a later read."""
        self._partial.append(data[used:])
        self._partial_size = size = len(data) - used
        if size < 9:
            self._needed = 9
        else:
            length_high, length_low = _FRAME_HEADER.unpack_from(data, used)[:2]
            self._needed = 9 + (length_high << 8 | length_low)

    def _receive_frames(self, data: bytes, events: list[h2.events.Event]) -> int:
        """Handle the whole frames at the start of ``data``, adding their events to
        ``events``; return how many bytes they took."""
        size = len(data)
        view = memoryview(data)
        unpack = _FRAME_HEADER.unpack_from
        streams = self.streams
        position = 0  # where the next frame starts
        passed = 0  # where the frames not yet given to h2 start
        while size - position >= 9:
            length_high, length_low, kind, flags, stream_id = unpack(data, position)
            length = length_high << 8 | length_low
            end = position + 9 + length
            if length > self.max_inbound_frame_size:
                # What h2 says, but before all of the frame has arrived.
                self._terminate_connection(ErrorCodes.FRAME_SIZE_ERROR)
                raise h2.exceptions.FrameTooLargeError(
                    f"Received overlong frame: length {length}, max {self.max_inbound_frame_size}"
                )
            if end > size:
                # (A DATA frame with a stream id, the usual one cut short, is valid.)
                if not (kind == _DATA and stream_id) and not _is_valid_frame_header(
                    view[position : position + 9]
                ):
                    position = size  # h2 refuses it now, without waiting for the rest
                break
            if kind == _DATA and not flags & _PADDED:
                if passed < position:
                    events += super().receive_data(view[passed:position])
                    passed = position
                stream = streams.get(stream_id & 0x7FFFFFFF)
                if (
                    stream is not None
                    and stream.state_machine.state in _RECEIVING
                    and self.state_machine.state is h2.connection.ConnectionState.CLIENT_OPEN
                    and not self.incoming_buffer._headers_buffer
                ):
                    # What h2's _receive_data_frame does, but for the frame object.
                    try:
                        self._inbound_flow_control_window_manager.window_consumed(length)
                        frames, stream_events = stream.receive_data(
                            view[position + 9 : end],  # type: ignore[arg-type]
                            bool(flags & _END_STREAM),
                            length,
                        )
                    except h2.exceptions.ProtocolError as exc:
                        # As h2 does: a GOAWAY with the error, then the error.
                        self._terminate_connection(exc.error_code)
                        raise
                    self._prepare_for_sending(frames)
                    events += stream_events
                    passed = end
            position = end
        if passed < position:
            events += super().receive_data(view[passed:position])
        return position

    def _receive_frame(self, frame: Frame) -> list[h2.events.Event]:
        # h2 takes repr(frame) of every frame it receives, for a log call that does nothing.
        # hyperframe's repr of a DATA frame hex-encodes the whole payload (more than all the
        # rest of receiving a large body), and of a HEADERS frame costs as much as its
        # decoding: the frames of every request get a cheap one instead.
        quiet_class = _QUIET_FRAMES.get(frame.__class__)
        if quiet_class is not None:
            frame.__class__ = quiet_class
        return super()._receive_frame(frame)

    @property
    def open_outbound_streams(self) -> int:
        # h2 counts open streams by walking all of them before each new one: O(n) per request,
        # O(n^2) per burst. HTTP2State counts its own and enforces the server's limit before it
        # sends HEADERS, so h2's check is skipped; cull() does h2's clean-up instead.
        return 0

    def cull(self) -> None:
        """Forget closed streams (h2 does it while counting them)."""
        super().open_outbound_streams  # noqa: B018 - the getter culls

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        # h2 closes the whole connection on GOAWAY and drops whatever it had queued, so the
        # streams the server still serves (ids up to last_stream_id, RFC 9113 section 6.8)
        # could neither acknowledge data nor finish. Report the event and stay open;
        # HTTP2State opens no new streams from then on.
        event = h2.events.ConnectionTerminated()
        event.error_code = frame.error_code
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]
