# Generated from tests/_async/test_connection.py by scripts/unasync.py: do not edit by hand.
"""HTTPConnection over scripted bytes: connecting, retries, TLS, ALPN, and its state."""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import h2.events
import h2.settings
import pytest

import heron
from heron._backends.mock import MockBackend, MockStream
from heron._pool_state import ConnectionNotAvailable
from heron._sync.connection import alpn_protocols
from tests.h2_helpers import HELLO, H2Server, H2ServerStream
from tests.pool_helpers import HTTPConnection

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello"
HTTPS = ("https", "example.org", 443)
HTTP = ("http", "example.org", 80)


def tls_context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def make_connection(
    streams: list[Any], origin: tuple[str, str, int] = HTTP, **kwargs: Any
) -> tuple[HTTPConnection, MockBackend]:
    backend = MockBackend(streams)
    connection = HTTPConnection(origin, tls_context(), backend, **kwargs)
    return connection, backend


def request(url: str = "http://example.org/", **extensions: Any) -> heron.Request:
    return heron.Request("GET", url, extensions=extensions)


class ALPNResult:
    """Stands for the ``ssl_object`` of a TLS stream: the protocol ALPN chose."""

    def __init__(self, protocol: str | None) -> None:
        self.protocol = protocol

    def selected_alpn_protocol(self) -> str | None:
        return self.protocol


class TLSH2ServerStream(H2ServerStream):
    """A stream to a scripted HTTP/2 server whose TLS handshake chooses ``h2``."""

    tls_calls = 0

    def start_tls(self, *args: Any, **kwargs: Any) -> TLSH2ServerStream:
        self.tls_calls += 1
        self.extra["ssl_object"] = ALPNResult("h2")
        return self


def test_alpn_protocols_offered() -> None:
    assert alpn_protocols(True, False) == ["http/1.1"]
    assert alpn_protocols(True, True) == ["h2", "http/1.1"]
    assert alpn_protocols(False, True) == ["h2"]


def test_connects_on_first_request_and_reuses_the_connection() -> None:
    stream = MockStream([OK, OK])
    connection, backend = make_connection([stream])
    assert repr(connection) == "<HTTPConnection ['http://example.org:80', NEW]>"
    assert not connection.is_available()  # kept for the request that opens it
    assert not connection.is_idle()
    assert not connection.is_closed()
    assert not connection.is_readable()
    assert not connection.has_expired(1e12)

    response = connection.handle_request(request())
    assert response.read() == b"Hello"
    response.close()
    assert connection.is_idle()
    assert connection.is_available()
    assert repr(connection) == (
        "<HTTPConnection ['http://example.org:80', HTTP/1.1, IDLE, Request Count: 1]>"
    )
    response = connection.handle_request(request())
    response.read()
    response.close()
    assert backend.connects == [("tcp", ("example.org", 80, None, None), None)]
    assert stream.origin == "http://example.org:80"
    assert stream.written_bytes.count(b"GET / HTTP/1.1\r\n") == 2
    connection.close()
    assert connection.is_closed()
    assert stream.is_closed


def test_connect_timeout_local_address_and_socket_options_reach_the_backend() -> None:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    connection, backend = make_connection(
        [MockStream([OK])], local_address="127.0.0.1", socket_options=options
    )
    timeout = {"connect": 1.5, "read": 2.0, "write": 3.0, "pool": 4.0}
    response = connection.handle_request(request(timeout=timeout))
    response.read()
    assert backend.connects == [("tcp", ("example.org", 80, "127.0.0.1", options), 1.5)]


def test_unix_socket_is_used_instead_of_tcp() -> None:
    connection, backend = make_connection([MockStream([OK])], uds="/tmp/heron.sock")
    response = connection.handle_request(request())
    response.read()
    assert backend.connects == [("unix", "/tmp/heron.sock", None)]


def test_https_runs_tls_with_the_host_as_server_name() -> None:
    stream = MockStream([OK], alpn_protocol="http/1.1")
    connection, _ = make_connection([stream], HTTPS)
    timeout = {"connect": 2.5, "read": None, "write": None, "pool": None}
    response = connection.handle_request(request("https://example.org/", timeout=timeout))
    response.read()
    [(context, server_hostname, tls_timeout)] = stream.tls_calls
    assert isinstance(context, ssl.SSLContext)
    assert (server_hostname, tls_timeout) == ("example.org", 2.5)
    assert stream.origin == "https://example.org:443"


def test_sni_hostname_extension_overrides_the_server_name() -> None:
    stream = MockStream([OK])
    connection, _ = make_connection([stream], ("https", "127.0.0.1", 443))
    response = connection.handle_request(request("https://127.0.0.1/", sni_hostname="example.org"))
    response.read()
    assert stream.tls_calls[0][1] == "example.org"


