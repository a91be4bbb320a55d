"""Mount patterns and the mapping from proxy environment variables to mounts."""

from __future__ import annotations

import pytest

import heron
from heron._mounts import URLPattern, get_environment_proxies


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("all://", "http://example.com", True),
        ("all://", "ftp://example.com", True),
        ("http://", "http://example.com", True),
        ("http://", "https://example.com", False),
        ("https://*", "https://example.com:8080", True),
        ("all://example.com", "http://example.com", True),
        ("all://example.com", "http://sub.example.com", False),
        ("all://*.example.com", "http://sub.example.com", True),
        ("all://*.example.com", "http://example.com", False),
        ("all://*example.com", "http://example.com", True),
        ("all://*example.com", "http://a.b.example.com", True),
        ("all://*example.com", "http://myexample.com", False),
        ("all://example.com:8080", "https://example.com:8080", True),
        ("all://example.com:8080", "https://example.com", False),
        ("all://example.com:443", "https://example.com", True),
        ("http://example.com", "http://example.com", True),
        ("http://example.com", "https://example.com", False),
        ("all://10.0.0.0/8", "http://10.1.2.3/", True),
        ("all://10.0.0.0/8", "http://11.1.2.3/", False),
        ("all://10.0.0.0/8", "http://example.com/", False),
        ("all://[::1]", "http://[::1]:8000/", True),
        ("all://[fd00::/8]", "http://[fd12::1]/", True),
        ("all://[fd00::]/8", "http://[fd12::1]/", True),
        ("all://[::1]:8000", "http://[::1]:8000/", True),
        ("all://127.0.0.1", "http://127.0.0.1:5000/", True),
    ],
)
def test_url_pattern_matching(pattern: str, url: str, matches: bool) -> None:
    assert URLPattern(pattern).matches(heron.URL(url)) is matches


def test_more_specific_patterns_sort_first() -> None:
    patterns = [
        URLPattern(p)
        for p in ["all://", "https://", "all://example.com", "all://example.com:8080"]
    ]
    assert [p.pattern for p in sorted(patterns)] == [
        "all://example.com:8080",
        "all://example.com",
        "https://",
        "all://",
    ]


def test_url_pattern_equality_and_repr() -> None:
    assert URLPattern("all://") == URLPattern("all://")
    assert URLPattern("all://") != "all://"
    assert len({URLPattern("http://"), URLPattern("http://")}) == 1
    assert repr(URLPattern("https://")) == "URLPattern('https://')"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("example.com", "scheme followed by '://'"),
        ("all://example.com:99999", "port"),
        ("all://example.com:abc", "port"),
        ("all://not a net/8", "CIDR"),
    ],
)
def test_invalid_patterns_say_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        URLPattern(pattern)


def test_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("HTTPS_PROXY", "proxy.local:3129")
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.local:1080")
    monkeypatch.setenv(
        "NO_PROXY",
        "localhost, 127.0.0.1,::1,.internal.example,example.com,10.0.0.0/8,"
        "fd00::/8,http://plain.example",
    )
    assert get_environment_proxies() == {
        "http://": "http://proxy.local:3128",
        "https://": "http://proxy.local:3129",
        "all://": "socks5://proxy.local:1080",
        "all://localhost": None,
        "all://127.0.0.1": None,
        "all://[::1]": None,
        "all://*.internal.example": None,
        "all://*example.com": None,
        "all://10.0.0.0/8": None,
        "all://[fd00::/8]": None,
        "http://plain.example": None,
    }


def test_no_proxy_star_disables_all_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "*")
    assert get_environment_proxies() == {}


def test_no_environment_means_no_mounts() -> None:
    assert get_environment_proxies() == {}


def test_client_mounts_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    client = heron.Client()
    patterns = {pattern.pattern: transport for pattern, transport in client._mounts.items()}
    assert set(patterns) == {"https://", "all://*internal.example"}
    assert patterns["all://*internal.example"] is None
    assert isinstance(patterns["https://"], heron.HTTPTransport)
    client.close()


def test_trust_env_false_ignores_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    with heron.Client(trust_env=False) as client:
        assert client._mounts == {}


def test_explicit_transport_ignores_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    transport = heron.MockTransport(lambda request: heron.Response(200))
    with heron.Client(transport=transport) as client:
        assert client._mounts == {}


def test_explicit_proxy_is_mounted_for_everything() -> None:
    with heron.Client(proxy="http://proxy.local:3128") as client:
        assert [p.pattern for p in client._mounts] == ["all://"]
