"""``HttptoolsParser``: the HTTP/1.1 parser seam over httptools (llhttp, Node.js's parser).

Installed with ``pip install heron[speedups]`` and chosen by ``select_parser`` whenever it can be
imported. llhttp reads a response head several times faster than h11; heron applies h11's rules
around it, so that whatever this parser accepts, h11 reads the same way (llhttp refuses a few
malformed responses that h11 tolerates: bare LF line endings, obs-fold, control characters in
header values; ``docs/speedups.md`` lists them):

- heron finds where each head ends (its first blank line) and feeds llhttp exactly the head.
  llhttp checks the status line and the header syntax (and refuses a Content-Length together
  with Transfer-Encoding, or two Content-Lengths); its callbacks hand over the reason phrase and
  the headers. heron then chooses the body's framing itself, from the request method, the status
  and the headers, as h11 does: llhttp can't be told that the request was HEAD or CONNECT.
- A Content-Length body, or one that ends when the connection closes, is cut from the received
  bytes here: a read that is all body is passed on as the same ``bytes`` object, without a copy.
  A chunked body goes through llhttp, which decodes the framing and calls back per chunk.
- llhttp serves one head after another as long as it has seen each message end. When heron ends
  a message that llhttp would still read a body for (a Content-Length body read here, the
  answer to HEAD), and after an interim response, the next head gets a fresh llhttp parser.
- A whole response often arrives in one read and is parsed at once; the connection is reusable
  only once the driver has taken every event, so that a response closed unread closes its
  connection, as with h11.
- Requests are written by ``RequestWriter``, shared with ``H11Parser``.

A cycle, by the state the parser is in when bytes arrive:

    state        what arrives                                             next state
    -----------  -------------------------------------------------------  -----------
    HEAD         an interim (1xx) head, not 101                           HEAD
    HEAD         101 to an Upgrade request, 2xx to CONNECT                SWITCHED
    HEAD         a head without body: HEAD request, 204, 304, length 0    DONE
    HEAD         a head with Content-Length: n                            LENGTH
    HEAD         a head with Transfer-Encoding: chunked                   CHUNKED
    HEAD         a head with neither                                      UNTIL_CLOSE
    LENGTH       the n-th byte of the body                                DONE
    CHUNKED      the last chunk and the trailers                          DONE
    UNTIL_CLOSE  the end of the connection                                DONE
    DONE         anything: the connection can't be reused                 DONE
"""

from __future__ import annotations

import enum
import re
from collections import deque

import httptools

from ._exceptions import LocalProtocolError, RemoteProtocolError
from ._http11_parser import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    MAX_HEAD_SIZE,
    NEED_DATA,
    ParserEvent,
    RequestWriter,
    ResponseHead,
)

__all__ = ["HttptoolsParser"]

# The blank line that ends a head. llhttp (without its "dangerous leniencies") accepts no other
# line ending, so the first one after a status line is the end of that head.
_HEAD_END = b"\r\n\r\n"

_HTTP_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}

# The reason phrase as h11 reads it, which llhttp does not check: no NUL, CR, LF, VT or FF.
_REASON = re.compile(rb"[^\x00\n\r\x0b\x0c]*").fullmatch

_HttpParserError = httptools.HttpParserError
_HttpParserUpgrade = httptools.HttpParserUpgrade


class _State(enum.Enum):
    HEAD = 0
    LENGTH = 1
    CHUNKED = 2
    UNTIL_CLOSE = 3
    DONE = 4
    SWITCHED = 5


_HEAD = _State.HEAD
_LENGTH = _State.LENGTH
_CHUNKED = _State.CHUNKED
_UNTIL_CLOSE = _State.UNTIL_CLOSE
_DONE = _State.DONE
_SWITCHED = _State.SWITCHED


class _Overrun(Exception):
    """Raised from a callback to stop llhttp at bytes that follow a complete response."""