def test_https_without_a_context_uses_the_shared_default() -> None:
    stream = MockStream([OK])
    backend = MockBackend([stream])
    connection = HTTPConnection(HTTPS, None, backend)
    response = connection.handle_request(request("https://example.org/"))
    response.read()
    context = stream.tls_calls[0][0]
    assert context is heron._config.transport_ssl_context(alpn_protocols=["http/1.1"])


def test_server_choosing_h2_gets_an_http2_connection() -> None:
    server = H2Server({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 7})
    stream = TLSH2ServerStream(server)
    connection, _ = make_connection([stream], HTTPS, http2=True, keepalive_expiry=5.0)
    assert not connection.multiplexed
    assert connection.max_concurrent_streams == 1
    response = connection.handle_request(request("https://example.org/"))
    assert response.http_version == "HTTP/2"
    assert stream.tls_calls == 1
    assert stream.origin == "https://example.org:443"
    assert connection.multiplexed
    assert connection.max_concurrent_streams == 7
    assert not connection.is_idle()
    assert connection.is_available()  # a free stream, while the first response is open
    assert connection.is_reusable()
    assert repr(connection) == (
        "<HTTPConnection ['https://example.org:443', HTTP/2, ACTIVE, Request Count: 1]>"
    )
    assert response.read() == HELLO
    response.close()
    assert connection.is_idle()
    assert server.requests[1].header(b":scheme") == b"https"


def test_http2_only_over_plain_http_speaks_http2_from_the_start() -> None:
    server = H2Server()
    stream = H2ServerStream(server)
    connection, _ = make_connection([stream], HTTP, http1=False, http2=True)  # type: ignore[list-item]
    response = connection.handle_request(request())
    assert response.http_version == "HTTP/2"
    assert response.read() == HELLO
    assert server.received.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert server.requests[1].header(b":scheme") == b"http"


def test_plain_http_with_both_versions_speaks_http1() -> None:
    stream = MockStream([OK])
    connection, _ = make_connection([stream], HTTP, http2=True)
    response = connection.handle_request(request())
    assert response.http_version == "HTTP/1.1"
    assert not connection.multiplexed


