"""SyncBackend against real servers on 127.0.0.1: data, timeouts, errors and TLS."""

from __future__ import annotations

import contextlib
import errno
import random
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from heron import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from heron._backends.auto import AutoBackend
from heron._backends.base import NetworkStream
from heron._backends.sync import (
    SharedTLSStream,
    SyncBackend,
    SyncStream,
    SyncTLSStream,
    TLSInTLSStream,
)

from .conftest import (
    HOST,
    Certificates,
    Handler,
    InnerTLS,
    LoopbackServer,
    echo,
    full_backlog_listener,
    read_until_eof,
    reset,
    send_and_close,
    send_and_hold,
    stall,
    tls_in_tls_echo,
)

BIG = b"x" * (64 * 1024 * 1024)  # more than loopback socket buffers hold


@pytest.fixture
def backend() -> SyncBackend:
    return SyncBackend()


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def test_auto_backend_is_the_sync_backend() -> None:
    assert AutoBackend is SyncBackend


def test_roundtrip_over_tcp(backend: SyncBackend, echo_server: LoopbackServer) -> None:
    stream = backend.connect_tcp(HOST, echo_server.port, timeout=5)
    stream.write(b"hello", timeout=5)
    stream.write(b"")  # nothing to send is not an error
    assert stream.read(100, timeout=5) == b"hello"
    assert stream.origin == f"{HOST}:{echo_server.port}"
    assert repr(stream) == f"<SyncStream {HOST}:{echo_server.port} plain>"
    stream.close()
    assert echo_server.client_closed.wait(5)


def test_read_returns_empty_bytes_at_eof(backend: SyncBackend) -> None:
    with LoopbackServer(send_and_close(b"bye")) as server:
        stream = backend.connect_tcp(HOST, server.port)
        assert stream.read(100) == b"bye"
        assert stream.read(100) == b""
        stream.close()


def test_tcp_nodelay_and_socket_options_are_applied(
    backend: SyncBackend, echo_server: LoopbackServer
) -> None:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    stream = backend.connect_tcp(HOST, echo_server.port, socket_options=options)
    sock = stream.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    stream.close()


def test_local_address_binds_the_client_side(
    backend: SyncBackend, echo_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, echo_server.port, local_address=HOST)
    assert stream.get_extra_info("client_addr")[0] == HOST
    assert stream.get_extra_info("server_addr") == (HOST, echo_server.port)
    stream.close()


def test_bad_socket_option_is_a_connect_error_and_closes_the_socket(
    backend: SyncBackend, echo_server: LoopbackServer
) -> None:
    with pytest.raises(ConnectError, match="Could not apply socket_options") as info:
        backend.connect_tcp(HOST, echo_server.port, socket_options=[(-1, -1, 1)])
    assert f"{HOST}:{echo_server.port}" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert echo_server.client_closed.wait(5)


def test_socket_option_of_the_wrong_type_closes_the_socket(
    backend: SyncBackend, echo_server: LoopbackServer
) -> None:
    with pytest.raises(TypeError):
        backend.connect_tcp(HOST, echo_server.port, socket_options=[("x", 1, 1)])  # type: ignore[list-item]
    assert echo_server.client_closed.wait(5)


