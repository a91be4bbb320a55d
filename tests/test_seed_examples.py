"""Every example of the user's notes (shared/seeds), typos corrected, run against local apps.

The notes call httpbin.org, api.github.com and pokeapi.co; here the same requests go, in
process, to the `httpbin` package's app (the real httpbin, served through WSGI) and to small
stand-ins, so the examples run exactly as written with no network.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpbin
import pytest

import heron
import heron._async.client
import heron._sync.client


@pytest.fixture(autouse=True)
def httpbin_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the network transports of every client (one-shot API included) to httpbin."""

    def sync_transport(**kwargs: Any) -> heron.BaseTransport:
        return heron.WSGITransport(app=httpbin.app)

    def async_transport(**kwargs: Any) -> heron.AsyncBaseTransport:
        return heron._async.client.async_app_transport(httpbin.app)

    monkeypatch.setattr(heron._sync.client, "HTTPTransport", sync_transport)
    monkeypatch.setattr(heron._async.client, "AsyncHTTPTransport", async_transport)


def test_basic_usage_compared_with_requests() -> None:
    # The notes' api.github.com/user with basic auth, on httpbin's equivalent endpoint.
    r = heron.get("https://httpbin.org/basic-auth/user/pass", auth=("user", "pass"))

    assert r.status_code == 200  # the notes' `r.status.code`
    assert b'"authenticated": true' in r.content
    assert r.headers["content-type"] == "application/json"
    assert r.encoding == "utf-8"
    assert r.json() == {"authenticated": True, "user": "user"}


def test_crud_operations() -> None:
    r = heron.get("https://httpbin.org/get")
    assert r.status_code == 200
    r = heron.post("https://httpbin.org/post", data={"key": "value"})
    assert r.json()["form"] == {"key": "value"}
    r = heron.put("https://httpbin.org/put", data={"key": "value"})
    assert r.json()["form"] == {"key": "value"}
    r = heron.delete("https://httpbin.org/delete")
    assert r.status_code == 200
    r = heron.head("https://httpbin.org/get")
    assert r.status_code == 200
    assert r.content == b""
    r = heron.options("https://httpbin.org/get")
    assert "GET" in r.headers["allow"]


def test_pass_parameters() -> None:
    params = {"key1": "value1", "key2": "value2"}
    r = heron.get("https://httpbin.org/get", params=params)
    assert r.url == "https://httpbin.org/get?key1=value1&key2=value2"
    assert r.json()["args"] == params


def test_custom_headers() -> None:
    headers = {"user-agent": "my-app/0.0.1"}
    r = heron.get("https://httpbin.org/get", headers=headers)
    assert r.json()["headers"]["User-Agent"] == "my-app/0.0.1"


def test_send_json_encoded_data() -> None:
    data = {"integer": 123, "boolean": True, "list": ["a", "b", "c"]}
    r = heron.post("https://httpbin.org/post", json=data)
    assert r.json()["json"] == data


def test_cookies() -> None:
    r = heron.get("https://httpbin.org/cookies/set?chocolate=chip")
    assert r.cookies["chocolate"] == "chip"


def test_authentication() -> None:
    r = heron.get(
        "https://httpbin.org/basic-auth/my_user/password123", auth=("my_user", "password123")
    )
    assert r.status_code == 200
    r = heron.get("https://httpbin.org/basic-auth/my_user/password123", auth=("my_user", "no"))
    assert r.status_code == 401


def test_timeout() -> None:
    r = heron.get("https://httpbin.org/get", timeout=1)
    assert r.request.extensions["timeout"] == {
        "connect": 1,
        "read": 1,
        "write": 1,
        "pool": 1,
    }


def test_client_object() -> None:
    with heron.Client() as client:
        r = client.get("https://httpbin.org/get")  # the notes' 'https:..example.com
    assert r.status_code == 200

    # Client methods accept the same arguments as heron.get(), heron.post() etc
    with heron.Client() as client:
        headers = {"X-Custom": "value"}
        r = client.get("https://httpbin.org/get", headers=headers)
    assert r.status_code == 200
    assert r.json()["headers"]["X-Custom"] == "value"


def test_sharing_configuration_across_requests() -> None:
    url = "https://httpbin.org/headers"  # the notes doubled the scheme
    headers = {"User-Agent": "my-app/0.0.1"}

    with heron.Client(headers=headers) as client:
        r = client.get(url)
        assert r.json()["headers"]["User-Agent"] == "my-app/0.0.1"


POKEMON = ["bulbasaur", "ivysaur", "venusaur"]


async def pokeapi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A stand-in for pokeapi.co: /api/v2/pokemon/<n> -> {"name": ...}."""
    number = int(scope["path"].rstrip("/").rsplit("/", 1)[1])
    body = b'{"name": "%s"}' % POKEMON[(number - 1) % len(POKEMON)].encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_async_usage() -> None:
    async def main() -> heron.Response:
        async with heron.AsyncClient() as client:  # the notes' AsyncCleint
            response = await client.get("https://httpbin.org/get")
            return response

    response = asyncio.run(main())
    assert response.status_code == 200


def test_async_best_practices_wrong_and_better_way() -> None:
    async def wrong_way() -> list[str]:
        async with heron.AsyncClient(app=pokeapi) as client:
            pokemons = []
            for number in range(1, 151):
                pokemon_url = f"https://pokeapi.co/api/v2/pokemon/{number}"
                resp = await client.get(pokemon_url)
                pokemons.append(resp.json()["name"])
            return pokemons

    async def get_pokemon(client: heron.AsyncClient, url: str) -> str:
        resp = await client.get(url)
        name: str = resp.json()["name"]
        return name

    async def better_way() -> list[str]:
        async with heron.AsyncClient(app=pokeapi) as client:
            tasks = []
            for number in range(1, 151):
                pokemon_url = f"https://pokeapi.co/api/v2/pokemon/{number}"
                tasks.append(asyncio.create_task(get_pokemon(client, pokemon_url)))
            orig_pokemon = await asyncio.gather(*tasks)  # the notes' `-` for `=`
            return orig_pokemon

    sequential = asyncio.run(wrong_way())
    concurrent = asyncio.run(better_way())
    assert len(sequential) == len(concurrent) == 150
    assert sequential == concurrent
    assert concurrent[:3] == POKEMON


def test_flask_example() -> None:
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def hello() -> str:
        return "Hello World"

    with heron.Client(app=app, base_url="http://testserver") as client:  # closing quote fixed
        r = client.get("/")
        assert r.status_code == 200
        assert r.text == "Hello World"


@pytest.mark.anyio
async def test_fastapi_example() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Tomato"}

    async with heron.AsyncClient(app=app, base_url="http://test") as ac:  # AsynClient fixed
        response = await ac.get("/")

    assert response.status_code == 200
    assert response.json() == {"message": "Tomato"}
