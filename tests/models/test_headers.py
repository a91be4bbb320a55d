from __future__ import annotations

import copy
import enum
import pickle
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import heron
from heron import _headers
from heron._headers import Headers


def loose(headers: object) -> Any:
    """Input outside the declared `HeaderTypes` (accepted at run time, or deliberately bad)."""
    return headers


# --- construction -----------------------------------------------------------------------------


def test_headers_from_dict_keep_order_and_raw_case() -> None:
    headers = heron.Headers({"Content-Type": "text/plain", "X-Trace": "1"})
    assert headers.raw == [(b"Content-Type", b"text/plain"), (b"X-Trace", b"1")]
    assert list(headers) == ["content-type", "x-trace"]


def test_headers_from_list_of_str_pairs_keep_repeats() -> None:
    headers = heron.Headers([("Accept", "text/html"), ("accept", "application/json")])
    assert headers.raw == [(b"Accept", b"text/html"), (b"accept", b"application/json")]
    assert headers["accept"] == "text/html, application/json"


def test_headers_from_bytes_pairs() -> None:
    headers = heron.Headers([(b"Server", b"nginx"), (b"Content-Length", b"12")])
    assert headers["server"] == "nginx"
    assert headers.raw == [(b"Server", b"nginx"), (b"Content-Length", b"12")]


def test_headers_from_bytes_mapping_and_mixed_pairs() -> None:
    assert heron.Headers({b"A": b"1"}).raw == [(b"A", b"1")]
    assert heron.Headers(loose([("a", b"1"), (b"B", "2")])).raw == [(b"a", b"1"), (b"B", b"2")]


