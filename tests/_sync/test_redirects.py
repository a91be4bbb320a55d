# Generated from tests/_async/test_redirects.py by scripts/unasync.py: do not edit by hand.
"""Redirect following: methods, bodies, credentials across origins, loops and schemes."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookiejar import Cookie

import pytest

import heron


def redirector(request: heron.Request) -> heron.Response:
    """Routes: /redirect/<status>?to=<location>; anything else echoes the request."""
    if request.url.path.startswith("/redirect/"):
        status = int(request.url.path.rsplit("/", 1)[1])
        location = request.url.params.get("to", "/done")
        return heron.Response(status, headers={"Location": location})
    if request.url.path == "/loop":
        return heron.Response(302, headers={"Location": "/loop"})
    if request.url.path == "/set-cookie-and-redirect":
        return heron.Response(302, headers={"Location": "/done", "Set-Cookie": "step=one; Path=/"})
    return heron.Response(
        200,
        json={
            "method": request.method,
            "url": str(request.url),
            "body": request.content.decode(),
            "headers": dict(request.headers),
        },
    )


def client(**kwargs: object) -> heron.Client:
    return heron.Client(transport=heron.MockTransport(redirector), follow_redirects=True, **kwargs)


def test_redirect_is_not_followed_by_default() -> None:
    with heron.Client(transport=heron.MockTransport(redirector)) as c:
        response = c.get("https://example.org/redirect/302")
    assert response.status_code == 302
    assert response.is_redirect
    assert response.next_request is not None
    assert response.next_request.url == "https://example.org/done"


def test_next_request_can_be_sent_by_hand() -> None:
    with heron.Client(transport=heron.MockTransport(redirector)) as c:
        response = c.get("https://example.org/redirect/302")
        assert response.next_request is not None
        final = c.send(response.next_request)
    assert final.json()["url"] == "https://example.org/done"


def test_followed_redirect_records_history() -> None:
    with client() as c:
        response = c.get("https://example.org/redirect/301")
    assert response.status_code == 200
    assert response.url == "https://example.org/done"
    assert [r.status_code for r in response.history] == [301]
    assert response.history[0].url == "https://example.org/redirect/301"


def test_per_request_follow_redirects_overrides_the_client() -> None:
    with client() as c:
        response = c.get("https://example.org/redirect/302", follow_redirects=False)
    assert response.status_code == 302


def test_303_after_post_becomes_get_without_body() -> None:
    with client() as c:
        response = c.post("https://example.org/redirect/303", content=b"payload")
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["body"] == ""
    assert "content-length" not in seen["headers"]
    assert "content-type" not in seen["headers"]


@pytest.mark.parametrize(("status", "method"), [(301, "GET"), (302, "GET"), (303, "GET")])
def test_post_is_rewritten_to_get(status: int, method: str) -> None:
    with client() as c:
        response = c.post(f"https://example.org/redirect/{status}", data={"a": "b"})
    assert response.json()["method"] == method


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_keep_method_and_body(status: int) -> None:
    with client() as c:
        response = c.post(f"https://example.org/redirect/{status}", content=b"payload")
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["body"] == "payload"
    assert seen["headers"]["content-length"] == "7"


def test_head_stays_head_on_302() -> None:
    with client() as c:
        response = c.head("https://example.org/redirect/302")
    assert response.request.method == "HEAD"


def test_put_stays_put_on_301() -> None:
    with client() as c:
        response = c.put("https://example.org/redirect/301", content=b"x")
    assert response.json()["method"] == "PUT"


class StreamingRedirect(heron.BaseTransport):
    """Consumes the request body as a network transport does (without keeping a copy)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def handle_request(self, request: heron.Request) -> heron.Response:
        self.bodies.append(b"".join([chunk for chunk in request.stream]))
        if request.url.path == "/redirect/307":
            return heron.Response(307, headers={"Location": "/done"})
        return heron.Response(200)


def test_307_with_a_one_shot_stream_raises_a_clear_error() -> None:
    def body() -> Iterator[bytes]:
        yield b"once"

    transport = StreamingRedirect()
    with heron.Client(transport=transport, follow_redirects=True) as c:
        with pytest.raises(heron.StreamConsumed, match="one-shot"):
            c.post("https://example.org/redirect/307", content=body())
    assert transport.bodies == [b"once"]


class Chunks:
    """A re-iterable body: each iteration starts afresh, so it can be sent again."""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in (b"a", b"b"):
            yield chunk


