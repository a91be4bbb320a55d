"""AnyIOStream's translation of errors that real sockets rarely produce."""

from __future__ import annotations

import ssl

import anyio
import anyio.abc
import pytest

from heron import WriteError
from heron._backends.anyio import AnyIOStream

pytestmark = pytest.mark.anyio


class FailingStream(anyio.abc.ByteStream):
    """A byte stream whose sends fail the way a broken TLS layer does."""

    async def receive(self, max_bytes: int = 65536) -> bytes:
        raise NotImplementedError  # pragma: no cover - never called

    async def send(self, item: bytes) -> None:
        raise ssl.SSLError(1, "[SSL: BAD_LENGTH] bad length")

    async def send_eof(self) -> None:
        raise NotImplementedError  # pragma: no cover - never called

    async def aclose(self) -> None:
        raise OSError(9, "Bad file descriptor")


async def test_ssl_errors_while_writing_are_write_errors() -> None:
    stream = AnyIOStream(FailingStream())
    stream.origin = "https://example.org:443"
    with pytest.raises(WriteError) as info:
        await stream.write(b"data", timeout=5)
    assert str(info.value) == (
        "Could not send the request to https://example.org:443: [SSL: BAD_LENGTH] bad length."
    )


async def test_errors_while_closing_are_swallowed() -> None:
    await AnyIOStream(FailingStream()).aclose()
