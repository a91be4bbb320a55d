"""heron's URL parser against the WHATWG URL conformance data (web-platform-tests).

The data is tests/data/urltestdata.json (provenance and licence in tests/data/README.md). We run
the cases whose input is an http(s) URL or is resolved against an http(s) base. A success case
must parse (``URL(base).join(input)``, or ``URL(input)`` without a base) to the same scheme,
host, port, path, query, fragment, username and password as the expected ``href``; a failure
case must raise ``InvalidURL``.

heron follows RFC 3986 where the WHATWG parser is more lenient, as httpx does; those cases are
listed in ``SKIPPED`` below, a group per reason, and in tests/data/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import heron

DATA = Path(__file__).parent.parent / "data" / "urltestdata.json"

# Deliberate differences, as (input, base) pairs grouped by reason. Keep in step with the list
# in tests/data/README.md.
SKIPPED: dict[str, list[tuple[str, str | None]]] = {
    "heron refuses control characters (CR, LF, TAB, NUL, DEL, ...) in URLs; WHATWG strips tabs, "
    "newlines and leading/trailing controls, and percent-encodes the rest": [
        ("http://example\t.\norg", "http://example.org/foo/bar"),
        ("\t   :foo.com   \n", "http://example.org/foo/bar"),
        ("http://f:\n/c", "http://example.org/foo/bar"),
        ("  \t", "http://example.org/foo/bar"),
        ("http://example.com/foo\t\x91%91", None),
        ("http://example.com/foo\tbar", None),
        ("\x00\x1b\x04\x12 http://example.com/\x1f \r ", None),
        ("http://ho\tst/", None),
        ("http://ho\nst/", None),
        ("http://ho\rst/", None),
        ("http://foo.bar/baz?qux#foo\x08bar", None),
        ("http://example.org/test?a#b\x00c", None),
        (
            "https://www.example.com/path{\x7fpath.html?query'\x7f=query#fragment<\x7ffragment",
            None,
        ),
        ("https://user:pass[\x7f@foo/bar", "http://example.org"),
        ("https://x/\x00y", None),
        ("https://x/?\x00y", None),
        ("https://x/?#\x00y", None),
    ],
    "RFC 3986: a backslash is not a path separator (WHATWG reads '\\' as '/' in http URLs)": [
        (":foo.com\\", "http://example.org/foo/bar"),
        (":\\", "http://example.org/foo/bar"),
        ("\\x", "http://example.org/foo/bar"),
        ("\\\\x\\hello", "http://example.org/foo/bar"),
        ("http://foo.com/\\@", "http://example.org/foo/bar"),
        ("http:\\\\foo.com\\", "http://example.org/foo/bar"),
        ("http:\\\\a\\b:c\\d@foo.com\\", "http://example.org/foo/bar"),
        ("http://a:b@c\\", None),
        ("http://example.com\\\\foo\\\\bar", None),
        ("http:\\\\www.google.com\\foo", None),
        ("///\\//\\//test", "http://example.org/"),
        ("/\\/\\//example.org/../path", "http://example.org/"),
    ],
    "RFC 3986: without '//' after the scheme there is no host, so 'http:example.com' is a "
    "scheme and a path (WHATWG finds a host there, unless the base has the same scheme)": [
        ("https:/example.com/", "http://example.org/foo/bar"),
        ("https:example.com/", "http://example.org/foo/bar"),
        ("http:/example.com/", None),
        ("https:/example.com/", None),
        ("http:example.com/", None),
        ("https:example.com/", None),
        ("http:@www.example.com", None),
        ("http:/@www.example.com", None),
        ("http:a:b@www.example.com", None),
        ("http:/a:b@www.example.com", None),
        ("http::b@www.example.com", None),
        ("http:/:b@www.example.com", None),
        ("http:/:@/www.example.com", None),
        ("http:@/www.example.com", None),
        ("http:/@/www.example.com", None),
        ("https:@/www.example.com", None),
        ("http:a:b@/www.example.com", None),
        ("http:/a:b@/www.example.com", None),
        ("http::@/www.example.com", None),
        ("http:a:@www.example.com", None),
        ("http:/a:@www.example.com", None),
        ("http:@:www.example.com", None),
        ("http:/@:www.example.com", None),
        ("http:", "https://example.org/foo/bar"),
    ],
    "RFC 3986: '///host' is an empty authority, which an http URL can't have (WHATWG skips "
    "the extra slashes)": [
        ("///test", "http://example.org/"),
        ("///example.org/path", "http://example.org/"),
        ("///example.org/../path", "http://example.org/"),
        ("///example.org/../../", "http://example.org/"),
        ("///example.org/../path/../../", "http://example.org/"),
        ("///example.org/../path/../../path", "http://example.org/"),
    ],
    "a lone surrogate can't be encoded as UTF-8: heron raises InvalidURL (WHATWG substitutes "
    "U+FFFD)": [
        (
            "http://example.com/\ud800\U000107fe\udfff\ufdd0\ufdcf\ufdef\ufdf0\ufffe\uffff"
            "?\ud800\U000107fe\udfff\ufdd0\ufdcf\ufdef\ufdf0\ufffe\uffff",
            None,
        ),
    ],
    "Unicode hosts must be valid IDNA 2008 (the idna package); WHATWG's UTS 46 also allows "
    "symbols such as U+2603 SNOWMAN": [
        ("https://%e2%98%83", None),
    ],
}

_SCHEME = re.compile(r"[\x00-\x20]*([A-Za-z][A-Za-z0-9+.\-]*):")
_HTTP = re.compile(r"(?i)https?:")
# RFC 3986, appendix B: split an expected href into its parts.
_URI = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)


def _is_http_case(case: dict[str, Any]) -> bool:
    scheme_match = _SCHEME.match(case["input"])
    scheme = scheme_match.group(1).lower() if scheme_match else None
    if scheme in ("http", "https"):
        return True
    base = case.get("base")
    return scheme is None and base is not None and _HTTP.match(base) is not None


def _load_cases() -> list[dict[str, Any]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return [case for case in data if isinstance(case, dict) and _is_http_case(case)]


CASES = _load_cases()
_SKIP_REASONS = {case: reason for reason, cases in SKIPPED.items() for case in cases}


def _params() -> list[Any]:
    params = []
    for index, case in enumerate(CASES):
        key = (case["input"], case.get("base"))
        marks = [pytest.mark.skip(reason=_SKIP_REASONS[key])] if key in _SKIP_REASONS else []
        params.append(pytest.param(case, id=f"{index}-{case['input'][:40]!r}", marks=marks))
    return params


def _parse(case: dict[str, Any]) -> heron.URL:
    base = case.get("base")
    return heron.URL(base).join(case["input"]) if base else heron.URL(case["input"])


def _expected_parts(case: dict[str, Any]) -> dict[str, Any]:
    match = _URI.fullmatch(case["href"])
    assert match is not None
    scheme, authority, path, query, fragment = match.groups()
    hostport = authority.rpartition("@")[2]
    host_match = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(\d*))?", hostport)
    assert host_match is not None
    host, port = host_match.groups()
    return {
        "scheme": scheme,
        "host": host.strip("[]"),
        "port": int(port) if port else None,
        "path": path,
        "query": query,
        "fragment": fragment,
        "username": case["username"],
        "password": case["password"],
    }


def _heron_parts(url: heron.URL) -> dict[str, Any]:
    # The encoded path comes from raw_path (so an empty path reads "/", as httpx has it), the
    # query and fragment from str(url) (to tell "no query" from an empty one).
    match = _URI.fullmatch(str(url))
    assert match is not None
    username, _, password = url.userinfo.decode("ascii").partition(":")
    return {
        "scheme": url.scheme,
        "host": url.raw_host.decode("ascii"),
        "port": url.port,
        "path": url.raw_path.decode("ascii").partition("?")[0],
        "query": match.group(4),
        "fragment": match.group(5),
        "username": username,
        "password": password,
    }


@pytest.mark.parametrize("case", _params())
def test_whatwg_case(case: dict[str, Any]) -> None:
    if case.get("failure"):
        with pytest.raises(heron.InvalidURL):
            _parse(case)
    else:
        assert _heron_parts(_parse(case)) == _expected_parts(case)


def test_skip_list_names_only_cases_in_the_data() -> None:
    keys = {(case["input"], case.get("base")) for case in CASES}
    assert set(_SKIP_REASONS) <= keys


def test_most_http_cases_run() -> None:
    # A guard against the skip list (or the selection) quietly swallowing the data.
    assert len(CASES) > 400
    assert len(_SKIP_REASONS) < len(CASES) // 6
