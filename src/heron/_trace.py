"""The ``trace`` request extension and the DEBUG network log, from one context manager.

``async with Trace("connect_tcp", logger, request, {"host": ...}) as trace:`` emits
``<prefix>.connect_tcp.started`` before the block, then ``.complete`` (with
``trace.return_value``) or ``.failed`` (with the exception) after it: to the user's
``request.extensions["trace"]`` callback, if any, and to ``logger`` at DEBUG. The prefix is the
logger's last name part (``heron.connection`` gives ``connection.connect_tcp.started``).
"""

from __future__ import annotations

import inspect
import logging
from types import TracebackType
from typing import Any

from ._models import Request

__all__ = ["Trace"]


class Trace:
    """Report the start and end of one network step; usable with ``with`` and ``async with``."""

    __slots__ = ("_debug", "_trace", "kwargs", "logger", "name", "return_value")

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        request: Request | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        prefix = logger.name.rpartition(".")[2]
        self.name = f"{prefix}.{name}"
        self.logger = logger
        self._trace = None if request is None else request.extensions.get("trace")
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self.kwargs = kwargs or {}
        self.return_value: Any = None

    def _log(self, name: str, info: dict[str, Any]) -> None:
        if self._debug:
            args = " ".join(f"{key}={value!r}" for key, value in info.items())
            self.logger.debug(f"{name} {args}".rstrip())

    def _outcome(self, exc_value: BaseException | None) -> tuple[str, dict[str, Any]]:
        if exc_value is None:
            return f"{self.name}.complete", {"return_value": self.return_value}
        return f"{self.name}.failed", {"exception": exc_value}

    def __enter__(self) -> Trace:
        if self._trace is not None or self._debug:
            self._log(f"{self.name}.started", self.kwargs)
            if self._trace is not None:
                self._trace(f"{self.name}.started", self.kwargs)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self._trace is not None or self._debug:
            name, info = self._outcome(exc_value)
            self._log(name, info)
            if self._trace is not None:
                self._trace(name, info)

    async def __aenter__(self) -> Trace:
        if self._trace is not None or self._debug:
            self._log(f"{self.name}.started", self.kwargs)
            if self._trace is not None:
                result = self._trace(f"{self.name}.started", self.kwargs)
                if inspect.isawaitable(result):
                    await result
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self._trace is not None or self._debug:
            name, info = self._outcome(exc_value)
            self._log(name, info)
            if self._trace is not None:
                result = self._trace(name, info)
                if inspect.isawaitable(result):
                    await result
