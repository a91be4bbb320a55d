"""SyncBackend against real servers on 127.0.0.1: data, timeouts, errors and TLS."""

from __future__ import annotations

import socket
import ssl
import sys
from pathlib import Path

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
from heron._backends.sync import SyncBackend, SyncStream

from .conftest import (
    HOST,
    Certificates,
    InnerTLS,
    LoopbackServer,
    echo,
    full_backlog_listener,
    read_until_eof,
    reset,
    send_and_close,
    send_and_hold,
    tls_in_tls_echo,
)

BIG = b"x" * (64 * 1024 * 1024)  # more than loopback socket buffers hold


@pytest.fixture
def backend() -> SyncBackend:
    return SyncBackend()


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
        assert repr(tls).endswith(" TLS>")
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
        assert outer.origin == "https://inner.example:443"
        assert repr(inner).startswith("<TLSInTLSStream https://inner.example:443 over <Sync")
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
