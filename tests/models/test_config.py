from __future__ import annotations

import copy
import fractions
import math
import pickle
import ssl
from pathlib import Path
from typing import Any

import certifi
import pytest
import trustme

import heron
from heron import _config
from heron._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    USE_CLIENT_DEFAULT,
    Limits,
    Proxy,
    Timeout,
    UseClientDefault,
    create_ssl_context,
    transport_ssl_context,
)

# Timeout
# (TimeoutTypes, like httpx's alias, only spells out the 4-tuple: shorter tuples and other real
# numbers are accepted at run time, hence the arg-type ignores below.)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (Timeout(5.0), (5.0, 5.0, 5.0, 5.0)),
        (Timeout(timeout=5), (5, 5, 5, 5)),
        (Timeout(None), (None, None, None, None)),
        (Timeout(5.0, connect=1.0), (1.0, 5.0, 5.0, 5.0)),
        (Timeout(5.0, pool=None), (5.0, 5.0, 5.0, None)),
        (Timeout(None, read=30.0), (None, 30.0, None, None)),
        (Timeout(connect=1, read=2, write=3, pool=4), (1, 2, 3, 4)),
        (Timeout(connect=None, read=None, write=None, pool=None), (None, None, None, None)),
        (Timeout((1.0, 2.0)), (1.0, 2.0, None, None)),  # type: ignore[arg-type]
        (Timeout((1.0, 2.0, 3.0)), (1.0, 2.0, 3.0, None)),  # type: ignore[arg-type]
        (Timeout((1.0, 2.0, 3.0, 4.0)), (1.0, 2.0, 3.0, 4.0)),
        (Timeout((None, 2.0)), (None, 2.0, None, None)),  # type: ignore[arg-type]
        (Timeout(Timeout(3.0)), (3.0, 3.0, 3.0, 3.0)),
        (Timeout(0), (0, 0, 0, 0)),
    ],
)
def test_timeout_accepts_every_documented_form(
    timeout: Timeout, expected: tuple[float | None, ...]
) -> None:
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == expected


def test_timeout_overrides_apply_on_top_of_another_timeout() -> None:
    base = Timeout(5.0, read=10.0)
    derived = Timeout(base, connect=1.0, pool=None)
    assert derived.as_dict() == {"connect": 1.0, "read": 10.0, "write": 5.0, "pool": None}
    assert base.as_dict() == {"connect": 5.0, "read": 10.0, "write": 5.0, "pool": 5.0}


def test_timeout_overrides_apply_on_top_of_a_tuple() -> None:
    assert Timeout((1.0, 2.0), write=3.0).as_dict() == {  # type: ignore[arg-type]
        "connect": 1.0,
        "read": 2.0,
        "write": 3.0,
        "pool": None,
    }


def test_timeout_converts_other_real_numbers_to_float() -> None:
    timeout = Timeout(fractions.Fraction(1, 2))  # type: ignore[arg-type]
    assert timeout.connect == 0.5
    assert type(timeout.connect) is float


def test_timeout_as_dict_returns_a_new_dict_each_time() -> None:
    timeout = Timeout(5.0)
    first = timeout.as_dict()
    first["connect"] = 99.0
    assert timeout.as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (Timeout(5.0), "Timeout(timeout=5.0)"),
        (Timeout(5), "Timeout(timeout=5)"),
        (Timeout(None), "Timeout(timeout=None)"),
        (Timeout(5.0, connect=1.0), "Timeout(connect=1.0, read=5.0, write=5.0, pool=5.0)"),
        (Timeout((1, 2)), "Timeout(connect=1, read=2, write=None, pool=None)"),  # type: ignore[arg-type]
    ],
)
def test_timeout_repr_matches_httpx(timeout: Timeout, expected: str) -> None:
    assert repr(timeout) == expected


