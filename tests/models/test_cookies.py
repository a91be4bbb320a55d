from __future__ import annotations

from http.cookiejar import CookieJar
from typing import Any

import pytest

import heron


def loose(cookies: object) -> Any:
    """Input outside the declared types (deliberately bad)."""
    return cookies


def response_setting(url: str, *set_cookie: str) -> heron.Response:
    request = heron.Request("GET", url)
    return heron.Response(
        200, headers=[("Set-Cookie", value) for value in set_cookie], request=request
    )


def cookie_header_for(cookies: heron.Cookies, url: str, **kwargs: Any) -> str | None:
    request = heron.Request("GET", url, **kwargs)
    cookies.set_cookie_header(request)
    return request.headers.get("Cookie")


# --- construction -----------------------------------------------------------------------------


def test_cookies_from_dict_and_pairs() -> None:
    assert dict(heron.Cookies({"a": "1", "b": "2"})) == {"a": "1", "b": "2"}
    assert dict(heron.Cookies([("a", "1"), ("b", "2")])) == {"a": "1", "b": "2"}
    assert dict(heron.Cookies((("a", "1"),))) == {"a": "1"}  # type: ignore[arg-type]


def test_cookies_from_none_is_empty() -> None:
    cookies = heron.Cookies()
    assert len(cookies) == 0
    assert not cookies
    assert list(cookies) == []
    assert isinstance(cookies.jar, CookieJar)


def test_cookies_from_cookies_is_an_independent_copy() -> None:
    original = heron.Cookies()
    original.set("a", "1", domain="example.org", path="/p")
    copied = heron.Cookies(original)
    copied["b"] = "2"
    assert copied.jar is not original.jar
    assert "b" not in original
    assert copied.get("a", domain="example.org", path="/p") == "1"


def test_cookies_from_a_jar_use_that_jar() -> None:
    jar = CookieJar()
    cookies = heron.Cookies(jar)
    cookies["a"] = "1"
    assert cookies.jar is jar
    assert [cookie.name for cookie in jar] == ["a"]


@pytest.mark.parametrize("bad", [5, "a=1", b"a=1"])
def test_inputs_that_are_not_cookies_are_refused(bad: object) -> None:
    with pytest.raises(
        TypeError, match="Cookies must be a Cookies, a CookieJar, a dict or a list"
    ):
        heron.Cookies(loose(bad))


@pytest.mark.parametrize("pairs", [[("a", "1", "x")], [("a",)], [1]])
def test_malformed_pairs_are_refused(pairs: object) -> None:
    with pytest.raises(TypeError, match=r"must be a \(name, value\) pair"):
        heron.Cookies(loose(pairs))


def test_names_and_values_must_be_str() -> None:
    with pytest.raises(
        TypeError, match="The cookie value of cookie 'a' must be a str, not NoneType"
    ):
        heron.Cookies(loose({"a": None}))
    with pytest.raises(TypeError, match="The cookie name must be a str, not int"):
        heron.Cookies(loose([(1, "x")]))
    cookies = heron.Cookies()
    with pytest.raises(TypeError, match="must be a str, not int"):
        cookies["a"] = loose(1)
    with pytest.raises(TypeError, match="The cookie domain of cookie 'a' must be a str"):
        cookies.set("a", "1", domain=loose(None))
    with pytest.raises(TypeError, match="The cookie path of cookie 'a' must be a str"):
        cookies.set("a", "1", path=loose(b"/"))
    assert not cookies


@pytest.mark.parametrize(("name", "value"), [("a", "1\r\nX: y"), ("a\n", "1"), ("a", "\x00")])
def test_cr_lf_nul_are_refused(name: str, value: str) -> None:
    with pytest.raises(heron.LocalProtocolError, match="header injection"):
        heron.Cookies({name: value})


# --- mapping behaviour ------------------------------------------------------------------------


def test_set_get_and_mapping_access() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1")
    cookies["b"] = "2"
    assert cookies["a"] == "1"
    assert cookies.get("b") == "2"
    assert cookies.get("missing") is None
    assert cookies.get("missing", "default") == "default"
    assert list(cookies) == ["a", "b"]
    assert len(cookies) == 2
    assert cookies == {"a": "1", "b": "2"}


def test_setting_the_same_name_domain_and_path_replaces() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1")
    cookies.set("a", "2")
    assert len(cookies) == 1
    assert cookies["a"] == "2"


def test_set_records_domain_and_path() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1", domain=".example.org", path="/docs")
    (cookie,) = list(cookies.jar)
    assert (cookie.domain, cookie.path) == (".example.org", "/docs")
    assert cookie.domain_specified
    assert cookie.domain_initial_dot
    assert cookie.path_specified
    assert not cookie.secure
    assert cookie.expires is None


