"""The HTTP/1.1 parser seam: request bytes out, response events in, with h11 behind it.

The HTTP/1.1 driver (``_async/http11.py``) talks to a parser only through the small
``HTTP11Parser`` protocol, so that two parsers can serve it: ``H11Parser`` here, and
``HttptoolsParser`` (``_httptools_parser.py``, with ``pip install heron[speedups]``).
``select_parser`` picks one. ``H11Parser`` works like this:

- Responses are parsed by h11, which also applies the response framing (Content-Length,
  chunked, or read until the connection closes) and refuses malformed heads and bodies.
- Request heads are serialized here (``RequestWriter``, which both parsers share) rather than
  by h11: building the bytes directly costs a fraction of h11's event validation plus writer.
  The checks h11 makes are made here too: the method is a token, the request-target visible
  ASCII, header names are tokens, values hold no NUL, CR, LF, VT or FF and no surrounding
  whitespace, there is exactly one Host, one consistent Content-Length, and no
  Transfer-Encoding but ``chunked``.
- h11 still has to know that a request went out, to parse its response. It is told with a
  stand-in request event that carries only what its state machine reads (whether the method is
  HEAD or CONNECT, ``Connection: close``, ``Upgrade``), built once at import, followed at once
  by the end of that request. Whether our side really finished sending its body is tracked
  here, and a connection is only reusable when both have.
- On top of h11's checks, a response with both Content-Length and Transfer-Encoding is refused
  (h11 would let Transfer-Encoding win): RFC 9112 section 6.3 calls it a likely smuggling
  attempt, and llhttp refuses it too, so both parsers agree.
- h11's exceptions become heron's ``RemoteProtocolError`` and ``LocalProtocolError`` here,
  once, with messages that name the server.
"""

from __future__ import annotations

import enum
import functools
import os
import re
from collections.abc import Callable
from typing import NoReturn, Protocol, TypeAlias

import h11

from ._exceptions import LocalProtocolError, RemoteProtocolError

__all__ = [
    "CONNECTION_CLOSED",
    "END_OF_MESSAGE",
    "MAX_HEAD_SIZE",
    "NEED_DATA",
    "PARSER_ENV",
    "ConnectionNotAvailable",
    "H11Parser",
    "HTTP11Parser",
    "HTTP11State",
    "Marker",
    "ParserEvent",
    "RequestWriter",
    "ResponseHead",
    "select_parser",
]

#: The environment variable that chooses the HTTP/1.1 parser when the transport doesn't.
PARSER_ENV = "HERON_HTTP1_PARSER"

#: The largest response head accepted (status line plus headers): big cookies fit, a server
#: sending headers forever does not.
MAX_HEAD_SIZE = 100 * 1024

# RFC 9110 section 5.6.2 token (methods, header names); RFC 9112 section 3.2 request-target
# (visible ASCII); h11's field-value: no NUL or whitespace other than SP/HTAB inside, and no
# whitespace at either end.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+").fullmatch
_TARGET = re.compile(rb"[\x21-\x7e]+").fullmatch
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?").fullmatch
_DIGITS = re.compile(rb"[0-9]{1,20}").fullmatch

_KNOWN_METHODS = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT"}
)

# Validated header names, `raw name -> lower-cased name`. Programs send the same few dozen
# names over and over; bounded so that generated names can't grow it without limit.
_NAMES: dict[bytes, bytes] = {}
_NAMES_SIZE = 1024

# Header values seen valid: the same ones (Host, Accept, User-Agent, ...) go out with every
# request, and a set lookup costs a fraction of the regular expression. Only short values are
# kept, and the set is emptied when full, so it stays small whatever the program sends.
_VALUES: set[bytes] = set()
_VALUES_SIZE = 1024
_VALUE_CACHED_LENGTH = 200

# The request headers whose values decide framing or connection handling.
_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_UPGRADE = b"upgrade"
_SPECIAL_HEADERS = frozenset({_HOST, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _UPGRADE})

