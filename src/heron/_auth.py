"""Authentication as generator flows: an ``Auth`` yields requests and is sent back responses.

A flow never performs I/O itself, so one ``auth_flow`` serves ``Client`` and ``AsyncClient``
alike; ``sync_auth_flow`` and ``async_auth_flow`` only add the reads of request and response
bodies that a flow asks for. Digest authentication follows RFC 7616 (and RFC 2617's legacy
no-qop form), with the WWW-Authenticate grammar of RFC 9110 section 11.6.1.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import re
import secrets
import typing
from base64 import b64encode
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from urllib.parse import quote

from ._exceptions import ProtocolError, RemoteProtocolError

if typing.TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._cookies import Cookies
    from ._models import Request, Response
    from ._types import AuthTypes
    from ._urls import URL

__all__ = [
    "Auth",
    "BasicAuth",
    "DigestAuth",
    "FunctionAuth",
    "NetRCAuth",
    "auth_from_url",
    "build_auth",
]

# RFC 7616 section 3.3's algorithms (plus the "SHA" and "SHA-512" names servers such as
# httpbin use), mapped to hashlib names. A "-SESS" suffix selects the session variant.
# SHA-512-256 is only offered when the local OpenSSL provides it.
_DIGEST_HASHES = {
    algorithm: hashlib_name
    for algorithm, hashlib_name in {
        "MD5": "md5",
        "SHA": "sha1",
        "SHA-256": "sha256",
        "SHA-512": "sha512",
        "SHA-512-256": "sha512_256",
    }.items()
    if hashlib_name in hashlib.algorithms_available
}

# RFC 9110 section 5.6.2 (token) and 5.6.4 (quoted-string).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[^"\\]|\\.)*"'
# One element of a comma-separated list; commas inside quoted strings don't split it.
_LIST_ELEMENT = re.compile(rf'(?:{_QUOTED_STRING}|[^,"])*')
_BALANCED_QUOTES = re.compile(rf'(?:{_QUOTED_STRING}|[^"])*')
# name=value. Unquoted values are read leniently (up to the next comma or space), because
# servers send unquoted base64 nonces ending in "=" although a token can't contain "=".
_AUTH_PARAM = re.compile(rf'({_TOKEN})[ \t]*=[ \t]*({_QUOTED_STRING}|[^\s",]+)')
# A challenge starts with its scheme, then (after whitespace) its first parameter or a token68.
_CHALLENGE_START = re.compile(rf"({_TOKEN})(?:[ \t]+(.+))?", re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)

# RFC 8187 attr-char: what may stay unescaped in an ext-value such as ``username*``.
_ATTR_CHAR_SAFE = "!#$&+^`|~"


class Auth:
    """The base class of authentication schemes: override ``auth_flow``.

    ``auth_flow`` is a generator. It yields a request to send and receives the response
    (``response = yield request``), as many times as the scheme needs; when it returns, the
    last response goes back to the caller. The default flow sends the request unchanged.

    Set ``requires_request_body = True`` to have the request body read into memory before
    the flow starts (so the flow can use ``request.content``, to sign it for example), and
    ``requires_response_body = True`` to have each response read before it is sent to the
    flow (so the flow can use ``response.content``)::

        class TokenAuth(heron.Auth):
            def __init__(self, token: str) -> None:
                self.token = token

            def auth_flow(self, request):
                request.headers["Authorization"] = f"Bearer {self.token}"
                yield request

    Schemes that must do I/O of their own (fetching a token over the network, say) override
    ``sync_auth_flow`` and/or ``async_auth_flow`` instead.
    """

    __slots__ = ()

    requires_request_body = False
    requires_response_body = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield the requests to send; each ``yield`` evaluates to the response received."""
        yield request

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Run ``auth_flow`` for ``Client``, reading bodies as ``requires_*_body`` ask."""
        if self.requires_request_body:
            request.read()
        flow = self.auth_flow(request)
        try:
            request = _first_request(self, flow)
            while True:
                response = yield request
                if self.requires_response_body:
                    response.read()
                try:
                    request = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """Run ``auth_flow`` for ``AsyncClient``, reading bodies as ``requires_*_body`` ask."""
        if self.requires_request_body:
            await request.aread()
        flow = self.auth_flow(request)
        try:
            request = _first_request(self, flow)
            while True:
                response = yield request
                if self.requires_response_body:
                    await response.aread()
                try:
                    request = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()


def _first_request(auth: Auth, flow: Generator[Request, Response, None]) -> Request:
    try:
        return next(flow)
    except StopIteration:
        # Left alone, this would surface as PEP 479's bare "generator raised StopIteration".
        raise RuntimeError(
            f"{type(auth).__name__}.auth_flow() returned without yielding a request. "
            "An auth flow must yield the request to send at least once."
        ) from None


class FunctionAuth(Auth):
    """Authentication by a plain function that takes a request and returns it, modified.

    ``Client(auth=func)`` wraps a callable in this class::

        def add_token(request: heron.Request) -> heron.Request:
            request.headers["X-Token"] = "secret"
            return request

        client = heron.Client(auth=add_token)
    """

    __slots__ = ("_func",)

    def __init__(self, func: Callable[[Request], Request]) -> None:
        self._func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        result = self._func(request)
        if result is None:
            raise TypeError(
                f"The auth function {self._func!r} returned None. It must return the request "
                "to send: end it with 'return request'."
            )
        yield result


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617): sends the credentials with every request.

    Text credentials are encoded as UTF-8; ``bytes`` are sent as they are. A
    ``(username, password)`` tuple given as ``auth=`` becomes a ``BasicAuth``::

        client = heron.Client(auth=heron.BasicAuth("alice", "s3cret"))
    """

    __slots__ = ("_auth_header",)

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._auth_header = _basic_auth_header(username, password)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = self._auth_header
        yield request