def test_headers_from_tuple_generator_and_custom_mapping() -> None:
    class CustomMapping(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            return {"a": "1"}[key]

        def __iter__(self) -> Iterator[str]:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    expected = [(b"a", b"1")]
    assert heron.Headers((("a", "1"),)).raw == expected
    assert heron.Headers(loose(pair for pair in [("a", "1")])).raw == expected
    assert heron.Headers(CustomMapping()).raw == expected
    assert heron.Headers(loose([["a", "1"]])).raw == expected


def test_headers_from_none_is_empty() -> None:
    headers = heron.Headers()
    assert headers.raw == []
    assert not headers
    assert len(headers) == 0


def test_headers_from_headers_is_an_independent_copy() -> None:
    original = heron.Headers({"a": "1"}, encoding="utf-8")
    copied = heron.Headers(original)
    copied["b"] = "2"
    assert "b" not in original
    assert copied.encoding == "utf-8"
    assert heron.Headers(original, encoding="iso-8859-1").encoding == "iso-8859-1"


def test_headers_from_headers_subclass() -> None:
    class MyHeaders(heron.Headers):
        pass

    assert heron.Headers(MyHeaders({"a": "1"})).raw == [(b"a", b"1")]


def test_new_names_go_through_validation_then_the_fast_path() -> None:
    name = "X-Fresh-Name-For-Cache-Test"
    assert name not in _headers._NAME_CACHE
    assert heron.Headers({name: "1"}).raw == [(name.encode(), b"1")]
    assert name in _headers._NAME_CACHE
    assert heron.Headers({name: "2"}).raw == [(name.encode(), b"2")]


def test_name_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_headers, "_NAME_CACHE", {})
    monkeypatch.setattr(_headers, "_RAW_NAME_CACHE", {})
    monkeypatch.setattr(_headers, "_NAME_CACHE_SIZE", 2)
    headers = heron.Headers([("a", "1"), ("b", "2"), ("c", "3")])
    headers.update([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    assert headers.raw == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    assert len(_headers._NAME_CACHE) == 2
    assert len(_headers._RAW_NAME_CACHE) == 2


def test_lookup_names_are_cached_and_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_headers, "_LOOKUP_CACHE", {})
    monkeypatch.setattr(_headers, "_NAME_CACHE_SIZE", 2)
    headers = heron.Headers({"A": "1", "B": "2", "C": "3"})
    assert "a" in headers
    assert "B" in headers
    assert "c" in headers
    assert "a" in headers
    assert _headers._LOOKUP_CACHE == {"a": b"a", "B": b"b"}


def test_lookups_with_str_subclasses_fold_ascii_only() -> None:
    class Name(str):
        pass

    headers = heron.Headers({"K": "1"})
    assert Name("k") in headers
    assert headers[Name("K")] == "1"
    assert Name("\u212a") not in headers  # KELVIN SIGN: not an ASCII "K"
    assert Name("\u212a") not in _headers._LOOKUP_CACHE


def test_mixing_str_and_bytes_names_raises_no_bytes_warning() -> None:
    # "a" and b"a" hash alike; under `python -bb` comparing them would raise BytesWarning.
    code = (
        "import heron\n"
        "h = heron.Headers([('Host', 'a'), (b'Host', b'b'), ('X', 'c')])\n"
        "h.update({b'X': b'd'})\n"
        "h[b'Host'] = 'e'\n"
        "assert h.get(b'x') == 'd' and h['host'] == 'e' and b'X' in h\n"
        "assert heron.Headers({b'Host': b'a'}) == {'Host': 'a'}\n"
    )
    subprocess.run([sys.executable, "-bb", "-c", code], check=True)


def test_str_and_bytes_subclasses_are_accepted() -> None:
    class Name(enum.StrEnum):
        TRACE = "X-Trace"

    class Raw(bytes):
        pass

    headers = heron.Headers(loose([(Name.TRACE, Raw(b"1")), (Raw(b"X-Other"), Name.TRACE)]))
    assert headers.raw == [(b"X-Trace", b"1"), (b"X-Other", b"X-Trace")]
    assert all(type(part) is bytes for pair in headers.raw for part in pair)


def test_from_raw_trusts_its_input_and_lower_cases_names() -> None:
    headers = Headers._from_raw([(b"Content-Type", b"text/html"), (b"SET-COOKIE", b"a=1")])
    assert headers.raw == [(b"Content-Type", b"text/html"), (b"SET-COOKIE", b"a=1")]
    assert headers["set-cookie"] == "a=1"
    assert headers.encoding == "ascii"
    assert isinstance(headers, heron.Headers)


# --- reading ----------------------------------------------------------------------------------


def test_lookup_is_case_insensitive_and_accepts_bytes() -> None:
    headers = heron.Headers({"Content-Type": "text/plain"})
    assert headers["content-type"] == "text/plain"
    assert headers["CONTENT-TYPE"] == "text/plain"
    assert headers[b"Content-Type"] == "text/plain"
    assert "CoNtEnT-tYpE" in headers
    assert b"content-type" in headers  # type: ignore[comparison-overlap]


def test_repeated_names_are_joined_when_read() -> None:
    headers = heron.Headers([("A", "1"), ("b", "2"), ("a", "3"), ("C", "4")])
    assert list(headers.keys()) == ["a", "b", "c"]
    assert list(headers.values()) == ["1, 3", "2", "4"]
    assert list(headers.items()) == [("a", "1, 3"), ("b", "2"), ("c", "4")]
    assert headers.multi_items() == [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]
    assert headers.get("A") == "1, 3"
    assert headers.get_list("a") == ["1", "3"]


def test_len_counts_lines_while_iteration_yields_each_name_once() -> None:
    headers = heron.Headers([("a", "1"), ("a", "2"), ("b", "3")])
    assert len(headers) == 3  # as httpx
    assert list(headers) == ["a", "b"]
    assert dict(headers) == {"a": "1, 2", "b": "3"}


def test_missing_names() -> None:
    headers = heron.Headers({"a": "1"})
    assert headers.get("missing") is None
    assert headers.get("missing", "default") == "default"
    assert headers.get_list("missing") == []
    assert "missing" not in headers
    with pytest.raises(KeyError):
        headers["missing"]


def test_get_list_split_commas() -> None:
    headers = heron.Headers([("a", "x, y ,z"), ("a", " w ,"), ("b", "")])
    assert headers.get_list("a", split_commas=True) == ["x", "y", "z", "w", ""]
    assert headers.get_list("b", split_commas=True) == [""]


def test_lookup_with_wrong_key_types() -> None:
    headers = heron.Headers({"a": "1"})
    assert 1 not in headers  # type: ignore[comparison-overlap]
    assert ["a"] not in headers  # type: ignore[comparison-overlap]
    with pytest.raises(TypeError, match="must be str or bytes, not int"):
        headers[1]  # type: ignore[index]
    with pytest.raises(TypeError, match="must be str or bytes, not list"):
        headers.get(["a"])  # type: ignore[call-overload]


def test_non_ascii_lookup_keys_match_nothing() -> None:
    headers = heron.Headers({"k": "1"})
    # KELVIN SIGN lower-cases to "k" in Unicode; header names fold ASCII letters only.
    assert "\u212a" not in headers
    assert headers.get("\u212a") is None


# --- writing ----------------------------------------------------------------------------------


def test_setitem_replaces_every_value_in_place_of_the_first() -> None:
    headers = heron.Headers([("A", "1"), ("b", "2"), ("a", "3"), ("C", "4")])
    headers["a"] = "new"
    assert headers.raw == [(b"a", b"new"), (b"b", b"2"), (b"C", b"4")]
    headers["B"] = "other"
    assert headers.raw == [(b"a", b"new"), (b"B", b"other"), (b"C", b"4")]


def test_setitem_appends_a_new_name() -> None:
    headers = heron.Headers({"a": "1"})
    headers["Z"] = b"2"
    assert headers.raw == [(b"a", b"1"), (b"Z", b"2")]


def test_delitem_removes_every_line() -> None:
    headers = heron.Headers([("a", "1"), ("b", "2"), ("A", "3")])
    del headers["a"]
    assert headers.raw == [(b"b", b"2")]
    with pytest.raises(KeyError):
        del headers["a"]


def test_mutable_mapping_helpers() -> None:
    headers = heron.Headers([("a", "1"), ("a", "2")])
    assert headers.pop("a") == "1, 2"
    assert headers.pop("a", None) is None
    assert headers.setdefault("C", "9") == "9"
    assert headers.raw == [(b"C", b"9")]
    headers.clear()
    assert headers.raw == []


def test_update_replaces_named_headers_and_appends() -> None:
    headers = heron.Headers([("A", "1"), ("b", "2"), ("a", "3")])
    headers.update({"a": "u", "D": "d"})
    assert headers.raw == [(b"b", b"2"), (b"a", b"u"), (b"D", b"d")]
    headers.update([("b", "x"), ("B", "y")])
    assert headers.raw == [(b"a", b"u"), (b"D", b"d"), (b"b", b"x"), (b"B", b"y")]
    headers.update(heron.Headers({"d": "z"}))
    assert headers.raw == [(b"a", b"u"), (b"b", b"x"), (b"B", b"y"), (b"d", b"z")]


def test_update_with_nothing_changes_nothing() -> None:
    headers = heron.Headers({"a": "1"})
    headers.update(None)
    headers.update({})
    assert headers.raw == [(b"a", b"1")]


def test_copy_is_independent() -> None:
    headers = heron.Headers({b"a": b"\xe9"})
    assert headers.encoding == "iso-8859-1"
    copied = headers.copy()
    copied["b"] = "2"
    assert "b" not in headers
    assert copied.encoding == "iso-8859-1"
    assert copy.copy(headers) == headers
    assert copy.deepcopy(headers) == headers


def test_pickle_round_trip() -> None:
    headers = heron.Headers([("A", "1"), ("a", "2")], encoding="utf-8")
    restored = pickle.loads(pickle.dumps(headers))
    assert restored.raw == headers.raw
    assert restored.encoding == "utf-8"


# --- whitespace and encodings -----------------------------------------------------------------


def test_surrounding_whitespace_is_stripped_from_values() -> None:
    # RFC 9110 section 5.5: a field value excludes leading and trailing whitespace.
    headers = heron.Headers(loose([("a", " x  "), (b"b", b"\ty y\t"), ("c", "   ")]))
    assert headers.raw == [(b"a", b"x"), (b"b", b"y y"), (b"c", b"")]
    headers["d"] = " 1 "
    assert headers["d"] == "1"


def test_encoding_is_detected() -> None:
    assert heron.Headers({"a": "plain"}).encoding == "ascii"
    assert heron.Headers({b"a": "é".encode()}).encoding == "utf-8"
    assert heron.Headers({b"a": b"\xe9"}).encoding == "iso-8859-1"
    assert heron.Headers({b"a": b"\xe9"})["a"] == "é"


def test_encoding_detection_looks_at_each_value_separately() -> None:
    # b"\xc3" + b"\xa9" would be UTF-8 "é" if the values were simply concatenated.
    headers = heron.Headers([(b"a", b"x\xc3"), (b"b", b"\xa9y")])
    assert headers.encoding == "iso-8859-1"


def test_non_ascii_text_values_are_sent_as_utf8() -> None:
    headers = heron.Headers({"a": "é"})
    assert headers.raw == [(b"a", "é".encode())]
    assert headers.encoding == "utf-8"
    assert headers["a"] == "é"


def test_detected_encoding_is_refreshed_after_changes() -> None:
    headers = heron.Headers({"a": "x"})
    assert headers.encoding == "ascii"
    headers["b"] = "é"
    assert headers.encoding == "utf-8"
    assert headers["b"] == "é"
    del headers["b"]
    assert headers.encoding == "ascii"
    headers.update({"c": "é"})
    assert headers.encoding == "utf-8"
    headers.clear()
    assert headers.encoding == "ascii"


def test_explicit_encoding_encodes_and_decodes() -> None:
    headers = heron.Headers({"a": "é"}, encoding="iso-8859-1")
    assert headers.raw == [(b"a", b"\xe9")]
    assert headers.encoding == "iso-8859-1"
    headers["b"] = "ü"
    assert headers.raw[1] == (b"b", b"\xfc")
    assert headers["b"] == "ü"


def test_encoding_can_be_set() -> None:
    headers = heron.Headers({b"a": "é".encode()})
    headers.encoding = "iso-8859-1"
    assert headers.encoding == "iso-8859-1"
    assert headers["a"] == "Ã©"


def test_bytes_that_dont_fit_a_chosen_encoding_decode_as_replacement_characters() -> None:
    headers = heron.Headers({b"a": b"\xe9"})
    headers.encoding = "utf-8"
    assert headers["a"] == "\ufffd"
    assert headers.multi_items() == [("a", "\ufffd")]


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(LookupError, match="Unknown encoding 'nope'"):
        heron.Headers({"a": "1"}, encoding="nope")
    headers = heron.Headers()
    with pytest.raises(LookupError, match="'utf-8'"):
        headers.encoding = "nope"


def test_text_that_the_chosen_encoding_cannot_represent_is_refused() -> None:
    with pytest.raises(heron.LocalProtocolError, match=r"header 'a' cannot be encoded as ascii"):
        heron.Headers({"a": "é"}, encoding="ascii")


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(heron.LocalProtocolError, match="cannot be encoded as utf-8"):
        heron.Headers({"a": "\ud800"})


# --- refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("a\r\nX-Injected: 1", "carriage return"),
        ("a\nb", "line feed"),
        ("a\x00b", "NUL"),
        (b"a\r\nb", "carriage return"),
        (b"a\x00", "NUL"),
    ],
)
def test_values_with_cr_lf_or_nul_are_refused(value: str | bytes, found: str) -> None:
    with pytest.raises(heron.LocalProtocolError, match=found) as info:
        heron.Headers(loose({"X-Name": value}))
    message = str(info.value)
    assert "'X-Name'" in message
    assert "header injection" in message