def test_missing_name_raises_key_error_naming_only_cookie_names() -> None:
    cookies = heron.Cookies({"session": "s3cr3t-token", "theme": "dark"})
    with pytest.raises(KeyError) as info:
        cookies["sesion"]
    message = str(info.value)
    assert "'sesion'" in message
    assert "'session', 'theme'" in message
    assert "s3cr3t-token" not in message
    assert "dark" not in message


def test_missing_name_in_an_empty_jar() -> None:
    with pytest.raises(KeyError, match="the jar is empty"):
        heron.Cookies()["a"]


def test_missing_name_message_is_bounded() -> None:
    cookies = heron.Cookies({f"name{index:02}": "v" for index in range(15)})
    with pytest.raises(KeyError, match="and 5 more"):
        cookies["other"]


def test_same_name_for_different_domains_conflicts() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1", domain="one.example")
    cookies.set("a", "2", domain="two.example")
    with pytest.raises(heron.CookieConflict, match="Pass domain= or path=") as info:
        cookies.get("a")
    assert "one.example" in str(info.value)
    with pytest.raises(heron.CookieConflict):
        cookies["a"]
    assert cookies.get("a", domain="two.example") == "2"
    assert cookies.get("a", domain="three.example") is None


def test_same_name_for_different_paths_conflicts_even_with_equal_values() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1")
    cookies.set("a", "1", path="/sub")
    with pytest.raises(heron.CookieConflict):
        cookies.get("a")
    assert cookies.get("a", path="/") == "1"
    assert cookies.get("a", path="/sub") == "1"
    assert list(cookies) == ["a", "a"]


def test_delete_removes_every_match_or_only_the_chosen_one() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1", domain="one.example")
    cookies.set("a", "2", domain="two.example")
    cookies.set("b", "3")
    cookies.delete("a", domain="one.example")
    assert cookies.get("a") == "2"
    cookies.delete("a")
    assert list(cookies) == ["b"]
    cookies.delete("a", path="/nowhere")  # nothing matches: not an error


def test_delitem_of_a_missing_cookie_is_not_an_error() -> None:
    cookies = heron.Cookies({"a": "1"})
    del cookies["a"]
    del cookies["a"]  # as in httpx
    assert not cookies


def test_truthiness_follows_the_cookies_not_the_jar_storage() -> None:
    cookies = heron.Cookies()
    assert not cookies
    cookies.set("a", "1", domain="x.example")
    assert cookies
    cookies.delete("a")
    assert cookies.jar._cookies  # type: ignore[attr-defined]  # the stdlib keeps empty dicts
    assert not cookies


def test_truthiness_of_a_cookie_jar_subclass() -> None:
    class Jar(CookieJar):
        pass

    cookies = heron.Cookies(Jar())
    assert not cookies
    cookies.set("a", "1")
    assert cookies


def test_clear_everything_or_by_domain_and_path() -> None:
    cookies = heron.Cookies()
    cookies.set("a", "1", domain="x.example")
    cookies.set("b", "2", domain="x.example", path="/p")
    cookies.set("c", "3", domain="y.example", path="/p")
    cookies.clear(domain="x.example", path="/p")
    assert sorted(cookies) == ["a", "c"]
    cookies.clear(path="/p")  # path alone: across every domain
    assert list(cookies) == ["a"]
    cookies.clear(domain="nowhere.example")  # nothing matches: not an error
    assert list(cookies) == ["a"]
    cookies.clear(domain="x.example")
    assert not cookies
    cookies["d"] = "4"
    cookies.clear()
    assert not cookies


def test_update_keeps_domain_and_path() -> None:
    cookies = heron.Cookies({"a": "1"})
    other = heron.Cookies()
    other.set("b", "2", domain="example.org", path="/x")
    cookies.update(other)
    cookies.update({"c": "3"})
    cookies.update(None)
    assert sorted(cookies) == ["a", "b", "c"]
    assert cookies.get("b", domain="example.org", path="/x") == "2"


def test_repr() -> None:
    cookies = heron.Cookies()
    assert repr(cookies) == "<Cookies[]>"
    cookies.set("a", "1")
    cookies.set("b", "2", domain="example.org")
    assert repr(cookies) == ("<Cookies[<Cookie a=1 for  />, <Cookie b=2 for example.org />]>")


# --- talking to servers -----------------------------------------------------------------------