class NetRCAuth(Auth):
    """Basic authentication with the credentials a netrc file holds for the request's host.

    ``file`` defaults to ``~/.netrc``, and is read once, when the object is created. Hosts
    without an entry (or whose entry has no password) are sent the request unchanged::

        client = heron.Client(auth=heron.NetRCAuth())

    Raises ``FileNotFoundError`` (or another ``OSError``) when the file can't be read, and
    ``netrc.NetrcParseError`` when it isn't a valid netrc file.
    """

    __slots__ = ("_netrc_info",)

    def __init__(self, file: str | None = None) -> None:
        try:
            self._netrc_info = netrc.netrc(file)
        except OSError as exc:
            raise type(exc)(
                exc.errno,
                f"NetRCAuth could not read the netrc file ({exc.strerror}); "
                "create it, or pass NetRCAuth(file=...) to use another one",
                exc.filename,
            ) from exc
        except UnicodeDecodeError as exc:
            path = os.path.join(os.path.expanduser("~"), ".netrc") if file is None else file
            raise netrc.NetrcParseError(
                f"NetRCAuth could not read the netrc file: it is not valid UTF-8 ({exc})", path
            ) from exc

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        entry = self._netrc_info.authenticators(request.url.host)
        if entry is not None:
            login, _, password = entry
            if password:
                request.headers["Authorization"] = _basic_auth_header(login, password)
        yield request


