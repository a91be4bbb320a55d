"""The transport interface: one request in, one response out, sync and async.

Everything below ``handle_request`` (a socket pool, an in-process app, a mock) is replaceable;
the client never knows where a response came from. Subclass these to write your own transport.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from .._models import Request, Response

__all__ = ["AsyncBaseTransport", "BaseTransport"]


class BaseTransport:
    """The base class for sync transports: implement ``handle_request`` (and ``close``).

    ``handle_request`` sends one request and returns a ``Response`` whose body is a
    ``SyncByteStream``; the client reads or streams it, then closes the response::

        class HelloTransport(heron.BaseTransport):
            def handle_request(self, request):
                return heron.Response(200, text="hello")
    """

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` and return its response; the body may still be streaming."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement 'handle_request(request) -> Response'."
        )

    def close(self) -> None:
        """Release what the transport holds (connections, threads); the default does nothing."""


class AsyncBaseTransport:
    """The base class for async transports: implement ``handle_async_request`` (and ``aclose``).

    ``handle_async_request`` sends one request and returns a ``Response`` whose body is an
    ``AsyncByteStream``::

        class HelloTransport(heron.AsyncBaseTransport):
            async def handle_async_request(self, request):
                return heron.Response(200, text="hello")
    """

    __slots__ = ()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` and return its response; the body may still be streaming."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement "
            "'async handle_async_request(request) -> Response'."
        )

    async def aclose(self) -> None:
        """Release what the transport holds; the default does nothing."""
