"""Digest auth against an implementation heron did not write: httpbin, through `app=`."""

from __future__ import annotations

import httpbin
import pytest

import heron


@pytest.mark.anyio
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512"])
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
async def test_digest_auth_against_httpbin(algorithm: str, qop: str) -> None:
    auth = heron.DigestAuth("user", "passwd")
    async with heron.AsyncClient(app=httpbin.app, auth=auth) as client:
        url = f"http://httpbin.local/digest-auth/{qop}/user/passwd/{algorithm}"
        first = await client.get(url)
        second = await client.get(url)
    assert first.status_code == 200
    assert first.json() == {"authenticated": True, "user": "user"}
    assert [r.status_code for r in first.history] == [401]
    # The cached challenge lets the second request authenticate without a round trip.
    assert second.status_code == 200
    assert second.history == []


@pytest.mark.anyio
async def test_digest_auth_with_a_wrong_password_gets_401() -> None:
    auth = heron.DigestAuth("user", "wrong")
    async with heron.AsyncClient(app=httpbin.app, auth=auth) as client:
        response = await client.get("http://httpbin.local/digest-auth/auth/user/passwd/MD5")
    assert response.status_code == 401


@pytest.mark.anyio
async def test_basic_auth_against_httpbin() -> None:
    async with heron.AsyncClient(app=httpbin.app, auth=("user", "passwd")) as client:
        response = await client.get("http://httpbin.local/basic-auth/user/passwd")
    assert response.json() == {"authenticated": True, "user": "user"}