def test_timeout_equality_and_hash_follow_the_four_values() -> None:
    assert Timeout(5.0) == Timeout(5)
    assert Timeout(5.0) == Timeout(connect=5.0, read=5.0, write=5.0, pool=5.0)
    assert hash(Timeout(5.0)) == hash(Timeout(connect=5.0, read=5.0, write=5.0, pool=5.0))
    assert Timeout(5.0) != Timeout(5.0, pool=None)
    assert Timeout(5.0) != 5.0
    assert Timeout(5.0).__eq__(5.0) is NotImplemented
    assert len({Timeout(1.0), Timeout(1.0), Timeout(2.0)}) == 2


def test_timeout_is_immutable() -> None:
    timeout = Timeout(5.0)
    with pytest.raises(AttributeError, match="has no setter"):
        timeout.connect = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError, match="has no deleter"):
        del timeout.read
    with pytest.raises(AttributeError):
        timeout.total = 1.0  # type: ignore[attr-defined]
    assert timeout == Timeout(5.0)


@pytest.mark.parametrize("timeout", [Timeout(5.0), Timeout(1.0, read=None), Timeout((1, 2, 3))])  # type: ignore[arg-type]
def test_timeout_survives_pickle_and_copy(timeout: Timeout) -> None:
    assert pickle.loads(pickle.dumps(timeout)) == timeout
    assert copy.copy(timeout) == timeout
    assert copy.deepcopy(timeout) == timeout


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"connect": 5.0}, {"connect": 1.0, "read": 2.0, "write": 3.0}],
)
def test_timeout_without_a_default_needs_all_four_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Timeout needs a default") as info:
        Timeout(**kwargs)
    # The message names what is missing.
    assert "pool not given" in str(info.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((-1,), {}, "timeout"),
        ((-0.5,), {}, "timeout"),
        ((math.nan,), {}, "timeout"),
        ((math.inf,), {}, "timeout"),
        ((5.0,), {"connect": -1.0}, "connect"),
        ((5.0,), {"read": math.inf}, "read"),
        (((1.0, -2.0),), {}, "read"),
        ((fractions.Fraction(-1, 2),), {}, "timeout"),
    ],
)
def test_timeout_rejects_negative_and_non_finite_values(
    args: tuple[Any, ...], kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be a finite number of seconds >= 0"):
        Timeout(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        (("5",), {}, "timeout"),
        ((True,), {}, "timeout"),
        ((5.0,), {"write": "1"}, "write"),
        ((5.0,), {"pool": False}, "pool"),
        (((1.0, "2"),), {}, "read"),
        (([1.0, 2.0],), {}, "timeout"),
    ],
)
def test_timeout_rejects_values_that_are_not_numbers(
    args: tuple[Any, ...], kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name} must be a number of seconds, or None"):
        Timeout(*args, **kwargs)


@pytest.mark.parametrize("value", [(1.0,), (), (1.0, 2.0, 3.0, 4.0, 5.0)])
def test_timeout_tuple_must_have_two_to_four_items(value: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="A timeout tuple is"):
        Timeout(value)  # type: ignore[arg-type]


def test_default_timeout_config_is_five_seconds() -> None:
    assert Timeout(5.0) == DEFAULT_TIMEOUT_CONFIG
    assert repr(DEFAULT_TIMEOUT_CONFIG) == "Timeout(timeout=5.0)"


# Limits


def test_limits_defaults() -> None:
    limits = Limits()
    assert limits.max_connections is None
    assert limits.max_keepalive_connections is None
    assert limits.keepalive_expiry == 5.0


def test_limits_repr_matches_httpx() -> None:
    assert repr(Limits()) == (
        "Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=5.0)"
    )
    assert repr(DEFAULT_LIMITS) == (
        "Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)"
    )


def test_limits_equality_and_hash() -> None:
    assert Limits() == Limits()
    assert hash(Limits(max_connections=3)) == hash(Limits(max_connections=3))
    assert Limits(max_connections=1) != Limits()
    assert Limits(keepalive_expiry=None) != Limits()
    assert Limits() != "Limits()"
    assert Limits().__eq__(None) is NotImplemented


def test_limits_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Limits(10)  # type: ignore[call-arg]


def test_limits_is_immutable() -> None:
    limits = Limits()
    with pytest.raises(AttributeError, match="has no setter"):
        limits.max_connections = 5  # type: ignore[misc]


