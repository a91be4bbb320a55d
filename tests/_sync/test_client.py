# Generated from tests/_async/test_client.py by scripts/unasync.py: do not edit by hand.
"""Client semantics through MockTransport: merging, lifecycle, hooks, cookies, auth, mounts."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator
from typing import Any

import pytest

import heron
from tests.helpers import async_body, sync_body

# True here; the generated sync twin reads `heron.Client is not heron.Client`, i.e. False.
IS_ASYNC = heron.Client is not heron.Client


def echo(request: heron.Request) -> heron.Response:
    """Answer with what arrived, so tests can assert on the request the transport saw."""
    payload = {
        "method": request.method,
        "url": str(request.url),
        "headers": dict(request.headers),
        "body": request.content.decode("latin-1"),
    }
    return heron.Response(200, json=payload)


def make_client(**kwargs: Any) -> heron.Client:
    kwargs.setdefault("transport", heron.MockTransport(echo))
    return heron.Client(**kwargs)


def test_get_sends_default_headers() -> None:
    with make_client() as client:
        response = client.get("https://example.org/path")
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["url"] == "https://example.org/path"
    assert seen["headers"]["host"] == "example.org"
    assert seen["headers"]["user-agent"] == f"python-heron/{heron.__version__}"
    assert seen["headers"]["accept"] == "*/*"
    assert "gzip" in seen["headers"]["accept-encoding"]


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "HEAD", "DELETE"])
def test_method_helpers_without_body(method: str) -> None:
    with make_client() as client:
        helper = getattr(client, method.lower())
        response = helper("https://example.org/", params={"a": "1"})
    assert response.request.method == method
    assert response.request.url == "https://example.org/?a=1"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_method_helpers_with_body(method: str) -> None:
    with make_client() as client:
        helper = getattr(client, method.lower())
        response = helper("https://example.org/", json={"name": "heron"})
    seen = response.json()
    assert seen["method"] == method
    assert json.loads(seen["body"]) == {"name": "heron"}
    assert seen["headers"]["content-type"] == "application/json"


def test_base_url_joins_by_appending_the_path() -> None:
    with make_client(base_url="https://example.org/api") as client:
        assert client.base_url == "https://example.org/api/"
        response = client.get("/items", params={"page": 2})
        assert response.json()["url"] == "https://example.org/api/items?page=2"
        response = client.get("items")
        assert response.json()["url"] == "https://example.org/api/items"
        response = client.get("https://other.example/x")
        assert response.json()["url"] == "https://other.example/x"
        client.base_url = "https://example.com/v2"
        assert client.base_url == "https://example.com/v2/"


def test_merged_urls_are_reused_until_base_url_changes() -> None:
    with make_client(base_url="https://example.org/api") as client:
        first = client.build_request("GET", "/items#top").url
        assert first == "https://example.org/api/items#top"
        assert client.build_request("GET", "/items#top").url is first
        absolute = client.build_request("GET", "https://example.com/x").url
        assert client.build_request("GET", "https://example.com/x").url is absolute
        client.base_url = "https://example.com/v2"
        response = client.get("/items#top")
        assert response.json()["url"] == "https://example.com/v2/items#top"
        assert client.build_request("GET", heron.URL("/items")).url == (
            "https://example.com/v2/items"
        )


def test_merged_url_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from heron import _client

    monkeypatch.setattr(_client, "_MERGED_URLS_CACHE_SIZE", 2)
    client = make_client(base_url="https://example.org/api")
    for path in ("a", "https://example.com/b", "c"):
        client.build_request("GET", path)
    assert list(client._merged_urls) == ["c"]
    long_path = "x" * (_client._MERGED_URL_MAX_LENGTH + 1)
    assert client.build_request("GET", long_path).url.path == f"/api/{long_path}"
    assert long_path not in client._merged_urls


def test_client_params_merge_with_request_params() -> None:
    with make_client(params={"a": "1"}) as client:
        response = client.get("https://example.org/", params={"b": "2"})
        assert response.json()["url"] == "https://example.org/?a=1&b=2"
        client.params = {"c": "3"}
        assert client.params == heron.QueryParams({"c": "3"})


def test_request_headers_override_client_headers() -> None:
    with make_client(headers={"X-Client": "1", "User-Agent": "mine"}) as client:
        response = client.get("https://example.org/", headers={"X-Client": "2"})
    headers = response.json()["headers"]
    assert headers["x-client"] == "2"
    assert headers["user-agent"] == "mine"


def test_headers_setter_keeps_defaults() -> None:
    with make_client() as client:
        client.headers = {"X-A": "b"}
        assert client.headers["x-a"] == "b"
        assert client.headers["accept"] == "*/*"


def test_timeout_is_stored_on_the_request() -> None:
    with make_client(timeout=3.0) as client:
        response = client.get("https://example.org/")
        assert response.request.extensions["timeout"] == {
            "connect": 3.0,
            "read": 3.0,
            "write": 3.0,
            "pool": 3.0,
        }
        response = client.get("https://example.org/", timeout=None)
        assert response.request.extensions["timeout"]["read"] is None
        client.timeout = heron.Timeout(1.0, read=9.0)
        request = client.build_request("GET", "https://example.org/")
        assert request.extensions["timeout"]["read"] == 9.0
        request.extensions = {}
        response = client.send(request)
        assert response.request.extensions["timeout"]["connect"] == 1.0


def test_closed_client_refuses_to_send() -> None:
    client = make_client()
    with client:
        pass
    assert client.is_closed
    with pytest.raises(RuntimeError, match="has been closed"):
        client.get("https://example.org/")
    with pytest.raises(RuntimeError, match="reopen"):
        with client:
            pass  # pragma: no cover - never entered


def test_client_cannot_be_opened_twice() -> None:
    client = make_client()
    client.get("https://example.org/")
    with pytest.raises(RuntimeError, match="more than once"):
        with client:
            pass  # pragma: no cover - never entered
    client.close()
    client.close()  # closing twice is harmless
    assert client.is_closed


class Chunks:
    """A streamed body: nothing is read until it is iterated."""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in (b"hello, ", b"world"):
            yield chunk


def streaming(request: heron.Request) -> heron.Response:
    return heron.Response(200, content=Chunks())


def test_stream_yields_an_unread_response_and_closes_it() -> None:
    with make_client(transport=heron.MockTransport(streaming)) as client:
        with client.stream("GET", "https://example.org/") as response:
            assert not response.is_stream_consumed
            chunks = [chunk for chunk in response.iter_bytes()]
        assert response.is_closed
    assert chunks == [b"hello, ", b"world"]
    assert response.elapsed.total_seconds() >= 0


def test_send_with_stream_true_leaves_the_body_unread() -> None:
    with make_client(transport=heron.MockTransport(streaming)) as client:
        request = client.build_request("GET", "https://example.org/")
        response = client.send(request, stream=True)
        with pytest.raises(heron.ResponseNotRead):
            _ = response.content
        response.read()
        response.close()
    assert response.content == b"hello, world"


def test_event_hooks_see_requests_and_responses() -> None:
    seen: list[str] = []

    def on_request(request: heron.Request) -> None:
        seen.append(f"request {request.url.path}")

    def on_response(response: heron.Response) -> None:
        seen.append(f"response {response.status_code}")

    hooks = {"request": [on_request], "response": [on_response]}
    with make_client(event_hooks=hooks) as client:
        client.get("https://example.org/a")
        assert client.event_hooks["request"] == [on_request]
        client.event_hooks = {"response": [on_response]}
        client.get("https://example.org/b")
    assert seen == ["request /a", "response 200", "response 200"]


def test_response_hook_can_raise_for_status() -> None:
    def raise_on_4xx_5xx(response: heron.Response) -> None:
        response.raise_for_status()

    def not_found(request: heron.Request) -> heron.Response:
        return heron.Response(404)

    client = heron.Client(
        transport=heron.MockTransport(not_found),
        event_hooks={"response": [raise_on_4xx_5xx]},
    )
    with client:
        with pytest.raises(heron.HTTPStatusError) as info:
            client.get("https://example.org/missing")
    assert info.value.response.status_code == 404


def test_cookies_persist_across_requests() -> None:
    def handler(request: heron.Request) -> heron.Response:
        if request.url.path == "/set":
            return heron.Response(200, headers={"Set-Cookie": "session=abc; Path=/"})
        return heron.Response(200, text=request.headers.get("cookie", ""))

    with make_client(transport=heron.MockTransport(handler)) as client:
        client.get("https://example.org/set")
        assert client.cookies["session"] == "abc"
        response = client.get("https://example.org/read")
        assert response.text == "session=abc"
        client.cookies = {"other": "1"}
        response = client.get("https://example.org/read")
        assert response.text == "other=1"


def test_per_request_cookies_warn_and_are_sent() -> None:
    with make_client(cookies={"a": "1"}) as client:
        with pytest.warns(DeprecationWarning, match="per-request cookies"):
            response = client.get("https://example.org/", cookies={"b": "2"})
    assert response.json()["headers"]["cookie"] == "a=1; b=2"


def test_auth_tuple_sends_basic_credentials() -> None:
    with make_client(auth=("user", "pass")) as client:
        response = client.get("https://example.org/")
        assert response.json()["headers"]["authorization"] == "Basic dXNlcjpwYXNz"
        response = client.get("https://example.org/", auth=None)
        assert "authorization" not in response.json()["headers"]
        assert isinstance(client.auth, heron.BasicAuth)
        client.auth = None
        assert client.auth is None


def test_credentials_in_the_url_become_basic_auth() -> None:
    with make_client() as client:
        response = client.get("https://user:pass@example.org/")
    assert response.json()["headers"]["authorization"] == "Basic dXNlcjpwYXNz"


def test_empty_credentials_in_the_url_send_no_authorization() -> None:
    with make_client() as client:
        response = client.get("https://:@example.org/")
    assert response.request.url.userinfo == b":"
    assert "authorization" not in response.json()["headers"]


def test_the_base_auth_sends_the_request_unchanged() -> None:
    with make_client(auth=heron.Auth()) as client:
        response = client.get("https://user:pass@example.org/")
    assert response.status_code == 200
    assert "authorization" not in response.json()["headers"]


def test_function_auth_is_applied() -> None:
    def add_token(request: heron.Request) -> heron.Request:
        request.headers["Authorization"] = "Bearer token"
        return request

    with make_client(auth=add_token) as client:
        response = client.get("https://example.org/")
    assert response.json()["headers"]["authorization"] == "Bearer token"


def test_mounts_route_by_most_specific_pattern() -> None:
    def answer(label: str) -> heron.MockTransport:
        return heron.MockTransport(lambda request: heron.Response(200, text=label))

    mounts = {
        "all://": answer("all"),
        "https://": answer("https"),
        "all://*.example.org": answer("subdomains"),
        "all://api.example.org:8443": answer("api with port"),
    }
    with make_client(mounts=mounts) as client:
        assert (client.get("http://other.test/")).text == "all"
        assert (client.get("https://other.test/")).text == "https"
        assert (client.get("https://www.example.org/")).text == "subdomains"
        assert (client.get("https://api.example.org:8443/")).text == "api with port"


def test_mount_none_falls_back_to_the_default_transport() -> None:
    unused = heron.MockTransport(lambda request: heron.Response(500))
    with make_client(mounts={"all://": unused, "all://example.org": None}) as client:
        response = client.get("https://example.org/")
    assert response.status_code == 200


def test_body_of_the_other_flavour_is_refused() -> None:
    # An async client refuses a sync iterator, and the sync twin refuses an async one.
    body = sync_body() if IS_ASYNC else async_body()
    with make_client() as client:
        with pytest.raises(RuntimeError, match="iterator"):
            client.post("https://example.org/", content=body)


def test_response_body_of_the_other_flavour_is_refused() -> None:
    def handler(request: heron.Request) -> heron.Response:
        return heron.Response(200, content=sync_body() if IS_ASYNC else async_body())

    with make_client(transport=heron.MockTransport(handler)) as client:
        with pytest.raises(RuntimeError, match="transport must return"):
            client.get("https://example.org/")


def test_transport_errors_carry_the_request() -> None:
    def fail(request: heron.Request) -> heron.Response:
        raise heron.ConnectError("could not connect")

    with make_client(transport=heron.MockTransport(fail)) as client:
        with pytest.raises(heron.ConnectError) as info:
            client.get("https://example.org/")
    assert info.value.request.url == "https://example.org/"


def test_default_encoding_is_applied_to_responses() -> None:
    def latin1(request: heron.Request) -> heron.Response:
        return heron.Response(200, content="café".encode("latin-1"))

    client = make_client(transport=heron.MockTransport(latin1), default_encoding="latin-1")
    with client:
        response = client.get("https://example.org/")
    assert response.text == "café"


def test_trust_env_is_read_only() -> None:
    with make_client(trust_env=False) as client:
        assert client.trust_env is False
        with pytest.raises(AttributeError):
            client.trust_env = True  # type: ignore[misc]


def test_auth_flow_can_retry_with_credentials() -> None:
    class TokenOn401(heron.Auth):
        def auth_flow(self, request: heron.Request) -> Generator[heron.Request, heron.Response]:
            response = yield request
            if response.status_code == 401:
                request.headers["Authorization"] = "Bearer fresh"
                yield request

    def handler(request: heron.Request) -> heron.Response:
        if request.headers.get("authorization") != "Bearer fresh":
            return heron.Response(401)
        return heron.Response(200, text="welcome")

    with make_client(transport=heron.MockTransport(handler), auth=TokenOn401()) as client:
        response = client.get("https://example.org/")
    assert response.text == "welcome"
    assert [r.status_code for r in response.history] == [401]


def test_a_failing_body_read_closes_the_response_and_raises() -> None:
    class Broken:
        def __iter__(self) -> Iterator[bytes]:
            yield b"partial"
            raise heron.ReadError("connection lost")

    def handler(request: heron.Request) -> heron.Response:
        return heron.Response(200, content=Broken())

    with make_client(transport=heron.MockTransport(handler)) as client:
        with pytest.raises(heron.ReadError, match="connection lost"):
            client.get("https://example.org/")


def test_each_request_is_logged_at_info_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="heron")
    with make_client() as client:
        client.get("https://user:secret@example.org/path")
        client.get("https://example.org/other")
    messages = [record.getMessage() for record in caplog.records if record.name == "heron"]
    assert messages == [
        'HTTP Request: GET https://example.org/path "HTTP/1.1 200 OK"',
        'HTTP Request: GET https://example.org/other "HTTP/1.1 200 OK"',
    ]


def test_explicit_timeout_extension_wins() -> None:
    with make_client(timeout=1.0) as client:
        assert client.timeout == heron.Timeout(1.0)
        request = client.build_request(
            "GET", "https://example.org/", extensions={"timeout": {"read": 7.0}}
        )
    assert request.extensions["timeout"] == {"read": 7.0}


def test_closing_a_client_closes_its_mounts() -> None:
    closed: list[str] = []

    class Tracking(heron.MockTransport):
        def close(self) -> None:
            closed.append("mount")

    mounted = Tracking(echo)
    client = make_client(mounts={"https://": mounted, "http://": None})
    client.get("https://example.org/")
    client.close()
    assert closed == ["mount"]


def test_environment_proxies_become_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    client = heron.Client()
    transports = {pattern.pattern: t for pattern, t in client._mounts.items()}
    assert isinstance(transports["https://"], heron.HTTPTransport)
    client.close()


def test_asgi_app_is_called_in_process() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, str]:
        return {"message": "Tomato"}

    with heron.Client(app=app, base_url="http://test") as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Tomato"}


def test_wsgi_app_is_called_in_process() -> None:
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def hello() -> str:
        return "Hello World"

    with heron.Client(app=app, base_url="http://testserver") as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello World"


def test_an_auth_flow_error_closes_the_response_and_propagates() -> None:
    def handler(request: heron.Request) -> heron.Response:
        return heron.Response(401, headers={"WWW-Authenticate": "Digest"})

    auth = heron.DigestAuth("user", "pass")
    with make_client(transport=heron.MockTransport(handler), auth=auth) as client:
        with pytest.raises(heron.ProtocolError):
            client.get("https://example.org/")
