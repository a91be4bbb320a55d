"""Origins: the key connections are pooled by, taken from request URLs."""

from __future__ import annotations

from typing import Any

import pytest

import heron
from heron._pool_state import origin_url, request_origin


def request(url: str = "http://example.org/", method: str = "GET", **kwargs: Any) -> heron.Request:
    return heron.Request(method, url, **kwargs)


def test_origin_url_brackets_ipv6_hosts() -> None:
    assert origin_url(("https", "example.org", 443)) == "https://example.org:443"
    assert origin_url(("http", "::1", 8080)) == "http://[::1]:8080"


def test_request_origin_fills_in_default_ports() -> None:
    assert request_origin(request("http://example.org/")) == ("http", "example.org", 80)
    assert request_origin(request("https://Example.org/")) == ("https", "example.org", 443)
    assert request_origin(request("https://[::1]:8443/")) == ("https", "::1", 8443)


def test_request_origin_refuses_other_schemes() -> None:
    with pytest.raises(heron.UnsupportedProtocol, match=r"unsupported protocol 'ftp://'") as info:
        request_origin(request("ftp://example.org/"))
    assert "'http://' and 'https://'" in str(info.value)


def test_request_origin_refuses_relative_urls() -> None:
    with pytest.raises(heron.UnsupportedProtocol, match="missing an 'http://' or 'https://'"):
        request_origin(request("/path"))


def test_request_origin_hides_passwords() -> None:
    with pytest.raises(heron.UnsupportedProtocol) as info:
        request_origin(request("ftp://user:secret@example.org/"))
    assert "secret" not in str(info.value)
    assert "user:[secure]@" in str(info.value)


def test_request_origin_refuses_a_url_without_host() -> None:
    # RFC 3986: with no "//" after the scheme there is no host ("example.com" is the path).
    with pytest.raises(heron.UnsupportedProtocol, match=r"'http:example\.com' has no host"):
        request_origin(request("http:example.com"))
