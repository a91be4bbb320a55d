from __future__ import annotations

import contextlib
import pickle
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import heron
from heron import URL, InvalidURL, QueryParams

# Parsing: components --------------------------------------------------------------------------


def test_components_of_a_full_url() -> None:
    url = URL("https://jo:s3cret@Example.COM:8443/a%20b/c?x=1&y=2#frag%20ment")
    assert url.scheme == "https"
    assert url.raw_scheme == b"https"
    assert url.userinfo == b"jo:s3cret"
    assert url.username == "jo"
    assert url.password == "s3cret"
    assert url.host == "example.com"
    assert url.raw_host == b"example.com"
    assert url.port == 8443
    assert url.netloc == b"example.com:8443"
    assert url.path == "/a b/c"
    assert url.query == b"x=1&y=2"
    assert url.params == QueryParams("x=1&y=2")
    assert url.raw_path == b"/a%20b/c?x=1&y=2"
    assert url.fragment == "frag ment"
    assert str(url) == "https://jo:s3cret@example.com:8443/a%20b/c?x=1&y=2#frag%20ment"


def test_missing_components_read_as_empty() -> None:
    url = URL("https://example.com")
    assert url.userinfo == b""
    assert url.username == ""
    assert url.password == ""
    assert url.port is None
    assert url.query == b""
    assert url.fragment == ""
    assert url.params == QueryParams()


def test_empty_path_of_an_absolute_url_reads_as_slash_but_is_not_added() -> None:
    url = URL("https://example.com")
    assert url.path == "/"
    assert url.raw_path == b"/"
    assert str(url) == "https://example.com"
    assert URL("https://example.com?a=1").raw_path == b"/?a=1"


def test_empty_query_and_fragment_are_kept() -> None:
    assert str(URL("https://example.com/a?")) == "https://example.com/a?"
    assert URL("https://example.com/a?").raw_path == b"/a?"
    assert str(URL("https://example.com/a#")) == "https://example.com/a#"
    assert str(URL("https://example.com/a?#")) == "https://example.com/a?#"


def test_scheme_and_host_are_lowercased() -> None:
    assert str(URL("HTTPS://EXAMPLE.com/Path")) == "https://example.com/Path"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/", "https://example.com/"),
        ("ws://example.com:80/", "ws://example.com/"),
        ("wss://example.com:443/", "wss://example.com/"),
        ("ftp://example.com:21/", "ftp://example.com/"),
        ("http://example.com:080/", "http://example.com/"),
        ("https://example.com:80/", "https://example.com:80/"),
        ("foo://example.com:80/", "foo://example.com:80/"),
        ("http://127.0.0.1:80/", "http://127.0.0.1/"),
    ],
)
def test_default_ports_are_dropped(url: str, expected: str) -> None:
    assert str(URL(url)) == expected


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://example.com:0/", 0),
        ("https://example.com:65535/", 65535),
        ("https://example.com:00000000000000000000008080/", 8080),
        ("https://example.com:/", None),
        ("https://[::1]:/", None),
    ],
)
def test_valid_ports(url: str, port: int | None) -> None:
    assert URL(url).port == port


@pytest.mark.parametrize(
    "port", ["abc", "65536", "99999", "-1", "1.5", " 80", "+80", "\u0663", "80:80", "9" * 5000]
)
def test_invalid_ports_are_refused(port: str) -> None:
    with pytest.raises(InvalidURL, match=r"^Invalid port: .*A port must be a number from 0 to"):
        URL(f"http://example.com:{port}/")


def test_invalid_port_message_names_the_port_and_the_url() -> None:
    with pytest.raises(InvalidURL) as exc_info:
        URL("http://example.com:abc/")
    assert str(exc_info.value) == (
        "Invalid port: 'abc' in 'http://example.com:abc/'. "
        "A port must be a number from 0 to 65535."
    )


def test_error_messages_mask_the_password() -> None:
    with pytest.raises(InvalidURL) as exc_info:
        URL("http://user:hunter2@example.com:abc/")
    assert "hunter2" not in str(exc_info.value)
    assert "'http://user:[secure]@example.com:abc/'" in str(exc_info.value)


def test_error_messages_shorten_very_long_urls() -> None:
    with pytest.raises(InvalidURL) as exc_info:
        URL("http://example.com:abc/" + "a" * 1000)
    assert len(str(exc_info.value)) < 400
    assert "...'" in str(exc_info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/a/../b", "/a/../b"),
        ("a/./b", "a/./b"),
        ("", ""),
        ("?q=1", "?q=1"),
        ("#frag", "#frag"),
        ("//example.com/a/../b", "//example.com/b"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("localhost:8000", "localhost:8000"),
        ("1http://example.com", "1http://example.com"),
        (":foo", ":foo"),
    ],
)
def test_relative_references_and_other_schemes(url: str, expected: str) -> None:
    assert str(URL(url)) == expected