def test_setitem_refuses_injection_too() -> None:
    headers = heron.Headers()
    with pytest.raises(heron.LocalProtocolError, match="line feed"):
        headers["a"] = "x\ny"
    assert headers.raw == []


@pytest.mark.parametrize("name", ["a\r\nb", "a\n", "a\x00", b"a\r\n"])
def test_names_with_cr_lf_or_nul_are_refused(name: str | bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="header injection"):
        heron.Headers(loose({name: "v"}))


@pytest.mark.parametrize("name", ["a b", "a:b", " a", "a(b)", "a\x7f", "a\x01", b"a;b", "x/y"])
def test_names_that_are_not_tokens_are_refused(name: str | bytes) -> None:
    with pytest.raises(heron.LocalProtocolError, match="must be tokens"):
        heron.Headers(loose({name: "v"}))


def test_empty_and_non_ascii_names_are_refused() -> None:
    with pytest.raises(heron.LocalProtocolError, match="must not be empty"):
        heron.Headers({"": "v"})
    with pytest.raises(heron.LocalProtocolError, match="ASCII tokens"):
        heron.Headers({"é": "v"})


def test_none_values_are_refused_with_a_clear_type_error() -> None:
    with pytest.raises(
        TypeError, match="Header 'X-Token' has the value None: pass a str or bytes"
    ):
        heron.Headers(loose({"X-Token": None}))
    headers = heron.Headers()
    with pytest.raises(TypeError, match="value None"):
        headers["a"] = None  # type: ignore[assignment]