def test_limits_survives_pickle_and_copy() -> None:
    limits = Limits(max_connections=10, max_keepalive_connections=0, keepalive_expiry=None)
    assert pickle.loads(pickle.dumps(limits)) == limits
    assert copy.deepcopy(limits) == limits


def test_limits_accepts_boundary_values() -> None:
    limits = Limits(max_connections=1, max_keepalive_connections=0, keepalive_expiry=0)
    assert (limits.max_connections, limits.max_keepalive_connections) == (1, 0)
    assert limits.keepalive_expiry == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_connections": 0}, ValueError, "^max_connections must be >= 1"),
        ({"max_connections": -1}, ValueError, "^max_connections must be >= 1"),
        ({"max_keepalive_connections": -1}, ValueError, "^max_keepalive_connections must be >= 0"),
        ({"max_connections": 1.5}, TypeError, "^max_connections must be an int >= 1"),
        ({"max_connections": "10"}, TypeError, "^max_connections must be an int"),
        ({"max_keepalive_connections": True}, TypeError, "^max_keepalive_connections must be"),
        ({"keepalive_expiry": -1}, ValueError, "^keepalive_expiry must be a finite number"),
        ({"keepalive_expiry": "5"}, TypeError, "^keepalive_expiry must be a number"),
    ],
)
def test_limits_validation_says_what_is_valid(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Limits(**kwargs)


def test_default_limits_and_max_redirects() -> None:
    expected = Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
    assert expected == DEFAULT_LIMITS
    assert DEFAULT_MAX_REDIRECTS == 20


# Proxy


def test_proxy_moves_credentials_from_the_url_to_auth() -> None:
    proxy = Proxy("http://user:secret@proxy.example.com:8080")
    assert proxy.url == "http://proxy.example.com:8080"
    assert proxy.auth == ("user", "secret")
    assert proxy.raw_auth == (b"user", b"secret")
    assert "secret" not in str(proxy.url)


def test_proxy_percent_decodes_url_credentials() -> None:
    proxy = Proxy("http://us%40er:p%3Ass@proxy.example.com")
    assert proxy.auth == ("us@er", "p:ss")
    assert proxy.raw_auth == (b"us@er", b"p:ss")


def test_proxy_raw_auth_is_utf8() -> None:
    proxy = Proxy("http://proxy.example.com", auth=("ü", "ä"))
    assert proxy.raw_auth == ("ü".encode(), "ä".encode())


def test_proxy_with_username_only_has_empty_password() -> None:
    assert Proxy("http://user@proxy.example.com").auth == ("user", "")


def test_proxy_url_credentials_win_over_auth_argument() -> None:
    proxy = Proxy("http://u:p@proxy.example.com", auth=("other", "pw"))
    assert proxy.auth == ("u", "p")


def test_proxy_without_credentials() -> None:
    proxy = Proxy("socks5://proxy.example.com:1080")
    assert proxy.auth is None
    assert proxy.raw_auth is None
    assert proxy.ssl_context is None
    assert isinstance(proxy.headers, heron.Headers)
    assert not proxy.headers


def test_proxy_accepts_a_url_object() -> None:
    url = heron.URL("https://proxy.example.com")
    assert Proxy(url).url == url
    assert Proxy(url=url).url == url


@pytest.mark.parametrize("scheme", ["http", "https", "socks5", "socks5h"])
def test_proxy_accepts_each_supported_scheme(scheme: str) -> None:
    assert Proxy(f"{scheme}://proxy.example.com").url.scheme == scheme


def test_proxy_scheme_is_case_insensitive() -> None:
    assert Proxy("HTTP://proxy.example.com").url.scheme == "http"


@pytest.mark.parametrize("url", ["ftp://proxy.example.com", "socks4://proxy.example.com"])
def test_proxy_rejects_other_schemes_naming_the_valid_ones(url: str) -> None:
    with pytest.raises(ValueError, match="has scheme") as info:
        Proxy(url)
    message = str(info.value)
    assert url.split(":")[0] in message
    for scheme in ("http://", "https://", "socks5://", "socks5h://"):
        assert scheme in message


def test_proxy_errors_never_show_the_password() -> None:
    with pytest.raises(ValueError, match="scheme 'ftp'") as info:
        Proxy("ftp://user:hunter2@proxy.example.com")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("url", ["//proxy.example.com:3128", "localhost"])
def test_proxy_without_scheme_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="has no scheme"):
        Proxy(url)


