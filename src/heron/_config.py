"""Configuration value objects (timeouts, pool limits, proxies) and the TLS context helper.

Each object turns every input form it accepts into one canonical form in its constructor,
validates it there, and never changes afterwards; derive a new one instead
(``Timeout(old, connect=1.0)``). The defaults are the named constants at the end.
"""

from __future__ import annotations

import enum
import errno
import math
import numbers
import os
import ssl
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ._headers import Headers
from ._urls import URL

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._types import CertTypes, HeaderTypes, TimeoutTypes

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT_CONFIG",
    "USE_CLIENT_DEFAULT",
    "Limits",
    "Proxy",
    "Timeout",
    "UseClientDefault",
    "create_ssl_context",
    "transport_ssl_context",
]

_PROXY_SCHEMES: Final = ("http", "https", "socks5", "socks5h")
# Header values that a repr must never show.
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})


class UseClientDefault(enum.Enum):
    """The type of ``USE_CLIENT_DEFAULT``: "this argument was not passed, use the client's".

    It is separate from ``None``, which means "disabled": ``client.get(url, auth=None)``
    sends no credentials even when the client has some, while leaving ``auth`` out uses them.
    """

    USE_CLIENT_DEFAULT = "USE_CLIENT_DEFAULT"

    def __repr__(self) -> str:
        return "<USE_CLIENT_DEFAULT>"

    # Enum pickles a member as (its class, value), and `heron` re-homes the class to a module
    # where it is not an attribute. Pickling by name gives back this very object instead.
    def __reduce_ex__(self, protocol: Any) -> str:  # type: ignore[override]
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = UseClientDefault.USE_CLIENT_DEFAULT


