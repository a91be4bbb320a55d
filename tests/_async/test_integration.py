"""Issue #4's acceptance through the public API, against real servers on 127.0.0.1.

uvicorn serves the ordinary cases (keep-alive, streaming both ways, HEAD/204/304, chunked
bodies, redirects, gzip); raw socket servers play the faults (idle connections closed under
the client, short bodies, stalls, a full pool, 200 concurrent requests over 5 connections);
trustme certificates test TLS verification. Runs on asyncio and trio here, and sync in the
generated twin (tests/_sync/test_integration.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import heron
from tests.backends.conftest import (
    Certificates,
    LoopbackServer,
    full_backlog_listener,
    http_responder,
    stall,
)
from tests.integration.conftest import (
    GZIP_TEXT,
    App,
    AsyncTaskGroup,
    AsyncWaiter,
    InFlightCounter,
    UvicornServer,
    answer,
    answer_early,
    close_when_told,
    drop_second_request,
    pattern,
    short_body,
    skip_on_asyncio,
    stall_after_head,
    stall_without_reading,
)

#: How late a timeout may fire, at most (the acceptance bound).
SLACK = 0.5
#: The small limit the timeout tests use.
LIMIT = 0.3


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornServer]:
    with UvicornServer(App()) as running:
        yield running


@pytest.fixture(scope="module")
def certs() -> Certificates:
    return Certificates()


def port_of(response: heron.Response) -> str:
    """The client port the uvicorn app saw for this response's connection."""
    return response.headers["x-client-port"]


def local_url(server: LoopbackServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.port}/"


# Ordinary requests against uvicorn --------------------------------------------------------


@pytest.mark.anyio
async def test_get_over_tcp_returns_the_response(server: UvicornServer) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{server.url}/text")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    assert response.url == f"{server.url}/text"
    assert response.is_closed


@pytest.mark.anyio
async def test_request_head_reaches_the_server(server: UvicornServer) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{server.url}/headers", headers={"X-Test": "yes"})
    described = response.json()
    headers = dict(described["headers"])
    assert described["method"] == "GET"
    assert described["http_version"] == "1.1"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["x-test"] == "yes"
    assert "gzip" in headers["accept-encoding"]
    assert headers["user-agent"].startswith("python-heron/")


@pytest.mark.anyio
async def test_keepalive_requests_reuse_one_connection(server: UvicornServer) -> None:
    async with heron.AsyncClient() as client:
        responses = [await client.get(f"{server.url}/bytes/100") for _ in range(20)]
        stream = responses[-1].extensions["network_stream"]
        local_port = stream.get_extra_info("client_addr")[1]
    assert {port_of(response) for response in responses} == {str(local_port)}
    assert all(response.content == pattern(100) for response in responses)


@pytest.mark.anyio
async def test_transport_used_directly(server: UvicornServer) -> None:
    async with heron.AsyncHTTPTransport() as transport:
        request = heron.Request("GET", f"{server.url}/bytes/1000")
        response = await transport.handle_async_request(request)
        try:
            assert response.status_code == 200
            body = await response.aread()
        finally:
            await response.aclose()
        second = await transport.handle_async_request(heron.Request("GET", f"{server.url}/text"))
        await second.aread()
    assert body == pattern(1000)
    assert second.content == b"Hello, world!"
    assert port_of(second) == port_of(response)
    assert second.extensions["http_version"] == b"HTTP/1.1"
    assert second.extensions["reason_phrase"] == b"OK"


@pytest.mark.anyio
async def test_separate_clients_use_separate_connections(server: UvicornServer) -> None:
    async with heron.AsyncClient() as first, heron.AsyncClient() as second:
        one = await first.get(f"{server.url}/text")
        two = await second.get(f"{server.url}/text")
    assert port_of(one) != port_of(two)


@pytest.mark.anyio
async def test_connection_close_response_makes_the_next_request_use_a_new_connection(
    server: UvicornServer,
) -> None:
    async with heron.AsyncClient() as client:
        closing = await client.get(f"{server.url}/close")
        after = await client.get(f"{server.url}/text")
    assert closing.headers["connection"] == "close"
    assert closing.text == "bye"
    assert after.text == "Hello, world!"
    assert port_of(after) != port_of(closing)


