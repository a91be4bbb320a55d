"""heron's HTTP/2 against scripted h2 servers over real sockets: GOAWAY with requests in
flight, a reset stream among several, a connection dropped mid-response, a 1-byte window.

Every request either succeeds or raises a heron exception, nothing hangs (each client has a
timeout), and the pool serves new requests afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import h2.settings
import pytest
from h2.errors import ErrorCodes

import heron
from tests.backends.conftest import Certificates, LoopbackServer, send_and_close
from tests.integration.conftest import AsyncTaskGroup, TaskGroup
from tests.integration_h2.conftest import (
    FaultConnection,
    Responder,
    client_context,
    h2_server,
)

TIMEOUT = heron.Timeout(10.0)


def h2c_client() -> heron.AsyncClient:
    return heron.AsyncClient(http1=False, http2=True, timeout=TIMEOUT)


def h2c_sync_client() -> heron.Client:
    return heron.Client(http1=False, http2=True, timeout=TIMEOUT)


def url(server: LoopbackServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


# GOAWAY with requests in flight ---------------------------------------------------------------


def goaway_after(count: int) -> Responder:
    """On the first connection: answer the first request's head at once; once ``count``
    requests have arrived, send GOAWAY naming only the first as processed, finish it and
    close. Later connections answer every request."""

    def respond(connection: FaultConnection, stream_id: int) -> None:
        if connection.index > 0:
            connection.respond(stream_id, b"retried")
            return
        first = connection.ended[0]
        if stream_id == first:
            connection.respond(stream_id, b"", end=False)
        if len(connection.ended) == count:
            connection.goaway(last_stream_id=first)
            connection.send_data(first, b"processed")
            connection.finish()

    return respond


@pytest.fixture
def goaway_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(h2_server(goaway_after(3))) as server:
        yield server


@pytest.mark.anyio
async def test_requests_goaway_left_unprocessed_are_retried_on_a_new_connection(
    goaway_server: LoopbackServer,
) -> None:
    bodies: list[bytes] = []

    async def get() -> None:
        bodies.append((await client.get(url(goaway_server))).content)

    async with h2c_client() as client:
        async with AsyncTaskGroup() as group:
            for _ in range(3):
                group.start_soon(get)
        assert sorted(bodies) == [b"processed", b"retried", b"retried"]
        assert goaway_server.connections == 2
        # The pool goes on with the new connection.
        assert (await client.get(url(goaway_server))).content == b"retried"
        assert goaway_server.connections == 2


def test_sync_requests_goaway_left_unprocessed_are_retried(goaway_server: LoopbackServer) -> None:
    bodies: list[bytes] = []
    with h2c_sync_client() as client:

        def get() -> None:
            bodies.append(client.get(url(goaway_server)).content)

        with TaskGroup(threads=3) as group:
            for _ in range(3):
                group.start_soon(get)
        assert sorted(bodies) == [b"processed", b"retried", b"retried"]
        assert client.get(url(goaway_server)).content == b"retried"
    # Usually both retries share one new connection. But a new connection counts one stream
    # until the server's SETTINGS arrive, so a thread that retries in that window (a busy
    # machine) may open a third.
    assert goaway_server.connections in (2, 3)


# A reset stream among several ------------------------------------------------------------------


def reset_second_of(count: int) -> Responder:
    """Answer the first request's head at once; once ``count`` requests have arrived, reset
    the second one's stream (INTERNAL_ERROR) and answer the others. Then answer everything."""

    def respond(connection: FaultConnection, stream_id: int) -> None:
        ended = connection.ended
        if len(ended) > count:
            connection.respond(stream_id, b"later")
        elif stream_id == ended[0]:
            connection.respond(stream_id, b"", end=False)
        if len(ended) == count:
            connection.reset(ended[1], ErrorCodes.INTERNAL_ERROR)
            connection.send_data(ended[0], b"ok")
            for other in ended[2:]:
                connection.respond(other)

    return respond


