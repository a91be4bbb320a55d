"""Auth flows driven directly: by hand (next/send), by a small loop in the client's role, and,
for Digest, against httpbin's digest endpoints, an implementation heron did not write.

httpbin is called in-process through `call_wsgi` below, a minimal WSGI adapter written for
these tests (heron.Request -> environ, WSGI result -> heron.Response).
"""

from __future__ import annotations

import hashlib
import io
import netrc
import re
import secrets
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import httpbin  # type: ignore[import-untyped]
import pytest

import heron
from heron._auth import _parse_challenges, auth_from_url, build_auth

URL = "http://example.org/dir/index.html"

# --- helpers -----------------------------------------------------------------------------


def challenge_response(request: heron.Request, *values: str, **kwargs: Any) -> heron.Response:
    """A 401 carrying one WWW-Authenticate header line per value."""
    headers = [("WWW-Authenticate", value) for value in values]
    headers += kwargs.pop("headers", [])
    return heron.Response(401, headers=headers, request=request, **kwargs)


def ok(request: heron.Request) -> heron.Response:
    return heron.Response(200, request=request)


Handler = Callable[[heron.Request], heron.Response]


def run_flow(auth: heron.Auth, request: heron.Request, handler: Handler) -> list[heron.Response]:
    """Play the client: send each request the flow yields; return every response, in order."""
    responses = []
    flow = auth.sync_auth_flow(request)
    request = next(flow)
    while True:
        response = handler(request)
        responses.append(response)
        try:
            request = flow.send(response)
        except StopIteration:
            return responses


async def arun_flow(
    auth: heron.Auth, request: heron.Request, handler: Handler
) -> list[heron.Response]:
    responses = []
    flow = auth.async_auth_flow(request)
    request = await flow.__anext__()
    while True:
        response = handler(request)
        responses.append(response)
        try:
            request = await flow.asend(response)
        except StopAsyncIteration:
            return responses


def scripted(*steps: Callable[[heron.Request], heron.Response]) -> tuple[Handler, list[str]]:
    """A handler answering with each step in turn, and the Authorization headers it saw."""
    seen: list[str] = []
    remaining = list(steps)

    def handler(request: heron.Request) -> heron.Response:
        seen.append(request.headers.get("Authorization", ""))
        return remaining.pop(0)(request)

    return handler, seen