class _Callbacks:
    """What llhttp reports about the current response, through its callbacks.

    Kept apart from the parser, which holds the llhttp parser (that holds these bound methods):
    no reference cycle, so a closed connection is freed at once.
    """

    __slots__ = (
        "close",
        "content_length",
        "events",
        "head_complete",
        "headers",
        "message_complete",
        "reason",
        "transfer_encoding",
        "transfer_encodings",
    )

    def __init__(self, events: deque[ParserEvent]) -> None:
        #: The parser's event queue: chunked body data goes straight in.
        self.events = events
        self.reset()

    def reset(self) -> None:
        """Forget the previous head, for the next one."""
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: bytes | None = None
        self.transfer_encoding = b""
        self.transfer_encodings = 0
        self.close = False
        self.head_complete = False
        self.message_complete = False

    def on_message_begin(self) -> None:
        if self.message_complete:
            raise _Overrun

    def on_status(self, status: bytes) -> None:
        # Called once per read the reason phrase spans.
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_complete:
            return  # a trailer, after a chunked body: dropped, as h11 drops them
        # llhttp drops the whitespace before a value but keeps the whitespace after it.
        stripped = value.rstrip(b" \t")
        size = len(name)
        # Only names of the right length are lower-cased: most headers are none of these.
        if size == 17 and name.lower() == b"transfer-encoding":
            # llhttp reads "chunked " as chunked but "chunked\t" as another coding: heron
            # must frame the body as llhttp will, so only spaces are dropped here.
            self.transfer_encoding = value.rstrip(b" ").lower()
            self.transfer_encodings += 1
            stripped = stripped.lower()  # as h11 reports it
        elif size == 14:
            if name.lower() == b"content-length":
                self.content_length = stripped
        elif (
            size == 10
            and name.lower() == b"connection"
            and b"close" in [token.strip() for token in stripped.lower().split(b",")]
        ):
            self.close = True
        self.headers.append((name, stripped))

    def on_headers_complete(self) -> None:
        self.head_complete = True

    def on_body(self, body: bytes) -> None:
        self.events.append(body)

    def on_message_complete(self) -> None:
        self.message_complete = True