@pytest.mark.anyio
async def test_reset_stream_fails_only_its_own_request() -> None:
    outcomes: list[object] = []

    async def get() -> None:
        try:
            outcomes.append((await client.get(url(server))).content)
        except heron.RemoteProtocolError as exc:
            outcomes.append(exc)

    with LoopbackServer(h2_server(reset_second_of(3))) as server:
        async with h2c_client() as client:
            async with AsyncTaskGroup() as group:
                for _ in range(3):
                    group.start_soon(get)
            [error] = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
            assert "reset HTTP/2 stream 3 with error code INTERNAL_ERROR (0x2)" in str(error)
            assert sorted(o for o in outcomes if isinstance(o, bytes)) == [b"ok", b"ok"]
            # The connection goes on serving.
            assert (await client.get(url(server))).content == b"later"
        assert server.connections == 1


# A connection dropped mid-response -------------------------------------------------------------


def drop_after(count: int, reset: bool) -> Responder:
    """On the first connection: answer each request's head and part of its body; once
    ``count`` requests have arrived, drop the connection (a TCP RST with ``reset``, else a
    FIN). Later connections answer every request."""

    def respond(connection: FaultConnection, stream_id: int) -> None:
        if connection.index > 0:
            connection.respond(stream_id, b"fresh")
            return
        connection.respond(stream_id, b"partial", end=False)
        if len(connection.ended) == count:
            connection.drop(reset)

    return respond


@pytest.mark.anyio
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_dropped_connection_fails_the_requests_in_flight_and_the_pool_recovers(
    reset: bool,
) -> None:
    errors: list[Exception] = []

    async def get() -> None:
        try:
            await client.get(url(server))
        except (heron.RemoteProtocolError, heron.ReadError) as exc:
            errors.append(exc)

    with LoopbackServer(h2_server(drop_after(2, reset))) as server:
        async with h2c_client() as client:
            async with AsyncTaskGroup() as group:
                for _ in range(2):
                    group.start_soon(get)
            assert len(errors) == 2
            if not reset:
                assert all(isinstance(error, heron.RemoteProtocolError) for error in errors)
                assert "closed the HTTP/2 connection with requests in flight" in str(errors[0])
            assert (await client.get(url(server))).content == b"fresh"
            assert len(client._transport._pool.connections) == 1  # type: ignore[attr-defined]
        assert server.connections == 2


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_sync_dropped_connection_fails_the_requests_in_flight(reset: bool) -> None:
    errors: list[Exception] = []
    with LoopbackServer(h2_server(drop_after(2, reset))) as server:
        with h2c_sync_client() as client:

            def get() -> None:
                try:
                    client.get(url(server))
                except (heron.RemoteProtocolError, heron.ReadError) as exc:
                    errors.append(exc)

            with TaskGroup(threads=2) as group:
                for _ in range(2):
                    group.start_soon(get)
            assert len(errors) == 2
            assert client.get(url(server)).content == b"fresh"
        assert server.connections == 2


# Flow control --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_upload_through_a_one_byte_window() -> None:
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1}
    body = bytes(range(256)) * 4
    with LoopbackServer(h2_server(settings=settings)) as server:
        async with h2c_client() as client:
            response = await client.post(url(server), content=body)
            assert response.content == body
            assert (await client.post(url(server), content=b"again")).content == b"again"
        assert server.connections == 1


# A server that says h2 and speaks HTTP/1.1 -----------------------------------------------------


@pytest.mark.anyio
async def test_server_choosing_h2_but_answering_in_http11_fails_the_request(
    certs: Certificates,
) -> None:
    context = certs.server_context(alpn=("h2", "http/1.1"))
    answer = send_and_close(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    with LoopbackServer(answer, ssl_context=context) as server:
        async with heron.AsyncClient(
            http2=True, verify=client_context(certs), timeout=TIMEOUT
        ) as client:
            # (Closing the socket with our preface unread resets the connection, at times.)
            with pytest.raises((heron.RemoteProtocolError, heron.ReadError), match=r"HTTP/2|read"):
                await client.get(f"https://127.0.0.1:{server.port}/")
