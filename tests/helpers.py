"""Test helpers that must not be rewritten by scripts/unasync.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator


def sync_body() -> Iterator[bytes]:
    yield b"data"  # pragma: no cover - only built to be refused


async def async_body() -> AsyncIterator[bytes]:
    yield b"data"  # pragma: no cover - only built to be refused