def test_http2_connection_after_goaway_is_not_reusable() -> None:
    def first_only(server: H2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
            server.respond(1)

    server = H2Server(handler=first_only)
    connection, _ = make_connection([TLSH2ServerStream(server)], HTTPS, http2=True)
    response = connection.handle_request(request("https://example.org/"))
    assert response.read() == HELLO
    server.goaway(last_stream_id=1)
    with pytest.raises(ConnectionNotAvailable, match="GOAWAY"):
        connection.handle_request(request("https://example.org/"))
    assert not connection.is_reusable()
    assert not connection.is_available()
    connection.close()
    assert not connection.is_reusable()
    assert connection.is_closed()


def test_a_server_allowing_no_streams_still_counts_as_one() -> None:
    server = H2Server({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
    connection, _ = make_connection([TLSH2ServerStream(server)], HTTPS, http2=True)
    response = connection.handle_request(request("https://example.org/"))
    response.read()
    with server.lock:
        server.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0})
        server.flush()
    response = connection.handle_request(request("https://example.org/"))
    response.read()  # (the server's limit applies to new streams only)
    assert connection.max_concurrent_streams == 1


def test_connect_opens_the_connection_once_before_any_request() -> None:
    stream = MockStream([OK])
    connection, backend = make_connection([stream])
    connection.connect(request())
    connection.connect(request())
    assert len(backend.connects) == 1
    assert repr(connection) == (
        "<HTTPConnection ['http://example.org:80', HTTP/1.1, NEW, Request Count: 0]>"
    )
    assert connection.is_available()
    assert connection.is_reusable()
    response = connection.handle_request(request())
    assert not connection.is_reusable()  # busy (HTTP/1.1)
    assert response.read() == b"Hello"
    assert connection.is_reusable()


def test_connect_after_a_failed_attempt_is_refused() -> None:
    connection, _ = make_connection([heron.ConnectError("refused")])
    with pytest.raises(heron.ConnectError):
        connection.connect(request())
    with pytest.raises(ConnectionNotAvailable):
        connection.connect(request())
    assert not connection.is_reusable()


def test_http1_disabled_and_server_without_http2_is_refused() -> None:
    stream = MockStream([OK], alpn_protocol="http/1.1")
    connection, _ = make_connection([stream], HTTPS, http1=False, http2=True)
    with pytest.raises(heron.UnsupportedProtocol, match=r"chose http/1.1\), and HTTP/1.1 is"):
        connection.handle_request(request("https://example.org/"))
    assert stream.is_closed


def test_http1_disabled_and_no_alpn_answer_is_refused() -> None:
    stream = MockStream([OK], alpn_protocol=None)
    connection, _ = make_connection([stream], HTTPS, http1=False, http2=True)
    with pytest.raises(heron.UnsupportedProtocol, match="chose no protocol"):
        connection.handle_request(request("https://example.org/"))


def test_connect_failures_are_retried_with_exponential_backoff() -> None:
    failures: list[Any] = [heron.ConnectError("refused")] * 3 + [heron.ConnectTimeout("slow")]
    connection, backend = make_connection([*failures, MockStream([OK])], retries=4)
    response = connection.handle_request(request())
    assert response.read() == b"Hello"
    assert backend.sleeps == [0.0, 0.5, 1.0, 2.0]  # the first retry at once, as in httpx
    assert len(backend.connects) == 5


def test_backoff_is_capped() -> None:
    failures: list[Any] = [heron.ConnectError("refused")] * 7
    connection, backend = make_connection([*failures, MockStream([OK])], retries=7)
    response = connection.handle_request(request())
    response.read()
    assert backend.sleeps == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_last_connect_error_is_raised_when_retries_run_out() -> None:
    errors = [heron.ConnectError("first"), heron.ConnectError("second")]
    connection, backend = make_connection(list(errors), retries=1)
    with pytest.raises(heron.ConnectError, match="second"):
        connection.handle_request(request())
    assert backend.sleeps == [0.0]
    assert connection.is_closed()


def test_errors_other_than_connecting_are_not_retried() -> None:
    connection, backend = make_connection([heron.ReadError("boom")], retries=3)
    with pytest.raises(heron.ReadError):
        connection.handle_request(request())
    assert backend.sleeps == []


def test_connection_closed_while_connecting_is_not_used() -> None:
    stream = MockStream([OK])
    connection, _ = make_connection([stream])

    class ClosingBackend(MockBackend):
        def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
            connection.close()
            return stream

    connection._backend = ClosingBackend([])
    with pytest.raises(heron.ConnectError, match="closed while it was being opened"):
        connection.handle_request(request())
    assert stream.is_closed
    assert repr(connection) == "<HTTPConnection ['http://example.org:80', CONNECT FAILED]>"


def test_http2_connection_closed_while_connecting_is_not_used() -> None:
    stream = H2ServerStream(H2Server())
    connection, _ = make_connection([])

    class ClosingBackend(MockBackend):
        def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
            connection.close()
            return stream

    connection._backend = ClosingBackend([])
    connection._http1 = False
    connection._http2 = True
    with pytest.raises(heron.ConnectError, match="closed while it was being opened"):
        connection.handle_request(request())
    assert stream.closed
    assert not connection.multiplexed


def test_closed_before_connecting_refuses_requests() -> None:
    connection, backend = make_connection([])
    connection.close()
    assert connection.is_closed()
    assert repr(connection) == "<HTTPConnection ['http://example.org:80', CLOSED]>"
    with pytest.raises(ConnectionNotAvailable):
        connection.handle_request(request())
    assert backend.connects == []


def test_readable_idle_connection_is_reported() -> None:
    stream = MockStream([OK])
    connection, _ = make_connection([stream])
    response = connection.handle_request(request())
    response.read()
    stream.is_readable = True
    assert connection.is_readable()


def test_keepalive_expiry_is_passed_to_the_protocol_connection() -> None:
    now = [0.0]
    connection, _ = make_connection([MockStream([OK])], keepalive_expiry=5.0, clock=lambda: now[0])
    response = connection.handle_request(request())
    response.read()
    assert not connection.has_expired(4.0)
    assert connection.has_expired(5.5)


def test_trace_reports_connect_and_tls_events() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        events.append((name, info))

    stream = MockStream([OK])
    connection, _ = make_connection([stream], HTTPS)
    response = connection.handle_request(request("https://example.org/", trace=trace))
    response.read()
    names = [name for name, _ in events]
    assert names[:4] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "connection.start_tls.started",
        "connection.start_tls.complete",
    ]
    assert events[0][1] == {
        "host": "example.org",
        "port": 443,
        "local_address": None,
        "timeout": None,
        "socket_options": None,
    }
    assert events[1][1] == {"return_value": stream}
    assert events[2][1]["server_hostname"] == "example.org"


def test_trace_reports_unix_socket_connects_and_failures() -> None:
    events: list[str] = []
    error = heron.ConnectError("no such file")
    connection, _ = make_connection([error], uds="/tmp/x.sock")
    with pytest.raises(heron.ConnectError):
        connection.handle_request(request(trace=lambda name, info: events.append(name)))
    assert events == [
        "connection.connect_unix_socket.started",
        "connection.connect_unix_socket.failed",
    ]


def test_connection_events_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="heron.connection")
    connection, _ = make_connection([heron.ConnectError("refused"), MockStream([OK])], retries=1)
    response = connection.handle_request(request())
    response.read()
    messages = [
        record.getMessage() for record in caplog.records if record.name == "heron.connection"
    ]
    assert messages[0].startswith("connection.connect_tcp.started host='example.org' port=80")
    assert messages[1].startswith("connection.connect_tcp.failed exception=")
    assert messages[2] == "connection.retry.started attempt=1 retries=1 delay=0.0"
    assert messages[3] == "connection.retry.complete return_value=None"
    assert messages[5].startswith("connection.connect_tcp.complete return_value=")