@pytest.mark.anyio
async def test_streamed_download_arrives_in_pieces(server: UvicornServer) -> None:
    size = 4 * 1024 * 1024
    received = bytearray()
    chunks = 0
    async with heron.AsyncClient() as client:
        async with client.stream("GET", f"{server.url}/bytes/{size}") as response:
            assert response.headers["content-length"] == str(size)
            async for chunk in response.aiter_bytes():
                received += chunk
                chunks += 1
            assert response.num_bytes_downloaded == size
        # The connection went back to the pool, reusable.
        again = await client.get(f"{server.url}/text")
    assert received == pattern(size)
    assert chunks > 1
    assert port_of(again) == port_of(response)


@pytest.mark.anyio
async def test_streamed_download_yields_data_before_the_server_finishes(
    server: UvicornServer,
) -> None:
    key = uuid.uuid4().hex
    url = f"{server.url}/gated/{key}"
    async with heron.AsyncClient() as client, client.stream("GET", url) as response:
        chunks = response.aiter_raw()
        # The server sends "second" only once the test has seen "first".
        assert await chunks.__anext__() == b"first"
        server.app.gate(key).set()
        rest = [chunk async for chunk in chunks]
    assert response.headers["transfer-encoding"] == "chunked"
    assert b"".join(rest) == b"second"


@pytest.mark.anyio
async def test_streamed_upload_is_sent_as_it_is_produced(server: UvicornServer) -> None:
    key = uuid.uuid4().hex

    async def body() -> Any:
        yield pattern(1000)
        # Only a client that sends each chunk as it comes lets the server see this one now.
        await AsyncWaiter(server.app.first_chunk(key)).wait()
        yield pattern(2000)

    async with heron.AsyncClient() as client:
        response = await client.post(f"{server.url}/upload/{key}", content=body())
    assert response.json()["length"] == 3000