def test_relative_url_properties() -> None:
    url = URL("/a/b?c=d#e")
    assert url.scheme == ""
    assert url.host == ""
    assert url.raw_host == b""
    assert url.netloc == b""
    assert url.path == "/a/b"
    assert URL("").path == "/"
    assert URL("").raw_path == b"/"
    assert URL("mailto:x@example.com").path == "x@example.com"


@pytest.mark.parametrize(
    ("url", "absolute"),
    [
        ("https://example.com/a", True),
        ("//example.com/a", False),
        ("https:/a", False),
        ("/a", False),
        ("", False),
    ],
)
def test_absolute_and_relative(url: str, absolute: bool) -> None:
    assert URL(url).is_absolute_url is absolute
    assert URL(url).is_relative_url is not absolute


def test_leading_and_trailing_spaces_are_dropped() -> None:
    assert str(URL("  https://example.com/a  ")) == "https://example.com/a"
    assert str(URL(" /a b ")) == "/a%20b"


def test_scheme_that_breaks_the_grammar_makes_a_relative_reference() -> None:
    url = URL("ht tp://example.com")
    assert url.scheme == ""
    assert str(url) == "ht%20tp://example.com"


# Parsing: percent-encoding --------------------------------------------------------------------


def test_path_is_percent_encoded_with_the_path_set() -> None:
    url = URL("https://example.com/ <>\"`{}^|[]\\'!$&()*+,;=:@~ü")
    assert url.raw_path == b"/%20%3C%3E%22%60%7B%7D^|[]\\'!$&()*+,;=:@~%C3%BC"


def test_query_is_percent_encoded_with_the_special_query_set() -> None:
    url = URL("https://example.com/?a b\"<>'`{}|^[]\\?/ü")
    assert url.query == b"a%20b%22%3C%3E%27`{}|^[]\\?/%C3%BC"


def test_query_of_a_non_special_scheme_keeps_apostrophes() -> None:
    assert URL("foo://example.com/?a'b").query == b"a'b"
    assert URL("?a'b").query == b"a'b"


def test_fragment_is_percent_encoded_with_the_fragment_set() -> None:
    url = URL("https://example.com/#a b\"<>`{}|^'#ü")
    assert str(url) == "https://example.com/#a%20b%22%3C%3E%60{}|^'#%C3%BC"
    assert url.fragment == "a b\"<>`{}|^'#ü"


def test_userinfo_is_percent_encoded_with_the_userinfo_set() -> None:
    url = URL("https://a b<>@x:p;=[]^|:q@example.com/")
    assert url.userinfo == b"a%20b%3C%3E%40x:p%3B%3D%5B%5D%5E%7C%3Aq"
    assert url.username == "a b<>@x"
    assert url.password == "p;=[]^|:q"
    assert URL("https://example.com/", username="a/b").userinfo == b"a%2Fb"
    assert url.host == "example.com"


def test_existing_percent_escapes_are_kept_as_they_are() -> None:
    url = URL("https://example.com/%7e%2F%zz%?q=%41%2#%20%")
    assert str(url) == "https://example.com/%7e%2F%zz%?q=%41%2#%20%"


def test_decoded_properties() -> None:
    url = URL("https://u%40x:p%3Aw@example.com/a%2Fb/%C3%BC/%FF?x#%C3%BC%20")
    assert url.username == "u@x"
    assert url.password == "p:w"
    assert url.path == "/a/b/ü/\ufffd"
    assert url.fragment == "ü "


def test_userinfo_with_empty_parts() -> None:
    assert URL("https://@example.com").userinfo == b""
    assert URL("https://:@example.com").userinfo == b":"
    assert URL("https://user:@example.com").password == ""
    assert URL("https://u@ser:p@ss@example.com").userinfo == b"u%40ser:p%40ss"


# Parsing: dot-segments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/./b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/../../x", "/x"),
        ("//x/../y", "//y"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/.%2e/b", "/b"),
        ("/a/%2e./b", "/b"),
        ("/a/%2e/b", "/a/b"),
        ("/a/..b/c", "/a/..b/c"),
        ("/a/.../c", "/a/.../c"),
        ("/a/%2e%2e%2e/c", "/a/%2e%2e%2e/c"),
        ("/a//../b", "/a/b"),
        ("/.well-known/x", "/.well-known/x"),
    ],
)
def test_dot_segments_are_removed_from_absolute_urls(path: str, expected: str) -> None:
    assert URL(f"https://example.com{path}").raw_path.decode() == expected