def digest_fields(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    return {
        name: value.strip('"')
        for name, value in re.findall(r'([\w*]+)=("(?:[^"\\]|\\.)*"|[^,]+)', header[7:])
    }


def h(name: str, *parts: bytes) -> bytes:
    return hashlib.new(name, b":".join(parts)).hexdigest().encode()


@pytest.fixture
def fixed_cnonce(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def fix(value: str) -> None:
        monkeypatch.setattr(secrets, "token_hex", lambda nbytes: value)

    return fix


class BodyStream(heron.SyncByteStream, heron.AsyncByteStream):
    """A streaming (not in-memory) body for either kind of client."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = list(chunks)

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


# --- Auth: the base class and its sync/async drivers ---------------------------------------


def test_default_auth_flow_sends_the_request_unchanged() -> None:
    request = heron.Request("GET", URL)
    responses = run_flow(heron.Auth(), request, ok)
    assert len(responses) == 1
    assert "Authorization" not in responses[0].request.headers


class RecordingAuth(heron.Auth):
    """Records what the flow could see: the request body and each response body."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def auth_flow(self, request: heron.Request) -> Generator[heron.Request, heron.Response, None]:
        self.seen.append(request.content)
        response = yield request
        self.seen.append(response.content)


class BodiesAuth(RecordingAuth):
    requires_request_body = True
    requires_response_body = True


def streaming_post() -> heron.Request:
    return heron.Request("POST", URL, stream=BodyStream([b"he", b"llo"]))


def streaming_ok(request: heron.Request) -> heron.Response:
    return heron.Response(200, stream=BodyStream([b"wor", b"ld"]), request=request)


def test_requires_body_flags_read_request_and_responses_before_the_flow_sees_them() -> None:
    auth = BodiesAuth()
    run_flow(auth, streaming_post(), streaming_ok)
    assert auth.seen == [b"hello", b"world"]


@pytest.mark.anyio
async def test_requires_body_flags_read_bodies_in_async_flows() -> None:
    auth = BodiesAuth()
    await arun_flow(auth, streaming_post(), streaming_ok)
    assert auth.seen == [b"hello", b"world"]


def test_bodies_are_not_read_unless_the_auth_requires_them() -> None:
    with pytest.raises(heron.RequestNotRead):
        run_flow(RecordingAuth(), streaming_post(), streaming_ok)

    class RequestOnly(RecordingAuth):
        requires_request_body = True

    with pytest.raises(heron.ResponseNotRead):
        run_flow(RequestOnly(), streaming_post(), streaming_ok)


@pytest.mark.anyio
async def test_bodies_are_not_read_in_async_flows_unless_required() -> None:
    with pytest.raises(heron.RequestNotRead):
        await arun_flow(RecordingAuth(), streaming_post(), streaming_ok)


class RetryOn401(heron.Auth):
    """A token scheme: on a 401, fetch a new token (from the response) and retry once."""

    requires_response_body = True

    def auth_flow(self, request: heron.Request) -> Generator[heron.Request, heron.Response, None]:
        request.headers["Authorization"] = "Bearer old"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {response.json()['token']}"
            yield request


def test_a_flow_may_yield_several_requests() -> None:
    handler, seen = scripted(
        lambda request: heron.Response(401, json={"token": "new"}, request=request), ok
    )
    responses = run_flow(RetryOn401(), heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 200]
    assert seen == ["Bearer old", "Bearer new"]


@pytest.mark.anyio
async def test_a_flow_may_yield_several_requests_in_async_flows() -> None:
    handler, seen = scripted(
        lambda request: heron.Response(401, json={"token": "new"}, request=request), ok
    )
    responses = await arun_flow(RetryOn401(), heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 200]
    assert seen == ["Bearer old", "Bearer new"]


class NeverYields(heron.Auth):
    def auth_flow(self, request: heron.Request) -> Generator[heron.Request, heron.Response, None]:
        return
        yield request  # unreachable: makes this a generator


def test_a_flow_that_never_yields_raises_a_clear_error() -> None:
    flow = NeverYields().sync_auth_flow(heron.Request("GET", URL))
    with pytest.raises(RuntimeError, match=r"NeverYields.auth_flow\(\) returned without yielding"):
        next(flow)


@pytest.mark.anyio
async def test_a_flow_that_never_yields_raises_a_clear_error_in_async_flows() -> None:
    flow = NeverYields().async_auth_flow(heron.Request("GET", URL))
    with pytest.raises(RuntimeError, match="must yield the request to send at least once"):
        await flow.__anext__()


class CleansUp(heron.Auth):
    def __init__(self) -> None:
        self.closed = False

    def auth_flow(self, request: heron.Request) -> Generator[heron.Request, heron.Response, None]:
        try:
            yield request
            yield request
        finally:
            self.closed = True


def test_closing_the_driver_closes_the_flow_at_once() -> None:
    auth = CleansUp()
    flow = auth.sync_auth_flow(heron.Request("GET", URL))
    next(flow)
    flow.close()
    assert auth.closed


@pytest.mark.anyio
async def test_closing_the_async_driver_closes_the_flow_at_once() -> None:
    auth = CleansUp()
    flow = auth.async_auth_flow(heron.Request("GET", URL))
    await flow.__anext__()
    await flow.aclose()
    assert auth.closed


# --- BasicAuth, FunctionAuth, NetRCAuth --------------------------------------------------


def basic_credentials(request: heron.Request) -> bytes:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return b64decode(encoded)


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("user", "pass", b"user:pass"),
        ("üser", "päss", "üser:päss".encode()),  # text is sent as UTF-8
        (b"\xfcser", b"p", b"\xfcser:p"),  # bytes are sent as they are
        ("", "", b":"),
    ],
)
def test_basic_auth_sends_the_encoded_credentials(
    username: str | bytes, password: str | bytes, expected: bytes
) -> None:
    [response] = run_flow(heron.BasicAuth(username, password), heron.Request("GET", URL), ok)
    assert basic_credentials(response.request) == expected


def test_basic_auth_replaces_an_existing_authorization_header() -> None:
    request = heron.Request("GET", URL, headers={"Authorization": "Bearer x"})
    [response] = run_flow(heron.BasicAuth("user", "pass"), request, ok)
    assert response.request.headers.get_list("Authorization") == ["Basic dXNlcjpwYXNz"]


@pytest.mark.parametrize("bad", [None, 1, ["user"]])
def test_basic_auth_rejects_credentials_that_are_not_text_or_bytes(bad: Any) -> None:
    with pytest.raises(
        TypeError, match=f"username must be str or bytes, not {type(bad).__name__}"
    ):
        heron.BasicAuth(bad, "pass")
    with pytest.raises(TypeError, match="password must be str or bytes"):
        heron.BasicAuth("user", bad)


def test_function_auth_sends_what_the_function_returns() -> None:
    def sign(request: heron.Request) -> heron.Request:
        request.headers["X-Signature"] = "abc"
        return request

    [response] = run_flow(heron.FunctionAuth(sign), heron.Request("GET", URL), ok)
    assert response.request.headers["X-Signature"] == "abc"