@pytest.mark.anyio
async def test_large_upload_from_memory(server: UvicornServer) -> None:
    content = pattern(3 * 1024 * 1024 + 17)
    async with heron.AsyncClient() as client:
        response = await client.post(f"{server.url}/upload/{uuid.uuid4().hex}", content=content)
    result = response.json()
    assert result["length"] == len(content)
    assert result["sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.anyio
async def test_streamed_upload_of_many_chunks(server: UvicornServer) -> None:
    async def body() -> Any:
        for _ in range(64):
            yield pattern(64 * 1024)

    async with heron.AsyncClient() as client:
        response = await client.post(f"{server.url}/upload/{uuid.uuid4().hex}", content=body())
        echoed = await client.post(f"{server.url}/echo", content=b"after the stream")
    assert response.json()["length"] == 64 * 64 * 1024
    assert echoed.content == b"after the stream"
    assert port_of(echoed) == port_of(response)


@pytest.mark.anyio
async def test_head_response_has_no_body_and_keeps_the_connection(
    server: UvicornServer,
) -> None:
    async with heron.AsyncClient() as client:
        head = await client.head(f"{server.url}/bytes/1000")
        get = await client.get(f"{server.url}/bytes/10")
    assert head.status_code == 200
    assert head.headers["content-length"] == "1000"
    assert head.content == b""
    assert get.content == pattern(10)
    assert port_of(get) == port_of(head)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_status_keeps_the_connection(server: UvicornServer, status: int) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{server.url}/status/{status}")
        after = await client.get(f"{server.url}/text")
    assert response.status_code == status
    assert response.content == b""
    assert after.text == "Hello, world!"
    assert port_of(after) == port_of(response)


@pytest.mark.anyio
async def test_chunked_response_is_reassembled(server: UvicornServer) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{server.url}/stream/5?size=1000")
        after = await client.get(f"{server.url}/text")
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert response.content == pattern(1000) * 5
    assert port_of(after) == port_of(response)


@pytest.mark.anyio
async def test_redirects_are_followed_over_one_connection(server: UvicornServer) -> None:
    async with heron.AsyncClient(follow_redirects=True) as client:
        response = await client.get(f"{server.url}/redirect/3")
    assert response.text == "arrived"
    assert response.url == f"{server.url}/redirect/0"
    assert [hop.status_code for hop in response.history] == [302, 302, 302]
    assert {port_of(hop) for hop in response.history} == {port_of(response)}


@pytest.mark.anyio
async def test_see_other_redirect_turns_a_post_into_a_get(server: UvicornServer) -> None:
    async with heron.AsyncClient(follow_redirects=True) as client:
        response = await client.post(f"{server.url}/see-other", content=b"data")
    assert response.headers["x-method"] == "GET"
    assert response.content == b""


@pytest.mark.anyio
async def test_temporary_redirect_sends_the_body_again(server: UvicornServer) -> None:
    async with heron.AsyncClient(follow_redirects=True) as client:
        response = await client.post(f"{server.url}/temporary", json={"a": 1})
    assert response.history[0].status_code == 307
    assert response.headers["x-method"] == "POST"
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == {"a": 1}


@pytest.mark.anyio
async def test_gzip_body_is_decoded_end_to_end(server: UvicornServer) -> None:
    async with heron.AsyncClient() as client:
        response = await client.get(f"{server.url}/gzip")
        async with client.stream("GET", f"{server.url}/gzip") as raw:
            compressed = b"".join([chunk async for chunk in raw.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == GZIP_TEXT
    assert len(compressed) == int(raw.headers["content-length"]) < len(GZIP_TEXT)


@pytest.mark.anyio
async def test_gzip_stream_is_decoded_as_it_arrives(server: UvicornServer) -> None:
    key = uuid.uuid4().hex
    url = f"{server.url}/gzip-stream/{key}"
    async with heron.AsyncClient() as client, client.stream("GET", url) as response:
        pieces = response.aiter_text()
        # The server sends the second half only once the first has been decoded here.
        first = await pieces.__anext__()
        server.app.gate(key).set()
        rest = [piece async for piece in pieces]
    assert response.headers["transfer-encoding"] == "chunked"
    assert first == GZIP_TEXT[: len(GZIP_TEXT) // 2]
    assert first + "".join(rest) == GZIP_TEXT


# Faults: raw socket servers ---------------------------------------------------------------


@pytest.mark.anyio
async def test_idle_connection_closed_by_the_server_is_replaced() -> None:
    close = threading.Event()
    with LoopbackServer(close_when_told(close)) as server:
        async with heron.AsyncClient() as client:
            first = await client.get(local_url(server))
            close.set()
            assert server.connection_closed.wait(10)
            second = await client.get(local_url(server))
    assert first.text == second.text == "ok"
    assert server.connections == 2


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_request_on_a_kept_alive_connection_closed_under_it_is_retried_once(
    method: str,
) -> None:
    requests: list[bytes] = []
    with LoopbackServer(drop_second_request(requests)) as server:
        async with heron.AsyncClient() as client:
            first = await client.request(method, local_url(server), content=b"payload")
            # The server reads this one on the kept-alive connection and closes it unanswered.
            second = await client.request(method, local_url(server), content=b"payload")
    assert first.text == second.text == "ok"
    assert server.connections == 2
    assert len(requests) == 3  # the second request arrived twice


@pytest.mark.anyio
async def test_streamed_body_is_not_resent_when_the_kept_alive_connection_was_closed() -> None:
    requests: list[bytes] = []

    async def body() -> Any:
        yield b"streamed"

    with LoopbackServer(drop_second_request(requests)) as server:
        async with heron.AsyncClient() as client:
            await client.get(local_url(server))
            with pytest.raises(heron.RemoteProtocolError, match="can't be sent again"):
                await client.post(local_url(server), content=body())
            # The pool recovers: the next request gets a new connection.
            assert (await client.get(local_url(server))).text == "ok"


@pytest.mark.anyio
async def test_body_shorter_than_its_content_length_raises() -> None:
    with LoopbackServer(short_body(1000, b"only ten b")) as server:
        async with heron.AsyncClient() as client:
            with pytest.raises(heron.RemoteProtocolError) as caught:
                await client.get(local_url(server))
            async with client.stream("GET", local_url(server)) as response:
                chunks = response.aiter_bytes()
                received = await chunks.__anext__()
                with pytest.raises(heron.RemoteProtocolError):
                    await chunks.__anext__()
    assert received == b"only ten b"
    message = str(caught.value)
    assert f"http://127.0.0.1:{server.port}" in message
    assert "received 10 bytes, expected 1000" in message


@pytest.mark.anyio
async def test_body_delimited_by_closing_the_connection() -> None:
    with LoopbackServer(answer(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")) as server:
        async with heron.AsyncClient() as client:
            first = await client.get(local_url(server))
            second = await client.get(local_url(server))
    assert first.content == second.content == b"until the end"
    assert server.connections == 2


@pytest.mark.anyio
async def test_http10_response_without_keepalive_is_not_reused() -> None:
    response_bytes = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with LoopbackServer(answer(response_bytes, close=False)) as server:
        async with heron.AsyncClient() as client:
            first = await client.get(local_url(server))
            second = await client.get(local_url(server))
    assert first.http_version == "HTTP/1.0"
    assert first.text == second.text == "ok"
    assert server.connections == 2


EARLY_413 = (
    b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo much"
)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_response_sent_before_the_upload_is_read_is_returned(
    scheme: str, certs: Certificates
) -> None:
    drained = threading.Event()
    content = bytes(16 * 1024 * 1024)
    context = certs.server_context() if scheme == "https" else None
    with LoopbackServer(answer_early(EARLY_413, drained), ssl_context=context) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            url = local_url(server, scheme)
            async with client.stream("POST", url, content=content) as response:
                # The server answered, half-closed, then read the whole upload: by now the
                # client has sent all of it and seen the server's end of the connection.
                await AsyncWaiter(drained).wait()
                await response.aread()
    assert response.status_code == 413
    assert response.content == b"too much"


@pytest.mark.anyio
async def test_response_sent_before_a_reset_is_returned(request: pytest.FixtureRequest) -> None:
    # Plain TCP only: over TLS, whether the response survives the reset is a race.
    skip_on_asyncio(
        request,
        "a race on asyncio: when the failed write is noticed before the response is read, "
        "the asyncio transport stops reading and the response is lost (httpx's too)",
    )
    content = bytes(16 * 1024 * 1024)
    with LoopbackServer(answer_early(EARLY_413, None)) as server:
        async with heron.AsyncClient() as client:
            response = await client.post(local_url(server), content=content)
    assert response.status_code == 413
    assert response.content == b"too much"


@pytest.mark.anyio
async def test_interim_responses_are_skipped() -> None:
    response_bytes = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
    )
    with LoopbackServer(answer(response_bytes, close=False)) as server:
        async with heron.AsyncClient() as client:
            first = await client.post(local_url(server), content=b"data")
            second = await client.post(local_url(server), content=b"data")
    assert first.status_code == second.status_code == 201
    assert first.content == b"done"
    assert "link" not in first.headers
    assert server.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", id="body"),
        pytest.param(b"", id="head"),
    ],
)
async def test_stalled_server_gives_read_timeout_on_time(head: bytes) -> None:
    with LoopbackServer(stall_after_head(head)) as server:
        async with heron.AsyncClient(timeout=heron.Timeout(5.0, read=LIMIT)) as client:
            started = time.perf_counter()
            with pytest.raises(heron.ReadTimeout) as caught:
                await client.get(local_url(server))
            elapsed = time.perf_counter() - started
    assert LIMIT - 0.05 <= elapsed <= LIMIT + SLACK, elapsed
    message = str(caught.value)
    assert f"{LIMIT} s" in message
    assert f"http://127.0.0.1:{server.port}" in message
    assert "read timeout" in message


@pytest.mark.anyio
async def test_server_that_never_reads_the_upload_gives_write_timeout() -> None:
    content = bytes(16 * 1024 * 1024)  # more than the socket buffers on both sides hold
    with LoopbackServer(stall_without_reading) as server:
        async with heron.AsyncClient(timeout=heron.Timeout(5.0, write=LIMIT)) as client:
            started = time.perf_counter()
            with pytest.raises(heron.WriteTimeout) as caught:
                await client.post(local_url(server), content=content)
            elapsed = time.perf_counter() - started
    assert LIMIT - 0.05 <= elapsed <= LIMIT + SLACK, elapsed
    message = str(caught.value)
    assert f"{LIMIT} s" in message
    assert f"http://127.0.0.1:{server.port}" in message
    assert "write timeout" in message


@pytest.mark.anyio
async def test_exhausted_pool_gives_pool_timeout() -> None:
    limits = heron.Limits(max_connections=1)
    with LoopbackServer(http_responder()) as server:
        async with heron.AsyncClient(limits=limits) as client:
            async with client.stream("GET", local_url(server)) as held:
                started = time.perf_counter()
                with pytest.raises(heron.PoolTimeout) as caught:
                    await client.get(local_url(server), timeout=heron.Timeout(5.0, pool=LIMIT))
                elapsed = time.perf_counter() - started
                await held.aread()
            # Released: the pool serves again, on the same connection.
            after = await client.get(local_url(server))
    assert LIMIT - 0.05 <= elapsed <= LIMIT + SLACK, elapsed
    assert after.status_code == 200
    assert server.connections == 1
    message = str(caught.value)
    assert f"{LIMIT} s" in message
    assert f"http://127.0.0.1:{server.port}" in message
    assert "pool timeout" in message
    assert "max_connections=1" in message


@pytest.mark.anyio
async def test_200_concurrent_requests_never_use_more_than_5_connections() -> None:
    counter = InFlightCounter(limit=5, total=200)
    limits = heron.Limits(max_connections=5)
    statuses: list[int] = []
    with LoopbackServer(counter) as server:
        async with heron.AsyncClient(limits=limits, timeout=heron.Timeout(10.0)) as client:

            async def fetch() -> None:
                response = await client.get(local_url(server))
                statuses.append(response.status_code)

            async with AsyncTaskGroup() as group:
                for _ in range(200):
                    group.start_soon(fetch)
    assert statuses == [200] * 200
    assert counter.max_in_flight == 5
    assert not counter.stalled
    assert server.max_active <= 5
    assert server.connections == 5


# TLS ---------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("untrusted", "is not trusted"),
        ("expired", "has expired"),
        ("wrong_host", "does not match the host name"),
    ],
)
async def test_verification_refuses_a_bad_certificate_with_the_reason(
    certs: Certificates, kind: str, reason: str
) -> None:
    context = certs.server_context(getattr(certs, kind))
    with LoopbackServer(http_responder(), ssl_context=context) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            with pytest.raises(heron.ConnectError) as caught:
                await client.get(local_url(server, "https"))
    message = str(caught.value)
    assert reason in message
    assert f"https://127.0.0.1:{server.port}" in message


@pytest.mark.anyio
async def test_certificate_for_other_names_is_refused_when_checking_the_sni_name(
    certs: Certificates,
) -> None:
    with LoopbackServer(http_responder(), ssl_context=certs.server_context()) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            with pytest.raises(heron.ConnectError) as caught:
                await client.get(
                    local_url(server, "https"), extensions={"sni_hostname": "wrong.example"}
                )
    assert "does not match the host name" in str(caught.value)
    assert "wrong.example" in str(caught.value)


@pytest.mark.anyio
async def test_default_verification_does_not_trust_a_private_ca(certs: Certificates) -> None:
    with LoopbackServer(http_responder(), ssl_context=certs.server_context()) as server:
        async with heron.AsyncClient() as client:
            with pytest.raises(heron.ConnectError, match="is not trusted"):
                await client.get(local_url(server, "https"))


@pytest.mark.anyio
async def test_verify_with_the_test_ca_context_succeeds(certs: Certificates) -> None:
    with LoopbackServer(http_responder(b"secure"), ssl_context=certs.server_context()) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            first = await client.get(local_url(server, "https"))
            second = await client.get(local_url(server, "https"))
            ssl_object = second.extensions["network_stream"].get_extra_info("ssl_object")
            assert ssl_object.selected_alpn_protocol() == "http/1.1"
            assert ssl_object.version().startswith("TLS")
    assert first.text == second.text == "secure"
    assert server.connections == 1


@pytest.mark.anyio
async def test_verify_false_accepts_an_untrusted_certificate(certs: Certificates) -> None:
    context = certs.server_context(certs.untrusted)
    with LoopbackServer(http_responder(b"anyway"), ssl_context=context) as server:
        async with heron.AsyncClient(verify=False) as client:
            response = await client.get(local_url(server, "https"))
    assert response.text == "anyway"


@pytest.mark.anyio
async def test_sni_hostname_extension_sets_the_name_sent_and_checked(
    certs: Certificates,
) -> None:
    names: list[str | None] = []
    context = certs.server_context(certs.wrong_host)
    context.sni_callback = lambda ssl_object, name, ctx: names.append(name)
    with LoopbackServer(http_responder(b"named"), ssl_context=context) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            response = await client.get(
                local_url(server, "https"), extensions={"sni_hostname": "other.example"}
            )
    assert response.text == "named"
    assert names == ["other.example"]


# Timeout messages --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_connect_timeout_names_the_address_and_the_limit() -> None:
    with full_backlog_listener() as (host, port):
        async with heron.AsyncClient(timeout=heron.Timeout(5.0, connect=LIMIT)) as client:
            started = time.perf_counter()
            with pytest.raises(heron.ConnectTimeout) as caught:
                await client.get(f"http://{host}:{port}/")
            elapsed = time.perf_counter() - started
    assert LIMIT - 0.05 <= elapsed <= LIMIT + SLACK, elapsed
    message = str(caught.value)
    assert f"{LIMIT} s" in message
    assert f"127.0.0.1:{port}" in message
    assert "connect timeout" in message


@pytest.mark.anyio
async def test_tls_handshake_timeout_names_the_origin_and_the_limit() -> None:
    with LoopbackServer(stall) as server:
        async with heron.AsyncClient(timeout=heron.Timeout(5.0, connect=LIMIT)) as client:
            started = time.perf_counter()
            with pytest.raises(heron.ConnectTimeout) as caught:
                await client.get(local_url(server, "https"))
            elapsed = time.perf_counter() - started
    assert LIMIT - 0.05 <= elapsed <= LIMIT + SLACK, elapsed
    message = str(caught.value)
    assert f"{LIMIT} s" in message
    assert f"https://127.0.0.1:{server.port}" in message
    assert "TLS handshake" in message
    assert "connect timeout" in message


# The trace extension and logging -----------------------------------------------------------

HTTP11_EVENTS = [
    "http11.send_request_headers.started",
    "http11.send_request_headers.complete",
    "http11.send_request_body.started",
    "http11.send_request_body.complete",
    "http11.receive_response_headers.started",
    "http11.receive_response_headers.complete",
    "http11.receive_response_body.started",
    "http11.receive_response_body.complete",
    "http11.response_closed.started",
    "http11.response_closed.complete",
]


@pytest.mark.anyio
async def test_trace_extension_reports_each_step(server: UvicornServer) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append((name, info))

    async with heron.AsyncClient() as client:
        await client.get(f"{server.url}/text", extensions={"trace": trace})
        first = [name for name, _ in events]
        events.clear()
        await client.get(f"{server.url}/text", extensions={"trace": trace})
        second = [name for name, _ in events]
    assert first == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        *HTTP11_EVENTS,
    ]
    assert second == HTTP11_EVENTS  # reused: no new connection
    info = dict(events)["http11.receive_response_headers.complete"]
    http_version, status, reason, headers = info["return_value"]
    assert (http_version, status, reason) == (b"HTTP/1.1", 200, b"OK")
    assert (b"content-length", b"13") in headers