# `_remaining` when the request body is sent with chunked framing.
_CHUNKED = -1
_LAST_CHUNK = b"0\r\n\r\n"

_HTTP_VERSIONS = {b"1.1": b"HTTP/1.1", b"1.0": b"HTTP/1.0"}


class ConnectionNotAvailable(Exception):
    """The connection can't take this request: closed, busy, or found dead before any byte of
    the response arrived. The pool retries on another connection; users never see it.

    Defined here until the pool's ``_pool_state.py`` exists; the name is part of the contract.
    """


class HTTP11State(enum.Enum):
    """Where an HTTP/1.1 connection is in its life (transitions: ``_async/http11.py``)."""

    NEW = 0
    ACTIVE = 1
    IDLE = 2
    CLOSED = 3


class Marker:
    """A parser event without data: ``END_OF_MESSAGE``, ``NEED_DATA``, ``CONNECTION_CLOSED``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The response (body included) is complete.
END_OF_MESSAGE = Marker("END_OF_MESSAGE")
#: Call ``receive_data()`` with more bytes (or ``b""`` at end of file) before asking again.
NEED_DATA = Marker("NEED_DATA")
#: The server closed the connection before sending any byte of a response.
CONNECTION_CLOSED = Marker("CONNECTION_CLOSED")


class ResponseHead:
    """A response's status line and headers, as the parser read them."""

    __slots__ = ("headers", "http_version", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: bytes = b"HTTP/1.1",
    ) -> None:
        self.status_code = status_code
        #: The reason phrase as sent, e.g. ``b"OK"`` (may be empty).
        self.reason = reason
        #: ``(name, value)`` pairs, names in the case the server sent.
        self.headers = headers
        #: ``b"HTTP/1.1"`` or ``b"HTTP/1.0"``.
        self.http_version = http_version

    def __repr__(self) -> str:
        return f"<ResponseHead [{self.status_code} {self.reason.decode('latin-1')}]>"


#: What ``next_event()`` returns: a head, a chunk of body bytes, or a marker.
ParserEvent: TypeAlias = ResponseHead | bytes | Marker


