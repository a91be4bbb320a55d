"""heron's HTTP/2 against hypercorn: negotiation, multiplexing, stream limits, large bodies.

Each behaviour is tested with the async client (on asyncio and trio) and the sync client (its
requests in threads), over TLS with ALPN and over plain TCP with prior knowledge (h2c).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

import heron
from tests.backends.conftest import Certificates
from tests.integration.conftest import AsyncTaskGroup, TaskGroup
from tests.integration_h2.conftest import (
    BLOCK,
    HypercornServer,
    client_context,
    expected_digest,
)

TIMEOUT = heron.Timeout(10.0)

_keys = itertools.count()


def gather_url(server: HypercornServer, count: int) -> str:
    """A ``/gather`` URL of its own: its bodies come once ``count`` requests have arrived."""
    return f"{server.url}/gather/{next(_keys)}/{count}"


def async_client(certs: Certificates, **kwargs: object) -> heron.AsyncClient:
    transport = heron.AsyncHTTPTransport(verify=client_context(certs), **kwargs)  # type: ignore[arg-type]
    return heron.AsyncClient(transport=transport, timeout=TIMEOUT)


def sync_client(certs: Certificates, **kwargs: object) -> heron.Client:
    transport = heron.HTTPTransport(verify=client_context(certs), **kwargs)  # type: ignore[arg-type]
    return heron.Client(transport=transport, timeout=TIMEOUT)


def pool_connections(client: heron.AsyncClient | heron.Client) -> list[object]:
    return list(client._transport._pool.connections)  # type: ignore[union-attr]


# Negotiation ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tls_server_offering_h2_gets_http2(
    tls_server: HypercornServer, certs: Certificates
) -> None:
    async with async_client(certs, http2=True) as client:
        response = await client.get(f"{tls_server.url}/text")
    assert response.http_version == "HTTP/2"
    assert response.headers["x-http-version"] == "2"
    assert response.text == "Hello, world!"
    ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
    assert ssl_object.selected_alpn_protocol() == "h2"


def test_sync_client_gets_http2_over_tls(tls_server: HypercornServer, certs: Certificates) -> None:
    with heron.Client(http2=True, verify=client_context(certs), timeout=TIMEOUT) as client:
        response = client.get(f"{tls_server.url}/text")
    assert response.http_version == "HTTP/2"
    assert response.text == "Hello, world!"


@pytest.mark.anyio
async def test_prior_knowledge_speaks_http2_over_plain_tcp(
    h2c_server: HypercornServer, certs: Certificates
) -> None:
    async with async_client(certs, http1=False, http2=True) as client:
        response = await client.get(f"{h2c_server.url}/text")
    assert response.http_version == "HTTP/2"
    assert response.headers["x-http-version"] == "2"


def test_sync_client_with_prior_knowledge_speaks_http2(h2c_server: HypercornServer) -> None:
    with heron.Client(http1=False, http2=True, timeout=TIMEOUT) as client:
        response = client.get(f"{h2c_server.url}/text")
    assert response.http_version == "HTTP/2"


@pytest.mark.anyio
async def test_plain_http_with_http1_allowed_stays_on_http1(
    h2c_server: HypercornServer, certs: Certificates
) -> None:
    async with async_client(certs, http2=True) as client:
        response = await client.get(f"{h2c_server.url}/text")
    assert response.http_version == "HTTP/1.1"


@pytest.mark.anyio
async def test_http11_only_server_is_spoken_to_in_http11(
    http11_server: HypercornServer, certs: Certificates
) -> None:
    # Concurrent requests: the ones that wait for the first connection to learn what the
    # server speaks then open their own.
    url = gather_url(http11_server, 4)
    responses: list[heron.Response] = []

    async def get() -> None:
        responses.append(await client.get(url))

    async with async_client(certs, http2=True) as client:
        async with AsyncTaskGroup() as group:
            for _ in range(4):
                group.start_soon(get)
        assert len(pool_connections(client)) == 4
    assert [response.content for response in responses] == [b"gathered"] * 4
    assert [response.http_version for response in responses] == ["HTTP/1.1"] * 4
    assert {response.headers["x-http-version"] for response in responses} == {"1.1"}


def test_sync_client_falls_back_to_http11(
    http11_server: HypercornServer, certs: Certificates
) -> None:
    with heron.Client(http2=True, verify=client_context(certs), timeout=TIMEOUT) as client:
        response = client.get(f"{http11_server.url}/text")
    assert response.http_version == "HTTP/1.1"


@pytest.mark.anyio
async def test_http2_only_client_refuses_an_http11_only_server(
    http11_server: HypercornServer, certs: Certificates
) -> None:
    async with async_client(certs, http1=False, http2=True) as client:
        with pytest.raises(heron.UnsupportedProtocol, match="does not speak HTTP/2"):
            await client.get(f"{http11_server.url}/text")


# Many requests, one connection -----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["https", "h2c"])
async def test_hundred_concurrent_requests_share_one_connection(
    scheme: str,
    tls_server: HypercornServer,
    h2c_server: HypercornServer,
    certs: Certificates,
) -> None:
    server = tls_server if scheme == "https" else h2c_server
    options = {"http2": True} if scheme == "https" else {"http1": False, "http2": True}
    # Every body is held back by the server until all hundred requests have arrived: they are
    # all in flight at once.
    url = gather_url(server, 100)
    responses: list[heron.Response] = []

    async def get() -> None:
        responses.append(await client.get(url))

    async with async_client(certs, **options) as client:
        async with AsyncTaskGroup() as group:
            for _ in range(100):
                group.start_soon(get)
        assert len(pool_connections(client)) == 1
    assert [response.content for response in responses] == [b"gathered"] * 100
    assert len({id(response.extensions["network_stream"]) for response in responses}) == 1
    assert {response.http_version for response in responses} == {"HTTP/2"}


@pytest.mark.parametrize("scheme", ["https", "h2c"])
def test_hundred_threads_share_one_http2_connection(
    scheme: str, tls_server: HypercornServer, h2c_server: HypercornServer, certs: Certificates
) -> None:
    server = tls_server if scheme == "https" else h2c_server
    options = {"http2": True} if scheme == "https" else {"http1": False, "http2": True}
    url = gather_url(server, 100)
    responses: list[heron.Response] = []
    with sync_client(certs, **options) as client:

        def get() -> None:
            responses.append(client.get(url))

        with TaskGroup(threads=100) as group:
            for _ in range(100):
                group.start_soon(get)
        assert len(pool_connections(client)) == 1
    assert [response.content for response in responses] == [b"gathered"] * 100
    assert len({id(response.extensions["network_stream"]) for response in responses}) == 1


@pytest.mark.anyio
async def test_server_allowing_one_stream_makes_the_pool_open_more_connections(
    one_stream_server: HypercornServer, certs: Certificates
) -> None:
    # The first four bodies come once four requests are in flight at once: on four
    # connections, since each carries one stream. The other four wait for a free one.
    url = gather_url(one_stream_server, 4)
    responses: list[heron.Response] = []

    async def get() -> None:
        responses.append(await client.get(url))

    limits = heron.Limits(max_connections=4)
    async with async_client(certs, http2=True, limits=limits) as client:
        async with AsyncTaskGroup() as group:
            for _ in range(8):
                group.start_soon(get)
        assert len(pool_connections(client)) == 4
        assert "Requests: 0 active, 0 queued" in repr(client._transport._pool)  # type: ignore[attr-defined]
    assert [response.content for response in responses] == [b"gathered"] * 8
    assert {response.http_version for response in responses} == {"HTTP/2"}
    assert len({id(response.extensions["network_stream"]) for response in responses}) == 4


def test_sync_client_opens_more_connections_to_a_one_stream_server(
    one_stream_server: HypercornServer, certs: Certificates
) -> None:
    url = gather_url(one_stream_server, 3)
    responses: list[heron.Response] = []
    with sync_client(certs, http2=True, limits=heron.Limits(max_connections=3)) as client:

        def get() -> None:
            responses.append(client.get(url))

        with TaskGroup(threads=6) as group:
            for _ in range(6):
                group.start_soon(get)
        assert len(pool_connections(client)) == 3
    assert [response.content for response in responses] == [b"gathered"] * 6


# Large bodies --------------------------------------------------------------------------------


async def upload_blocks(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield BLOCK


def upload_blocks_sync(count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield BLOCK


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scheme", "download_mib", "upload_mib"),
    [
        pytest.param("h2c", 32, 16, id="h2c-32MiB-16MiB"),
        pytest.param("https", 256, 128, id="tls-256MiB-128MiB"),
    ],
)
async def test_large_download_and_upload_arrive_whole(
    scheme: str,
    download_mib: int,
    upload_mib: int,
    tls_server: HypercornServer,
    h2c_server: HypercornServer,
    certs: Certificates,
) -> None:
    server = tls_server if scheme == "https" else h2c_server
    options = {"http2": True} if scheme == "https" else {"http1": False, "http2": True}
    size = download_mib << 20
    async with async_client(certs, **options) as client:
        digest = hashlib.sha256()
        received = 0
        async with client.stream("GET", f"{server.url}/bytes/{size}") as response:
            assert response.http_version == "HTTP/2"
            async for chunk in response.aiter_raw():
                digest.update(chunk)
                received += len(chunk)
        assert received == size
        assert digest.hexdigest() == expected_digest(size)

        response = await client.post(f"{server.url}/upload", content=upload_blocks(upload_mib))
        assert response.http_version == "HTTP/2"
        assert response.json() == {
            "length": upload_mib << 20,
            "sha256": expected_digest(upload_mib << 20),
        }


@pytest.mark.parametrize(
    ("download_mib", "upload_mib"),
    [pytest.param(32, 16, id="32MiB-16MiB"), pytest.param(256, 128, id="256MiB-128MiB")],
)
def test_sync_client_large_download_and_upload_arrive_whole(
    download_mib: int, upload_mib: int, tls_server: HypercornServer, certs: Certificates
) -> None:
    size = download_mib << 20
    with sync_client(certs, http2=True) as client:
        digest = hashlib.sha256()
        received = 0
        with client.stream("GET", f"{tls_server.url}/bytes/{size}") as response:
            assert response.http_version == "HTTP/2"
            for chunk in response.iter_raw():
                digest.update(chunk)
                received += len(chunk)
        assert received == size
        assert digest.hexdigest() == expected_digest(size)

        upload = upload_blocks_sync(upload_mib)
        response = client.post(f"{tls_server.url}/upload", content=upload)
        assert response.json() == {
            "length": upload_mib << 20,
            "sha256": expected_digest(upload_mib << 20),
        }