def test_function_auth_returning_none_raises_a_clear_error() -> None:
    def forgets_to_return(request: heron.Request) -> heron.Request:
        request.headers["X-Signature"] = "abc"
        return None  # type: ignore[return-value]

    with pytest.raises(TypeError, match=r"returned None.*'return request'"):
        run_flow(heron.FunctionAuth(forgets_to_return), heron.Request("GET", URL), ok)


@pytest.fixture
def netrc_file(tmp_path: Any) -> str:
    path = tmp_path / "netrc"
    path.write_text(
        "machine example.org\n  login alice\n  password s3cret\n"
        "machine nopassword.org\n  login bob\n"
    )
    return str(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.org/", b"alice:s3cret"),
        ("https://EXAMPLE.org:8443/path", b"alice:s3cret"),  # hosts compare lower-cased
        ("http://other.org/", None),  # no entry: unchanged
        ("http://nopassword.org/", None),  # an entry without a password: unchanged
    ],
)
def test_netrc_auth_uses_the_entry_for_the_request_host(
    netrc_file: str, url: str, expected: bytes | None
) -> None:
    [response] = run_flow(heron.NetRCAuth(netrc_file), heron.Request("GET", url), ok)
    if expected is None:
        assert "Authorization" not in response.request.headers
    else:
        assert basic_credentials(response.request) == expected


def test_netrc_auth_falls_back_to_the_default_entry(tmp_path: Any) -> None:
    path = tmp_path / "netrc"
    path.write_text("machine a.org login x password y\ndefault login d password dp\n")
    [response] = run_flow(heron.NetRCAuth(str(path)), heron.Request("GET", "http://b.org"), ok)
    assert basic_credentials(response.request) == b"d:dp"


def test_netrc_auth_reads_home_netrc_by_default(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".netrc").write_text("machine example.org login alice password s3cret\n")
    (tmp_path / ".netrc").chmod(0o600)  # netrc refuses a default file others can read
    monkeypatch.setenv("HOME", str(tmp_path))
    [response] = run_flow(heron.NetRCAuth(), heron.Request("GET", URL), ok)
    assert basic_credentials(response.request) == b"alice:s3cret"


def test_netrc_auth_with_a_missing_file_raises_a_clear_error(tmp_path: Any) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="NetRCAuth could not read the netrc file") as info:
        heron.NetRCAuth(missing)
    assert info.value.filename == missing


def test_netrc_auth_without_a_home_netrc_raises_a_clear_error(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"pass NetRCAuth\(file=\.\.\.\)"):
        heron.NetRCAuth()


def test_netrc_auth_with_a_file_that_is_not_utf8_raises_a_parse_error(tmp_path: Any) -> None:
    path = tmp_path / "netrc"
    path.write_bytes(b"machine a.org login \xff password y\n")
    with pytest.raises(netrc.NetrcParseError, match="not valid UTF-8") as info:
        heron.NetRCAuth(str(path))
    assert info.value.filename == str(path)


def test_netrc_parse_error_names_the_default_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".netrc").write_bytes(b"machine a.org login \xff password y\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(netrc.NetrcParseError) as info:
        heron.NetRCAuth()
    assert info.value.filename == str(tmp_path / ".netrc")


# --- build_auth and auth_from_url: what the client makes of `auth=` and URL credentials ---


def test_build_auth_passes_none_and_auth_instances_through() -> None:
    auth = heron.DigestAuth("user", "pass")
    assert build_auth(None) is None
    assert build_auth(auth) is auth


def test_build_auth_turns_a_tuple_into_basic_auth() -> None:
    auth = build_auth(("user", b"pass"))
    assert isinstance(auth, heron.BasicAuth)
    [response] = run_flow(auth, heron.Request("GET", URL), ok)
    assert basic_credentials(response.request) == b"user:pass"


def test_build_auth_turns_a_callable_into_function_auth() -> None:
    def sign(request: heron.Request) -> heron.Request:
        return request

    assert isinstance(build_auth(sign), heron.FunctionAuth)


@pytest.mark.parametrize("bad", [("user",), ("user", "pass", "extra")])
def test_build_auth_rejects_tuples_that_are_not_pairs(bad: Any) -> None:
    with pytest.raises(
        TypeError, match=f"must be \\(username, password\\); got a tuple of {len(bad)}"
    ):
        build_auth(bad)


def test_build_auth_rejects_other_types_without_showing_the_value() -> None:
    with pytest.raises(TypeError, match="Invalid auth argument of type list") as info:
        build_auth(["user", "hunter2"])  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pass@example.org/", b"user:pass"),
        ("http://us%20er:p%40ss@example.org/", b"us er:p@ss"),  # percent-decoded
        ("http://user@example.org/", b"user:"),
        ("http://:pass@example.org/", b":pass"),
        ("http://example.org/", None),
    ],
)
def test_auth_from_url_makes_basic_auth_from_url_credentials(
    url: str, expected: bytes | None
) -> None:
    auth = auth_from_url(heron.URL(url))
    if expected is None:
        assert auth is None
        return
    assert auth is not None
    [response] = run_flow(auth, heron.Request("GET", url), ok)
    assert basic_credentials(response.request) == expected