def test_proxy_host_and_port_without_scheme_reads_as_a_scheme() -> None:
    # "proxy:8080" parses as scheme "proxy"; the message shows how to write it.
    with pytest.raises(ValueError, match=r"scheme 'proxy'.*'http://proxy\.example\.com:3128'"):
        Proxy("proxy:8080")


@pytest.mark.parametrize("url", ["socks5://", "socks5h:///path"])
def test_proxy_without_host_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="has no host"):
        Proxy(url)


def test_proxy_url_that_is_not_a_url_raises_invalid_url() -> None:
    with pytest.raises(heron.InvalidURL):
        Proxy("http://")


@pytest.mark.parametrize("url", [123, b"http://proxy.example.com", None])
def test_proxy_url_must_be_str_or_url(url: Any) -> None:
    with pytest.raises(TypeError, match=r"Proxy URL must be a str or heron\.URL"):
        Proxy(url)


@pytest.mark.parametrize("auth", ["user:pw", ("user",), ("user", "pw", "x"), (b"u", b"p")])
def test_proxy_auth_must_be_a_pair_of_str(auth: Any) -> None:
    with pytest.raises(TypeError, match=r"\(username, password\) tuple"):
        Proxy("http://proxy.example.com", auth=auth)


def test_proxy_ssl_context_is_kept() -> None:
    context = ssl.create_default_context()
    assert Proxy("https://proxy.example.com", ssl_context=context).ssl_context is context


def test_proxy_ssl_context_type_is_checked() -> None:
    with pytest.raises(TypeError, match=r"ssl_context must be an ssl\.SSLContext"):
        Proxy("https://proxy.example.com", ssl_context=True)  # type: ignore[arg-type]


def test_proxy_headers_are_heron_headers_without_proxy_authorization() -> None:
    proxy = Proxy("http://u:p@proxy.example.com", headers={"X-Proxy-Tag": "1"})
    assert proxy.headers["x-proxy-tag"] == "1"
    # The transport builds Proxy-Authorization from raw_auth; httpx does not add it here.
    assert "proxy-authorization" not in proxy.headers


def test_proxy_repr_masks_the_password() -> None:
    proxy = Proxy("http://user:secret@proxy.example.com:8080/")
    assert repr(proxy) == "Proxy('http://proxy.example.com:8080/', auth=('user', '********'))"
    assert "secret" not in repr(proxy)


def test_proxy_repr_without_auth_or_headers() -> None:
    assert repr(Proxy("socks5://proxy.example.com")) == "Proxy('socks5://proxy.example.com')"


def test_proxy_repr_masks_secret_headers() -> None:
    proxy = Proxy(
        "http://proxy.example.com",
        headers={"X-Tag": "1", "Proxy-Authorization": "Basic c2VjcmV0"},
    )
    text = repr(proxy)
    assert "c2VjcmV0" not in text
    assert "[secure]" in text
    assert "'1'" in text


def test_proxy_is_immutable() -> None:
    proxy = Proxy("http://proxy.example.com")
    with pytest.raises(AttributeError, match="has no setter"):
        proxy.url = heron.URL("http://other.example.com")  # type: ignore[misc]


def test_proxy_equality_and_hash() -> None:
    first = Proxy("http://u:p@proxy.example.com")
    second = Proxy("http://proxy.example.com", auth=("u", "p"))
    assert first == second
    assert hash(first) == hash(second)
    assert first != Proxy("http://proxy.example.com")
    assert first != Proxy("http://u:p@proxy.example.com", headers={"X": "1"})
    assert first != Proxy("http://u:p@proxy.example.com", ssl_context=ssl.create_default_context())
    assert first != "http://proxy.example.com"


