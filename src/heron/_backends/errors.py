"""The error messages every backend shares, one builder per failure.

Every backend translates ``OSError``, ``ssl.SSLError`` and timeouts into heron's exceptions with
these (``connect_error``, ``tls_error``, ``read_timeout``, ...), so that sync, asyncio and trio
users read the same words for the same failure: what failed, where, the limit that ran out and
what to do about it.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

__all__ = [
    "connect_error",
    "connect_timeout",
    "format_address",
    "read_error",
    "read_timeout",
    "require_server_hostname",
    "socket_option_error",
    "tls_error",
    "tls_timeout",
    "write_error",
    "write_timeout",
]

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code) grouped by what the
# user should do about them.
_UNTRUSTED = {
    2,  # unable to get issuer certificate
    18,  # self-signed certificate
    19,  # self-signed certificate in certificate chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
}
_EXPIRED = 10
_NOT_YET_VALID = 9
_REVOKED = 23
_NAME_MISMATCH = {62, 64}  # hostname mismatch, IP address mismatch


# Error messages: one builder per failure, used by every backend.


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _unwrap(exc: BaseException) -> BaseException:
    """anyio reports "All connection attempts failed" and chains the real error(s)."""
    cause = exc.__cause__
    if isinstance(exc, OSError) and exc.errno is None and isinstance(cause, OSError):
        return _unwrap(cause)
    return exc


def _reason(exc: BaseException) -> str:
    """The operating system's words for ``exc``, e.g. "Connection refused"."""
    exc = _unwrap(exc)
    cause = exc.__cause__
    if isinstance(exc, ssl.SSLError):
        return str(exc)  # its errno is an OpenSSL code, not an OS one
    if isinstance(exc, OSError) and exc.errno is None and isinstance(cause, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(_reason(inner) for inner in cause.exceptions))
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.errno:
        # asyncio words it "Connect call failed (...)", trio "Error connecting to ...": the
        # errno says the same thing in the same words on every backend.
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _limit(timeout: float | None, name: str) -> str:
    if timeout is None:
        return f"the operating system's own limit (no {name} timeout was set)"
    return f"{float(timeout)} s"


def connect_timeout(address: str, timeout: float | None) -> ConnectTimeout:
    return ConnectTimeout(
        f"Timed out after {_limit(timeout, 'connect')} connecting to {address} "
        "(connect timeout). Check that the host is reachable, or raise the limit with "
        "Timeout(connect=...)."
    )


def connect_error(
    address: str, exc: OSError, timeout: float | None
) -> ConnectError | ConnectTimeout:
    """``ConnectTimeout`` for a timeout, else ``ConnectError``, naming the address and reason."""
    if isinstance(exc, TimeoutError):
        return connect_timeout(address, timeout)
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"Could not resolve the host name of {address}: {_reason(exc)}. "
            "Check the spelling of the host and your DNS settings."
        )
    message = f"Could not connect to {address}: {_reason(exc)}."
    if getattr(_unwrap(exc), "errno", None) == errno.ECONNREFUSED:
        message += " Is the server running and listening on that port?"
    return ConnectError(message)


def socket_option_error(address: str, exc: OSError) -> ConnectError:
    return ConnectError(
        f"Could not apply socket_options to the connection to {address}: {_reason(exc)}. "
        "Check the (level, option, value) tuples passed as socket_options."
    )


def tls_error(who: str, exc: BaseException | None) -> ConnectError:
    """A ``ConnectError`` saying in plain words why the TLS handshake with ``who`` failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, detail = exc.verify_code, exc.verify_message
        if code in _UNTRUSTED:
            reason = (
                "the server's certificate is not trusted: it is self-signed or issued by a "
                "certificate authority that is not in the trusted set"
            )
            hint = (
                "If the server uses a private CA, trust it with "
                "verify=ssl.create_default_context(cafile=...)."
            )
        elif code == _EXPIRED:
            reason, hint = "the server's certificate has expired", "The server must renew it."
        elif code == _NOT_YET_VALID:
            reason = "the server's certificate is not valid yet"
            hint = "Check the clocks of this machine and the server."
        elif code in _NAME_MISMATCH:
            reason = "the server's certificate does not match the host name"
            hint = "Connect using a name the certificate lists, or set the sni_hostname extension."
        elif code == _REVOKED:
            reason, hint = "the server's certificate has been revoked", ""
        else:
            reason, hint = "the server's certificate could not be verified", ""
        message = f"TLS handshake with {who} failed: {reason} ({detail}). {hint}"
        return ConnectError(message.rstrip())
    if exc is None or isinstance(exc, ssl.SSLEOFError):
        return ConnectError(
            f"TLS handshake with {who} failed: the server closed the connection during the "
            "handshake. Does it speak TLS on this port, and accept this TLS version and SNI "
            "name?"
        )
    if getattr(exc, "reason", None) == "WRONG_VERSION_NUMBER":
        return ConnectError(
            f"TLS handshake with {who} failed: the server did not answer in TLS ({exc}). "
            "Does it speak plain http:// on this port?"
        )
    return ConnectError(f"TLS handshake with {who} failed: {_reason(exc)}.")


def require_server_hostname(ssl_context: ssl.SSLContext, server_hostname: str | None) -> None:
    """Refuse a handshake that would skip the host name check the context asks for.

    (``wrap_socket`` refuses one, but ``wrap_bio`` -- under asyncio, anyio and TLS inside TLS --
    silently accepts a certificate for any host then.)
    """
    if server_hostname is None and ssl_context.check_hostname:
        raise ValueError(
            "start_tls() needs server_hostname when the SSL context checks host names "
            "(check_hostname=True): pass the host name the server's certificate must match."
        )


def tls_timeout(who: str, timeout: float | None) -> ConnectTimeout:
    return ConnectTimeout(
        f"Timed out after {_limit(timeout, 'connect')} during the TLS handshake with {who} "
        "(connect timeout). Raise the limit with Timeout(connect=...) if the server is slow."
    )


def read_timeout(origin: str, timeout: float | None) -> ReadTimeout:
    return ReadTimeout(
        f"Timed out after {_limit(timeout, 'read')} reading the response from {origin} "
        "(read timeout). If the server is slow, raise the limit with Timeout(read=...)."
    )


def read_error(origin: str, exc: BaseException | None) -> ReadError:
    if exc is None:
        return ReadError(f"Cannot read from {origin}: the connection is already closed.")
    return ReadError(f"Could not read the response from {origin}: {_reason(exc)}.")


def write_timeout(origin: str, timeout: float | None) -> WriteTimeout:
    return WriteTimeout(
        f"Timed out after {_limit(timeout, 'write')} sending the request to {origin} "
        "(write timeout): the server is not reading it. If it is slow, raise the limit with "
        "Timeout(write=...)."
    )


def write_error(origin: str, exc: BaseException | None) -> WriteError:
    if exc is None:
        return WriteError(f"Cannot send to {origin}: the connection is already closed.")
    return WriteError(f"Could not send the request to {origin}: {_reason(exc)}.")