# --- DigestAuth against hand-built challenges ---------------------------------------------

RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_digest_answers_the_rfc2617_example(fixed_cnonce: Callable[[str], None]) -> None:
    fixed_cnonce("0a4f113b")
    handler, seen = scripted(lambda r: challenge_response(r, RFC2617_CHALLENGE), ok)
    responses = run_flow(
        heron.DigestAuth("Mufasa", "Circle Of Life"), heron.Request("GET", URL), handler
    )
    assert [r.status_code for r in responses] == [401, 200]
    assert seen[0] == ""
    # RFC 2617 section 3.5, with the Authorization header in the order heron writes it.
    assert seen[1] == (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
        'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001, cnonce="0a4f113b"'
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_answers_the_rfc7616_examples(
    fixed_cnonce: Callable[[str], None], algorithm: str, expected: str
) -> None:
    fixed_cnonce("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    challenge = (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    handler, seen = scripted(lambda r: challenge_response(r, challenge), ok)
    run_flow(heron.DigestAuth("Mufasa", "Circle of Life"), heron.Request("GET", URL), handler)
    fields = digest_fields(seen[1])
    assert fields["response"] == expected
    assert fields["algorithm"] == algorithm
    assert fields["opaque"] == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def expected_response(
    fields: dict[str, str],
    *,
    hash_name: str = "md5",
    password: bytes = b"pass",
    method: bytes = b"GET",
    body: bytes | None = None,
    session: bool = False,
) -> str:
    """The response value computed here from RFC 7616's formulas, independently of heron."""
    ha1 = h(hash_name, fields["username"].encode(), fields["realm"].encode(), password)
    if session:
        ha1 = h(hash_name, ha1, fields["nonce"].encode(), fields["cnonce"].encode())
    a2 = [method, fields["uri"].encode()]
    if body is not None:
        a2.append(h(hash_name, body))
    ha2 = h(hash_name, *a2)
    if "qop" not in fields:
        return h(hash_name, ha1, fields["nonce"].encode(), ha2).decode()
    parts = [fields["nonce"], fields["nc"], fields["cnonce"], fields["qop"]]
    return h(hash_name, ha1, *(p.encode() for p in parts), ha2).decode()


def answer_to(challenge: str, request: heron.Request | None = None) -> dict[str, str]:
    """The fields of DigestAuth("user", "pass")'s answer to one challenge."""
    handler, seen = scripted(lambda r: challenge_response(r, challenge), ok)
    run_flow(heron.DigestAuth("user", "pass"), request or heron.Request("GET", URL), handler)
    return digest_fields(seen[1])


@pytest.mark.parametrize(
    ("algorithm", "hash_name", "session"),
    [
        ("MD5", "md5", False),
        ("MD5-sess", "md5", True),
        ("md5-sess", "md5", True),
        ("SHA", "sha1", False),
        ("SHA-SESS", "sha1", True),
        ("SHA-256", "sha256", False),
        ("SHA-256-sess", "sha256", True),
        ("SHA-512", "sha512", False),
        ("SHA-512-sess", "sha512", True),
        ("SHA-512-256", "sha512_256", False),
        ("SHA-512-256-sess", "sha512_256", True),
    ],
)
def test_digest_supports_each_algorithm(algorithm: str, hash_name: str, session: bool) -> None:
    fields = answer_to(f'Digest realm="r", nonce="n", qop="auth", algorithm="{algorithm}"')
    assert fields["algorithm"] == algorithm  # echoed exactly as the server wrote it
    assert fields["response"] == expected_response(fields, hash_name=hash_name, session=session)


def test_digest_without_algorithm_uses_md5() -> None:
    fields = answer_to('Digest realm="r", nonce="n", qop=auth')
    assert fields["algorithm"] == "MD5"
    assert fields["response"] == expected_response(fields)


def test_digest_without_qop_answers_in_the_rfc2069_form() -> None:
    fields = answer_to(
        'Digest realm="r", nonce="abc"', heron.Request("GET", "http://example.org/path?q=1")
    )
    assert fields.keys() == {"username", "realm", "nonce", "uri", "response", "algorithm"}
    assert fields["uri"] == "/path?q=1"
    assert fields["response"] == expected_response(fields)
    # The value httpx 0.28.1 sends for the same exchange.
    assert fields["response"] == "0955cb9d5c626cdccac8b0bcb3d0b9d0"


def test_digest_session_algorithm_without_qop_still_sends_its_cnonce() -> None:
    fields = answer_to('Digest realm="r", nonce="abc", algorithm=MD5-sess')
    assert "qop" not in fields
    assert "nc" not in fields
    assert len(fields["cnonce"]) == 16
    assert fields["response"] == expected_response(fields, session=True)


def test_digest_prefers_qop_auth_when_auth_int_is_also_offered() -> None:
    fields = answer_to('Digest realm="r", nonce="n", qop="auth-int, auth"')
    assert fields["qop"] == "auth"


def test_digest_auth_int_hashes_the_request_body() -> None:
    request = heron.Request("POST", URL, content=b"hello")
    fields = answer_to('Digest realm="r", nonce="n", qop="auth-int"', request)
    assert fields["qop"] == "auth-int"
    assert fields["response"] == expected_response(fields, method=b"POST", body=b"hello")


def test_digest_auth_int_with_an_unread_streaming_body_raises_request_not_read() -> None:
    with pytest.raises(heron.RequestNotRead):
        answer_to('Digest realm="r", nonce="n", qop="auth-int"', streaming_post())


def test_digest_sends_the_uri_with_its_query() -> None:
    fields = answer_to(
        'Digest realm="r", nonce="n", qop="auth"', heron.Request("GET", "http://example.org")
    )
    assert fields["uri"] == "/"
    fields = answer_to(
        'Digest realm="r", nonce="n"', heron.Request("GET", "http://example.org/a%20b?x=1&y")
    )
    assert fields["uri"] == "/a%20b?x=1&y"


def test_digest_unescapes_quoted_values_and_escapes_them_again() -> None:
    handler, seen = scripted(
        lambda r: challenge_response(r, r'Digest realm="a, \"b\" \\c", nonce="n", qop=auth'), ok
    )
    run_flow(heron.DigestAuth('us"er', "pass"), heron.Request("GET", URL), handler)
    assert r'username="us\"er"' in seen[1]
    assert r'realm="a, \"b\" \\c"' in seen[1]
    fields = digest_fields(seen[1])
    fields["username"], fields["realm"] = 'us"er', r'a, "b" \c'
    assert fields["response"] == expected_response(fields)


def test_digest_echoes_non_ascii_challenge_bytes_exactly() -> None:
    realm = "Zürich".encode()
    header = b'Digest realm="' + realm + b'", nonce="n\xe9", qop=auth'
    handler, _ = scripted(
        lambda r: heron.Response(401, headers=[(b"WWW-Authenticate", header)], request=r), ok
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    raw = dict(responses[1].request.headers.raw)[b"Authorization"]
    assert b'realm="Z\xc3\xbcrich"' in raw
    assert b'nonce="n\xe9"' in raw
    nc, cnonce = re.search(rb"nc=(\w+), cnonce=\"(\w+)\"", raw).groups()  # type: ignore[union-attr]
    ha1 = h("md5", b"user", realm, b"pass")
    ha2 = h("md5", b"GET", b"/dir/index.html")
    expected = h("md5", ha1, b"n\xe9", nc, cnonce, b"auth", ha2)
    assert b'response="' + expected + b'"' in raw


def test_digest_sends_a_non_ascii_username_in_the_extended_form() -> None:
    handler, seen = scripted(
        lambda r: challenge_response(r, 'Digest realm="r", nonce="n", qop=auth'), ok
    )
    run_flow(heron.DigestAuth("Jäsøn Doe", "pass"), heron.Request("GET", URL), handler)
    assert seen[1].startswith("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=")
    fields = digest_fields(seen[1])
    fields["username"] = "Jäsøn Doe"
    assert fields["response"] == expected_response(fields)


def test_digest_accepts_bytes_credentials() -> None:
    handler, seen = scripted(
        lambda r: challenge_response(r, 'Digest realm="r", nonce="n", qop=auth'), ok
    )
    run_flow(heron.DigestAuth(b"user", b"pass"), heron.Request("GET", URL), handler)
    assert digest_fields(seen[1])["username"] == "user"


def test_digest_rejects_credentials_that_are_not_text_or_bytes() -> None:
    with pytest.raises(TypeError, match="password must be str or bytes, not NoneType"):
        heron.DigestAuth("user", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "response",
    [
        lambda r: heron.Response(200, request=r),
        lambda r: heron.Response(
            403, headers={"WWW-Authenticate": 'Digest realm="r", nonce="n"'}, request=r
        ),
        lambda r: heron.Response(401, request=r),
        lambda r: challenge_response(r, 'Basic realm="r"'),
        lambda r: challenge_response(r, 'Bearer realm="r", error="invalid_token"'),
    ],
    ids=[
        "200",
        "403 with challenge",
        "401 without challenge",
        "basic challenge",
        "bearer challenge",
    ],
)
def test_digest_does_not_retry_without_a_digest_challenge(response: Handler) -> None:
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), response)
    assert len(responses) == 1


def test_digest_picks_the_digest_challenge_among_several_header_lines() -> None:
    handler, seen = scripted(
        lambda r: challenge_response(r, 'Basic realm="b"', 'Digest realm="d", nonce="n"'), ok
    )
    run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert digest_fields(seen[1])["realm"] == "d"


def test_digest_picks_the_digest_challenge_from_a_line_holding_several() -> None:
    fields = answer_to(
        'Basic realm="b, c", Negotiate abc==, Digest realm="d", nonce="n", qop=auth'
    )
    assert fields["realm"] == "d"
    assert fields["response"] == expected_response(fields)


def test_digest_skips_challenges_with_unsupported_algorithms() -> None:
    fields = answer_to(
        'Digest realm="r", nonce="n1", algorithm=SHA3-256, Digest realm="r", nonce="n2", algorithm=SHA-256'
    )
    assert fields["nonce"] == "n2"
    assert fields["algorithm"] == "SHA-256"


def test_digest_with_only_unsupported_algorithms_raises_protocol_error() -> None:
    request = heron.Request("GET", URL)
    handler, _ = scripted(
        lambda r: challenge_response(
            r,
            'Digest realm="r", nonce="n", algorithm=SHA3-256, Digest realm="r", nonce="m", algorithm=FOO',
        )
    )
    with pytest.raises(
        heron.ProtocolError, match="algorithm SHA3-256, FOO, which heron does not support"
    ) as info:
        run_flow(heron.DigestAuth("user", "pass"), request, handler)
    assert not isinstance(info.value, heron.RemoteProtocolError)


def test_digest_with_an_unsupported_qop_raises_protocol_error() -> None:
    handler, _ = scripted(
        lambda r: challenge_response(r, 'Digest realm="r", nonce="n", qop="auth-conf"')
    )
    with pytest.raises(heron.ProtocolError, match="offers qop='auth-conf'; heron supports only"):
        run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Digest", "missing realm and nonce"),
        ("Digest ,,,", "missing realm and nonce"),
        ('Digest nonce="n"', "missing realm"),
        ('Digest realm="r"', "missing nonce"),
        ("Digest realm", "Failed to parse"),
        ('Digest realm="r", nonce', "missing nonce"),  # a bare token starts a new challenge
        ('Digest realm="r", =x, nonce="n"', "Failed to parse"),
        ('Digest realm="r" nonce="n"', "Failed to parse"),
        ('Digest realm="r", nonce="n', "Failed to parse"),
        ('Digest realm="r, nonce=n', "Failed to parse"),
        ('Digest realm=, nonce="n"', "Failed to parse"),
    ],
)
def test_malformed_digest_challenges_raise_remote_protocol_error(
    header: str, message: str
) -> None:
    handler, _ = scripted(lambda r: challenge_response(r, header))
    with pytest.raises(heron.RemoteProtocolError, match=message) as info:
        run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert repr(header) in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('Basic realm="x"', [("basic", {"realm": "x"})]),
        ("Basic", [("basic", {})]),
        ("Negotiate abc=", [("negotiate", None)]),  # token68
        ('realm="x", Basic', [("basic", {})]),  # parameters before any scheme are dropped
        ('=x, Basic realm = "y" ,', [("basic", {"realm": "y"})]),
        (
            'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
            [
                ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
                ("basic", {"realm": "simple"}),
            ],
        ),
        (
            'Basic realm="x", Digest realm="unterminated',
            [("basic", {"realm": "x"}), ("digest", None)],
        ),
    ],
)
def test_challenges_are_parsed_per_rfc9110(value: str, expected: list[Any]) -> None:
    assert _parse_challenges(value) == expected