class _Unset(enum.Enum):
    """Marks a ``Timeout`` argument that was not given (``None`` means "no timeout")."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "<UNSET>"


_UNSET: Final = _Unset.UNSET


def _seconds(name: str, value: object) -> float | None:
    """Validate a number of seconds (or ``None`` for "no limit") and return it."""
    # Fast path: the plain float or int that nearly every caller passes. NaN fails `0 <=`.
    if (type(value) is float or type(value) is int) and 0 <= value < math.inf:
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number of seconds, or None for no limit; "
            f"got {type(value).__name__} {value!r}."
        )
    number = value if isinstance(value, int | float) else float(value)
    if not 0 <= number < math.inf:
        raise ValueError(
            f"{name} must be a finite number of seconds >= 0, or None for no limit; got {value!r}."
        )
    return number


class Timeout:
    """Timeouts, in seconds, for each phase of a request.

    ``connect`` bounds opening a connection, ``read`` each wait for response data, ``write``
    each wait to send request data, and ``pool`` the wait for a free connection from the
    pool. ``None`` disables a limit. There is no "total" timeout.

    Give a default for all four plus any overrides, or all four explicitly::

        Timeout(10.0)                    # 10s everywhere
        Timeout(10.0, connect=2.0)       # 2s to connect, 10s for the rest
        Timeout(None, read=30.0)         # only reads are limited
        Timeout(connect=1, read=5, write=5, pool=2)
        Timeout((1.0, 5.0))              # (connect, read[, write[, pool]]); missing ones are None
        Timeout(existing, pool=None)     # a copy of `existing` with one value changed
    """

    # Read-only properties over private slots: cheap to build (a client may build one per
    # request) and immutable without a __setattr__ hook on every assignment.
    __slots__ = ("_connect", "_pool", "_read", "_write")

    _connect: float | None
    _read: float | None
    _write: float | None
    _pool: float | None

    def __init__(
        self,
        timeout: TimeoutTypes | _Unset = _UNSET,
        *,
        connect: float | _Unset | None = _UNSET,
        read: float | _Unset | None = _UNSET,
        write: float | _Unset | None = _UNSET,
        pool: float | _Unset | None = _UNSET,
    ) -> None:
        if isinstance(timeout, Timeout):
            # Already validated: copy.
            default = (timeout._connect, timeout._read, timeout._write, timeout._pool)
        elif isinstance(timeout, tuple):
            default = _timeout_tuple(timeout)
        elif timeout is _UNSET:
            missing = [
                name
                for name, value in (
                    ("connect", connect),
                    ("read", read),
                    ("write", write),
                    ("pool", pool),
                )
                if value is _UNSET
            ]
            if missing:
                raise ValueError(
                    "Timeout needs a default for every phase, or all four of connect, read, "
                    f"write and pool; {', '.join(missing)} not given. For example "
                    "Timeout(10.0, connect=5.0) or Timeout(None) for no timeouts."
                )
            default = (None, None, None, None)
        else:
            seconds = _seconds("timeout", timeout)
            default = (seconds, seconds, seconds, seconds)

        self._connect = default[0] if connect is _UNSET else _seconds("connect", connect)
        self._read = default[1] if read is _UNSET else _seconds("read", read)
        self._write = default[2] if write is _UNSET else _seconds("write", write)
        self._pool = default[3] if pool is _UNSET else _seconds("pool", pool)

    @property
    def connect(self) -> float | None:
        """Seconds allowed for opening a connection, TLS handshake included; ``None``: no limit."""
        return self._connect

    @property
    def read(self) -> float | None:
        """Seconds allowed for each wait for response data; ``None``: no limit."""
        return self._read

    @property
    def write(self) -> float | None:
        """Seconds allowed for each wait to send request data; ``None``: no limit."""
        return self._write

    @property
    def pool(self) -> float | None:
        """Seconds allowed for waiting for a connection from the pool; ``None``: no limit."""
        return self._pool

    def as_dict(self) -> dict[str, float | None]:
        """The four values as a new dict, the form ``request.extensions["timeout"]`` takes."""
        return {
            "connect": self._connect,
            "read": self._read,
            "write": self._write,
            "pool": self._pool,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeout):
            return NotImplemented
        return (
            self._connect == other._connect
            and self._read == other._read
            and self._write == other._write
            and self._pool == other._pool
        )

    def __hash__(self) -> int:
        return hash((self._connect, self._read, self._write, self._pool))

    def __repr__(self) -> str:
        if self._connect == self._read == self._write == self._pool:
            return f"Timeout(timeout={self._connect})"
        return (
            f"Timeout(connect={self._connect}, read={self._read}, "
            f"write={self._write}, pool={self._pool})"
        )


def _timeout_tuple(
    values: tuple[Any, ...],
) -> tuple[float | None, float | None, float | None, float | None]:
    if not 2 <= len(values) <= 4:
        raise ValueError(
            "A timeout tuple is (connect, read), (connect, read, write) or "
            f"(connect, read, write, pool); got {len(values)} item(s): {values!r}."
        )
    padded = (*values, None, None)
    return (
        _seconds("connect", padded[0]),
        _seconds("read", padded[1]),
        _seconds("write", padded[2]),
        _seconds("pool", padded[3]),
    )


def _count(name: str, value: object, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int >= {minimum}, or None for no limit; "
            f"got {type(value).__name__} {value!r}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, or None for no limit; got {value!r}.")
    return int(value)


class Limits:
    """Limits on the connection pool.

    ``max_connections`` caps open connections (``None``: no cap),
    ``max_keepalive_connections`` caps idle connections kept for reuse (never more than
    ``max_connections`` in effect), and ``keepalive_expiry`` closes a connection left idle
    that many seconds (``None``: never)::

        Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=30.0)
    """

    __slots__ = ("_keepalive_expiry", "_max_connections", "_max_keepalive_connections")

    _max_connections: int | None
    _max_keepalive_connections: int | None
    _keepalive_expiry: float | None

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        # A pool with no connection at all could never send anything, hence at least one.
        self._max_connections = _count("max_connections", max_connections, 1)
        self._max_keepalive_connections = _count(
            "max_keepalive_connections", max_keepalive_connections, 0
        )
        self._keepalive_expiry = _seconds("keepalive_expiry", keepalive_expiry)

    @property
    def max_connections(self) -> int | None:
        """The most connections open at once, in use or idle; ``None``: no cap."""
        return self._max_connections

    @property
    def max_keepalive_connections(self) -> int | None:
        """The most idle connections kept for reuse; ``None``: no cap."""
        return self._max_keepalive_connections

    @property
    def keepalive_expiry(self) -> float | None:
        """Seconds after which an idle connection is closed; ``None``: never."""
        return self._keepalive_expiry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Limits):
            return NotImplemented
        return (
            self.max_connections == other.max_connections
            and self.max_keepalive_connections == other.max_keepalive_connections
            and self.keepalive_expiry == other.keepalive_expiry
        )

    def __hash__(self) -> int:
        return hash((self.max_connections, self.max_keepalive_connections, self.keepalive_expiry))

    def __repr__(self) -> str:
        return (
            f"Limits(max_connections={self.max_connections}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, "
            f"keepalive_expiry={self.keepalive_expiry})"
        )


class Proxy:
    """A proxy server to send requests through: ``http``, ``https``, ``socks5`` or ``socks5h``.

    Credentials in the URL move to ``auth`` (and the URL loses them), so that they can never
    leak into a log line; ``raw_auth`` has them UTF-8 encoded. ``headers`` are sent to the
    proxy, never to the origin. ``ssl_context`` is used for the TLS connection to an
    ``https://`` proxy itself::

        Proxy("http://user:secret@proxy.internal:3128")
        Proxy("http://proxy.internal:3128", auth=("user", "secret"))
        Proxy("socks5h://localhost:1080")      # socks5h: the proxy resolves host names

    The ``Proxy-Authorization`` header is not added to ``headers``: the transport builds it
    from ``raw_auth`` when it talks to the proxy.
    """

    __slots__ = ("_auth", "_headers", "_raw_auth", "_ssl_context", "_url")

    _url: URL
    _auth: tuple[str, str] | None
    _raw_auth: tuple[bytes, bytes] | None
    _headers: Headers
    _ssl_context: ssl.SSLContext | None

    def __init__(
        self,
        url: URL | str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        auth: tuple[str, str] | None = None,
        headers: HeaderTypes | None = None,
    ) -> None:
        if isinstance(url, str):
            url = URL(url)
        elif not isinstance(url, URL):
            raise TypeError(
                f"Proxy URL must be a str or heron.URL, got {type(url).__name__} {url!r}."
            )
        if url.username or url.password:
            # Credentials in the URL win over `auth=`, as in httpx. They come out first so
            # that no error message below can show them.
            auth = (url.username, url.password)
            url = url.copy_with(username=None, password=None)
        elif auth is not None and not (
            isinstance(auth, tuple)
            and len(auth) == 2
            and isinstance(auth[0], str)
            and isinstance(auth[1], str)
        ):
            raise TypeError(
                "Proxy auth must be a (username, password) tuple of two str, "
                f"got {type(auth).__name__}."
            )
        if url.scheme not in _PROXY_SCHEMES:
            valid = ", ".join(f"'{scheme}://'" for scheme in _PROXY_SCHEMES)
            problem = f"scheme {url.scheme!r}" if url.scheme else "no scheme"
            raise ValueError(
                f"Proxy URL {str(url)!r} has {problem}; a proxy URL starts with one of "
                f"{valid}, for example 'http://proxy.example.com:3128'."
            )
        if not url.host:
            raise ValueError(
                f"Proxy URL {str(url)!r} has no host; give it as "
                f"'{url.scheme}://host:port', for example '{url.scheme}://localhost:3128'."
            )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(
                f"ssl_context must be an ssl.SSLContext or None, got {type(ssl_context).__name__}."
            )

        self._url = url
        self._auth = auth
        self._raw_auth = (
            None if auth is None else (auth[0].encode("utf-8"), auth[1].encode("utf-8"))
        )
        self._headers = Headers(headers)
        self._ssl_context = ssl_context

    @property
    def url(self) -> URL:
        """The proxy's URL, without credentials."""
        return self._url

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for the proxy, or ``None``."""
        return self._auth

    @property
    def raw_auth(self) -> tuple[bytes, bytes] | None:
        """``auth`` encoded as UTF-8, as it goes into ``Proxy-Authorization``."""
        return self._raw_auth

    @property
    def headers(self) -> Headers:
        """Headers sent to the proxy (never to the origin server)."""
        return self._headers

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for connecting to an ``https://`` proxy, or ``None`` for the default."""
        return self._ssl_context

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proxy):
            return NotImplemented
        return (
            self._url == other._url
            and self._auth == other._auth
            and self._headers == other._headers
            and self._ssl_context is other._ssl_context
        )

    def __hash__(self) -> int:
        return hash((self._url, self._auth))

    def __repr__(self) -> str:
        parts = [repr(str(self.url))]
        if self.auth is not None:
            parts.append(f"auth=({self.auth[0]!r}, '********')")
        if self.headers:
            shown = {
                key: "[secure]" if key.lower() in _SECRET_HEADERS else value
                for key, value in self.headers.items()
            }
            parts.append(f"headers={shown!r}")
        return f"Proxy({', '.join(parts)})"