def test_dot_segments_in_a_path_without_host_keep_it_from_starting_with_two_slashes() -> None:
    url = URL("foo:/a/..//b")
    assert str(url) == "foo:/.//b"
    assert URL(str(url)) == url


# Parsing: refused input -----------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\r", "\n", "\t", "\x00", "\x1b", "\x7f"])
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(InvalidURL, match=r"non-printable character .* at position 20"):
        URL(f"http://example.com/a{char}b")


def test_control_characters_are_refused_everywhere() -> None:
    for url in ["http://exa\nmple.com/", "http://example.com/?a=\r\n", "\x00http://a.com/"]:
        with pytest.raises(InvalidURL, match="non-printable"):
            URL(url)


def test_urls_longer_than_65536_characters_are_refused() -> None:
    prefix = "https://example.com/"
    assert len(str(URL(prefix + "a" * (65536 - len(prefix))))) == 65536
    with pytest.raises(InvalidURL, match="URL too long: 65537 characters"):
        URL(prefix + "a" * (65537 - len(prefix)))
    with pytest.raises(InvalidURL, match="URL too long"):
        URL(" " * 65537)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidURL, match="surrogate"):
        URL("https://example.com/\ud800")
    with pytest.raises(InvalidURL, match="surrogate"):
        URL("https://example.com/", fragment="\udfff")


def test_url_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(
        TypeError, match=r"Invalid type for url\. Expected str or heron\.URL, got int"
    ):
        URL(123)  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", ["http", "https", "ws", "wss", "ftp"])
def test_special_schemes_need_a_host(scheme: str) -> None:
    with pytest.raises(InvalidURL, match="empty host"):
        URL(f"{scheme}://")
    with pytest.raises(InvalidURL, match="empty host"):
        URL(f"{scheme}://user@:80/path")


def test_other_schemes_may_have_an_empty_host() -> None:
    assert str(URL("file:///tmp/x")) == "file:///tmp/x"
    assert URL("file:///tmp/x").path == "/tmp/x"
    assert str(URL("foo://")) == "foo://"


# Hosts ----------------------------------------------------------------------------------------


def test_zero_width_characters_are_mapped_away() -> None:
    assert URL("https://goo\u200b\u2060\ufeffgoo.com/").raw_host == b"googoo.com"


def test_internationalised_host_is_idna_encoded() -> None:
    url = URL("https://中国.com/")
    assert url.raw_host == b"xn--fiqs8s.com"
    assert url.host == "中国.com"
    assert str(url) == "https://xn--fiqs8s.com/"
    assert url.netloc == b"xn--fiqs8s.com"


@pytest.mark.parametrize(
    ("host", "raw_host"),
    [
        ("Bücher.DE", "xn--bcher-kva.de"),
        ("faß.de", "xn--fa-hia.de"),
        ("\uff27\uff4f.com", "go.com"),  # full-width letters map to ASCII
        ("例え\u3002jp", "xn--r8jz45g.jp"),  # the ideographic full stop is a dot
        ("my_service.例え.jp", "my_service.xn--r8jz45g.jp"),
        ("a..例え.jp", "a..xn--r8jz45g.jp"),
        ("%e4%b8%ad%e5%9b%bd.com", "xn--fiqs8s.com"),
        ("０Ｘｃ０．０２５０．０１", "192.168.0.1"),
    ],
)
def test_idna_host_forms(host: str, raw_host: str) -> None:
    assert URL(f"https://{host}/").raw_host == raw_host.encode()


@pytest.mark.parametrize("host", ["☃.net", "-ü.com", "ü-.com", "\ufdd0.com", "ü" * 64 + ".com"])
def test_invalid_idna_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidURL, match=r"^Invalid IDNA hostname"):
        URL(f"https://{host}/")


def test_ascii_punycode_labels_are_checked_but_not_against_idna_2008() -> None:
    url = URL("https://xn--i-7iq.ws/")  # "i❤.ws": UTS 46 allows it, IDNA 2008 doesn't
    assert url.host == "i❤.ws"
    assert url.raw_host == b"xn--i-7iq.ws"
    assert URL("https://XN--FIQS8S.com/").host == "中国.com"


@pytest.mark.parametrize(
    "host", ["xn--", "xn--zz.com", "a.xn--pokxncvks", "xn--abc-.com", "xn--a.com", "xn--ü.com"]
)
def test_invalid_punycode_labels_are_refused(host: str) -> None:
    with pytest.raises(InvalidURL, match=r"^Invalid IDNA hostname"):
        URL(f"https://{host}/")