# --- DigestAuth across requests: remembered challenges, nonce counts, stale nonces ---------

CHALLENGE = 'Digest realm="r", nonce="n1", qop="auth", opaque="o"'


def test_digest_remembers_the_challenge_and_counts_nonce_uses() -> None:
    auth = heron.DigestAuth("user", "pass")
    handler, seen = scripted(lambda r: challenge_response(r, CHALLENGE), ok, ok, ok)
    for _ in range(3):
        run_flow(auth, heron.Request("GET", URL), handler)
    assert seen[0] == ""
    answers = [digest_fields(header) for header in seen[1:]]
    assert [a["nc"] for a in answers] == ["00000001", "00000002", "00000003"]
    assert len({a["cnonce"] for a in answers}) == 3
    for answer in answers:
        assert answer["nonce"] == "n1"
        assert answer["response"] == expected_response(answer)


def test_digest_retries_a_remembered_challenge_that_is_refused_with_a_stale_nonce() -> None:
    auth = heron.DigestAuth("user", "pass")
    stale = 'Digest realm="r", nonce="n2", qop="auth", stale=true'
    handler, seen = scripted(
        lambda r: challenge_response(r, CHALLENGE),
        ok,
        lambda r: challenge_response(r, stale),
        ok,
        ok,
    )
    run_flow(auth, heron.Request("GET", URL), handler)
    responses = run_flow(auth, heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 200]
    run_flow(auth, heron.Request("GET", URL), handler)
    answers = [digest_fields(header) for header in seen[1:]]
    assert [(a["nonce"], a["nc"]) for a in answers] == [
        ("n1", "00000001"),
        ("n1", "00000002"),
        ("n2", "00000001"),  # a new nonce starts counting again
        ("n2", "00000002"),
    ]