def test_proxy_survives_pickle() -> None:
    proxy = Proxy("http://u:p@proxy.example.com:3128", headers={"X-Tag": "1"})
    restored = pickle.loads(pickle.dumps(proxy))
    assert restored == proxy
    assert restored.auth == ("u", "p")
    assert restored.headers["x-tag"] == "1"


# USE_CLIENT_DEFAULT


def test_use_client_default_is_a_typed_sentinel() -> None:
    assert isinstance(USE_CLIENT_DEFAULT, UseClientDefault)
    assert USE_CLIENT_DEFAULT is UseClientDefault.USE_CLIENT_DEFAULT
    assert USE_CLIENT_DEFAULT is not None
    assert repr(USE_CLIENT_DEFAULT) == "<USE_CLIENT_DEFAULT>"
    assert heron.USE_CLIENT_DEFAULT is USE_CLIENT_DEFAULT


def test_use_client_default_class_reports_module_heron() -> None:
    assert type(heron.USE_CLIENT_DEFAULT).__module__ == "heron"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_use_client_default_keeps_its_identity_through_pickle(protocol: int) -> None:
    assert pickle.loads(pickle.dumps(USE_CLIENT_DEFAULT, protocol)) is USE_CLIENT_DEFAULT


def test_use_client_default_keeps_its_identity_through_copy() -> None:
    assert copy.copy(USE_CLIENT_DEFAULT) is USE_CLIENT_DEFAULT
    assert copy.deepcopy({"auth": USE_CLIENT_DEFAULT})["auth"] is USE_CLIENT_DEFAULT


def test_unset_sentinel_repr_shows_in_signatures() -> None:
    assert repr(_config._UNSET) == "<UNSET>"


# SSL