def test_values_of_other_types_are_refused() -> None:
    with pytest.raises(TypeError, match=r"Header 'X-Count' has a value of type int .*str\(3\)"):
        heron.Headers(loose({"X-Count": 3}))
    with pytest.raises(TypeError, match="type bytearray"):
        heron.Headers(loose([("a", bytearray(b"x"))]))


def test_names_of_other_types_are_refused() -> None:
    with pytest.raises(TypeError, match=r"Header names must be str or bytes, not int \(1\)"):
        heron.Headers(loose({1: "x"}))
    with pytest.raises(TypeError, match="not list"):
        heron.Headers(loose([(["a"], "x")]))
    with pytest.raises(TypeError, match="not NoneType"):
        heron.Headers()[None] = "x"  # type: ignore[index]


@pytest.mark.parametrize("pairs", [[("a", "b", "c")], [("a",)], [1], ["abc"]])
def test_malformed_pairs_are_refused(pairs: list[object]) -> None:
    with pytest.raises(TypeError, match=r"must be a \(name, value\) pair"):
        heron.Headers(loose(pairs))


@pytest.mark.parametrize("headers", ["a: b", b"a: b", 5])
def test_inputs_that_are_not_headers_are_refused(headers: object) -> None:
    with pytest.raises(TypeError, match="must be a mapping or a sequence of"):
        heron.Headers(loose(headers))