def test_digest_answers_a_refused_remembered_challenge_once() -> None:
    auth = heron.DigestAuth("user", "pass")
    handler, seen = scripted(
        lambda r: challenge_response(r, CHALLENGE),
        ok,
        lambda r: challenge_response(r, 'Digest realm="other", nonce="n2"'),
        lambda r: challenge_response(r, 'Digest realm="other", nonce="n3"'),
    )
    run_flow(auth, heron.Request("GET", URL), handler)
    responses = run_flow(auth, heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 401]
    assert digest_fields(seen[3])["realm"] == "other"


def test_digest_keeps_counting_when_the_server_repeats_the_nonce() -> None:
    auth = heron.DigestAuth("user", "pass")
    handler, seen = scripted(
        lambda r: challenge_response(r, CHALLENGE),
        ok,
        lambda r: challenge_response(r, CHALLENGE),
        ok,
    )
    run_flow(auth, heron.Request("GET", URL), handler)
    run_flow(auth, heron.Request("GET", URL), handler)
    # nc never repeats for one nonce (RFC 7616 section 3.4: the server may treat it as a replay).
    assert [digest_fields(header)["nc"] for header in seen[1:]] == [
        "00000001",
        "00000002",
        "00000003",
    ]


def test_digest_answers_again_when_its_answer_meets_a_stale_nonce() -> None:
    stale = 'Digest realm="r", nonce="n2", qop="auth", stale=TRUE'
    handler, seen = scripted(
        lambda r: challenge_response(r, CHALLENGE), lambda r: challenge_response(r, stale), ok
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 401, 200]
    assert [digest_fields(header)["nonce"] for header in seen[1:]] == ["n1", "n2"]