def test_percent_encoded_host_is_decoded() -> None:
    assert URL("https://ex%41mple.com/").raw_host == b"example.com"
    with pytest.raises(InvalidURL, match="not UTF-8"):
        URL("https://ex%ffmple.com/")
    with pytest.raises(InvalidURL, match="contains '/'"):
        URL("https://a%2Fb.com/")


@pytest.mark.parametrize("char", [" ", "<", ">", "^", "|", "%", "\\", "[", "]"])
def test_forbidden_host_characters_are_refused(char: str) -> None:
    with pytest.raises(InvalidURL, match=r"^Invalid (host|IPv6)"):
        URL(f"https://exa{char}mple.com/")


@pytest.mark.parametrize("host", ["exa_mple.com", "-example.com", "a*b.com", "a!$&'()+,;=~.com"])
def test_lenient_host_characters_are_allowed(host: str) -> None:
    assert URL(f"https://{host}/").raw_host == host.encode()


def test_trailing_dot_is_kept() -> None:
    assert URL("https://example.com./").raw_host == b"example.com."


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("1.2.3.4.", "1.2.3.4"),
        ("1.0x", "1.0.0.0"),
        ("00000000000000000000001.2.3.4", "1.2.3.4"),
        ("1.65535", "1.0.255.255"),
        ("1.2.65535", "1.2.255.255"),
        ("4294967295", "255.255.255.255"),
        ("example.0x1g", "example.0x1g"),  # "0x1g" is not a number: a domain name
    ],
)
def test_ipv4_forms_are_canonicalised(host: str, address: str) -> None:
    assert URL(f"http://{host}/").raw_host == address.encode()


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.400",
        "256.0.0.1",
        "1.2.3.4.5",
        "1..2",
        "4294967296",
        "1.16777216",
        "example.123",
        "08.1.1.1",
        "0x100000000",
        "9" * 5000,
    ],
)
def test_invalid_ipv4_addresses_are_refused(host: str) -> None:
    with pytest.raises(InvalidURL, match=r"^Invalid IPv4 address"):
        URL(f"http://{host}/")


def test_ipv6_addresses_are_validated_and_compressed() -> None:
    url = URL("http://[0:0:0:0:0:0:0:1]:8080/")
    assert url.host == "::1"
    assert url.raw_host == b"::1"
    assert url.netloc == b"[::1]:8080"
    assert str(url) == "http://[::1]:8080/"
    assert URL("http://[FE80::A]/").host == "fe80::a"
    assert URL("http://[::ffff:1.2.3.4]/").host == "::ffff:102:304"


def test_bracketed_host_argument_needs_its_closing_bracket() -> None:
    with pytest.raises(InvalidURL, match="must end with"):
        URL("https://example.com/", host="[::1")
    with pytest.raises(InvalidURL, match="must end with"):
        URL("https://example.com/", host="[::1]x")


def test_ipv6_zone_identifiers() -> None:
    url = URL("http://[fe80::1%25eth0]:8080/")
    assert url.host == "fe80::1%25eth0"
    assert url.netloc == b"[fe80::1%25eth0]:8080"
    with pytest.raises(InvalidURL, match="zone identifier"):
        URL("http://[fe80::1%eth0]/")
    with pytest.raises(InvalidURL, match="zone identifier"):
        URL("http://[fe80::1%25]/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::g]/", "^Invalid IPv6 address: '::g'"),
        ("http://[1:2:3:4:5:6:7:8:9]/", "^Invalid IPv6 address"),
        ("http://[v1.x]/", "^Invalid IPv6 address"),
        ("http://[::1/", "no closing"),
        ("http://[::1]x/", "only ':' and a port may follow"),
        ("http://[::1]:x/", "^Invalid port"),
    ],
)
def test_invalid_ipv6_addresses_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        URL(url)


# Components as keyword arguments --------------------------------------------------------------