# TLS


_TLS_MINIMUM: Final = ssl.TLSVersion.TLSv1_2

# Default contexts, built once per distinct input and shared by every transport. Loading
# certifi's bundle takes ~20 ms, which one-shot helpers like heron.get() would otherwise pay
# on each call. The key holds everything the context is built from: ALPN protocols, the CA
# file and directory, and the key log file (the last three come from the environment).
_SHARED_CONTEXTS: dict[
    tuple[tuple[str, ...], str | None, str | None, str | None], ssl.SSLContext
] = {}
_SHARED_CONTEXTS_LOCK: Final = threading.Lock()


def create_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
) -> ssl.SSLContext:
    """Build the ``ssl.SSLContext`` for ``verify=``, ``cert=`` and ``trust_env=``.

    - ``verify=True`` verifies servers against certifi's CA bundle, or against
      ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when ``trust_env`` and they are set.
    - ``verify=False`` checks neither certificates nor host names.
    - ``verify=<ssl.SSLContext>`` is returned as it is.
    - ``verify=<path>`` (deprecated) loads a CA bundle file or a hashed CA directory.
    - ``cert=`` (deprecated) loads a client certificate chain.

    TLS 1.2 is the minimum version. ``SSLKEYLOGFILE`` is honoured when ``trust_env``.
    ALPN is left unset: the transport sets it for the HTTP versions it speaks. Each call
    returns a new context that the caller owns and may change::

        ctx = heron.create_ssl_context()
        ctx.load_cert_chain("client.pem", "client.key")
        client = heron.Client(verify=ctx)
    """
    return _build_ssl_context(verify, cert, trust_env, ())