VERIFY_PATH_DEPRECATED = r"Passing a path as `verify=` is deprecated"
CERT_DEPRECATED = r"`cert=` is deprecated"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def handshake(
    client: ssl.SSLContext, server: ssl.SSLContext, hostname: str = "localhost"
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a TLS handshake between two contexts in memory; no sockets involved."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(client_in, client_out, server_hostname=hostname)
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_done = server_done = False
    for _ in range(10):
        if not client_done:
            try:
                client_side.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        if not server_done:
            try:
                server_side.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
        client_in.write(server_out.read())
        if client_done and server_done:
            return client_side, server_side
    raise AssertionError("handshake did not finish")  # pragma: no cover


def certifi_stats() -> dict[str, int]:
    return ssl.create_default_context(cafile=certifi.where()).cert_store_stats()


def test_default_context_verifies_with_certifi() -> None:
    context = create_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.cert_store_stats() == certifi_stats()
    assert context.keylog_filename is None


def test_default_context_rejects_an_unknown_ca(server_context: ssl.SSLContext) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(create_ssl_context(), server_context)


def test_create_ssl_context_returns_a_new_context_each_call() -> None:
    # The caller owns it and may load a client certificate into it.
    assert create_ssl_context() is not create_ssl_context()


def test_verify_false_checks_neither_certificate_nor_hostname(
    server_context: ssl.SSLContext,
) -> None:
    context = create_ssl_context(verify=False)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    handshake(context, server_context, hostname="wrong.example")


def test_verify_ssl_context_is_returned_as_is() -> None:
    context = ssl.create_default_context()
    assert create_ssl_context(verify=context) is context


@pytest.mark.parametrize("verify", [None, 1, b"/etc/ssl", ["x"]])
def test_verify_of_another_type_is_a_type_error(verify: Any) -> None:
    with pytest.raises(TypeError, match=r"verify must be True, False, an ssl\.SSLContext"):
        create_ssl_context(verify=verify)


def test_ssl_cert_file_is_trusted_when_trust_env(
    monkeypatch: pytest.MonkeyPatch, ca_file: str, server_context: ssl.SSLContext
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    context = create_ssl_context()
    assert context.cert_store_stats()["x509_ca"] == 1
    handshake(context, server_context)


def test_ssl_cert_file_is_ignored_without_trust_env(
    monkeypatch: pytest.MonkeyPatch, ca_file: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    assert create_ssl_context(trust_env=False).cert_store_stats() == certifi_stats()


def test_missing_ssl_cert_file_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError, match="SSL_CERT_FILE="):
        create_ssl_context()


def test_empty_ssl_cert_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "")
    monkeypatch.setenv("SSL_CERT_DIR", "")
    assert create_ssl_context().cert_store_stats() == certifi_stats()


def spy_on_create_default_context(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = ssl.create_default_context

    def spy(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", spy)
    return calls


def test_ssl_cert_dir_is_used_as_capath_when_trust_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    calls = spy_on_create_default_context(monkeypatch)
    create_ssl_context()
    assert calls == [{"cafile": None, "capath": str(tmp_path)}]


def test_ssl_cert_file_and_dir_are_both_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_file: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    calls = spy_on_create_default_context(monkeypatch)
    create_ssl_context()
    assert calls == [{"cafile": ca_file, "capath": str(tmp_path)}]


def test_missing_ssl_cert_dir_falls_back_to_certifi(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "missing"))
    assert create_ssl_context().cert_store_stats() == certifi_stats()


def test_sslkeylogfile_is_honoured_when_trust_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keylog = str(tmp_path / "keys.log")
    monkeypatch.setenv("SSLKEYLOGFILE", keylog)
    assert create_ssl_context().keylog_filename == keylog
    assert create_ssl_context(verify=False).keylog_filename == keylog
    assert create_ssl_context(trust_env=False).keylog_filename is None
    assert create_ssl_context(verify=False, trust_env=False).keylog_filename is None


def test_verify_path_to_a_file_works_but_is_deprecated(
    ca_file: str, server_context: ssl.SSLContext
) -> None:
    with pytest.warns(DeprecationWarning, match=r"ssl\.create_default_context\(cafile=") as info:
        context = create_ssl_context(verify=ca_file)
    # The warning points at the caller, not at heron.
    assert info[0].filename == __file__
    assert context.cert_store_stats()["x509_ca"] == 1
    handshake(context, server_context)


def test_verify_pathlike_is_accepted(ca_file: str) -> None:
    with pytest.warns(DeprecationWarning, match=VERIFY_PATH_DEPRECATED):
        context = create_ssl_context(verify=Path(ca_file))  # type: ignore[arg-type]
    assert context.cert_store_stats()["x509_ca"] == 1


def test_verify_path_to_a_directory_is_used_as_capath(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = spy_on_create_default_context(monkeypatch)
    with pytest.warns(DeprecationWarning, match=r"capath="):
        create_ssl_context(verify=str(tmp_path))
    assert calls == [{"cafile": None, "capath": str(tmp_path)}]


def test_verify_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with (
        pytest.warns(DeprecationWarning, match=VERIFY_PATH_DEPRECATED),
        pytest.raises(FileNotFoundError, match="neither a CA bundle file nor a CA directory"),
    ):
        create_ssl_context(verify=missing)


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("client@example.com")


@pytest.fixture
def mutual_tls_server(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.issue_cert("localhost").configure_cert(context)
    ca.configure_trust(context)
    return context


def client_cert_forms(cert: trustme.LeafCert, tmp_path: Path) -> list[Any]:
    from cryptography.hazmat.primitives import serialization

    combined = tmp_path / "client.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(combined))
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key = tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key))
    encrypted_key = tmp_path / "encrypted-key.pem"
    private_key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    encrypted_key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"hunter2"),
        )
    )
    return [str(combined), (str(chain), str(key)), (str(chain), str(encrypted_key), "hunter2")]


@pytest.mark.parametrize("form", range(3), ids=["file", "cert-and-key", "with-password"])
def test_client_cert_is_loaded_but_deprecated(
    form: int,
    client_cert: trustme.LeafCert,
    tmp_path: Path,
    ca_file: str,
    mutual_tls_server: ssl.SSLContext,
) -> None:
    cert = client_cert_forms(client_cert, tmp_path)[form]
    trusting = ssl.create_default_context(cafile=ca_file)
    with pytest.warns(DeprecationWarning, match=r"load_cert_chain") as info:
        context = create_ssl_context(verify=trusting, cert=cert)
    assert info[0].filename == __file__
    # Loaded into the caller's own context, as httpx does.
    assert context is trusting
    _, server_side = handshake(context, mutual_tls_server)
    assert server_side.getpeercert()