def test_url_from_components() -> None:
    url = URL(scheme="https", host="example.com", port=8443, path="/a b", query=b"x=1")
    assert str(url) == "https://example.com:8443/a%20b?x=1"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"scheme": "HTTP"}, "http://example.com/p?q#f"),
        ({"scheme": None}, "//example.com/p?q#f"),
        ({"host": "other.org"}, "https://other.org/p?q#f"),
        ({"host": "::1"}, "https://[::1]/p?q#f"),
        ({"host": "[::1]"}, "https://[::1]/p?q#f"),
        ({"host": "中国.com"}, "https://xn--fiqs8s.com/p?q#f"),
        ({"host": "EXAMPLE.org"}, "https://example.org/p?q#f"),
        ({"host": None}, "https:/p?q#f"),
        ({"host": ""}, "https:/p?q#f"),
        ({"port": 8000}, "https://example.com:8000/p?q#f"),
        ({"port": 443}, "https://example.com/p?q#f"),
        ({"port": None}, "https://example.com/p?q#f"),
        ({"netloc": b"other.org:99"}, "https://other.org:99/p?q#f"),
        ({"netloc": b"u:pw@other.org"}, "https://u:pw@other.org/p?q#f"),
        ({"netloc": b"[::1]:99"}, "https://[::1]:99/p?q#f"),
        ({"netloc": None}, "https:/p?q#f"),
        ({"path": "/a b/../c"}, "https://example.com/c?q#f"),
        ({"path": "/a%20b"}, "https://example.com/a%20b?q#f"),
        ({"path": "/ü"}, "https://example.com/%C3%BC?q#f"),
        ({"path": ""}, "https://example.com?q#f"),
        ({"path": None}, "https://example.com?q#f"),
        ({"query": b"a b=1"}, "https://example.com/p?a%20b=1#f"),
        ({"query": b"\xff"}, "https://example.com/p?%FF#f"),
        ({"query": b""}, "https://example.com/p?#f"),
        ({"query": None}, "https://example.com/p#f"),
        ({"raw_path": b"/x y?z=1"}, "https://example.com/x%20y?z=1#f"),
        ({"raw_path": b"/x"}, "https://example.com/x#f"),
        ({"raw_path": None}, "https://example.com#f"),
        ({"fragment": "a b"}, "https://example.com/p?q#a%20b"),
        ({"fragment": ""}, "https://example.com/p?q#"),
        ({"fragment": None}, "https://example.com/p?q"),
        ({"params": {"a": 1}}, "https://example.com/p?a=1#f"),
        ({"params": "a=1&a=2"}, "https://example.com/p?a=1&a=2#f"),
        ({"params": b"a=1"}, "https://example.com/p?a=1#f"),
        ({"params": QueryParams(a="x y")}, "https://example.com/p?a=x+y#f"),
        ({"params": {}}, "https://example.com/p#f"),
        ({"params": None}, "https://example.com/p#f"),
        ({"userinfo": b"a b:c"}, "https://a%20b:c@example.com/p?q#f"),
        ({"userinfo": b"a:b@c"}, "https://a:b%40c@example.com/p?q#f"),
        ({"userinfo": None}, "https://example.com/p?q#f"),
        ({"username": "a@b", "password": "c:d"}, "https://a%40b:c%3Ad@example.com/p?q#f"),
        ({"username": "a%20b"}, "https://a%20b@example.com/p?q#f"),
    ],
)
def test_keyword_arguments_replace_components(kwargs: dict[str, Any], expected: str) -> None:
    assert str(URL("https://example.com/p?q#f", **kwargs)) == expected
    assert str(URL("https://example.com/p?q#f").copy_with(**kwargs)) == expected


def test_username_and_password_keep_each_other() -> None:
    url = URL("https://user:pw@example.com/")
    assert url.copy_with(password="new").userinfo == b"user:new"
    assert url.copy_with(username="other").userinfo == b"other:pw"
    assert url.copy_with(password=None).userinfo == b"user"
    assert url.copy_with(username=None, password=None).userinfo == b""
    assert URL("https://user@example.com/").copy_with(username="x").userinfo == b"x"
    assert URL("https://example.com/").copy_with(password="x").userinfo == b":x"


def test_params_replace_the_query() -> None:
    url = URL("https://example.com/?b=2", params={"a": 1})
    assert str(url) == "https://example.com/?a=1"


def test_url_from_a_url() -> None:
    url = URL("https://example.com/a")
    assert URL(url) == url
    assert str(URL(url, path="/b")) == "https://example.com/b"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"host": "example.com"}, "//example.com"),
        ({"host": "example.com", "path": "/x"}, "//example.com/x"),
        ({"port": 99}, "//:99"),
        ({"scheme": "https"}, "https:"),
        ({"scheme": "https", "path": "/x"}, "https:/x"),
        ({"scheme": "mailto", "path": "a@b"}, "mailto:a@b"),
        ({"path": "./a:b"}, "./a:b"),
        ({"path": "1a:b"}, "1a:b"),
        ({"fragment": "x"}, "#x"),
        ({"query": b"x"}, "?x"),
    ],
)
def test_relative_urls_from_components(kwargs: dict[str, Any], expected: str) -> None:
    assert str(URL(**kwargs)) == expected


