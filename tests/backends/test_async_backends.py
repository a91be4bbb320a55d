"""AsyncioBackend and AnyIOBackend against real servers on 127.0.0.1, on asyncio and trio.

Each test runs with the native asyncio backend (on asyncio) and with the anyio backend (on
asyncio and on trio): they must behave the same.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from heron import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from heron._backends.anyio import AnyIOBackend
from heron._backends.asyncio import AsyncioBackend
from heron._backends.base import AsyncNetworkBackend, AsyncNetworkStream

from .conftest import (
    HOST,
    Certificates,
    LoopbackServer,
    echo,
    full_backlog_listener,
    open_fd_count,
    read_until_eof,
    reset,
    send_and_close,
    send_and_hold,
    tls_in_tls_echo,
)

pytestmark = pytest.mark.anyio

BIG = b"x" * (64 * 1024 * 1024)  # more than loopback socket buffers hold


@pytest.fixture(
    params=[("asyncio", "native"), ("asyncio", "anyio"), ("trio", "anyio")],
    ids=["asyncio-native", "asyncio-anyio", "trio-anyio"],
)
def combination(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def anyio_backend(combination: tuple[str, str]) -> str:
    """The event loop for this module's tests comes with the backend under test."""
    return combination[0]


@pytest.fixture
def backend(combination: tuple[str, str]) -> AsyncNetworkBackend:
    return AsyncioBackend() if combination[1] == "native" else AnyIOBackend()


async def wait_for(event: threading.Event) -> None:
    """Wait for a server thread's event without blocking the event loop."""
    assert await anyio.to_thread.run_sync(event.wait, 5)


async def connect(backend: AsyncNetworkBackend, server: LoopbackServer) -> AsyncNetworkStream:
    return await backend.connect_tcp(HOST, server.port, timeout=5)


async def connect_tls(
    backend: AsyncNetworkBackend, server: LoopbackServer, certs: Certificates
) -> AsyncNetworkStream:
    stream = await connect(backend, server)
    return await stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)


# Plain connections