def transport_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
    *,
    alpn_protocols: Sequence[str] = (),
) -> ssl.SSLContext:
    """The context a transport connects with: ``create_ssl_context`` plus ALPN.

    For the default arguments this returns a context shared by the whole process (one per
    ALPN list and CA location), so certifi's bundle is loaded once. Callers must never
    modify what this returns. A caller's own ``ssl.SSLContext`` gets ``alpn_protocols`` set
    on it, as httpx does, since ALPN can only be set on a context.
    """
    alpn = tuple(alpn_protocols)
    if isinstance(verify, ssl.SSLContext) and cert is None:
        if alpn:
            verify.set_alpn_protocols(alpn)
        return verify
    if verify is True and cert is None:
        cafile, capath = _ca_locations(trust_env)
        keylog = _keylog_file(trust_env)
        key = (alpn, cafile, capath, keylog)
        with _SHARED_CONTEXTS_LOCK:
            context = _SHARED_CONTEXTS.get(key)
            if context is None:
                context = _verifying_context(cafile, capath, keylog)
                if alpn:
                    context.set_alpn_protocols(alpn)
                _SHARED_CONTEXTS[key] = context
        return context
    return _build_ssl_context(verify, cert, trust_env, alpn)


def _build_ssl_context(
    verify: ssl.SSLContext | str | bool,
    cert: CertTypes | None,
    trust_env: bool,
    alpn: tuple[str, ...],
) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is True:
        context = _verifying_context(*_ca_locations(trust_env), _keylog_file(trust_env))
    elif verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = _TLS_MINIMUM
        context.keylog_filename = _keylog_file(trust_env)  # type: ignore[assignment]
    elif isinstance(verify, str | os.PathLike):
        path = os.fspath(verify)
        warnings.warn(
            "Passing a path as `verify=` is deprecated; pass an SSL context instead: "
            f"verify=ssl.create_default_context(cafile={path!r}) for a CA bundle file, or "
            f"verify=ssl.create_default_context(capath={path!r}) for a CA directory.",
            DeprecationWarning,
            stacklevel=3,
        )
        if os.path.isdir(path):
            context = _verifying_context(None, path, _keylog_file(trust_env))
        elif os.path.isfile(path):
            context = _verifying_context(path, None, _keylog_file(trust_env))
        else:
            raise FileNotFoundError(
                errno.ENOENT,
                f"verify={path!r} is neither a CA bundle file nor a CA directory",
                path,
            )
    else:
        raise TypeError(
            "verify must be True, False, an ssl.SSLContext or (deprecated) a CA bundle path; "
            f"got {type(verify).__name__} {verify!r}."
        )

    if cert is not None:
        _load_client_cert(context, cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def _verifying_context(
    cafile: str | None, capath: str | None, keylog: str | None
) -> ssl.SSLContext:
    """A context that verifies certificates and host names against the given CA locations."""
    if cafile is None and capath is None:
        import certifi  # Imported here: most programs that import heron never need it.

        cafile = certifi.where()
    # ssl.create_default_context gives us Python's current secure defaults (verify flags,
    # options) on every version we support; it also reads SSLKEYLOGFILE on its own, which
    # we override below so that trust_env=False really ignores the environment.
    context = ssl.create_default_context(cafile=cafile, capath=capath)
    context.minimum_version = _TLS_MINIMUM
    context.keylog_filename = keylog  # type: ignore[assignment]
    return context


def _ca_locations(trust_env: bool) -> tuple[str | None, str | None]:
    """The CA bundle file and directory named by the environment, if trusted and set."""
    if not trust_env:
        return None, None
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is not None and not os.path.isfile(cafile):
        raise FileNotFoundError(
            errno.ENOENT,
            f"SSL_CERT_FILE={cafile!r} is not a file; point it at a CA bundle, unset it, "
            "or pass trust_env=False",
            cafile,
        )
    # A missing directory is skipped, as OpenSSL skips one in its own lookup path.
    if capath is not None and not os.path.isdir(capath):
        capath = None
    return cafile, capath


def _keylog_file(trust_env: bool) -> str | None:
    """Where to write TLS secrets for debugging tools like Wireshark (``SSLKEYLOGFILE``)."""
    return (os.environ.get("SSLKEYLOGFILE") or None) if trust_env else None


def _load_client_cert(context: ssl.SSLContext, cert: CertTypes) -> None:
    warnings.warn(
        "`cert=` is deprecated; load the client certificate into an SSL context and pass "
        "that instead: ctx = ssl.create_default_context(); "
        "ctx.load_cert_chain(certfile, keyfile); then use verify=ctx.",
        DeprecationWarning,
        stacklevel=4,
    )
    if isinstance(cert, str):
        certfile, keyfile, password = cert, None, None
    elif isinstance(cert, tuple) and len(cert) in (2, 3):
        certfile, keyfile = cert[0], cert[1]
        password = cert[2] if len(cert) == 3 else None
    else:
        raise TypeError(
            "cert must be a certificate file path, (certfile, keyfile) or "
            f"(certfile, keyfile, password); got {type(cert).__name__}."
        )
    for path in (certfile, keyfile):
        if path is not None and not os.path.isfile(path):
            message = f"Client certificate file {path!r} not found"
            raise FileNotFoundError(errno.ENOENT, message, path)
    context.load_cert_chain(certfile, keyfile, password)


# Defaults


DEFAULT_TIMEOUT_CONFIG: Final = Timeout(timeout=5.0)
DEFAULT_LIMITS: Final = Limits(max_connections=100, max_keepalive_connections=20)
DEFAULT_MAX_REDIRECTS: Final = 20