def test_changing_the_scheme_drops_its_default_port() -> None:
    assert str(URL("http://example.com:443/", scheme="https")) == "https://example.com/"
    assert str(URL("https://example.com:8080/", scheme="http")) == "http://example.com:8080/"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheme": "a b"}, "^Invalid scheme: 'a b'"),
        ({"scheme": "1x"}, "^Invalid scheme"),
        ({"port": 70000}, "^Invalid port: 70000"),
        ({"port": -1}, "^Invalid port: -1"),
        ({"host": "a b"}, "^Invalid host"),
        ({"host": "b.com:99"}, "^Invalid IPv6 address"),
        ({"host": "a\nb"}, "non-printable character '\\\\n' at position 1 in host"),
        ({"netloc": b"b.com:x"}, "^Invalid port: 'x'"),
        ({"path": "/a?b"}, "^Invalid path: '/a\\?b' contains '\\?' or '#'"),
        ({"path": "/a#b"}, "^Invalid path"),
        ({"path": "a"}, "must be empty or start with '/'"),
        ({"path": "/a\r\n"}, "non-printable"),
        ({"query": b"a#b"}, "^Invalid query: 'a#b' contains '#'"),
        ({"query": b"a\x00"}, "non-printable"),
        ({"fragment": "\x7f"}, "non-printable"),
        ({"userinfo": b"\n"}, "non-printable"),
        ({"username": "\t"}, "non-printable character '\\\\t' at position 0 in username"),
        ({"password": "\r"}, "non-printable character '\\\\r' at position 0 in password"),
    ],
)
def test_invalid_components_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        URL("https://example.com/", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheme": "https", "port": 99}, "needs a host"),
        ({"scheme": "http", "username": "u"}, "needs a host"),
        ({"path": "a:b"}, "would be read as a scheme"),
        ({"scheme": "foo", "path": "//a"}, "can't start with '//'"),
        ({"host": "example.com", "path": "a"}, "must be empty or start with '/'"),
    ],
)
def test_components_that_do_not_fit_together_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidURL, match=message):
        URL(**kwargs)


def test_removing_the_host_of_a_url_with_userinfo_is_refused() -> None:
    with pytest.raises(InvalidURL, match="needs a host"):
        URL("https://user@example.com/", host=None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"foo": 1}, "'foo' is an invalid keyword argument for URL()"),
        ({"scheme": 1}, "Argument 'scheme' must be str but got int"),
        ({"path": b"/x"}, "Argument 'path' must be str but got bytes"),
        ({"query": "a=1"}, "Argument 'query' must be bytes but got str"),
        ({"raw_path": "/x"}, "Argument 'raw_path' must be bytes but got str"),
        ({"netloc": "a.com"}, "Argument 'netloc' must be bytes but got str"),
        ({"userinfo": "a:b"}, "Argument 'userinfo' must be bytes but got str"),
        ({"port": "80"}, "Argument 'port' must be int but got str"),
        ({"port": True}, "Argument 'port' must be int but got bool"),
        ({"params": 5}, "Invalid type for query params"),
    ],
)
def test_keyword_arguments_of_the_wrong_type_are_type_errors(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message.replace("(", "\\(").replace(")", "\\)")):
        URL("https://example.com/", **kwargs)


def test_copy_with_no_arguments_is_an_equal_url() -> None:
    url = URL("https://example.com/a?b#c")
    assert url.copy_with() == url


# Query parameter helpers ----------------------------------------------------------------------


def test_copy_param_helpers() -> None:
    url = URL("https://example.com/p?a=1&a=2&b=3")
    assert str(url.copy_set_param("a", 9)) == "https://example.com/p?a=9&b=3"
    assert str(url.copy_set_param("c", None)) == "https://example.com/p?a=1&a=2&b=3&c="
    assert str(url.copy_add_param("a", True)) == "https://example.com/p?a=1&a=2&a=true&b=3"
    assert str(url.copy_remove_param("a")) == "https://example.com/p?b=3"
    assert str(url.copy_merge_params({"b": "x y", "c": 1})) == (
        "https://example.com/p?a=1&a=2&b=x+y&c=1"
    )
    assert str(url.copy_remove_param("a").copy_remove_param("b")) == "https://example.com/p"
    assert str(url) == "https://example.com/p?a=1&a=2&b=3"


# join -----------------------------------------------------------------------------------------