# --- equality and repr ------------------------------------------------------------------------


def test_equality_ignores_name_case_and_the_order_of_different_names() -> None:
    headers = heron.Headers([("a", "1"), ("B", "2")])
    assert headers == heron.Headers([("b", "2"), ("A", "1")])
    assert headers == {"A": "1", "b": "2"}
    assert headers == [("b", "2"), ("a", "1")]
    assert headers == ((b"a", b"1"), (b"b", b"2"))
    assert headers != {"a": "1"}
    assert headers != {"a": "1", "b": "3"}


def test_equality_keeps_the_order_of_a_repeated_names_values() -> None:
    # RFC 9110 section 5.3: the order of field lines with the same name is significant.
    headers = heron.Headers([("a", "1"), ("b", "x"), ("A", "2")])
    assert headers == [("a", "1"), ("a", "2"), ("b", "x")]
    assert headers != [("a", "2"), ("a", "1"), ("b", "x")]
    assert headers != {"a": "1, 2", "b": "x"}


def test_equality_with_other_objects_is_false() -> None:
    headers = heron.Headers({"a": "1"})
    assert headers != 3
    assert headers != "a"
    assert headers != None  # noqa: E711
    assert headers != {"a": None}
    assert headers != [("a",)]
    assert headers != {"a b": "1"}


def test_headers_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(heron.Headers())