@pytest.mark.parametrize(
    "second",
    [
        'Digest realm="r", nonce="n2", qop="auth"',  # not stale: the credentials are wrong
        'Digest realm="r", nonce="n2", qop="auth", stale=false',
        'Digest realm="r", nonce="n1", qop="auth", stale=true',  # stale, but the same nonce
        'Basic realm="r"',
    ],
)
def test_digest_gives_up_when_its_answer_is_refused(second: str) -> None:
    handler, _ = scripted(
        lambda r: challenge_response(r, CHALLENGE), lambda r: challenge_response(r, second)
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 401]


def test_digest_stale_retry_happens_once() -> None:
    handler, _ = scripted(
        lambda r: challenge_response(r, CHALLENGE),
        lambda r: challenge_response(r, 'Digest realm="r", nonce="n2", stale=true'),
        lambda r: challenge_response(r, 'Digest realm="r", nonce="n3", stale=true'),
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert [r.status_code for r in responses] == [401, 401, 401]


# --- DigestAuth and the cookies set by a challenge ----------------------------------------


def test_digest_carries_cookies_set_by_the_challenge_to_its_answer() -> None:
    handler, _ = scripted(
        lambda r: challenge_response(
            r, CHALLENGE, headers=[("Set-Cookie", "session=abc; Path=/")]
        ),
        ok,
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), heron.Request("GET", URL), handler)
    assert responses[1].request.headers["Cookie"] == "session=abc"


def test_digest_merges_challenge_cookies_with_the_request_cookies() -> None:
    request = heron.Request("GET", URL, headers={"Cookie": "keep=1; session=old"})
    handler, _ = scripted(
        lambda r: challenge_response(
            r,
            CHALLENGE,
            headers=[("Set-Cookie", "session=new; Path=/"), ("Set-Cookie", "extra=2; Path=/")],
        ),
        ok,
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), request, handler)
    assert responses[1].request.headers["Cookie"] == "keep=1; session=new; extra=2"


def test_digest_leaves_request_cookies_alone_when_challenge_cookies_do_not_apply() -> None:
    request = heron.Request("GET", URL, headers={"Cookie": "keep=1"})
    handler, _ = scripted(
        lambda r: challenge_response(
            r, CHALLENGE, headers=[("Set-Cookie", "other=1; Path=/elsewhere")]
        ),
        ok,
    )
    responses = run_flow(heron.DigestAuth("user", "pass"), request, handler)
    assert responses[1].request.headers.get_list("Cookie") == ["keep=1"]