RFC_BASE = "http://a/b/c/d;p?q"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        # RFC 3986 section 5.4.1, normal examples
        ("g:h", "g:h"),
        ("g", "http://a/b/c/g"),
        ("./g", "http://a/b/c/g"),
        ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"),
        ("//g", "http://g"),
        ("?y", "http://a/b/c/d;p?y"),
        ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q#s"),
        ("g#s", "http://a/b/c/g#s"),
        ("g?y#s", "http://a/b/c/g?y#s"),
        (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"),
        ("g;x?y#s", "http://a/b/c/g;x?y#s"),
        ("", "http://a/b/c/d;p?q"),
        (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"),
        ("..", "http://a/b/"),
        ("../", "http://a/b/"),
        ("../g", "http://a/b/g"),
        ("../..", "http://a/"),
        ("../../", "http://a/"),
        ("../../g", "http://a/g"),
        # RFC 3986 section 5.4.2, abnormal examples
        ("../../../g", "http://a/g"),
        ("../../../../g", "http://a/g"),
        ("/./g", "http://a/g"),
        ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."),
        (".g", "http://a/b/c/.g"),
        ("g..", "http://a/b/c/g.."),
        ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"),
        ("./g/.", "http://a/b/c/g/"),
        ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
        ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"),
        ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g#s/./x"),
        ("g#s/../x", "http://a/b/c/g#s/../x"),
        # The "non-strict" reading of section 5.2.2, as browsers do: same special scheme.
        ("http:g", "http://a/b/c/g"),
        ("http:/g", "http://a/g"),
        ("http:?y", "http://a/b/c/d;p?y"),
        ("https:g", "https:g"),
        ("HTTP://A/x/../y", "http://a/y"),
        ("//g:80/x", "http://g/x"),
        ("//u:p@g:81", "http://u:p@g:81"),
        ("?a'b", "http://a/b/c/d;p?a%27b"),
        ("%2e%2e/g", "http://a/b/g"),
    ],
)
def test_join_resolves_references(reference: str, expected: str) -> None:
    assert str(URL(RFC_BASE).join(reference)) == expected


def test_join_keeps_the_base_userinfo_and_port() -> None:
    url = URL("https://user:pw@example.com:8443/a/b")
    assert str(url.join("c")) == "https://user:pw@example.com:8443/a/c"


def test_join_against_a_base_with_an_empty_path() -> None:
    assert str(URL("https://example.com").join("g")) == "https://example.com/g"
    assert str(URL("https://example.com?q").join("#f")) == "https://example.com?q#f"


def test_join_against_relative_bases() -> None:
    assert str(URL("/a/b").join("c")) == "/a/c"
    assert str(URL("a/b").join("c")) == "a/c"
    assert str(URL("a/b").join("../../c")) == "c"
    assert str(URL("foo:/a/b").join(".//c")) == "foo:/a//c"
    assert str(URL("foo:/a").join("..//c")) == "foo:/.//c"
    assert str(URL("").join("./a:b")) == "./a:b"
    assert str(URL("x/y").join("../a:b")) == "./a:b"
    assert str(URL("foo:x").join("./a:b")) == "foo:a:b"


def test_join_accepts_a_url() -> None:
    assert str(URL(RFC_BASE).join(URL("../g"))) == "http://a/b/g"


def test_join_refuses_an_empty_host_for_special_schemes() -> None:
    with pytest.raises(InvalidURL, match="empty host"):
        URL("http://example.com/").join("///x")
    assert str(URL("foo://example.com/").join("///x")) == "foo:///x"


def test_join_of_an_invalid_reference_raises() -> None:
    with pytest.raises(InvalidURL, match="Invalid port"):
        URL("https://example.com/").join("//x:y/")


# Equality, hashing, repr ----------------------------------------------------------------------


def test_equality_with_urls_and_strings() -> None:
    url = URL("https://example.com/a")
    assert url == URL("https://example.com/a")
    assert url == "https://example.com/a"
    assert url == "HTTPS://EXAMPLE.com:443/a"
    assert url != "https://example.com/b"
    assert url != URL("https://example.com/a/")
    assert URL("https://example.com") != URL("https://example.com/")
    assert url != "http://[::g]/"
    assert url != 1
    assert url != None  # noqa: E711


def test_urls_hash_like_their_string() -> None:
    url = URL("https://example.com/a")
    assert hash(url) == hash("https://example.com/a")
    assert {url: 1}[URL("https://example.com/a")] == 1
    assert len({url, URL("https://EXAMPLE.com/a")}) == 1


