"""``MockTransport``: answer requests with a function, for tests and examples.

One class serves both clients. The request body is read before the handler runs, so the
handler can always use ``request.content``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from .._models import Request, Response
from .base import AsyncBaseTransport, BaseTransport

__all__ = ["MockTransport"]

Handler: TypeAlias = Callable[[Request], Response | Awaitable[Response]]


class MockTransport(AsyncBaseTransport, BaseTransport):
    """A transport that calls ``handler(request)`` and returns the response it gives back.

    The handler may be a plain function (usable from ``Client`` and ``AsyncClient``) or a
    coroutine function (``AsyncClient`` only)::

        def handler(request):
            return heron.Response(200, json={"path": request.url.path})

        client = heron.Client(transport=heron.MockTransport(handler))
    """

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def handle_request(self, request: Request) -> Response:
        request.read()
        response = self.handler(request)
        if inspect.isawaitable(response):
            if inspect.iscoroutine(response):
                response.close()  # never awaited on purpose: silence the RuntimeWarning
            raise RuntimeError(
                f"MockTransport's handler {self.handler!r} is async, so it can only serve an "
                "AsyncClient. Use a plain 'def' handler with a sync Client."
            )
        return _checked(response, self.handler)

    async def handle_async_request(self, request: Request) -> Response:
        await request.aread()
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        return _checked(response, self.handler)

    def __repr__(self) -> str:
        return f"<MockTransport handler={self.handler!r}>"


def _checked(response: object, handler: Handler) -> Response:
    if not isinstance(response, Response):
        raise TypeError(
            f"MockTransport's handler {handler!r} returned {type(response).__name__}; "
            "it must return a heron.Response."
        )
    return response
