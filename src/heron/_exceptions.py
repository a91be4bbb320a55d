"""heron's exception hierarchy, with httpx's names so that ``except`` clauses port unchanged.

Foreign exceptions (``OSError``, ``ssl``, h11, h2, anyio) are translated into these once, where
they enter heron: in the backends and the protocol drivers. The tree::

    HTTPError
    ├── RequestError                    (.request)
    │   ├── TransportError
    │   │   ├── TimeoutException
    │   │   │   ├── ConnectTimeout
    │   │   │   ├── ReadTimeout
    │   │   │   ├── WriteTimeout
    │   │   │   └── PoolTimeout
    │   │   ├── NetworkError
    │   │   │   ├── ConnectError
    │   │   │   ├── ReadError
    │   │   │   ├── WriteError
    │   │   │   └── CloseError
    │   │   ├── ProtocolError
    │   │   │   ├── LocalProtocolError
    │   │   │   └── RemoteProtocolError
    │   │   ├── ProxyError
    │   │   └── UnsupportedProtocol
    │   ├── DecodingError
    │   └── TooManyRedirects
    └── HTTPStatusError                 (.request, .response)
    InvalidURL
    CookieConflict
    StreamError (RuntimeError)
    ├── StreamConsumed
    ├── StreamClosed
    ├── ResponseNotRead
    └── RequestNotRead
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._models import Request, Response

__all__ = [
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "DecodingError",
    "HTTPError",
    "HTTPStatusError",
    "InvalidURL",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "RequestNotRead",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "request_context",
]


class HTTPError(Exception):
    """Base class for ``RequestError`` and ``HTTPStatusError``.

    Useful for ``try``/``except`` blocks around ``response.raise_for_status()``::

        try:
            response = heron.get("https://www.example.com")
            response.raise_for_status()
        except heron.HTTPError as exc:
            print(f"Error while requesting {exc.request.url!r}.")
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        if self._request is None:
            raise RuntimeError(
                f"The .request property has not been set on this {type(self).__name__}: "
                "it is attached when the error is raised while a client sends a request."
            )
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments are lost by the default reduce; keep them in state.
        return (_rebuild, (type(self), self.args), self.__dict__.copy())


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    exc = cls.__new__(cls)
    exc.args = args
    return exc


class RequestError(HTTPError):
    """An error occurred while issuing a request."""

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        # .request is usually attached by the client, which knows the request being sent.
        self._request = request


class TransportError(RequestError):
    """An error occurred at the transport layer."""


# Timeout exceptions


class TimeoutException(TransportError):
    """The base class for timeout errors: an operation exceeded its time limit."""


class ConnectTimeout(TimeoutException):
    """Timed out while connecting to the host."""


class ReadTimeout(TimeoutException):
    """Timed out while receiving data from the host."""


class WriteTimeout(TimeoutException):
    """Timed out while sending data to the host."""


class PoolTimeout(TimeoutException):
    """Timed out waiting to acquire a connection from the pool."""


# Core networking exceptions


class NetworkError(TransportError):
    """The base class for network-related errors: a failure while talking to the host."""


class ReadError(NetworkError):
    """Failed to receive data from the network."""


class WriteError(NetworkError):
    """Failed to send data through the network."""


class ConnectError(NetworkError):
    """Failed to establish a connection."""


class CloseError(NetworkError):
    """Failed to close a connection."""


# Other transport exceptions


class ProxyError(TransportError):
    """An error occurred while establishing a proxy connection."""


class UnsupportedProtocol(TransportError):
    """The URL's scheme is not supported by any mounted transport (or the URL has none)."""


class ProtocolError(TransportError):
    """The protocol was violated."""


class LocalProtocolError(ProtocolError):
    """heron was asked to send something that would violate the protocol (our side's fault)."""


class RemoteProtocolError(ProtocolError):
    """The server violated the protocol (the other side's fault).

    Note that this is not a ``NetworkError``: retry code that catches ``NetworkError`` should
    usually catch this too.
    """


# Other request exceptions


class DecodingError(RequestError):
    """The response body could not be decoded (bad or truncated compressed data)."""


class TooManyRedirects(RequestError):
    """More redirects than ``max_redirects`` were followed."""


# Client errors


class HTTPStatusError(HTTPError):
    """Raised by ``Response.raise_for_status()`` for 4xx and 5xx responses."""

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message)
        self._request = request
        self.response = response


class InvalidURL(Exception):
    """The URL given is not valid; the message says which part is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class CookieConflict(Exception):
    """``Cookies.get()`` matched more than one cookie: pass ``domain=`` or ``path=`` to choose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


# Stream errors: misuse of the API, not failures of the network.


class StreamError(RuntimeError):
    """The base class for stream misuse errors; the message says how to fix the call."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StreamConsumed(StreamError):
    """The body stream was read already and cannot be read again."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Attempted to read or stream content, but the content has already been "
            "streamed. If you need the body more than once, call `.read()` first and then "
            "use `.content`, or iterate the stream just once."
        )


class StreamClosed(StreamError):
    """The response was closed before its body was read."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Attempted to read or stream content, but the stream has been closed. "
            "Read the body before closing the response, or inside the `with client.stream(...)` "
            "block."
        )


class ResponseNotRead(StreamError):
    """``.content`` or ``.text`` was accessed on a streaming response that was not read."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Attempted to access streaming response content without having called `read()`. "
            "Call `response.read()` (or `await response.aread()`) first, or iterate the body "
            "with `iter_bytes()`."
        )


class RequestNotRead(StreamError):
    """``.content`` was accessed on a streaming request that was not read."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Attempted to access streaming request content without having called `read()`. "
            "Call `request.read()` (or `await request.aread()`) first."
        )


@contextlib.contextmanager
def request_context(request: Request | None = None) -> Iterator[None]:
    """Attach ``request`` to any ``RequestError`` raised inside the block that lacks one."""
    try:
        yield
    except RequestError as exc:
        if request is not None and exc._request is None:
            exc._request = request
        raise