def test_307_replays_a_replayable_stream() -> None:
    transport = StreamingRedirect()
    with heron.Client(transport=transport, follow_redirects=True) as c:
        response = c.post("https://example.org/redirect/307", content=Chunks())
    assert response.status_code == 200
    assert transport.bodies == [b"ab", b"ab"]


def test_cross_origin_redirect_drops_authorization_and_cookie() -> None:
    with client() as c:
        c.cookies.set("session", "secret", domain="example.org")
        response = c.get(
            "https://example.org/redirect/302?to=https://other.example/done",
            headers={"Authorization": "Bearer token"},
        )
    headers = response.json()["headers"]
    assert response.url == "https://other.example/done"
    assert response.history[0].request.headers["cookie"] == "session=secret"
    assert "authorization" not in headers
    assert "cookie" not in headers
    assert headers["host"] == "other.example"


def test_cross_origin_redirect_drops_a_cookie_header_set_by_hand() -> None:
    with client() as c:
        response = c.get(
            "https://example.org/redirect/302?to=https://other.example/done",
            headers={"Cookie": "manual=1"},
        )
    assert response.history[0].request.headers["cookie"] == "manual=1"
    assert "cookie" not in response.json()["headers"]


def test_same_origin_redirect_keeps_authorization() -> None:
    with client() as c:
        response = c.get(
            "https://example.org/redirect/302", headers={"Authorization": "Bearer token"}
        )
    assert response.json()["headers"]["authorization"] == "Bearer token"


def test_https_to_http_on_the_same_host_drops_credentials() -> None:
    with client() as c:
        c.cookies.jar.set_cookie(_secure_cookie("session", "secret", "example.org"))
        response = c.get(
            "https://example.org/redirect/302?to=http://example.org/done",
            headers={"Authorization": "Bearer token"},
        )
    headers = response.json()["headers"]
    assert response.history[0].request.headers["cookie"] == "session=secret"
    assert response.url == "http://example.org/done"
    assert "authorization" not in headers
    assert "cookie" not in headers


def _secure_cookie(name: str, value: str, domain: str) -> Cookie:
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=True,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )


def test_http_to_https_upgrade_on_the_same_host_keeps_authorization() -> None:
    with client() as c:
        response = c.get(
            "http://example.org/redirect/302?to=https://example.org/done",
            headers={"Authorization": "Bearer token"},
        )
    assert response.json()["headers"]["authorization"] == "Bearer token"


def test_proxy_authorization_never_follows_a_redirect() -> None:
    with client() as c:
        response = c.get(
            "https://example.org/redirect/302", headers={"Proxy-Authorization": "Basic x"}
        )
    assert "proxy-authorization" not in response.json()["headers"]


def test_same_origin_redirect_rebuilds_cookies_from_the_jar() -> None:
    with client(cookies={"session": "secret"}) as c:
        response = c.get("https://example.org/set-cookie-and-redirect")
    assert response.json()["headers"]["cookie"] == "session=secret; step=one"


def test_redirect_loop_raises_too_many_redirects() -> None:
    with client(max_redirects=3) as c:
        with pytest.raises(heron.TooManyRedirects, match="maximum of 3 redirects") as info:
            c.get("https://example.org/loop")
    assert info.value.request.url == "https://example.org/loop"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "javascript:alert(1)"])
def test_non_http_location_raises_a_clear_error(location: str) -> None:
    with client() as c:
        with pytest.raises(heron.UnsupportedProtocol, match="only follows redirects"):
            c.get("https://example.org/redirect/302", params={"to": location})


def test_invalid_location_raises_remote_protocol_error() -> None:
    with client() as c:
        with pytest.raises(heron.RemoteProtocolError, match="Location"):
            c.get("https://example.org/redirect/302", params={"to": "https://[bad/"})


def test_fragment_is_carried_over() -> None:
    with client() as c:
        response = c.get("https://example.org/redirect/302#section")
    assert response.url == "https://example.org/done#section"


def test_relative_and_schemeless_locations_are_resolved() -> None:
    with client() as c:
        response = c.get("https://example.org/redirect/302?to=../done")
        assert response.url == "https://example.org/done"
        response = c.get("https://example.org/redirect/302?to=//other.example/done")
        assert response.url == "https://other.example/done"
        response = c.get("https://example.org/redirect/302", params={"to": "https:/done"})
        assert response.url == "https://example.org/done"


def test_hooks_fire_for_each_redirect_step() -> None:
    paths: list[str] = []

    def on_request(request: heron.Request) -> None:
        paths.append(request.url.path)

    with client(event_hooks={"request": [on_request]}) as c:
        c.get("https://example.org/redirect/302")
    assert paths == ["/redirect/302", "/done"]