@pytest.mark.anyio
async def test_trace_extension_reports_the_tls_handshake(certs: Certificates) -> None:
    names: list[str] = []
    with LoopbackServer(http_responder(), ssl_context=certs.server_context()) as server:
        async with heron.AsyncClient(verify=certs.client_context()) as client:
            await client.get(
                local_url(server, "https"),
                extensions={"trace": lambda name, info: names.append(name)},
            )
    assert names[:4] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "connection.start_tls.started",
        "connection.start_tls.complete",
    ]
    assert names[4:] == HTTP11_EVENTS


@pytest.mark.anyio
async def test_one_info_log_line_per_request(
    server: UvicornServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heron")
    async with heron.AsyncClient(follow_redirects=True) as client:
        await client.get(f"{server.url}/redirect/1")
        await client.get(f"http://user:secret@127.0.0.1:{server.port}/status/204")
    records = [record for record in caplog.records if record.name.startswith("heron")]
    lines = [record.getMessage() for record in records if record.name == "heron"]
    assert lines == [
        f'HTTP Request: GET {server.url}/redirect/1 "HTTP/1.1 302 Found"',
        f'HTTP Request: GET {server.url}/redirect/0 "HTTP/1.1 200 OK"',
        f'HTTP Request: GET {server.url}/status/204 "HTTP/1.1 204 No Content"',
    ]
    assert all(record.levelno == logging.INFO for record in records)  # nothing louder
    assert "secret" not in "".join(lines)


@pytest.mark.anyio
async def test_debug_log_reports_connection_events(
    server: UvicornServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="heron")
    async with heron.AsyncClient() as client:
        await client.get(f"{server.url}/text")
    debug = [
        (record.name, record.getMessage())
        for record in caplog.records
        if record.levelno == logging.DEBUG
    ]
    names = [name for name, _ in debug]
    assert "heron.connection" in names
    assert "heron.http11" in names
    connect = [message for name, message in debug if name == "heron.connection"]
    assert connect[0].startswith(
        f"connection.connect_tcp.started host='127.0.0.1' port={server.port}"
    )
    assert any(message.startswith("http11.response_closed.complete") for _, message in debug)