def test_client_cert_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    with (
        pytest.warns(DeprecationWarning, match=CERT_DEPRECATED),
        pytest.raises(FileNotFoundError, match="Client certificate file"),
    ):
        create_ssl_context(cert=missing)
    with (
        pytest.warns(DeprecationWarning, match=CERT_DEPRECATED),
        pytest.raises(FileNotFoundError, match=r"missing\.key"),
    ):
        create_ssl_context(verify=False, cert=(__file__, str(tmp_path / "missing.key")))


@pytest.mark.parametrize("cert", [("only-one",), ("a", "b", "c", "d"), 123, ["a", "b"]])
def test_client_cert_of_another_shape_is_a_type_error(cert: Any) -> None:
    with (
        pytest.warns(DeprecationWarning, match=CERT_DEPRECATED),
        pytest.raises(TypeError, match="cert must be"),
    ):
        create_ssl_context(cert=cert)


# The transport's shared contexts


def test_transport_context_is_shared_for_the_default_arguments() -> None:
    first = transport_ssl_context()
    assert transport_ssl_context() is first
    assert transport_ssl_context(True, None, True) is first
    assert first.cert_store_stats() == certifi_stats()


def test_transport_context_is_shared_per_alpn_list(server_context: ssl.SSLContext) -> None:
    h2 = transport_ssl_context(alpn_protocols=["h2", "http/1.1"])
    h1 = transport_ssl_context(alpn_protocols=("http/1.1",))
    assert transport_ssl_context(alpn_protocols=("h2", "http/1.1")) is h2
    assert h1 is not h2
    assert h1 is not transport_ssl_context()


def test_transport_context_cache_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, ca_file: str, tmp_path: Path
) -> None:
    default = transport_ssl_context()
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    from_env = transport_ssl_context()
    assert from_env is not default
    assert from_env.cert_store_stats()["x509_ca"] == 1
    assert transport_ssl_context() is from_env
    assert transport_ssl_context(trust_env=False) is not from_env
    keylog = str(tmp_path / "keys.log")
    monkeypatch.setenv("SSLKEYLOGFILE", keylog)
    assert transport_ssl_context().keylog_filename == keylog
    assert transport_ssl_context(trust_env=False).keylog_filename is None


def test_transport_context_sets_alpn(ca_file: str, ca: trustme.CA) -> None:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    server.set_alpn_protocols(["h2", "http/1.1"])

    own = ssl.create_default_context(cafile=ca_file)
    assert transport_ssl_context(own, alpn_protocols=["h2"]) is own
    client_side, _ = handshake(own, server)
    assert client_side.selected_alpn_protocol() == "h2"

    insecure = transport_ssl_context(False, alpn_protocols=["http/1.1"])
    assert transport_ssl_context(False, alpn_protocols=["http/1.1"]) is not insecure
    client_side, _ = handshake(insecure, server)
    assert client_side.selected_alpn_protocol() == "http/1.1"


def test_transport_context_without_alpn_leaves_own_context_alone() -> None:
    own = ssl.create_default_context()
    assert transport_ssl_context(own) is own


def test_transport_context_with_cert_builds_a_fresh_context(
    client_cert: trustme.LeafCert, tmp_path: Path
) -> None:
    cert = client_cert_forms(client_cert, tmp_path)[0]
    with pytest.warns(DeprecationWarning, match=CERT_DEPRECATED):
        first = transport_ssl_context(cert=cert, alpn_protocols=["http/1.1"])
    with pytest.warns(DeprecationWarning, match=CERT_DEPRECATED):
        second = transport_ssl_context(cert=cert, alpn_protocols=["http/1.1"])
    assert first is not second
    assert first is not transport_ssl_context(alpn_protocols=["http/1.1"])


def test_certifi_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, heron; print('certifi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