def test_refused_connection_is_a_connect_error_naming_address_and_reason(
    backend: SyncBackend,
) -> None:
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        port = unused.getsockname()[1]
        with pytest.raises(ConnectError) as info:
            backend.connect_tcp(HOST, port, timeout=5)
    assert str(info.value) == (
        f"Could not connect to {HOST}:{port}: Connection refused. "
        "Is the server running and listening on that port?"
    )
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_unresolvable_host_is_a_connect_error(
    backend: SyncBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def getaddrinfo(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(ConnectError) as info:
        backend.connect_tcp("nowhere.invalid", 443)
    assert str(info.value) == (
        "Could not resolve the host name of nowhere.invalid:443: Name or service not known. "
        "Check the spelling of the host and your DNS settings."
    )


def test_connect_timeout(backend: SyncBackend) -> None:
    with full_backlog_listener() as (host, port), pytest.raises(ConnectTimeout) as info:
        backend.connect_tcp(host, port, timeout=0.1)
    assert str(info.value).startswith(
        f"Timed out after 0.1 s connecting to {host}:{port} (connect timeout)."
    )
    assert "Timeout(connect=...)" in str(info.value)


def test_read_timeout_names_the_origin_and_the_limit(
    backend: SyncBackend, stalling_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, stalling_server.port)
    stream.origin = "http://example.org:80"
    with pytest.raises(ReadTimeout) as info:
        stream.read(100, timeout=0.05)
    assert str(info.value) == (
        "Timed out after 0.05 s reading the response from http://example.org:80 "
        "(read timeout). If the server is slow, raise the limit with Timeout(read=...)."
    )
    stream.close()


def test_write_timeout_when_the_server_does_not_read(
    backend: SyncBackend, stalling_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, stalling_server.port)
    with pytest.raises(WriteTimeout, match=r"^Timed out after 0.2 s sending the request to "):
        stream.write(BIG, timeout=0.2)
    stream.close()


def test_write_to_a_full_socket_waits_from_its_first_byte(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = socket_pair
    stream = SyncStream(ours)  # makes it non-blocking
    for size in (65536, 1):
        with contextlib.suppress(BlockingIOError):
            while True:
                ours.send(b"x" * size)
    with pytest.raises(WriteTimeout, match=r"^Timed out after 0.05 s sending the request to "):
        stream.write(b"more", timeout=0.05)


def test_reset_connection_gives_read_error_then_write_error(backend: SyncBackend) -> None:
    with LoopbackServer(reset) as server:
        stream = backend.connect_tcp(HOST, server.port)
        stream.write(b"hello")
        assert server.connection_closed.wait(5)
        with pytest.raises(ReadError, match="Connection reset by peer"):
            stream.read(100)
        with pytest.raises(WriteError, match=rf"^Could not send the request to {HOST}:"):
            stream.write(b"x")
        stream.close()


def test_closed_stream_refuses_reads_and_writes(
    backend: SyncBackend, echo_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, echo_server.port)
    stream.close()
    with pytest.raises(ReadError, match="the connection is already closed"):
        stream.read(100)
    with pytest.raises(WriteError, match="the connection is already closed"):
        stream.write(b"x")
    assert stream.get_extra_info("client_addr") is None
    assert stream.get_extra_info("server_addr") is None
    assert stream.get_extra_info("is_readable") is True


def test_is_readable_reports_data_or_eof(backend: SyncBackend) -> None:
    with LoopbackServer(send_and_close(b"late")) as server:
        stream = backend.connect_tcp(HOST, server.port)
        assert server.connection_closed.wait(5)
        assert stream.get_extra_info("is_readable") is True
        stream.close()
    with LoopbackServer(read_until_eof) as server:
        stream = backend.connect_tcp(HOST, server.port)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("no such thing") is None
        stream.close()


def test_unix_socket(backend: SyncBackend, tmp_path: Path) -> None:
    path = str(tmp_path / "server.sock")
    with LoopbackServer(echo, unix_path=path):
        stream = backend.connect_unix_socket(
            path, timeout=5, socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)]
        )
        assert stream.origin == f"the Unix socket {path}"
        stream.write(b"over unix")
        assert stream.read(100) == b"over unix"
        stream.close()


def test_unix_socket_errors(backend: SyncBackend, tmp_path: Path) -> None:
    path = str(tmp_path / "missing.sock")
    with pytest.raises(ConnectError, match=rf"^Could not connect to the Unix socket {path}: "):
        backend.connect_unix_socket(path)
    with pytest.raises(ConnectError, match="Could not apply socket_options"):
        backend.connect_unix_socket(path, socket_options=[(-1, -1, 1)])
    with pytest.raises(TypeError):
        backend.connect_unix_socket(path, socket_options=[("x", 1, 1)])  # type: ignore[list-item]


@pytest.mark.skipif(sys.platform != "linux", reason="Linux refuses at once (EAGAIN)")
def test_unix_socket_with_a_full_queue_is_a_connect_error(
    backend: SyncBackend, tmp_path: Path
) -> None:
    path = str(tmp_path / "full.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(0)
        with socket.socket(socket.AF_UNIX) as filler:
            filler.connect(path)
            with pytest.raises(ConnectError, match="Resource temporarily unavailable"):
                backend.connect_unix_socket(path, timeout=0.1)


def test_sleep(backend: SyncBackend) -> None:
    backend.sleep(0)


# TLS


def test_tls_handshake_with_sni_and_alpn(backend: SyncBackend, certs: Certificates) -> None:
    server_names: list[str | None] = []
    context = certs.server_context(alpn=["h2", "http/1.1"])
    context.sni_callback = lambda sslobj, name, ctx: server_names.append(name)
    with LoopbackServer(echo, ssl_context=context) as server:
        stream = backend.connect_tcp(HOST, server.port, timeout=5)
        tls = stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert tls.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        assert server_names == ["localhost"]
        assert tls.origin == stream.origin
        assert repr(tls) == f"<SyncTLSStream {HOST}:{server.port}>"
        tls.write(b"secret")
        assert tls.read(100) == b"secret"
        assert tls.get_extra_info("is_readable") is False
        tls.close()


def test_tls_is_readable_counts_decrypted_bytes_waiting(
    backend: SyncBackend, certs: Certificates
) -> None:
    with LoopbackServer(echo, ssl_context=certs.server_context()) as server:
        stream = backend.connect_tcp(HOST, server.port, timeout=5)
        tls = stream.start_tls(certs.client_context(), server_hostname="localhost")
        tls.write(b"0123456789")
        assert tls.read(1) == b"0"
        # The rest of the record is decrypted and held by the SSL object, not the socket.
        assert tls.get_extra_info("is_readable") is True
        tls.close()


@pytest.mark.parametrize(
    ("cert_name", "reason"),
    [
        ("expired", "the server's certificate has expired (certificate has expired)"),
        ("untrusted", "the server's certificate is not trusted"),
        ("wrong_host", "the server's certificate does not match the host name"),
    ],
)
def test_tls_verification_failures_say_why(
    backend: SyncBackend, certs: Certificates, cert_name: str, reason: str
) -> None:
    with LoopbackServer(echo, ssl_context=certs.server_context(getattr(certs, cert_name))) as s:
        stream = backend.connect_tcp(HOST, s.port, timeout=5)
        with pytest.raises(ConnectError) as info:
            stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
    assert str(info.value).startswith(f"TLS handshake with {HOST}:{s.port} failed: {reason}")
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_tls_to_a_plain_text_server(backend: SyncBackend, certs: Certificates) -> None:
    with LoopbackServer(send_and_hold(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as server:
        stream = backend.connect_tcp(HOST, server.port)
        with pytest.raises(ConnectError, match="the server did not answer in TLS"):
            stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        # The client closed with unread bytes, which resets rather than closes: no clean EOF.
        assert server.connection_closed.wait(5)


def test_tls_server_closing_during_the_handshake(
    backend: SyncBackend, certs: Certificates
) -> None:
    with LoopbackServer(send_and_close(b"")) as server:
        stream = backend.connect_tcp(HOST, server.port)
        assert server.connection_closed.wait(5)
        with pytest.raises(
            ConnectError, match="the server closed the connection during the handshake"
        ):
            stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)


def test_tls_handshake_timeout(
    backend: SyncBackend, certs: Certificates, stalling_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, stalling_server.port)
    with pytest.raises(ConnectTimeout, match=r"^Timed out after 0.1 s during the TLS handshake"):
        stream.start_tls(certs.client_context(), server_hostname="localhost", timeout=0.1)
    assert stream.get_extra_info("socket").fileno() == -1


def test_tls_misuse_closes_the_socket(
    backend: SyncBackend, certs: Certificates, echo_server: LoopbackServer
) -> None:
    stream = backend.connect_tcp(HOST, echo_server.port)
    with pytest.raises(ValueError, match="server_hostname"):
        stream.start_tls(certs.client_context(), server_hostname=None)
    assert echo_server.client_closed.wait(5)


def test_tls_inside_tls(backend: SyncBackend, certs: Certificates) -> None:
    handler = tls_in_tls_echo(certs.server_context(alpn=["h2"]))
    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        stream = backend.connect_tcp(HOST, server.port)
        outer = stream.start_tls(certs.client_context(), server_hostname="localhost")
        inner = outer.start_tls(
            certs.client_context(alpn=["h2", "http/1.1"]), server_hostname="localhost", timeout=5
        )
        inner.origin = "https://inner.example:443"
        # The outer layer is read and written through a SharedTLSStream now (the inner one may
        # carry HTTP/2), which shares the inner stream's origin.
        assert repr(inner) == (
            "<TLSInTLSStream https://inner.example:443 over "
            "<SharedTLSStream https://inner.example:443>>"
        )
        assert inner.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        assert inner.get_extra_info("server_addr") == (HOST, server.port)
        inner.write(b"wrapped " * 10000, timeout=5)
        received = b""
        while len(received) < 80000:
            received += inner.read(65536, timeout=5)
        assert received == b"wrapped " * 10000
        assert inner.get_extra_info("is_readable") is False
        inner.write(b"0123456789")
        assert inner.read(1) == b"0"
        assert inner.get_extra_info("is_readable") is True  # decrypted, waiting in the SSLObject
        inner.close()
        assert server.connection_closed.wait(5)


@pytest.mark.parametrize("close_notify", [True, False])
def test_tls_inside_tls_reads_eof_when_the_server_closes(
    backend: SyncBackend, certs: Certificates, close_notify: bool
) -> None:
    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        inner = InnerTLS(conn, certs.server_context())
        inner.handshake()
        if close_notify:
            inner.close_notify()

    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        inner = outer.start_tls(certs.client_context(), server_hostname="localhost")
        assert inner.read(100, timeout=5) == b""
        inner.close()


@pytest.mark.parametrize(
    ("cert_name", "reason"),
    [
        ("expired", "the server's certificate has expired"),
        ("wrong_host", "the server's certificate does not match the host name"),
    ],
)
def test_tls_inside_tls_verification_failures(
    backend: SyncBackend, certs: Certificates, cert_name: str, reason: str
) -> None:
    handler = tls_in_tls_echo(certs.server_context(getattr(certs, cert_name)))
    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        with pytest.raises(ConnectError, match=reason):
            outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert outer.get_extra_info("socket").fileno() == -1


def test_tls_inside_tls_handshake_timeout(backend: SyncBackend, certs: Certificates) -> None:
    with LoopbackServer(read_until_eof, ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        with pytest.raises(ConnectTimeout, match="during the TLS handshake"):
            outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=0.1)


def test_tls_inside_tls_when_the_tunnel_breaks(backend: SyncBackend, certs: Certificates) -> None:
    with LoopbackServer(send_and_close(b""), ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        assert server.connection_closed.wait(5)
        with pytest.raises(ConnectError, match="TLS handshake with"):
            outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)


def test_tls_inside_tls_when_the_tunnel_breaks_down(
    backend: SyncBackend, certs: Certificates
) -> None:
    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        conn.recv(65536)  # the inner ClientHello
        raw = socket.socket(fileno=conn.fileno())  # under the outer TLS layer
        try:
            raw.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)
            read_until_eof(server, raw)
        finally:
            raw.detach()

    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        with pytest.raises(ConnectError, match="DECRYPTION_FAILED_OR_BAD_RECORD_MAC") as info:
            outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert isinstance(info.value.__cause__, ReadError)


def test_a_third_tls_layer_is_attempted_too(backend: SyncBackend, certs: Certificates) -> None:
    # The server only echoes inside the second layer, so a third handshake sees its own
    # ClientHello come back and fails; what matters is that it is tried, not sent in clear.
    with LoopbackServer(
        tls_in_tls_echo(certs.server_context()), ssl_context=certs.server_context()
    ) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        inner = outer.start_tls(certs.client_context(), server_hostname="localhost")
        with pytest.raises(ConnectError, match="TLS handshake with"):
            inner.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert server.connection_closed.wait(5)


def test_tls_inside_tls_without_server_hostname_is_refused(
    backend: SyncBackend, certs: Certificates, tls_echo_server: LoopbackServer
) -> None:
    outer = backend.connect_tcp(HOST, tls_echo_server.port).start_tls(
        certs.client_context(), server_hostname="localhost"
    )
    with pytest.raises(ValueError, match=r"start_tls\(\) needs server_hostname"):
        outer.start_tls(certs.client_context(), server_hostname=None)
    assert outer.get_extra_info("socket").fileno() == -1


def test_tls_inside_tls_garbage_is_a_read_error_and_write_error(
    backend: SyncBackend, certs: Certificates
) -> None:
    def handler(server: LoopbackServer, conn: socket.socket) -> None:
        InnerTLS(conn, certs.server_context()).handshake()
        conn.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # not a valid record
        server.sent.set()
        read_until_eof(server, conn)

    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = backend.connect_tcp(HOST, server.port).start_tls(
            certs.client_context(), server_hostname="localhost"
        )
        inner = outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert server.sent.wait(5)
        with pytest.raises(ReadError, match="Could not read the response"):
            inner.read(100, timeout=5)
        with pytest.raises(WriteError, match="Could not send the request"):
            inner.write(b"after a fatal alert")
        inner.close()


def test_stream_class_is_exported() -> None:
    assert SyncBackend().connect_tcp.__annotations__["return"] in (SyncStream, "SyncStream")


# TLS streams: HTTP/1.1 gets a blocking SSLSocket (SyncTLSStream); HTTP/2, whose threads read
# and write a connection at once, a SharedTLSStream.

#: The protocol the server picks (ALPN), and the stream class that gets.
MODES = {"http/1.1": SyncTLSStream, "h2": SharedTLSStream}


def run_in_threads(*functions: Callable[[], object]) -> None:
    """Run each function in its own thread; wait for all, then raise the first error."""
    errors: list[BaseException] = []

    def run(function: Callable[[], object]) -> None:
        try:
            function()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a thread is stuck"
    if errors:
        raise errors[0]


def echo_in_two_threads(stream: NetworkStream, sent: list[bytes]) -> None:
    """One thread reads the echo of ``sent`` while another writes it: every byte comes back."""
    expected = b"".join(sent)
    received: list[bytes] = []
    reading = threading.Event()

    def reader() -> None:
        reading.set()
        received.append(read_exactly(stream, len(expected)))

    def writer() -> None:
        assert reading.wait(5)
        for message in sent:
            stream.write(message, timeout=10)

    run_in_threads(reader, writer)
    assert received == [expected]


def messages(count: int, largest: int) -> list[bytes]:
    """``count`` random messages of sizes up to ``largest`` bytes: any byte lost, repeated or
    reordered shows."""
    sizes = random.Random(count)
    return [random.Random(n).randbytes(sizes.randint(1, largest)) for n in range(count)]


def read_exactly(stream: NetworkStream, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        data = stream.read(65536, timeout=10)
        assert data, f"EOF after {len(received)} of {size} bytes"
        received += data
    return bytes(received)


def tls_server(
    handler: Handler, certs: Certificates, alpn: str, version: ssl.TLSVersion | None = None
) -> LoopbackServer:
    context = certs.server_context(alpn=[alpn])
    if version is not None:
        context.maximum_version = version
    return LoopbackServer(handler, ssl_context=context)


def tls_connect(
    backend: SyncBackend, server: LoopbackServer, certs: Certificates, alpn: str = "http/1.1"
) -> NetworkStream:
    stream = backend.connect_tcp(HOST, server.port, timeout=5)
    tls = stream.start_tls(certs.client_context(alpn=[alpn]), server_hostname="localhost")
    assert type(tls) is MODES[alpn]
    return tls


def test_the_server_choosing_http2_gets_a_shared_tls_stream(
    backend: SyncBackend, certs: Certificates
) -> None:
    with tls_server(echo, certs, "h2") as server:
        tls = tls_connect(backend, server, certs, "h2")
        assert repr(tls) == f"<SharedTLSStream {HOST}:{server.port}>"
        assert tls.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        assert tls.get_extra_info("server_addr") == (HOST, server.port)
        assert tls.get_extra_info("socket") is tls.get_extra_info("ssl_object")
        tls.write(b"ping")
        assert tls.read(100, timeout=5) == b"ping"  # and the session tickets before it
        assert tls.get_extra_info("is_readable") is False
        tls.write(b"0123456789")
        assert tls.read(1, timeout=5) == b"0"
        assert tls.get_extra_info("is_readable") is True  # decrypted, held by OpenSSL
        tls.close()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_shared_tls_reads_in_one_thread_while_another_writes(
    backend: SyncBackend, certs: Certificates, version: ssl.TLSVersion
) -> None:
    # ssl.SSLSocket alone fails this with "bad record MAC" (or a record the server rejects).
    with tls_server(echo, certs, "h2", version) as server:
        tls = tls_connect(backend, server, certs, "h2")
        assert tls.get_extra_info("ssl_object").version() == version.name.replace("_", ".")
        echo_in_two_threads(tls, messages(3000, 10000))
        tls.close()
        assert server.client_closed.wait(5)


def test_shared_tls_write_that_fills_the_socket_waits_while_another_thread_reads(
    backend: SyncBackend, certs: Certificates
) -> None:
    # The echo server stops reading while its answers are not read: the write waits for the
    # socket many times, and the reader's reads come in between.
    with tls_server(echo, certs, "h2") as server:
        tls = tls_connect(backend, server, certs, "h2")
        big = random.Random(0).randbytes(16 * 1024 * 1024)
        received: list[bytes] = []
        run_in_threads(
            lambda: received.append(read_exactly(tls, len(big))),
            lambda: tls.write(big, timeout=10),
        )
        assert received == [big]
        tls.close()


@pytest.mark.parametrize("alpn", MODES)
@pytest.mark.parametrize("after_a_write", [False, True])
def test_tls_read_timeout_names_the_origin_and_the_limit(
    backend: SyncBackend, certs: Certificates, alpn: str, after_a_write: bool
) -> None:
    # After a write, a SharedTLSStream's read polls the socket before it tries OpenSSL;
    # otherwise it tries first. Both wait within the read timeout.
    with tls_server(read_until_eof, certs, alpn) as server:
        tls = tls_connect(backend, server, certs, alpn)
        tls.origin = "https://example.org:443"
        if after_a_write:
            tls.write(b"unanswered")
        with pytest.raises(ReadTimeout) as info:
            tls.read(100, timeout=0.05)
        assert str(info.value) == (
            "Timed out after 0.05 s reading the response from https://example.org:443 "
            "(read timeout). If the server is slow, raise the limit with Timeout(read=...)."
        )
        tls.close()


def test_shared_tls_read_with_no_time_left_times_out_at_once(
    backend: SyncBackend, certs: Certificates
) -> None:
    with tls_server(read_until_eof, certs, "h2") as server:
        tls = tls_connect(backend, server, certs, "h2")
        with pytest.raises(ReadTimeout, match=r"^Timed out after 0.0 s reading"):
            tls.read(100, timeout=0)
        tls.close()


@pytest.mark.parametrize("alpn", MODES)
def test_tls_write_timeout_when_the_server_does_not_read(
    backend: SyncBackend, certs: Certificates, alpn: str
) -> None:
    with tls_server(stall, certs, alpn) as server:
        tls = tls_connect(backend, server, certs, alpn)
        with pytest.raises(WriteTimeout) as info:
            tls.write(BIG, timeout=0.2)
        assert str(info.value).startswith(
            f"Timed out after 0.2 s sending the request to {HOST}:{server.port} "
            "(write timeout): the server is not reading it."
        )
        tls.close()


@pytest.mark.parametrize("alpn", MODES)
def test_tls_reads_what_openssl_holds_before_waiting(
    backend: SyncBackend, certs: Certificates, alpn: str
) -> None:
    with tls_server(echo, certs, alpn) as server:
        tls = tls_connect(backend, server, certs, alpn)
        tls.write(b"ping")
        assert tls.read(100) == b"ping"
        tls.write(b"0123456789")
        assert tls.read(4) == b"0123"
        # The rest waits in OpenSSL, not in the socket: a read after a write must not poll for
        # it (nothing more would come).
        tls.write(b"!")
        received = tls.read(100)
        # (The echo of "!" may have arrived by then: an HTTP/2 read takes every record there.)
        assert received in (b"456789", b"456789!")
        if received == b"456789":
            assert tls.read(100) == b"!"
        tls.close()


@pytest.mark.parametrize("alpn", MODES)
def test_closed_or_reset_tls_stream_gives_read_and_write_errors(
    backend: SyncBackend, certs: Certificates, alpn: str
) -> None:
    with tls_server(reset, certs, alpn) as server:
        tls = tls_connect(backend, server, certs, alpn)
        tls.write(b"")  # nothing to send is not an error
        tls.write(b"hello")
        assert server.connection_closed.wait(5)
        # OpenSSL reads the reset as an EOF without close_notify, which HTTP may take as EOF.
        assert tls.read(100, timeout=5) == b""
        with pytest.raises(WriteError, match=rf"^Could not send the request to {HOST}:"):
            tls.write(b"x", timeout=5)
        tls.close()
        tls.close()  # again: nothing happens
        with pytest.raises(ReadError, match="the connection is already closed"):
            tls.read(100)
        with pytest.raises(WriteError, match="the connection is already closed"):
            tls.write(b"x")
        assert tls.get_extra_info("is_readable") is True
        assert tls.get_extra_info("server_addr") is None


@pytest.mark.parametrize("alpn", [None, *MODES])
def test_close_wakes_a_thread_blocked_reading(
    backend: SyncBackend, certs: Certificates, alpn: str | None
) -> None:
    # As when a writer's error makes an HTTP/2 connection close while another thread reads, or
    # a client is closed while another thread reads a response.
    with (
        LoopbackServer(read_until_eof) if alpn is None else tls_server(read_until_eof, certs, alpn)
    ) as server:
        stream: NetworkStream
        if alpn is None:
            stream = backend.connect_tcp(HOST, server.port)
        else:
            stream = tls_connect(backend, server, certs, alpn)
        reading = threading.Event()
        outcome: list[object] = []

        def reader() -> None:
            reading.set()
            try:
                outcome.append(stream.read(100, timeout=None))
            except ReadError as exc:
                outcome.append(str(exc))

        thread = threading.Thread(target=reader)
        thread.start()
        assert reading.wait(5)
        stream.close()
        thread.join(5)
        assert not thread.is_alive()
        closed = f"Cannot read from {HOST}:{server.port}: the connection is already closed."
        # A SharedTLSStream makes no OpenSSL call while it closes: its read finds it closed.
        # A socket shut down under a blocked read reads EOF.
        assert outcome == [closed] if alpn == "h2" else outcome in ([closed], [b""])
        assert server.client_closed.wait(5)


class ScriptedSSLSocket:
    """Stands in for an ``ssl.SSLSocket``: ``recv`` and ``send`` give the scripted answers in
    turn (an exception is raised, a function called), over the file descriptor of a real
    socket, which the stream polls."""

    def __init__(self, sock: socket.socket, recv: list[object], send: list[object]) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.recv_script = recv
        self.send_script = send
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        return self.fd

    def setblocking(self, flag: bool) -> None:
        assert flag is False

    def pending(self) -> int:
        return 0

    def _answer(self, script: list[object]) -> object:
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer

    def recv(self, max_bytes: int) -> object:
        return self._answer(self.recv_script)

    def send(self, data: bytes | memoryview) -> object:
        self.sent.append(bytes(data))
        answer = self._answer(self.send_script)
        return len(data) if answer is None else answer


def scripted_stream(sock: socket.socket, **scripts: list[object]) -> tuple[Any, SharedTLSStream]:
    fake = ScriptedSSLSocket(sock, scripts.get("recv", []), scripts.get("send", []))
    stream = SharedTLSStream(cast(Any, fake))
    stream.origin = "https://example.org:443"
    return fake, stream


@pytest.mark.parametrize("timeout", [None, 10.0])
def test_a_write_larger_than_the_socket_buffer_waits_for_the_reader(
    socket_pair: tuple[socket.socket, socket.socket], timeout: float | None
) -> None:
    ours, theirs = socket_pair
    stream = SyncStream(ours)
    stream.origin = "http://example.org:80"
    data = random.Random(7).randbytes(8 * 1024 * 1024)
    received = bytearray()

    def reader() -> None:
        while len(received) < len(data):
            received.extend(theirs.recv(1024 * 1024))

    run_in_threads(reader, lambda: stream.write(data, timeout=timeout))
    assert received == data


def test_shared_tls_read_takes_the_records_already_received(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    # OpenSSL gives one record per call. A read goes on while the socket has more, and stops
    # at max_bytes, at a record not complete yet, or at the end of the connection.
    ours, theirs = socket_pair
    theirs.send(b"x")  # keeps the socket readable
    script: list[object] = [b"abc", b"def", b"one", b"two", ssl.SSLWantReadError()]
    fake, stream = scripted_stream(ours, recv=[*script, b"three", b"", b""])
    assert stream.read(6, timeout=5) == b"abcdef"
    assert stream.read(100, timeout=5) == b"onetwo"
    assert stream.read(100, timeout=5) == b"three"
    assert stream.read(100, timeout=5) == b""
    assert fake.recv_script == []


def test_shared_tls_read_that_must_answer_first_waits_until_it_can_write(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    # A post-handshake message may need an answer before the data: the read waits for the
    # socket to take it (this one can, at once), then tries again.
    fake, stream = scripted_stream(socket_pair[0], recv=[ssl.SSLWantWriteError(), b"data"])
    assert stream.read(100, timeout=5) == b"data"
    assert fake.recv_script == []


@pytest.mark.parametrize("timeout", [None, 5.0])
@pytest.mark.parametrize("data_arrives", [False, True])
def test_shared_tls_write_during_a_renegotiation_waits_for_the_server(
    socket_pair: tuple[socket.socket, socket.socket],
    timeout: float | None,
    data_arrives: bool,
) -> None:
    # A TLS 1.2 renegotiation makes a write read the server's handshake. It tries again when
    # data arrives, or after a short slice anyway (the reading thread may have taken the data).
    ours, theirs = socket_pair
    if data_arrives:
        theirs.send(b"handshake")
    fake, stream = scripted_stream(ours, send=[ssl.SSLWantReadError(), None])
    stream.write(b"request", timeout=timeout)
    assert fake.sent == [b"request", b"request"]


def test_shared_tls_write_during_a_renegotiation_times_out(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    fake, stream = scripted_stream(socket_pair[0], send=[ssl.SSLWantReadError()] * 100)
    with pytest.raises(WriteTimeout, match=r"^Timed out after 0.12 s sending the request to "):
        stream.write(b"request", timeout=0.12)
    assert 3 <= len(fake.sent) < 100  # retried after each slice


def test_shared_tls_write_sends_the_rest_of_a_partial_write(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    fake, stream = scripted_stream(socket_pair[0], send=[3, None])
    stream.write(b"abcdefg")
    assert fake.sent == [b"abcdefg", b"defg"]


def test_shared_tls_stream_closed_while_a_read_waits(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    # Another thread closes the stream between the read's attempt and its wait: the read does
    # not wait (there is nothing left to poll), it tries again and learns the stream is closed.
    def closed_meanwhile() -> None:
        fake.fd = -1
        raise ssl.SSLWantReadError()

    fake, stream = scripted_stream(
        socket_pair[0], recv=[closed_meanwhile, OSError(errno.EBADF, "Bad file descriptor")]
    )
    with pytest.raises(ReadError, match="the connection is already closed"):
        stream.read(100, timeout=None)


def test_tls_inside_tls_reads_in_one_thread_while_another_writes(
    backend: SyncBackend, certs: Certificates
) -> None:
    handler = tls_in_tls_echo(certs.server_context())
    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = tls_connect(backend, server, certs)
        inner = outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        echo_in_two_threads(inner, messages(500, 20000))
        inner.close()
        assert server.client_closed.wait(5)


def test_tls_inside_a_shared_tls_stream(backend: SyncBackend, certs: Certificates) -> None:
    # An outer layer that negotiated h2 (a proxy speaking HTTP/2) is already shared.
    with tls_server(tls_in_tls_echo(certs.server_context()), certs, "h2") as server:
        outer = tls_connect(backend, server, certs, "h2")
        inner = outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5)
        assert repr(inner).endswith(f" over {outer!r}>")
        inner.write(b"inside", timeout=5)
        assert read_exactly(inner, 6) == b"inside"
        inner.close()


def test_tls_inside_tls_waits_for_the_thread_sending_or_receiving(
    backend: SyncBackend, certs: Certificates
) -> None:
    # While another thread sends (or receives) through the stream underneath, a write (or a
    # read) waits for it, within its own timeout.
    handler = tls_in_tls_echo(certs.server_context())
    with LoopbackServer(handler, ssl_context=certs.server_context()) as server:
        outer = tls_connect(backend, server, certs)
        inner = cast(
            TLSInTLSStream,
            outer.start_tls(certs.client_context(), server_hostname="localhost", timeout=5),
        )
        with inner._send_lock, pytest.raises(WriteTimeout, match=r"after 0\.05 s"):
            inner.write(b"held up", timeout=0.05)
        with inner._recv_lock, pytest.raises(ReadTimeout, match=r"after 0\.05 s"):
            inner.read(100, timeout=0.05)
        # Once the other thread has received, the waiting call tries again before reading.
        inner._receive(inner._received - 1, timeout=0)
        # The records of the write that timed out were made: they go out with the next ones.
        inner.write(b", still works", timeout=5)
        assert read_exactly(inner, 20) == b"held up, still works"

        class SendingMeanwhile:
            """A send lock acquired once another thread has sent what was waiting."""

            def acquire(self, timeout: float = -1) -> bool:
                outer.write(inner._outgoing.read(), timeout=5)
                return True

            def release(self) -> None:
                pass

        inner._send_lock = cast(Any, SendingMeanwhile())
        inner.write(b"sent by another thread", timeout=5)
        assert read_exactly(inner, 22) == b"sent by another thread"
        inner.close()