# --- DigestAuth against httpbin ------------------------------------------------------------


def call_wsgi(app: Any, request: heron.Request) -> heron.Response:
    """Call a WSGI application with a heron.Request; return its answer as a heron.Response."""
    body = request.read()
    raw_path, _, query = request.url.raw_path.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": request.url.host,
        "SERVER_PORT": str(request.url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.multi_items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = started
    return heron.Response(
        int(status.split()[0]), headers=headers, content=content, request=request
    )


class HttpbinClient:
    """The client's part in front of httpbin: a cookie jar, filled from every response and
    sent with each new request (not with an auth flow's retries, as in Client.send)."""

    def __init__(self) -> None:
        self.cookies = heron.Cookies()
        # (Authorization, Cookie) as each request was sent: a flow re-sends the same Request.
        self.sent: list[tuple[str, str]] = []

    def request(self, url: str) -> heron.Request:
        request = heron.Request("GET", "http://127.0.0.1" + url)
        self.cookies.set_cookie_header(request)
        return request

    def send(self, request: heron.Request) -> heron.Response:
        headers = request.headers
        self.sent.append((headers.get("Authorization", ""), headers.get("Cookie", "")))
        response = call_wsgi(httpbin.app, request)
        self.cookies.extract_cookies(response)
        return response

    def get(self, url: str, auth: heron.Auth) -> list[heron.Response]:
        return run_flow(auth, self.request(url), self.send)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512"])
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
def test_digest_authenticates_with_httpbin(algorithm: str, qop: str) -> None:
    auth = heron.DigestAuth("user", "passwd")
    responses = HttpbinClient().get(f"/digest-auth/{qop}/user/passwd/{algorithm}", auth)
    assert [r.status_code for r in responses] == [401, 200]
    assert responses[1].json() == {"authenticated": True, "user": "user"}
    assert digest_fields(responses[1].request.headers["Authorization"])["qop"] == qop


def test_digest_with_httpbin_legacy_route_prefers_qop_auth() -> None:
    # httpbin's qop "none" offers both "auth" and "auth-int".
    responses = HttpbinClient().get(
        "/digest-auth/none/user/passwd", heron.DigestAuth("user", "passwd")
    )
    assert [r.status_code for r in responses] == [401, 200]
    assert digest_fields(responses[1].request.headers["Authorization"])["qop"] == "auth"


def test_digest_with_wrong_password_gets_httpbin_refusal_after_one_answer() -> None:
    auth = heron.DigestAuth("user", "wrong")
    responses = HttpbinClient().get("/digest-auth/auth/user/passwd/MD5", auth)
    assert [r.status_code for r in responses] == [401, 401]


def test_digest_authenticates_later_requests_to_httpbin_without_a_round_trip() -> None:
    client, auth = HttpbinClient(), heron.DigestAuth("user", "passwd")
    url = "/digest-auth/auth/user/passwd/SHA-256"
    assert [r.status_code for r in client.get(url, auth)] == [401, 200]
    later = client.get(url, auth)
    assert [r.status_code for r in later] == [200]
    assert digest_fields(later[0].request.headers["Authorization"])["nc"] == "00000002"


def test_digest_recovers_from_httpbin_stale_nonce() -> None:
    # stale_after=1: httpbin accepts one answer, then calls the nonce stale. Its bookkeeping
    # lives in cookies, so this also checks that the stale challenge's cookies reach the retry
    # alongside the client's own.
    client, auth = HttpbinClient(), heron.DigestAuth("user", "passwd")
    url = "/digest-auth/auth/user/passwd/MD5/1"
    assert [r.status_code for r in client.get(url, auth)] == [401, 200]
    responses = client.get(url, auth)
    assert [r.status_code for r in responses] == [401, 200]
    stale_challenge = _parse_challenges(responses[0].headers["WWW-Authenticate"])[0][1]
    assert stale_challenge is not None
    assert stale_challenge["stale"] == "True"
    (first, first_cookies), (retry, retry_cookies) = client.sent[2:]
    assert "stale_after=0" in first_cookies
    assert "stale_after=1" in retry_cookies  # the stale challenge's cookie replaced it
    assert f"last_nonce={digest_fields(first)['nonce']}" in retry_cookies
    assert (digest_fields(first)["nc"], digest_fields(retry)["nc"]) == ("00000002", "00000001")
    assert digest_fields(first)["nonce"] != digest_fields(retry)["nonce"]


@pytest.mark.anyio
async def test_digest_authenticates_with_httpbin_in_async_flows() -> None:
    client = HttpbinClient()
    request = client.request("/digest-auth/auth/user/passwd/SHA-512")
    responses = await arun_flow(heron.DigestAuth("user", "passwd"), request, client.send)
    assert [r.status_code for r in responses] == [401, 200]
