"""AsyncHTTPTransport: configuration, refusals, and real requests to loopback servers."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import heron
from tests.backends.conftest import Certificates, LoopbackServer, http_responder, send_and_close
from tests.pool_helpers import AsyncConnectionPool

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!"


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    return Certificates()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(http_responder()) as running:
        yield running


def url(server: LoopbackServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.port}/"


# Configuration ---------------------------------------------------------------------------


def test_transport_needs_an_http_version() -> None:
    with pytest.raises(ValueError, match="http1=False and http2=False"):
        heron.AsyncHTTPTransport(http1=False, http2=False)


@pytest.mark.parametrize("retries", [-1, 1.5, True, "2"])
def test_transport_refuses_bad_retries(retries: Any) -> None:
    with pytest.raises(ValueError, match="retries must be an int >= 0"):
        heron.AsyncHTTPTransport(retries=retries)


def test_transport_builds_its_pool_from_limits() -> None:
    limits = heron.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=2.0)
    transport = heron.AsyncHTTPTransport(limits=limits, retries=2)
    pool = transport._pool
    assert isinstance(pool, AsyncConnectionPool)
    assert pool._max_connections == 7
    assert pool._state._max_idle == 3
    assert pool._state._expiry == 2.0
    assert pool._retries == 2


def test_default_transport_uses_the_shared_tls_context() -> None:
    one = heron.AsyncHTTPTransport()
    two = heron.AsyncHTTPTransport()
    assert one._pool._ssl_context is two._pool._ssl_context


def test_own_ssl_context_gets_the_alpn_protocols(certificates: Certificates) -> None:
    context = certificates.client_context(alpn=())
    transport = heron.AsyncHTTPTransport(verify=context)
    assert transport._pool._ssl_context is context


@pytest.mark.anyio
@pytest.mark.parametrize("proxy", ["http://proxy.example:3128", heron.Proxy("socks5://p:1080")])
async def test_proxies_are_refused_with_a_clear_error(proxy: Any) -> None:
    async with heron.AsyncHTTPTransport(proxy=proxy) as transport:
        with pytest.raises(heron.ProxyError, match="does not support HTTP or SOCKS proxies"):
            await transport.handle_async_request(heron.Request("GET", "http://example.org/"))


@pytest.mark.anyio
async def test_unsupported_scheme_is_refused() -> None:
    async with heron.AsyncHTTPTransport() as transport:
        with pytest.raises(heron.UnsupportedProtocol, match="'ftp://'"):
            await transport.handle_async_request(heron.Request("GET", "ftp://example.org/"))


# Real requests over loopback ---------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_reuse_one_keepalive_connection(server: LoopbackServer) -> None:
    async with heron.AsyncClient() as client:
        for _ in range(3):
            response = await client.get(url(server))
            assert response.status_code == 200
            assert response.text == "Hello, world!"
            assert response.http_version == "HTTP/1.1"
    assert server.connections == 1


@pytest.mark.anyio
async def test_network_stream_extension_exposes_the_connection(server: LoopbackServer) -> None:
    async with heron.AsyncClient() as client, client.stream("GET", url(server)) as response:
        stream = response.extensions["network_stream"]
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
        await response.aread()


@pytest.mark.anyio
async def test_local_address_and_socket_options(server: LoopbackServer) -> None:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    transport = heron.AsyncHTTPTransport(local_address="127.0.0.1", socket_options=options)
    async with (
        heron.AsyncClient(transport=transport) as client,
        client.stream("GET", url(server)) as response,
    ):
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockname()[0] == "127.0.0.1"


@pytest.mark.anyio
@pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")
async def test_requests_over_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "heron.sock")
    with LoopbackServer(http_responder(b"over uds"), unix_path=path):
        transport = heron.AsyncHTTPTransport(uds=path)
        async with heron.AsyncClient(transport=transport) as client:
            response = await client.get("http://localhost/")
    assert response.text == "over uds"


@pytest.mark.anyio
async def test_idle_connection_closed_by_the_server_is_replaced() -> None:
    # The server answers one request per connection and then closes it, without saying so.
    with LoopbackServer(send_and_close(RESPONSE)) as server:
        async with heron.AsyncClient() as client:
            assert (await client.get(url(server))).status_code == 200
            assert server.connection_closed.wait(5)
            assert (await client.get(url(server))).status_code == 200
    assert server.connections == 2


@pytest.mark.anyio
async def test_exhausted_pool_times_out(server: LoopbackServer) -> None:
    transport = heron.AsyncHTTPTransport(limits=heron.Limits(max_connections=1))
    async with heron.AsyncClient(transport=transport) as client:
        async with client.stream("GET", url(server)):
            with pytest.raises(heron.PoolTimeout, match=r"max_connections=1"):
                await client.get(url(server), timeout=heron.Timeout(5.0, pool=0.05))
        # Released: the next request gets the connection.
        assert (await client.get(url(server), timeout=0.5)).status_code == 200


@pytest.mark.anyio
async def test_connect_failures_are_retried(server: LoopbackServer) -> None:
    # Nothing listens on the port of a socket that was bound and closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events: list[str] = []
    transport = heron.AsyncHTTPTransport(retries=1)
    transport._pool._backend.sleep = _no_sleep  # type: ignore[method-assign]
    async with heron.AsyncClient(transport=transport) as client:
        with pytest.raises(heron.ConnectError, match="Connection refused"):
            await client.get(
                f"http://127.0.0.1:{port}/",
                extensions={"trace": lambda name, info: events.append(name)},
            )
    assert events.count("connection.connect_tcp.failed") == 2


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.anyio
async def test_trace_and_debug_logs_report_connection_events(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="heron")
    events: list[str] = []
    async with heron.AsyncClient() as client:
        await client.get(url(server), extensions={"trace": lambda name, info: events.append(name)})
    assert events[:2] == ["connection.connect_tcp.started", "connection.connect_tcp.complete"]
    logged = [
        record.getMessage() for record in caplog.records if record.name == "heron.connection"
    ]
    assert logged[0].startswith("connection.connect_tcp.started host='127.0.0.1'")


# TLS -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_https_with_the_test_ca(certificates: Certificates) -> None:
    context = certificates.server_context()
    with LoopbackServer(http_responder(b"secure"), ssl_context=context) as server:
        transport = heron.AsyncHTTPTransport(verify=certificates.client_context(alpn=()))
        async with heron.AsyncClient(transport=transport) as client:
            response = await client.get(url(server, "https"))
            assert response.text == "secure"
            ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
            assert ssl_object.selected_alpn_protocol() == "http/1.1"


@pytest.mark.anyio
async def test_sni_hostname_extension_names_the_certificate_to_check(
    certificates: Certificates,
) -> None:
    context = certificates.server_context(certificates.wrong_host)
    with LoopbackServer(http_responder(), ssl_context=context) as server:
        transport = heron.AsyncHTTPTransport(verify=certificates.client_context())
        async with heron.AsyncClient(transport=transport) as client:
            with pytest.raises(heron.ConnectError, match="does not match the host name"):
                await client.get(url(server, "https"))
            response = await client.get(
                url(server, "https"), extensions={"sni_hostname": "other.example"}
            )
            assert response.status_code == 200


@pytest.mark.anyio
async def test_untrusted_certificate_is_refused(certificates: Certificates) -> None:
    context = certificates.server_context(certificates.untrusted)
    with LoopbackServer(http_responder(), ssl_context=context) as server:
        transport = heron.AsyncHTTPTransport(verify=certificates.client_context())
        async with heron.AsyncClient(transport=transport) as client:
            with pytest.raises(heron.ConnectError, match="not trusted"):
                await client.get(url(server, "https"))
            assert transport._pool.connections == []


@pytest.mark.anyio
async def test_http1_offered_alone_unless_http2_is_enabled(certificates: Certificates) -> None:
    context = certificates.server_context(alpn=("h2", "http/1.1"))
    with LoopbackServer(http_responder(), ssl_context=context) as server:
        verify = ssl.create_default_context()
        certificates.ca.configure_trust(verify)
        async with heron.AsyncClient(verify=verify) as client:
            response = await client.get(url(server, "https"))
            ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
            assert ssl_object.selected_alpn_protocol() == "http/1.1"