async def test_roundtrip_over_tcp(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    stream = await connect(backend, echo_server)
    await stream.write(b"hello", timeout=5)
    await stream.write(b"")  # nothing to send is not an error
    assert await stream.read(100, timeout=5) == b"hello"
    assert stream.origin == f"{HOST}:{echo_server.port}"
    assert repr(stream).endswith(f" {HOST}:{echo_server.port} plain open>") or repr(
        stream
    ).endswith(f" {HOST}:{echo_server.port} plain>")
    await stream.aclose()
    await stream.aclose()  # closing twice is harmless
    await wait_for(echo_server.client_closed)


async def test_reads_return_empty_bytes_at_eof(backend: AsyncNetworkBackend) -> None:
    with LoopbackServer(send_and_close(b"bye")) as server:
        stream = await connect(backend, server)
        await wait_for(server.connection_closed)
        assert await stream.read(100) == b"bye"
        assert await stream.read(100) == b""
        assert await stream.read(100) == b""
        await stream.aclose()


async def test_read_waits_for_data(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    stream = await connect(backend, echo_server)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stream.write, b"later")
        assert await stream.read(100, timeout=5) == b"later"
    await stream.aclose()


async def test_large_transfer_in_both_directions(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB: flow control kicks in on both sides
    received = bytearray()
    stream = await connect(backend, echo_server)

    async def receive() -> None:
        while len(received) < len(payload):
            received.extend(await stream.read(65536, timeout=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(receive)
        await stream.write(payload, timeout=5)
    assert received == payload
    await stream.aclose()


async def test_tcp_nodelay_and_socket_options_are_applied(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    stream = await backend.connect_tcp(HOST, echo_server.port, socket_options=options)
    sock = stream.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    await stream.aclose()


async def test_local_address_binds_the_client_side(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    stream = await backend.connect_tcp(HOST, echo_server.port, local_address=HOST)
    assert stream.get_extra_info("client_addr")[0] == HOST
    assert stream.get_extra_info("server_addr") == (HOST, echo_server.port)
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("no such thing") is None
    await stream.aclose()


async def test_bad_socket_option_is_a_connect_error_and_closes_the_socket(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    with pytest.raises(ConnectError, match="Could not apply socket_options") as info:
        await backend.connect_tcp(HOST, echo_server.port, socket_options=[(-1, -1, 1)])
    assert f"{HOST}:{echo_server.port}" in str(info.value)
    await wait_for(echo_server.client_closed)


async def test_refused_connection_is_a_connect_error(backend: AsyncNetworkBackend) -> None:
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        port = unused.getsockname()[1]
        with pytest.raises(ConnectError) as info:
            await backend.connect_tcp(HOST, port, timeout=5)
    assert str(info.value) == (
        f"Could not connect to {HOST}:{port}: Connection refused. "
        "Is the server running and listening on that port?"
    )


async def test_unresolvable_host_is_a_connect_error(
    backend: AsyncNetworkBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def getaddrinfo(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(ConnectError) as info:
        await backend.connect_tcp("nowhere.invalid", 443)
    assert str(info.value) == (
        "Could not resolve the host name of nowhere.invalid:443: Name or service not known. "
        "Check the spelling of the host and your DNS settings."
    )


async def test_connect_timeout(backend: AsyncNetworkBackend) -> None:
    with full_backlog_listener() as (host, port), pytest.raises(ConnectTimeout) as info:
        await backend.connect_tcp(host, port, timeout=0.1)
    assert str(info.value).startswith(
        f"Timed out after 0.1 s connecting to {host}:{port} (connect timeout)."
    )


async def test_read_timeout_names_the_origin_and_the_limit(
    backend: AsyncNetworkBackend, stalling_server: LoopbackServer
) -> None:
    stream = await connect(backend, stalling_server)
    stream.origin = "http://example.org:80"
    with pytest.raises(ReadTimeout) as info:
        await stream.read(100, timeout=0.05)
    assert str(info.value) == (
        "Timed out after 0.05 s reading the response from http://example.org:80 "
        "(read timeout). If the server is slow, raise the limit with Timeout(read=...)."
    )
    await stream.aclose()


async def test_write_timeout_when_the_server_does_not_read(
    backend: AsyncNetworkBackend, stalling_server: LoopbackServer
) -> None:
    stream = await connect(backend, stalling_server)
    with pytest.raises(WriteTimeout, match=r"^Timed out after 0.2 s sending the request to "):
        await stream.write(BIG, timeout=0.2)
    await stream.aclose()


async def test_reset_connection_gives_read_error_then_write_error(
    backend: AsyncNetworkBackend,
) -> None:
    with LoopbackServer(reset) as server:
        stream = await connect(backend, server)
        await stream.write(b"hello")
        await wait_for(server.connection_closed)
        with pytest.raises(ReadError, match="Connection reset by peer"):
            await stream.read(100)
        with pytest.raises(WriteError, match=rf"^Could not send the request to {HOST}:"):
            await stream.write(b"x")
        await stream.aclose()


async def test_early_answer_while_the_upload_is_drained(backend: AsyncNetworkBackend) -> None:
    # The server answers after the first bytes, closes its side, and reads the rest of the
    # upload. asyncio then closes the transport itself once its buffer drains, and closing
    # the stream afterwards must not touch that transport again.
    answer = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"

    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        conn.recv(1)
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_WR)
        read_until_eof(server, conn)

    with LoopbackServer(handler) as server:
        stream = await connect(backend, server)
        with contextlib.suppress(WriteError):
            await stream.write(b"x" * (16 * 1024 * 1024), timeout=5)
        received = b""
        while data := await stream.read(65536, timeout=5):
            received += data
        assert received == answer
        await stream.aclose()
        await wait_for(server.client_closed)


async def test_closed_stream_refuses_reads_and_writes(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    stream = await connect(backend, echo_server)
    await stream.aclose()
    with pytest.raises(ReadError, match="the connection is already closed"):
        await stream.read(100)
    with pytest.raises(WriteError, match="the connection is already closed"):
        await stream.write(b"x")
    assert stream.get_extra_info("is_readable") is True
    # Addresses of a closed connection are the ones it had, or None: never an error.
    client_addr = stream.get_extra_info("client_addr")
    assert client_addr is None or client_addr[0] == HOST
    assert stream.get_extra_info("server_addr") in (None, (HOST, echo_server.port))


async def test_is_readable_reports_data_or_eof(backend: AsyncNetworkBackend) -> None:
    with LoopbackServer(send_and_hold(b"unexpected")) as server:
        stream = await connect(backend, server)
        await wait_for(server.sent)
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()
    with LoopbackServer(send_and_close(b"")) as server:
        stream = await connect(backend, server)
        await wait_for(server.connection_closed)
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()
    with LoopbackServer(read_until_eof) as server:
        stream = await connect(backend, server)
        assert stream.get_extra_info("is_readable") is False
        await stream.aclose()


async def test_unix_socket(backend: AsyncNetworkBackend, tmp_path: Path) -> None:
    path = str(tmp_path / "server.sock")
    with LoopbackServer(echo, unix_path=path):
        stream = await backend.connect_unix_socket(
            path, timeout=5, socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)]
        )
        assert stream.origin == f"the Unix socket {path}"
        await stream.write(b"over unix")
        assert await stream.read(100) == b"over unix"
        await stream.aclose()


async def test_unix_socket_errors(backend: AsyncNetworkBackend, tmp_path: Path) -> None:
    path = str(tmp_path / "missing.sock")
    with pytest.raises(ConnectError, match=rf"^Could not connect to the Unix socket {path}: "):
        await backend.connect_unix_socket(path)


async def test_sleep(backend: AsyncNetworkBackend) -> None:
    await backend.sleep(0)


# TLS


async def test_tls_handshake_with_sni_and_alpn(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    server_names: list[str | None] = []
    context = certs.server_context(alpn=["h2", "http/1.1"])
    context.sni_callback = lambda sslobj, name, ctx: server_names.append(name)
    with LoopbackServer(echo, ssl_context=context) as server:
        stream = await connect(backend, server)
        origin = stream.origin
        tls = await stream.start_tls(
            certs.client_context(), server_hostname="localhost", timeout=5
        )
        assert tls.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        assert server_names == ["localhost"]
        assert tls.origin == origin
        assert " TLS" in repr(tls)
        assert tls.get_extra_info("server_addr") == (HOST, server.port)
        await tls.write(b"secret")
        assert await tls.read(100, timeout=5) == b"secret"
        assert tls.get_extra_info("is_readable") is False
        await tls.aclose()
        await wait_for(server.client_closed)


async def test_tls_large_download(backend: AsyncNetworkBackend, certs: Certificates) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB, more than one TLS read
    with LoopbackServer(send_and_close(payload), ssl_context=certs.server_context()) as server:
        stream = await connect_tls(backend, server, certs)
        received = bytearray()
        while data := await stream.read(65536, timeout=5):
            received += data
        assert received == payload
        await stream.aclose()


async def test_tls_is_readable_counts_decrypted_bytes_waiting(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(echo, ssl_context=certs.server_context()) as server:
        stream = await connect_tls(backend, server, certs)
        await stream.write(b"0123456789")
        assert await stream.read(1, timeout=5) == b"0"
        # The rest of the record is decrypted already: in the stream or the SSL object.
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()


async def test_tls_inside_tls(backend: AsyncNetworkBackend, certs: Certificates) -> None:
    inner_context = certs.server_context(alpn=["h2"])
    handler = tls_in_tls_echo(inner_context)
    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = await connect_tls(backend, server, certs)
        inner = await outer.start_tls(
            certs.client_context(alpn=["h2", "http/1.1"]), server_hostname="localhost", timeout=5
        )
        assert inner.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        await inner.write(b"wrapped twice")
        assert await inner.read(100, timeout=5) == b"wrapped twice"
        await inner.aclose()
        await wait_for(server.connection_closed)


async def test_tls_without_server_hostname_is_refused_when_host_names_are_checked(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    # ssl's wrap_bio() would otherwise accept a certificate for any host.
    with LoopbackServer(read_until_eof, ssl_context=certs.server_context(certs.wrong_host)) as s:
        stream = await connect(backend, s)
        with pytest.raises(ValueError, match="start_tls\\(\\) needs server_hostname"):
            await stream.start_tls(certs.client_context(), server_hostname=None)
        await wait_for(s.connection_closed)


async def test_tls_without_verification_needs_no_server_hostname(
    backend: AsyncNetworkBackend, certs: Certificates, tls_echo_server: LoopbackServer
) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    stream = await connect(backend, tls_echo_server)
    tls = await stream.start_tls(context, server_hostname=None, timeout=5)
    await tls.write(b"unverified")
    assert await tls.read(100, timeout=5) == b"unverified"
    await tls.aclose()


async def test_tls_cannot_start_on_a_closed_stream(
    backend: AsyncNetworkBackend, certs: Certificates, echo_server: LoopbackServer
) -> None:
    stream = await connect(backend, echo_server)
    await stream.aclose()
    with pytest.raises(ConnectError, match="failed: the connection is already closed"):
        await stream.start_tls(certs.client_context(), server_hostname="localhost")


async def test_tls_handshake_reset_by_the_server(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(reset) as server:
        stream = await connect(backend, server)
        with pytest.raises(ConnectError) as info:
            await stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
    assert str(info.value) == (
        f"TLS handshake with {HOST}:{server.port} failed: Connection reset by peer."
    )


@pytest.mark.parametrize(
    ("cert_name", "reason"),
    [
        ("expired", "the server's certificate has expired (certificate has expired)"),
        ("untrusted", "the server's certificate is not trusted"),
        ("wrong_host", "the server's certificate does not match the host name"),
    ],
)
async def test_tls_verification_failures_say_why(
    backend: AsyncNetworkBackend, certs: Certificates, cert_name: str, reason: str
) -> None:
    with LoopbackServer(echo, ssl_context=certs.server_context(getattr(certs, cert_name))) as s:
        stream = await connect(backend, s)
        with pytest.raises(ConnectError) as info:
            await stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        await wait_for(s.connection_closed)
    assert str(info.value).startswith(f"TLS handshake with {HOST}:{s.port} failed: {reason}")
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


async def test_tls_to_a_plain_text_server(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(send_and_hold(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as server:
        stream = await connect(backend, server)
        with pytest.raises(ConnectError, match="the server did not answer in TLS"):
            await stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        await wait_for(server.connection_closed)


async def test_tls_server_closing_during_the_handshake(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(send_and_close(b"")) as server:
        stream = await connect(backend, server)
        await wait_for(server.connection_closed)
        with pytest.raises(ConnectError, match=r"TLS handshake with .* failed: "):
            await stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)


async def test_tls_handshake_timeout_closes_the_socket(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(read_until_eof) as server:
        stream = await connect(backend, server)
        with pytest.raises(ConnectTimeout, match=r"^Timed out after 0.1 s during the TLS"):
            await stream.start_tls(
                certs.client_context(), server_hostname="localhost", timeout=0.1
            )
        await wait_for(server.client_closed)


async def test_garbage_after_the_handshake_is_a_read_error(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        # Write plain bytes underneath the TLS layer.
        raw = socket.socket(fileno=conn.fileno())
        try:
            raw.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)
            server.sent.set()
            server.stopping.wait()
        finally:
            raw.detach()

    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        stream = await connect_tls(backend, server, certs)
        await wait_for(server.sent)
        with pytest.raises(ReadError, match="Could not read the response from"):
            await stream.read(100, timeout=5)
        await stream.aclose()


# Cancellation: the socket is closed and the cancellation propagates unchanged.


async def test_cancelled_connect_leaves_no_socket(backend: AsyncNetworkBackend) -> None:
    with full_backlog_listener() as (host, port):
        before = open_fd_count()
        with anyio.move_on_after(0.1) as scope:
            await backend.connect_tcp(host, port)
        assert scope.cancelled_caught
        await anyio.lowlevel.checkpoint()  # asyncio closes sockets at the next iteration
        assert open_fd_count() == before


async def test_cancelled_tls_handshake_closes_the_socket(
    backend: AsyncNetworkBackend, certs: Certificates
) -> None:
    with LoopbackServer(read_until_eof) as server:
        stream = await connect(backend, server)
        with anyio.move_on_after(0.1) as scope:
            await stream.start_tls(certs.client_context(), server_hostname="localhost")
        assert scope.cancelled_caught
        await wait_for(server.client_closed)


async def test_cancelled_read_loses_no_data(
    backend: AsyncNetworkBackend, echo_server: LoopbackServer
) -> None:
    stream = await connect(backend, echo_server)
    with anyio.move_on_after(0.05) as scope:
        await stream.read(100)
    assert scope.cancelled_caught
    await stream.write(b"still here")
    assert await stream.read(100, timeout=5) == b"still here"
    await stream.aclose()


async def test_cancelled_write_propagates(
    backend: AsyncNetworkBackend, stalling_server: LoopbackServer
) -> None:
    stream = await connect(backend, stalling_server)
    with anyio.move_on_after(0.1) as scope:
        await stream.write(BIG)
    assert scope.cancelled_caught
    await stream.aclose()