def test_repr_masks_the_password() -> None:
    assert repr(URL("https://user:pass@example.com")) == "URL('https://user:[secure]@example.com')"
    assert repr(URL("https://:pass@example.com/")) == "URL('https://:[secure]@example.com/')"
    assert repr(URL("https://user@example.com")) == "URL('https://user@example.com')"
    assert str(URL("https://user:pass@example.com")) == "https://user:pass@example.com"


def test_repr_of_a_subclass_uses_its_name() -> None:
    class MyURL(URL):
        __slots__ = ()

    assert repr(MyURL("https://example.com")) == "MyURL('https://example.com')"


def test_raw_is_deprecated() -> None:
    url = URL("https://example.com:8443/a?b")
    with pytest.warns(DeprecationWarning, match="URL.raw is deprecated"):
        raw = url.raw
    assert raw.raw_path == b"/a?b"
    assert raw == (b"https", b"example.com", 8443, b"/a?b")


def test_parse_result_repr_shows_the_url() -> None:
    from heron._urlparse import urlparse

    assert repr(urlparse("https://example.com/a")) == "ParseResult('https://example.com/a')"


def test_a_url_text_is_parsed_once() -> None:
    from heron._urlparse import urlparse

    text = "https://example.com/parsed-once"
    assert urlparse(text) is urlparse(text)
    assert URL(text)._uri_reference is URL(text)._uri_reference


def test_str_subclasses_are_parsed_but_not_cached() -> None:
    from heron import _urlparse

    class Text(str):
        pass

    text = Text("https://example.com/from-a-str-subclass")
    assert str(_urlparse.urlparse(text)) == "https://example.com/from-a-str-subclass"
    assert text not in _urlparse._PARSED


def test_the_parse_cache_is_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from heron import _urlparse

    monkeypatch.setattr(_urlparse, "_PARSED", {})
    monkeypatch.setattr(_urlparse, "_PARSED_CACHE_SIZE", 2)
    for path in ("a", "b", "c"):
        _urlparse.urlparse(f"https://example.com/{path}")
    assert list(_urlparse._PARSED) == ["https://example.com/c"]


def test_long_urls_are_not_cached() -> None:
    from heron import _urlparse

    text = "https://example.com/?q=" + "x" * _urlparse._PARSED_MAX_LENGTH
    assert str(_urlparse.urlparse(text)) == text
    assert text not in _urlparse._PARSED


def test_netloc_is_computed_once_per_parse() -> None:
    url = URL("https://[::1]:8443/netloc-once")
    assert url.netloc == b"[::1]:8443"
    assert url._uri_reference._netloc == "[::1]:8443"
    assert URL("https://[::1]:8443/netloc-once").netloc == b"[::1]:8443"


def test_urls_pickle() -> None:
    url = URL("https://user:pw@例え.jp:8443/a b?c#d")
    assert pickle.loads(pickle.dumps(url)) == url


def test_urls_have_no_instance_dict() -> None:
    url = URL("https://example.com")
    with pytest.raises(AttributeError):
        url.__dict__  # noqa: B018


def test_heron_exports_url_and_query_params() -> None:
    assert heron.URL is URL
    assert heron.QueryParams is QueryParams


# Properties -----------------------------------------------------------------------------------

_URLISH = st.text(
    alphabet=st.sampled_from(list("aZ09-._~!$&'()*+,;=:@/?#[]%2eE \\\"<>^`{|}ü中\u200b\x00\t")),
    max_size=20,
)
_URL_TEXT = st.one_of(
    st.text(max_size=60),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["", "http://", "https://", "HTTP://", "foo:", "//", "http:", "/"]),
            _URLISH,
            st.sampled_from(["", ":", ":80", ":443", ":65536", "@", "]"]),
            _URLISH,
        ),
    ),
)


@given(_URL_TEXT)
def test_parsing_any_text_succeeds_or_raises_invalid_url(text: str) -> None:
    with contextlib.suppress(InvalidURL):
        URL(text)


@given(_URL_TEXT)
def test_a_parsed_url_reparses_to_an_equal_url(text: str) -> None:
    try:
        url = URL(text)
    except InvalidURL:
        return
    again = URL(str(url))
    assert again == url
    assert str(again) == str(url)
    assert again.raw_path == url.raw_path


@given(_URL_TEXT)
def test_joined_urls_reparse_to_equal_urls(text: str) -> None:
    try:
        url = URL("https://user@example.com/a/b?c").join(text)
    except InvalidURL:
        return
    assert URL(str(url)) == url


def test_url_properties_do_not_warn() -> None:
    url = URL("https://example.com/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ["scheme", "host", "port", "path", "query", "params", "raw_path", "netloc"]:
            getattr(url, name)