def test_repr_is_a_dict_when_names_are_unique() -> None:
    headers = heron.Headers({"Content-Type": "text/plain", "X-A": "1"})
    assert repr(headers) == "Headers({'content-type': 'text/plain', 'x-a': '1'})"
    assert repr(heron.Headers()) == "Headers({})"


def test_repr_is_a_list_when_names_repeat() -> None:
    headers = heron.Headers([("a", "1"), ("A", "2")])
    assert repr(headers) == "Headers([('a', '1'), ('a', '2')])"


def test_repr_masks_credentials() -> None:
    headers = heron.Headers(
        [("Authorization", "Bearer secret"), ("Proxy-Authorization", "Basic x"), ("a", "1")]
    )
    text = repr(headers)
    assert "secret" not in text
    assert "Basic x" not in text
    assert text == (
        "Headers({'authorization': '[secure]', 'proxy-authorization': '[secure]', 'a': '1'})"
    )
    assert headers["authorization"] == "Bearer secret"


def test_repr_shows_a_non_ascii_encoding() -> None:
    assert repr(heron.Headers({b"a": b"\xe9"})) == "Headers({'a': 'é'}, encoding='iso-8859-1')"
    assert repr(heron.Headers({"a": "x"}, encoding="utf-8")) == (
        "Headers({'a': 'x'}, encoding='utf-8')"
    )


# --- properties -------------------------------------------------------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(alphabet=TCHAR, min_size=1, max_size=20)
forbidden = st.sampled_from(["\r", "\n", "\0"])
# Values without CR, LF or NUL, and without surrounding whitespace (which is stripped).
values = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\0"),
    max_size=40,
).map(lambda text: text.strip(" \t"))


@given(name=names, value=values, bad=forbidden, where=st.integers(0, 40), as_bytes=st.booleans())
def test_property_cr_lf_nul_in_values_are_always_refused(
    name: str, value: str, bad: str, where: int, as_bytes: bool
) -> None:
    where = min(where, len(value))
    poisoned = value[:where] + bad + value[where:]
    header: tuple[str | bytes, str | bytes] = (
        (name.encode(), poisoned.encode()) if as_bytes else (name, poisoned)
    )
    with pytest.raises(heron.LocalProtocolError):
        heron.Headers(loose([header]))
    with pytest.raises(heron.LocalProtocolError):
        heron.Headers()[header[0]] = header[1]


@given(name=names, bad=forbidden, where=st.integers(0, 20), as_bytes=st.booleans())
def test_property_cr_lf_nul_in_names_are_always_refused(
    name: str, bad: str, where: int, as_bytes: bool
) -> None:
    where = min(where, len(name))
    poisoned = name[:where] + bad + name[where:]
    key: str | bytes = poisoned.encode() if as_bytes else poisoned
    with pytest.raises(heron.LocalProtocolError):
        heron.Headers(loose({key: "v"}))
    with pytest.raises(heron.LocalProtocolError):
        heron.Headers()[key] = "v"


@given(pairs=st.lists(st.tuples(names, values), max_size=8))
def test_property_valid_text_headers_round_trip(pairs: list[tuple[str, str]]) -> None:
    headers = heron.Headers(pairs)
    assert headers.raw == [(name.encode(), value.encode("utf-8")) for name, value in pairs]
    assert headers.multi_items() == [(name.lower(), value) for name, value in pairs]
    assert heron.Headers(headers.raw) == headers
    for name, _ in pairs:
        assert headers.get_list(name) == [v for n, v in pairs if n.lower() == name.lower()]


@given(
    pairs=st.lists(
        st.tuples(
            names.map(str.encode),
            st.binary(max_size=40).filter(lambda v: not {13, 10, 0} & set(v)),
        ),
        max_size=8,
    )
)
def test_property_valid_bytes_headers_round_trip(pairs: list[tuple[bytes, bytes]]) -> None:
    headers = heron.Headers(pairs)
    assert headers.raw == [(name, value.strip(b" \t")) for name, value in pairs]
    assert Headers._from_raw(headers.raw) == headers
