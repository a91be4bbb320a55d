"""The byte-stream interfaces that request and response bodies are made of.

A body is never a buffer at this layer: it is an iterable of ``bytes`` chunks (sync or async)
with a ``close``. ``ByteStream`` is the in-memory case and speaks both protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

__all__ = ["AsyncByteStream", "ByteStream", "SyncByteStream"]


class SyncByteStream:
    """A body that can be iterated synchronously; subclass it and implement ``__iter__``."""

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement '__iter__' to yield the body's bytes."
        )
        yield b""  # pragma: no cover - makes this a generator for type checkers

    def close(self) -> None:
        """Release whatever the stream holds (a connection, a file); the default does nothing."""


class AsyncByteStream:
    """A body that can be iterated asynchronously; subclass it and implement ``__aiter__``."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement '__aiter__' to yield the body's bytes."
        )
        yield b""  # pragma: no cover - makes this a generator for type checkers

    async def aclose(self) -> None:
        """Release whatever the stream holds; the default does nothing."""


class ByteStream(SyncByteStream, AsyncByteStream):
    """An in-memory body, usable by both sync and async code."""

    __slots__ = ("_stream",)

    def __init__(self, stream: bytes) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield self._stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._stream

    def __repr__(self) -> str:
        return f"<ByteStream [{len(self._stream)} bytes]>"
