"""The byte-stream and network-stream base classes: what a subclass must provide."""

from __future__ import annotations

import pytest

import heron
from heron._backends.base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    NetworkBackend,
    NetworkStream,
)


def test_byte_stream_repr_shows_its_size() -> None:
    assert repr(heron.ByteStream(b"abc")) == "<ByteStream [3 bytes]>"


def test_sync_byte_stream_subclass_must_implement_iter() -> None:
    class Incomplete(heron.SyncByteStream):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete must implement '__iter__'"):
        list(Incomplete())
    Incomplete().close()


@pytest.mark.anyio
async def test_async_byte_stream_subclass_must_implement_aiter() -> None:
    class Incomplete(heron.AsyncByteStream):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete must implement '__aiter__'"):
        [chunk async for chunk in Incomplete()]
    await Incomplete().aclose()


def test_network_stream_base_reports_no_extra_info() -> None:
    assert NetworkStream().get_extra_info("ssl_object") is None
    assert AsyncNetworkStream().get_extra_info("ssl_object") is None


def test_network_base_classes_are_abstract() -> None:
    stream, backend = NetworkStream(), NetworkBackend()
    calls = [
        lambda: stream.read(1),
        lambda: stream.write(b""),
        stream.close,
        lambda: stream.start_tls(None),  # type: ignore[arg-type]
        lambda: backend.connect_tcp("127.0.0.1", 1),
        lambda: backend.connect_unix_socket("/nonexistent"),
        lambda: backend.sleep(0),
    ]
    for call in calls:
        with pytest.raises(NotImplementedError):
            call()


@pytest.mark.anyio
async def test_async_network_base_classes_are_abstract() -> None:
    stream, backend = AsyncNetworkStream(), AsyncNetworkBackend()
    calls = [
        lambda: stream.read(1),
        lambda: stream.write(b""),
        stream.aclose,
        lambda: stream.start_tls(None),  # type: ignore[arg-type]
        lambda: backend.connect_tcp("127.0.0.1", 1),
        lambda: backend.connect_unix_socket("/nonexistent"),
        lambda: backend.sleep(0),
    ]
    for call in calls:
        with pytest.raises(NotImplementedError):
            await call()
