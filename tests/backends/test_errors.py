"""The error messages every backend shares: each names the phase, the target and the reason."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest

from heron import ConnectError, ConnectTimeout, ReadError, ReadTimeout, WriteError
from heron._backends.errors import (
    connect_error,
    format_address,
    read_error,
    read_timeout,
    tls_error,
    write_error,
)


def verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    exc.verify_code = code
    exc.verify_message = message
    return exc


def test_ipv6_addresses_are_bracketed() -> None:
    assert format_address("::1", 443) == "[::1]:443"
    assert format_address("example.org", 80) == "example.org:80"


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (9, "certificate is not yet valid", "the server's certificate is not valid yet"),
        (18, "self-signed certificate", "the server's certificate is not trusted"),
        (23, "certificate revoked", "the server's certificate has been revoked"),
        (64, "IP address mismatch", "the server's certificate does not match the host name"),
        (7, "certificate signature failure", "the server's certificate could not be verified"),
    ],
)
def test_certificate_failures_in_plain_words(code: int, message: str, expected: str) -> None:
    error = tls_error("https://example.org:443", verification_error(code, message))
    assert isinstance(error, ConnectError)
    assert str(error).startswith(f"TLS handshake with https://example.org:443 failed: {expected}")
    assert f"({message})" in str(error)
    assert not str(error).endswith(" ")


def test_other_tls_errors_keep_the_ssl_message() -> None:
    exc = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version")
    assert str(tls_error("x:1", exc)) == (
        "TLS handshake with x:1 failed: "
        "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version."
    )


def test_tls_failure_from_the_operating_system() -> None:
    exc = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert str(tls_error("x:1", exc)) == "TLS handshake with x:1 failed: Connection reset by peer."


def test_connect_errors_unwrap_anyio_groups_of_attempts() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    unreachable = OSError(errno.ENETUNREACH, "Network is unreachable")
    wrapped = OSError("All connection attempts failed")
    wrapped.__cause__ = ExceptionGroup(
        "multiple connection attempts failed", [refused, unreachable]
    )
    assert str(connect_error("localhost:80", wrapped, None)) == (
        "Could not connect to localhost:80: Connection refused; Network is unreachable."
    )
    single = OSError("All connection attempts failed")
    single.__cause__ = refused
    assert str(connect_error("localhost:80", single, None)).startswith(
        "Could not connect to localhost:80: Connection refused. Is the server running"
    )


def test_connect_error_without_an_errno_uses_the_message() -> None:
    assert str(connect_error("h:1", OSError("weird failure"), 1.0)) == (
        "Could not connect to h:1: weird failure."
    )
    assert str(connect_error("h:1", OSError(), 1.0)) == "Could not connect to h:1: OSError."


def test_gaierror_without_strerror() -> None:
    assert str(connect_error("h:1", socket.gaierror("no such host"), None)).startswith(
        "Could not resolve the host name of h:1: no such host."
    )


def test_timeouts_from_the_operating_system_say_no_limit_was_set() -> None:
    error = connect_error("h:1", TimeoutError(errno.ETIMEDOUT, "Connection timed out"), None)
    assert isinstance(error, ConnectTimeout)
    assert str(error).startswith(
        "Timed out after the operating system's own limit (no connect timeout was set) "
        "connecting to h:1"
    )
    assert isinstance(read_timeout("h:1", None), ReadTimeout)


def test_read_and_write_errors_name_the_origin() -> None:
    reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert str(read_error("https://a:443", reset)) == (
        "Could not read the response from https://a:443: Connection reset by peer."
    )
    assert isinstance(read_error("https://a:443", None), ReadError)
    assert str(write_error("https://a:443", BrokenPipeError(errno.EPIPE, "Broken pipe"))) == (
        "Could not send the request to https://a:443: Broken pipe."
    )
    assert isinstance(write_error("https://a:443", None), WriteError)


def test_ssl_errors_while_reading_keep_the_ssl_message() -> None:
    exc = ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed")
    assert str(read_error("h:1", exc)) == (
        "Could not read the response from h:1: "
        "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed."
    )


def test_tls_failure_without_an_exception_means_the_server_closed() -> None:
    assert "the server closed the connection during the handshake" in str(tls_error("h:1", None))