def test_extract_cookies_uses_the_request_url_for_domain_and_path() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(
        response_setting(
            "https://www.example.org/dir/page",
            "root=1; Path=/",
            "here=2",
            "wide=3; Domain=example.org",
        )
    )
    found = {cookie.name: (cookie.domain, cookie.path) for cookie in cookies.jar}
    assert found == {
        "root": ("www.example.org", "/"),
        "here": ("www.example.org", "/dir"),  # RFC 6265 section 5.1.4 default path
        "wide": (".example.org", "/dir"),
    }


def test_extract_cookies_refuses_cookies_for_other_domains() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(
        response_setting("https://www.example.org/", "evil=1; Domain=attacker.example", "ok=1")
    )
    assert list(cookies) == ["ok"]


def test_extract_cookies_without_set_cookie_does_nothing() -> None:
    cookies = heron.Cookies({"a": "1"})
    cookies.extract_cookies(response_setting("https://example.org/"))
    assert list(cookies) == ["a"]


def test_extract_cookies_reads_every_set_cookie_line_even_with_commas_in_dates() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(
        response_setting(
            "https://example.org/",
            "a=1; Expires=Wed, 01 Jan 2999 00:00:00 GMT",
            "b=2",
        )
    )
    assert sorted(cookies) == ["a", "b"]


def test_max_age_zero_removes_a_stored_cookie() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(response_setting("https://example.org/", "a=1; Path=/"))
    assert list(cookies) == ["a"]
    cookies.extract_cookies(response_setting("https://example.org/", "a=1; Path=/; Max-Age=0"))
    assert not cookies


def test_a_cookie_without_a_value_reads_as_empty() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(response_setting("https://example.org/", "flag"))
    assert cookies.get("flag") == ""
    assert dict(cookies) == {"flag": ""}


def test_extract_cookies_via_response_with_userinfo_in_the_url() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(response_setting("https://user:pw@example.org:8443/", "a=1"))
    assert [(cookie.domain, cookie.name) for cookie in cookies.jar] == [("example.org", "a")]


def test_set_cookie_header_sends_matching_cookies_only() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(
        response_setting(
            "https://www.example.org/dir/page",
            "root=1; Path=/",
            "here=2",
            "wide=3; Domain=example.org; Path=/",
        )
    )
    assert cookie_header_for(cookies, "https://www.example.org/dir/other") == (
        "here=2; root=1; wide=3"
    )
    assert cookie_header_for(cookies, "https://www.example.org/") == "root=1; wide=3"
    assert cookie_header_for(cookies, "https://api.example.org/") == "wide=3"
    assert cookie_header_for(cookies, "https://elsewhere.example/") is None


def test_secure_cookies_are_sent_over_https_only() -> None:
    cookies = heron.Cookies()
    cookies.extract_cookies(response_setting("https://example.org/", "s=1; Secure", "p=2"))
    assert cookie_header_for(cookies, "https://example.org/") == "s=1; p=2"
    assert cookie_header_for(cookies, "http://example.org/") == "p=2"


def test_cookies_ignore_the_port() -> None:
    # RFC 6265 section 8.5: cookies do not provide isolation by port.
    cookies = heron.Cookies()
    cookies.extract_cookies(response_setting("http://127.0.0.1:8000/", "a=1"))
    assert cookie_header_for(cookies, "http://127.0.0.1:9000/x") == "a=1"


def test_cookies_set_without_a_domain_go_to_every_host() -> None:
    cookies = heron.Cookies({"a": "1"})
    assert cookie_header_for(cookies, "https://example.org/") == "a=1"
    assert cookie_header_for(cookies, "http://other.example/deep/path") == "a=1"


def test_set_cookie_header_keeps_an_existing_cookie_header() -> None:
    cookies = heron.Cookies({"a": "1"})
    assert cookie_header_for(cookies, "https://example.org/", headers={"Cookie": "mine=1"}) == (
        "mine=1"
    )


def test_set_cookie_header_with_an_empty_jar_adds_nothing() -> None:
    assert cookie_header_for(heron.Cookies(), "https://example.org/") is None


def test_relative_urls_get_and_give_no_cookies() -> None:
    cookies = heron.Cookies({"a": "1"})
    assert cookie_header_for(cookies, "/relative") is None
    cookies.extract_cookies(response_setting("/relative", "b=2"))
    assert list(cookies) == ["a"]


def test_a_url_without_a_host_matches_cookies_by_the_host_header() -> None:
    cookies = heron.Cookies()
    cookies.set("mine", "1", domain="example.org")
    cookies.set("theirs", "2", domain="other.example")
    header = cookie_header_for(cookies, "file:///tmp/socket", headers={"Host": "example.org"})
    assert header == "mine=1"