class HttptoolsParser(RequestWriter):
    """``HTTP11Parser`` over httptools, with heron's own request serialization."""

    __slots__ = (
        "_body_left",
        "_body_length",
        "_callbacks",
        "_data",
        "_eof",
        "_error",
        "_events",
        "_head_size",
        "_keep_alive",
        "_llhttp",
        "_method",
        "_origin",
        "_overrun",
        "_received",
        "_request_close",
        "_sent",
        "_stalled",
        "_state",
        "_tail",
        "_trailing",
        "_upgrade",
    )

    name = "httptools"
    # A read that is all body is handed on as it came, so the larger the read, the fewer the
    # trips through the layers above: 256 KiB is what asyncio's transports deliver at most,
    # and measured 0.50 s of CPU per GiB downloaded on asyncio against 1.37 s with 64 KiB
    # reads (whose slicing of asyncio's 256 KiB buffers cost more than the parsing).
    read_size = 256 * 1024

    def __init__(self, origin: str = "the server") -> None:
        super().__init__()
        self._origin = origin
        self._events: deque[ParserEvent] = deque()
        self._callbacks = _Callbacks(self._events)
        self._llhttp = httptools.HttpResponseParser(self._callbacks)
        self._state = _HEAD
        # Sending: whether this cycle's request went out, and what its response depends on.
        self._sent = False
        self._method = b""
        self._request_close = False
        self._upgrade = False
        # Receiving.
        self._data = b""  # received, not parsed yet
        self._eof = False
        self._received = False  # a byte of this cycle's response has arrived
        self._error: RemoteProtocolError | None = None
        self._head_size = 0  # bytes of the head so far
        self._tail = b""  # the last bytes parsed (see _parse_head and _parse_chunked)
        self._body_left = 0
        self._body_length = 0
        self._stalled = 0  # bytes of chunk framing or trailers since the last body data
        self._keep_alive = False
        self._overrun = False  # bytes came after the response
        self._trailing = b""  # bytes after the response (for 101 and CONNECT: after its head)

    # Sending -----------------------------------------------------------------------------

    def _start_exchange(self, method: bytes, close: bool, upgrade: bool) -> None:
        if self._sent:
            raise LocalProtocolError(
                f"Can't send a request to {self._origin} on this connection now: the previous "
                "exchange on it is not finished."
            )
        self._sent = True
        self._method = method
        self._request_close = close
        self._upgrade = upgrade

    # Receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if data:
            self._received = True
            self._data = self._data + data if self._data else data
        else:
            self._eof = True

    def next_event(self) -> ParserEvent:
        events = self._events
        if not events:
            data = self._data
            if data and self._error is None:
                self._data = b""
                try:
                    self._parse(data)
                except RemoteProtocolError as exc:
                    # Raised once the events parsed before the error have been taken, as h11
                    # does: a response head, then the error in its body.
                    self._error = exc
            if not events:
                if self._error is not None:
                    raise self._error
                return self._idle_event()
        return events.popleft()

    def _idle_event(self) -> ParserEvent:
        """The event when every received byte is parsed."""
        state = self._state
        if state is _SWITCHED or (state is _DONE and self._overrun):
            # h11 "pauses" here: the bytes that follow are not part of this response.
            return END_OF_MESSAGE
        if not self._eof:
            return NEED_DATA
        if state is _DONE:
            return CONNECTION_CLOSED
        if state is _UNTIL_CLOSE:
            self._state = _DONE
            return END_OF_MESSAGE
        if state is _HEAD and not self._received:
            return CONNECTION_CLOSED
        if state is _LENGTH:
            received = self._body_length - self._body_left
            problem = f"received {received} bytes, expected {self._body_length}"
        elif state is _CHUNKED:
            problem = "the chunked body ended before its last chunk"
        else:
            problem = "it ended in the middle of the response head"
        self._error = RemoteProtocolError(
            f"The connection to {self._origin} closed before the response was complete: {problem}."
        )
        raise self._error

    def _parse(self, data: bytes) -> None:
        """Turn received bytes into events, as far as they go."""
        while data:
            state = self._state
            if state is _LENGTH:
                data = self._parse_length(data)
            elif state is _HEAD:
                data = self._parse_head(data)
            elif state is _CHUNKED:
                self._parse_chunked(data)
                return
            elif state is _UNTIL_CLOSE:
                self._events.append(data)
                return
            else:
                # DONE or SWITCHED: bytes after the response, never read as the next one.
                self._trailing += data
                self._overrun = True
                return

    def _parse_length(self, data: bytes) -> bytes:
        left = self._body_left
        size = len(data)
        if size < left:
            self._body_left = left - size
            self._events.append(data)
            return b""
        self._body_left = 0
        self._events.append(data if size == left else data[:left])
        self._end_message()
        return data[left:]

    def _parse_head(self, data: bytes) -> bytes:
        """Feed llhttp the part of ``data`` that belongs to the head; return the rest."""
        # The head's last 3 bytes so far, in case its blank line is cut in two.
        tail = self._tail
        end = -1
        if tail:
            # The blank line may be cut in two by the reads.
            found = (tail + data[:3]).find(_HEAD_END)
            if found >= 0:
                end = found + 4 - len(tail)
        elif not self._head_size and data[0] in b"\r\n":
            # llhttp skips empty lines before a status line; h11 (rightly, for a response)
            # does not, and neither does heron.
            raise RemoteProtocolError(self._invalid("the response starts with an empty line"))
        if end < 0:
            found = data.find(_HEAD_END)
            if found >= 0:
                end = found + 4
        size = self._head_size + (len(data) if end < 0 else end)
        if size > MAX_HEAD_SIZE:
            raise RemoteProtocolError(
                f"The response head from {self._origin} is larger than {MAX_HEAD_SIZE} bytes, "
                "or never ends; heron refuses it."
            )
        if end < 0:
            self._head_size = size
            self._tail = data[-3:] if len(data) >= 3 else (tail + data)[-3:]
            self._feed_head(data)
            return b""
        self._head_size = 0
        self._tail = b""
        self._feed_head(data if end == len(data) else data[:end])
        if not self._callbacks.head_complete:  # pragma: no cover - llhttp ends heads there
            raise RemoteProtocolError(self._invalid("the response head is malformed"))
        return self._start_body(data[end:])

    def _feed_head(self, data: bytes) -> None:
        try:
            self._llhttp.feed_data(data)
        except (_HttpParserError, _HttpParserUpgrade) as exc:
            if not self._callbacks.head_complete:
                raise RemoteProtocolError(self._invalid(str(exc))) from exc
            # llhttp pauses after the head of a 101 response: heron takes it from here.

    def _start_body(self, rest: bytes) -> bytes:
        """A head is complete: queue it, choose how its body is framed, return the rest."""
        callbacks = self._callbacks
        llhttp = self._llhttp
        status = llhttp.get_status_code()
        if status < 100:
            raise RemoteProtocolError(self._invalid(f"status code {status:03d}"))
        if not _REASON(callbacks.reason):
            raise RemoteProtocolError(self._invalid(f"reason phrase {callbacks.reason!r}"))
        if callbacks.transfer_encodings and (
            callbacks.transfer_encodings > 1 or callbacks.transfer_encoding != b"chunked"
        ):
            raise RemoteProtocolError(
                self._invalid(
                    f"unsupported Transfer-Encoding {callbacks.transfer_encoding!r} (heron reads "
                    "a single 'Transfer-Encoding: chunked')"
                )
            )
        if status == 101 and not self._upgrade:
            raise RemoteProtocolError(
                self._invalid(
                    "a 101 Switching Protocols response to a request without an Upgrade header"
                )
            )
        version = llhttp.get_http_version()
        self._events.append(
            ResponseHead(
                status,
                callbacks.reason,
                callbacks.headers,
                _HTTP_VERSIONS.get(version) or f"HTTP/{version}".encode("ascii"),
            )
        )
        if status < 200:
            if status == 101:
                return self._switch(rest)
            # An interim response: the final one follows, read by a new llhttp parser (this
            # one refuses more bytes after an HTTP/1.0 or "Connection: close" message).
            self._llhttp = httptools.HttpResponseParser(callbacks)
            callbacks.reset()
            return rest
        method = self._method
        if method == b"CONNECT" and status < 300:
            return self._switch(rest)
        # RFC 9112 section 9.3: HTTP/1.1 keeps the connection open unless a side says close;
        # HTTP/1.0 closes it (h11 ignores a 1.0 "Connection: keep-alive", and so does heron).
        self._keep_alive = not (callbacks.close or self._request_close) and version >= "1.1"
        if method == b"HEAD" or status == 204 or status == 304:
            self._end_message()
        elif callbacks.transfer_encodings:
            self._state = _CHUNKED
            self._stalled = 0
        elif callbacks.content_length is not None:
            length = int(callbacks.content_length)  # digits only: llhttp checked
            if length:
                self._body_length = self._body_left = length
                self._state = _LENGTH
            else:
                self._end_message()
        else:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE
        return rest

    def _parse_chunked(self, data: bytes) -> None:
        callbacks = self._callbacks
        events = self._events
        queued = len(events)
        try:
            self._llhttp.feed_data(data)
        except _HttpParserError as exc:
            if not callbacks.message_complete:
                raise RemoteProtocolError(self._invalid(str(exc))) from exc
            # Bytes after the last chunk (the callbacks stopped llhttp at them).
            self._overrun = True
        # The body's last 8 bytes so far.
        tail = self._tail = data[-8:] if len(data) >= 8 else (self._tail + data)[-8:]
        if callbacks.message_complete:
            # llhttp skips CR and LF between messages without a callback. A chunked message
            # ends with one blank line after a line that isn't blank: more CR or LF than that
            # are bytes after the response, as they are for h11.
            if len(tail) - len(tail.rstrip(b"\r\n")) > 4:
                self._overrun = True
            self._end_message()
        elif len(events) == queued:
            # No body data in these bytes: only chunk framing or trailers, which llhttp
            # holds in memory. Bounded as h11 bounds them.
            self._stalled += len(data)
            if self._stalled > MAX_HEAD_SIZE:
                raise RemoteProtocolError(
                    f"{self._origin} sent more than {MAX_HEAD_SIZE} bytes of chunk framing or "
                    "trailers without body data; heron refuses it."
                )
        else:
            self._stalled = 0

    def _end_message(self) -> None:
        self._events.append(END_OF_MESSAGE)
        self._state = _DONE

    def _switch(self, rest: bytes) -> bytes:
        """After a 101 or a successful CONNECT the connection speaks another protocol."""
        self._events.append(END_OF_MESSAGE)
        self._state = _SWITCHED
        self._keep_alive = False
        self._trailing = rest
        return b""

    def _invalid(self, problem: str) -> str:
        return f"{self._origin} sent a response that is not valid HTTP/1.1: {problem}."

    # Between cycles ----------------------------------------------------------------------

    def is_reusable(self) -> bool:
        return (
            self._request_ended
            and self._state is _DONE
            # Every event taken: the whole response may have been parsed from one read, but a
            # response closed before its body was read leaves the connection unusable, as h11
            # does.
            and not self._events
            and self._keep_alive
            and not self._overrun
            and not self._eof
            and not self._data
        )

    def start_next_cycle(self) -> None:
        if not self.is_reusable():
            raise LocalProtocolError(
                f"The connection to {self._origin} can't be reused: its last exchange did not "
                "end cleanly with both sides keeping the connection open."
            )
        callbacks = self._callbacks
        if not callbacks.message_complete:
            # llhttp would read a body for the last message that heron says it hasn't.
            self._llhttp = httptools.HttpResponseParser(callbacks)
        callbacks.reset()
        self._state = _HEAD
        self._tail = b""
        self._sent = False
        self._request_ended = False
        self._received = False

    def trailing_data(self) -> bytes:
        return self._trailing