@dataclass(frozen=True, slots=True)
class _DigestChallenge:
    """A Digest challenge the client can answer; text fields are the bytes the server sent."""

    realm: bytes
    nonce: bytes
    algorithm: bytes  # as sent, so the answer echoes it exactly
    hashlib_name: str
    is_session: bool
    opaque: bytes | None
    qop: bytes | None  # the protection chosen: b"auth", b"auth-int", or None (RFC 2069)
    stale: bool


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616, and RFC 2617 servers that send no qop).

    The first request goes out without credentials; a 401 carrying a Digest challenge is
    answered once. The challenge is remembered, so later requests made with the same
    ``DigestAuth`` carry credentials from the start, counting up the nonce count (``nc``). A
    401 whose challenge says ``stale=true`` (the server wants a fresh nonce, not other
    credentials) is answered once more. Algorithms: MD5, SHA, SHA-256, SHA-512, SHA-512-256
    and their ``-sess`` variants; qop ``auth`` (preferred) and ``auth-int``::

        client = heron.Client(auth=heron.DigestAuth("alice", "s3cret"))

    Raises ``RemoteProtocolError`` when a Digest challenge can't be parsed or lacks ``realm``
    or ``nonce``, and ``ProtocolError`` when it asks only for algorithms or qop values heron
    does not support. ``auth-int`` needs the request body in memory: with an unread
    streaming body it raises ``RequestNotRead``.
    """

    __slots__ = ("_last_challenge", "_nonce_count", "_password", "_username")

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self._username = _to_bytes(username, "username")
        self._password = _to_bytes(password, "password")
        self._last_challenge: _DigestChallenge | None = None
        # The nc value of the next request made with _last_challenge's nonce.
        self._nonce_count = 1

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if self._last_challenge is not None:
            # Answer the challenge we already know, saving the round trip to fetch it again.
            request.headers["Authorization"] = self._authorization(request, self._last_challenge)

        response = yield request
        challenge = _digest_challenge(response)
        if challenge is None:
            return
        self._answer(request, response, challenge)

        answered = challenge
        response = yield request
        challenge = _digest_challenge(response)
        # RFC 7616 section 3.3: stale=true means the nonce had expired, not that the
        # credentials were wrong, so one more answer with the new nonce should succeed.
        if challenge is None or not challenge.stale or challenge.nonce == answered.nonce:
            return
        self._answer(request, response, challenge)
        yield request

    def _answer(self, request: Request, response: Response, challenge: _DigestChallenge) -> None:
        if self._last_challenge is None or challenge.nonce != self._last_challenge.nonce:
            self._nonce_count = 1
        self._last_challenge = challenge
        request.headers["Authorization"] = self._authorization(request, challenge)
        # The server may tie the challenge to a cookie it set alongside (a session id).
        cookies = response.cookies
        if cookies:
            _add_cookies(request, cookies)

    def _authorization(self, request: Request, challenge: _DigestChallenge) -> bytes:
        def digest(*parts: bytes) -> bytes:
            return hashlib.new(challenge.hashlib_name, b":".join(parts)).hexdigest().encode()

        nc = b"%08x" % self._nonce_count
        self._nonce_count += 1
        cnonce = secrets.token_hex(8).encode()
        uri = request.url.raw_path

        # RFC 7616 section 3.4.2 (A1), 3.4.3 (A2) and 3.4.1 (response).
        ha1 = digest(self._username, challenge.realm, self._password)
        if challenge.is_session:
            ha1 = digest(ha1, challenge.nonce, cnonce)
        if challenge.qop == b"auth-int":
            ha2 = digest(request.method.encode(), uri, digest(request.content))
        else:
            ha2 = digest(request.method.encode(), uri)
        if challenge.qop is None:
            response = digest(ha1, challenge.nonce, ha2)
        else:
            response = digest(ha1, challenge.nonce, nc, cnonce, challenge.qop, ha2)

        fields = [
            _username_field(self._username),
            b"realm=" + _quote(challenge.realm),
            b"nonce=" + _quote(challenge.nonce),
            b"uri=" + _quote(uri),
            b"response=" + _quote(response),
            b"algorithm=" + challenge.algorithm,
        ]
        if challenge.opaque is not None:
            fields.append(b"opaque=" + _quote(challenge.opaque))
        if challenge.qop is not None:
            fields += [b"qop=" + challenge.qop, b"nc=" + nc]
        if challenge.qop is not None or challenge.is_session:
            # A session algorithm's A1 includes the cnonce, so the server needs it even from
            # an RFC 2069-style exchange without qop.
            fields.append(b"cnonce=" + _quote(cnonce))
        return b"Digest " + b", ".join(fields)


def _digest_challenge(response: Response) -> _DigestChallenge | None:
    """The Digest challenge of a 401 response to answer, or None if there is none."""
    if response.status_code != 401:
        return None
    unsupported: list[str] = []
    for name, raw_value in response.headers.raw:
        if name.lower() != b"www-authenticate":
            continue
        # Latin-1 maps bytes to characters one to one, so the server's exact bytes come back.
        value = raw_value.decode("latin-1")
        for scheme, params in _parse_challenges(value):
            if scheme != "digest":
                continue
            if params is None:
                raise RemoteProtocolError(
                    f"Failed to parse the Digest WWW-Authenticate header {value!r}: expected "
                    'comma-separated name=value parameters, as in Digest realm="r", nonce="n".'
                )
            challenge = _make_challenge(value, params)
            if challenge is not None:
                return challenge
            unsupported.append(params.get("algorithm", "MD5"))
    if unsupported:
        raise ProtocolError(
            f"The server's Digest challenge asks for algorithm {', '.join(unsupported)}, which "
            f"heron does not support (supported: {', '.join(_DIGEST_HASHES)}, and their "
            "-sess variants)."
        )
    return None


def _make_challenge(header: str, params: dict[str, str]) -> _DigestChallenge | None:
    """Validate a Digest challenge's parameters; None if its algorithm is unsupported."""
    missing = [name for name in ("realm", "nonce") if name not in params]
    if missing:
        raise RemoteProtocolError(
            f"Malformed Digest WWW-Authenticate header {header!r}: "
            f"missing {' and '.join(missing)}."
        )
    algorithm = params.get("algorithm", "MD5")
    base, is_session = algorithm.upper(), False
    if base.endswith("-SESS"):
        base, is_session = base[: -len("-SESS")], True
    hashlib_name = _DIGEST_HASHES.get(base)
    if hashlib_name is None:
        return None

    qop: bytes | None = None
    if "qop" in params:
        offered = {option.strip().lower() for option in params["qop"].split(",")}
        # "auth" protects less than "auth-int" but never needs the request body in memory.
        if "auth" in offered:
            qop = b"auth"
        elif "auth-int" in offered:
            qop = b"auth-int"
        else:
            raise ProtocolError(
                f"The server's Digest challenge {header!r} offers qop={params['qop']!r}; "
                "heron supports only 'auth' and 'auth-int'."
            )

    opaque = params.get("opaque")
    return _DigestChallenge(
        realm=params["realm"].encode("latin-1"),
        nonce=params["nonce"].encode("latin-1"),
        algorithm=algorithm.encode("latin-1"),
        hashlib_name=hashlib_name,
        is_session=is_session,
        opaque=None if opaque is None else opaque.encode("latin-1"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
    )


def _parse_challenges(value: str) -> list[tuple[str, dict[str, str] | None]]:
    """Split a WWW-Authenticate value into ``(lower-cased scheme, parameters)`` pairs.

    RFC 9110 section 11.6.1: ``#challenge``, a challenge being ``scheme [ 1*SP ( token68 /
    #auth-param ) ]``, so one header line may hold several challenges. Parameters are None
    for a challenge that uses token68 or whose parameters can't be parsed.
    """
    challenges: list[tuple[str, dict[str, str] | None]] = []
    # Up to the first quoted string that is never closed, if any: nothing after it is trusted.
    match = _BALANCED_QUOTES.match(value)
    end = match.end() if match else 0
    for element in _LIST_ELEMENT.findall(value, 0, end):
        element = element.strip()
        if not element:  # empty list elements are allowed (RFC 9110 section 5.6.1)
            continue
        param = _AUTH_PARAM.fullmatch(element)
        if param is None:
            start = _CHALLENGE_START.fullmatch(element)
            if start is None:
                _mark_malformed(challenges)
                continue
            challenges.append((start.group(1).lower(), {}))
            if start.group(2) is None:
                continue
            param = _AUTH_PARAM.fullmatch(start.group(2))
            if param is None:
                _mark_malformed(challenges)
                continue
        if challenges:
            params = challenges[-1][1]
            if params is not None:
                params[param.group(1).lower()] = _unquote(param.group(2))
    if end < len(value):
        _mark_malformed(challenges)
    return challenges


def _mark_malformed(challenges: list[tuple[str, dict[str, str] | None]]) -> None:
    """Mark the challenge being parsed as unusable: its parameter list doesn't parse."""
    if challenges:
        challenges[-1] = (challenges[-1][0], None)


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    value = value[1:-1]
    if "\\" not in value:  # fast path: nothing escaped
        return value
    return _QUOTED_PAIR.sub(r"\1", value)


def _quote(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _username_field(username: bytes) -> bytes:
    if username.isascii():
        return b"username=" + _quote(username)
    # RFC 7616 section 3.4.4: a username that is not ASCII goes in RFC 8187's extended form.
    return b"username*=UTF-8''" + quote(username, safe=_ATTR_CHAR_SAFE).encode()


def _add_cookies(request: Request, cookies: Cookies) -> None:
    """Add ``cookies`` that apply to ``request`` to its Cookie header, replacing same names."""
    existing = request.headers.get("Cookie")
    if existing is not None:
        del request.headers["Cookie"]
    cookies.set_cookie_header(request)
    if existing is None:
        return
    added = request.headers.get("Cookie")
    merged: dict[str, str] = {}
    for pair in f"{existing};{added or ''}".split(";"):
        pair = pair.strip()
        if pair:
            merged[pair.partition("=")[0]] = pair
    request.headers["Cookie"] = "; ".join(merged.values())


def _to_bytes(value: str | bytes, name: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"The {name} must be str or bytes, not {type(value).__name__}.")


def _basic_auth_header(username: str | bytes, password: str | bytes) -> str:
    credentials = _to_bytes(username, "username") + b":" + _to_bytes(password, "password")
    return "Basic " + b64encode(credentials).decode("ascii")


def build_auth(auth: AuthTypes | None) -> Auth | None:
    """Turn the ``auth=`` argument of a client or request into an ``Auth`` (None stays None).

    A ``(username, password)`` tuple becomes ``BasicAuth``, a callable ``FunctionAuth``.
    """
    if auth is None or isinstance(auth, Auth):
        return auth
    if isinstance(auth, tuple):
        if len(auth) != 2:
            raise TypeError(
                f"An auth tuple must be (username, password); got a tuple of {len(auth)} items."
            )
        return BasicAuth(auth[0], auth[1])
    if callable(auth):
        return FunctionAuth(auth)
    # The type only: the value may hold a password, and error messages end up in logs.
    raise TypeError(
        f"Invalid auth argument of type {type(auth).__name__}. Pass a (username, password) "
        "tuple, a function that takes and returns a Request, or a heron.Auth instance."
    )


def auth_from_url(url: URL) -> BasicAuth | None:
    """Basic auth from credentials embedded in a URL (``https://user:pass@host/``), if any."""
    username, password = url.username, url.password
    if username or password:
        return BasicAuth(username, password)
    return None