class HTTP11Parser(Protocol):
    """What the HTTP/1.1 driver needs from a parser: one instance per connection.

    A cycle is ``request_bytes``, then ``body_bytes`` per body chunk and ``end_bytes``, while
    ``receive_data``/``next_event`` give the response: interim heads (1xx), the final head,
    body chunks, ``END_OF_MESSAGE``. Then ``is_reusable()`` and ``start_next_cycle()``.
    Violations raise heron's ``LocalProtocolError`` (ours) or ``RemoteProtocolError``
    (the server's).
    """

    #: Shown in the ``http11_parser`` response extension, e.g. ``"h11"``.
    name: str
    #: How many bytes the driver asks the network for per read. A parser that passes a body
    #: read through without copying it wants large reads; one that copies, small ones.
    read_size: int

    def request_bytes(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes:
        """Validate a request head and return its bytes; the headers choose the body framing."""
        ...

    def body_bytes(self, data: bytes) -> bytes:
        """Frame one chunk of the request body (``b""`` gives ``b""``)."""
        ...

    def end_bytes(self) -> bytes:
        """End the request body; ``LocalProtocolError`` if it fell short of Content-Length."""
        ...

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the connection; ``b""`` means the server closed it."""
        ...

    def next_event(self) -> ParserEvent:
        """The next response event, or ``NEED_DATA``."""
        ...

    def start_next_cycle(self) -> None:
        """Reset for the next request on a reusable connection."""
        ...

    def is_reusable(self) -> bool:
        """True when both messages are complete and the connection may carry another."""
        ...

    def trailing_data(self) -> bytes:
        """Bytes received after the response head, for a connection that switched protocols."""
        ...


def _stand_in(method: bytes, close: bool, upgrade: bool) -> h11.Request:
    headers = [(b"host", b"-")]
    if close:
        headers.append((b"connection", b"close"))
    if upgrade:
        headers.append((b"upgrade", b"-"))
    return h11.Request(method=method, target=b"/", headers=headers)


# h11 reads the method (HEAD and CONNECT responses are framed differently), Connection: close
# and Upgrade from a request: one stand-in per combination.
_STAND_INS = {
    (method, close, upgrade): _stand_in(method, close, upgrade)
    for method in (b"GET", b"HEAD", b"CONNECT")
    for close in (False, True)
    for upgrade in (False, True)
}
_END_OF_MESSAGE = h11.EndOfMessage()

# Looked up once: next_event() compares with them for every event.
_Data = h11.Data
_EndOfMessage = h11.EndOfMessage
_Response = h11.Response
_InformationalResponse = h11.InformationalResponse
_ConnectionClosed = h11.ConnectionClosed
_NEED_DATA = h11.NEED_DATA


class RequestWriter:
    """Writes request heads and frames request bodies: the sending half both parsers share.

    ``request_bytes`` validates the head as h11 would and calls ``_start_exchange`` (each
    parser's hook: refuse if the previous exchange isn't finished, note what the response
    framing depends on); ``body_bytes`` and ``end_bytes`` apply the Content-Length or chunked
    framing the headers chose.
    """

    __slots__ = ("_content_length", "_remaining", "_request_ended")

    def __init__(self) -> None:
        self._remaining = 0
        self._content_length = 0
        self._request_ended = False

    def _start_exchange(self, method: bytes, close: bool, upgrade: bool) -> None:
        """A valid request head is about to go out: ``close`` when it asks for
        ``Connection: close``, ``upgrade`` when it has an Upgrade header."""
        raise NotImplementedError

    def request_bytes(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes:
        if method not in _KNOWN_METHODS and not _TOKEN(method):
            raise LocalProtocolError(
                f"Invalid HTTP method {method!r}: a method must be a non-empty token of "
                "letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 section 9)."
            )
        if not _TARGET(target):
            raise LocalProtocolError(
                f"Invalid request target {target!r}: it must be non-empty visible ASCII, without "
                "spaces or control characters (RFC 9112 section 3.2). Percent-encode the URL."
            )
        hosts = 0
        content_length: bytes | None = None
        chunked = close = upgrade = False
        for name, value in headers:
            lower = _NAMES.get(name)
            if lower is None:
                lower = _check_name(name)
            if value not in _VALUES:
                _check_value(name, value)
            if lower not in _SPECIAL_HEADERS:
                continue
            if lower == _HOST:
                hosts += 1
            elif lower == _CONTENT_LENGTH:
                content_length = _check_content_length(content_length, value)
            elif lower == _TRANSFER_ENCODING:
                if chunked or value.lower() != b"chunked":
                    raise LocalProtocolError(
                        f"Unsupported Transfer-Encoding {value!r}: heron sends request bodies "
                        "with a single 'Transfer-Encoding: chunked' or with Content-Length."
                    )
                chunked = True
            elif lower == _CONNECTION:
                close = close or b"close" in _comma_tokens(value)
            else:
                upgrade = True
        if hosts != 1:
            raise LocalProtocolError(
                "An HTTP/1.1 request needs exactly one Host header (RFC 9112 section 3.2), "
                f"and this one has {hosts}."
            )
        if chunked:
            if content_length is not None:
                raise LocalProtocolError(
                    "The request has both Content-Length and Transfer-Encoding headers, which "
                    "RFC 9112 section 6.1 forbids (it invites request smuggling): remove one."
                )
            remaining = _CHUNKED
        else:
            remaining = 0 if content_length is None else int(content_length)

        self._start_exchange(method, close, upgrade)
        self._content_length = self._remaining = remaining
        self._request_ended = False
        return b"".join(
            (
                method,
                b" ",
                target,
                b" HTTP/1.1\r\n",
                b"\r\n".join(map(b": ".join, headers)),
                b"\r\n\r\n",
            )
        )

    def body_bytes(self, data: bytes) -> bytes:
        remaining = self._remaining
        if remaining == _CHUNKED:
            if not data:
                return b""
            return b"%x\r\n%b\r\n" % (len(data), data)
        size = len(data)
        if size > remaining:
            raise LocalProtocolError(
                "The request body is longer than its Content-Length header says "
                f"({self._content_length} bytes). Fix the header, or leave it out and let "
                "heron set it."
            )
        self._remaining = remaining - size
        return data

    def end_bytes(self) -> bytes:
        remaining = self._remaining
        if remaining == _CHUNKED:
            self._request_ended = True
            return _LAST_CHUNK
        if remaining:
            sent = self._content_length - remaining
            raise LocalProtocolError(
                f"The request body ended after {sent} bytes, but its Content-Length header "
                f"announced {self._content_length}. Fix the header, or leave it out and let "
                "heron set it."
            )
        self._request_ended = True
        return b""


class H11Parser(RequestWriter):
    """``HTTP11Parser`` over h11, with heron's own request serialization."""

    __slots__ = ("_connection", "_eof", "_origin", "_received")

    name = "h11"
    # h11 copies what it is fed and slices its buffer per event: past 64 KiB per read, a
    # download costs more CPU per byte, not less.
    read_size = 64 * 1024

    def __init__(self, origin: str = "the server") -> None:
        super().__init__()
        self._connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        self._origin = origin
        self._received = False
        self._eof = False

    def _start_exchange(self, method: bytes, close: bool, upgrade: bool) -> None:
        stand_in_method = method if method == b"HEAD" or method == b"CONNECT" else b"GET"
        connection = self._connection
        try:
            connection.send(_STAND_INS[stand_in_method, close, upgrade])
            connection.send(_END_OF_MESSAGE)
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(
                f"Can't send a request to {self._origin} on this connection now: the previous "
                f"exchange on it is not finished ({exc})."
            ) from exc

    # Receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if data:
            self._received = True
            self._connection.receive_data(data)
        elif not self._eof:
            self._eof = True
            self._connection.receive_data(b"")

    def next_event(self) -> ParserEvent:
        try:
            event = self._connection.next_event()
        except h11.RemoteProtocolError as exc:
            if self._eof and not self._received:
                return CONNECTION_CLOSED
            raise RemoteProtocolError(self._describe(exc)) from exc
        if type(event) is _Data:
            return bytes(event.data)
        if event is _NEED_DATA:
            return NEED_DATA
        if type(event) is _EndOfMessage:
            return END_OF_MESSAGE
        if type(event) is _Response or type(event) is _InformationalResponse:
            version = event.http_version
            headers = event.headers.raw_items()
            if _has_both_framings(headers):
                raise RemoteProtocolError(
                    f"{self._origin} sent a response that is not valid HTTP/1.1: it has both "
                    "Content-Length and Transfer-Encoding headers, which RFC 9112 section 6.1 "
                    "forbids (a sign of response smuggling)."
                )
            return ResponseHead(
                event.status_code,
                event.reason,
                headers,
                _HTTP_VERSIONS.get(version) or b"HTTP/" + version,
            )
        if type(event) is _ConnectionClosed:
            return CONNECTION_CLOSED
        # PAUSED: after a 101 or a successful CONNECT the bytes that follow belong to another
        # protocol, so this response has no (more) body.
        return END_OF_MESSAGE

    def _describe(self, exc: h11.RemoteProtocolError) -> str:
        if exc.error_status_hint == 431:
            return (
                f"The response head from {self._origin} is larger than {MAX_HEAD_SIZE} bytes, "
                "or never ends; heron refuses it."
            )
        if self._eof:
            return (
                f"The connection to {self._origin} closed before the response was complete: {exc}."
            )
        return f"{self._origin} sent a response that is not valid HTTP/1.1: {exc}."

    # Between cycles ----------------------------------------------------------------------

    def is_reusable(self) -> bool:
        connection = self._connection
        return (
            self._request_ended
            # A body delimited by the end of the connection leaves h11 "done", but closed.
            and not self._eof
            and connection.our_state is h11.DONE
            and connection.their_state is h11.DONE
            # Bytes after a complete response would be read as the next request's response.
            and not connection.trailing_data[0]
        )

    def start_next_cycle(self) -> None:
        try:
            self._connection.start_next_cycle()
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(
                f"The connection to {self._origin} can't be reused: {exc}."
            ) from exc
        self._request_ended = False
        self._received = False

    def trailing_data(self) -> bytes:
        return self._connection.trailing_data[0]


def _check_name(name: bytes) -> bytes:
    if not _TOKEN(name):
        raise LocalProtocolError(
            f"Invalid header name {name!r}: header names must be tokens (RFC 9110 section 5.1):"
            " letters, digits and !#$%&'*+-.^_`|~ only."
        )
    lower = name.lower()
    if len(_NAMES) < _NAMES_SIZE:
        _NAMES[name] = lower
    return lower


def _check_value(name: bytes, value: bytes) -> None:
    if not _FIELD_VALUE(value):
        _refuse_value(name, value)
    if len(value) <= _VALUE_CACHED_LENGTH:
        if len(_VALUES) >= _VALUES_SIZE:
            _VALUES.clear()
        _VALUES.add(value)


def _refuse_value(name: bytes, value: bytes) -> NoReturn:
    raise LocalProtocolError(
        f"Invalid value for header {name.decode('ascii')!r}: {value!r}. Header values must "
        "not contain NUL, CR, LF, vertical tab or form feed, nor start or end with "
        "whitespace (RFC 9110 section 5.5)."
    )


def _check_content_length(seen: bytes | None, value: bytes) -> bytes:
    if not _DIGITS(value):
        raise LocalProtocolError(
            f"Invalid Content-Length {value!r}: it must be a number of bytes, such as b'42'."
        )
    if seen is not None and int(seen) != int(value):
        raise LocalProtocolError(
            f"Conflicting Content-Length headers ({seen!r} and {value!r}): send just one."
        )
    return value


def _has_both_framings(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response head has both Content-Length and Transfer-Encoding."""
    seen = 0
    for name, _ in headers:
        size = len(name)
        # (Only names of the right length are lower-cased: most headers are neither.)
        if size == 14 and name.lower() == _CONTENT_LENGTH:
            seen |= 1
        elif size == 17 and name.lower() == _TRANSFER_ENCODING:
            seen |= 2
    return seen == 3


def _comma_tokens(value: bytes) -> list[bytes]:
    return [token.strip() for token in value.lower().split(b",")]


# Choosing a parser ---------------------------------------------------------------------------


def select_parser(name: str | None = None) -> Callable[[str], HTTP11Parser]:
    """The HTTP/1.1 parser class for ``name``: ``"h11"`` or ``"httptools"``.

    ``None`` means the default: the parser named by the ``HERON_HTTP1_PARSER`` environment
    variable if it is set, else httptools when it is installed (``pip install
    heron[speedups]``), else h11. Asking for httptools when it is not installed raises
    ``ImportError``; an unknown name raises ``ValueError``::

        parser = select_parser("h11")("https://example.org:443")
    """
    source = "http1_parser"
    if name is None:
        name = os.environ.get(PARSER_ENV) or None
        if name is None:
            found = _find_httptools()
            return H11Parser if isinstance(found, str) else found
        source = PARSER_ENV
    if name == "h11":
        return H11Parser
    if name == "httptools":
        found = _find_httptools()
        if isinstance(found, str):
            raise ImportError(
                f"{source}={name!r} asks for the httptools HTTP/1.1 parser, but {found}. "
                "Install it with: pip install heron[speedups]"
            )
        return found
    raise ValueError(
        f"Unknown HTTP/1.1 parser {source}={name!r}: choose 'h11' or 'httptools', or leave it "
        "unset to use httptools when it is installed and h11 otherwise."
    )


@functools.cache
def _find_httptools() -> Callable[[str], HTTP11Parser] | str:
    """``HttptoolsParser``, or why it can't be used (imported once, on first use)."""
    try:
        from ._httptools_parser import HttptoolsParser
    except ImportError as exc:
        return f"the httptools package can't be imported ({exc})"
    return HttptoolsParser
