"""The one-shot API: each call builds a Client, sends, and closes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

import heron
import heron._sync.client


def echo(request: heron.Request) -> heron.Response:
    return heron.Response(
        200,
        json={
            "method": request.method,
            "url": str(request.url),
            "body": request.content.decode(),
            "headers": dict(request.headers),
        },
    )


@pytest.fixture(autouse=True)
def mock_network(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the network transport the throw-away clients build with an echo."""
    calls: list[dict[str, Any]] = []

    def transport(**kwargs: Any) -> heron.MockTransport:
        calls.append(kwargs)
        return heron.MockTransport(echo)

    monkeypatch.setattr(heron._sync.client, "HTTPTransport", transport)
    return calls


@pytest.mark.parametrize("method", ["get", "options", "head", "delete"])
def test_helpers_without_body(method: str) -> None:
    response = getattr(heron, method)("https://example.org/", params={"q": "1"})
    assert response.json()["method"] == method.upper()
    assert response.json()["url"] == "https://example.org/?q=1"


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_helpers_with_body(method: str) -> None:
    response = getattr(heron, method)("https://example.org/", json={"a": 1})
    assert response.json()["method"] == method.upper()
    assert json.loads(response.json()["body"]) == {"a": 1}


def test_request_passes_client_settings(mock_network: list[dict[str, Any]]) -> None:
    response = heron.request(
        "GET",
        "https://example.org/",
        headers={"X-A": "b"},
        auth=("user", "pass"),
        verify=False,
        timeout=2.0,
    )
    seen = response.json()["headers"]
    assert seen["x-a"] == "b"
    assert seen["authorization"] == "Basic dXNlcjpwYXNz"
    assert mock_network[0]["verify"] is False
    assert response.request.extensions["timeout"]["read"] == 2.0


def test_stream_yields_an_unread_response() -> None:
    with heron.stream("POST", "https://example.org/", content=b"data") as response:
        body = response.read()
    assert json.loads(body)["body"] == "data"
    assert response.is_closed
