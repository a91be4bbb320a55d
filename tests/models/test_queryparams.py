from __future__ import annotations

import pickle
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron import InvalidURL, QueryParams

# Construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a=1&b=2&a=3",
        b"a=1&b=2&a=3",
        {"a": ["1", "3"], "b": "2"},
        {"a": ("1", "3"), "b": 2},
        [("a", "1"), ("b", "2"), ("a", "3")],
        (("a", "1"), ("b", "2"), ("a", "3")),
        [["a", "1"], ["b", "2"], ["a", "3"]],
        QueryParams("a=1&b=2&a=3"),
    ],
)
def test_query_params_from_every_input_form(value: object) -> None:
    params = QueryParams(value)  # type: ignore[arg-type]
    assert params.multi_items() == [("a", "1"), ("a", "3"), ("b", "2")]


def test_query_params_from_keyword_arguments() -> None:
    assert QueryParams(a="1", b=[2, 3]).multi_items() == [("a", "1"), ("b", "2"), ("b", "3")]


@pytest.mark.parametrize("value", [None, "", b"", {}, []])
def test_empty_query_params(value: object) -> None:
    params = QueryParams(value)  # type: ignore[arg-type]
    assert params.multi_items() == []
    assert not params
    assert len(params) == 0
    assert str(params) == ""
    assert QueryParams() == params


def test_values_are_converted_to_strings() -> None:
    params = QueryParams({"t": True, "f": False, "n": None, "i": 1, "x": 1.5, 2: "k"})  # type: ignore[dict-item]
    assert params.multi_items() == [
        ("t", "true"),
        ("f", "false"),
        ("n", ""),
        ("i", "1"),
        ("x", "1.5"),
        ("2", "k"),
    ]
    assert str(params) == "t=true&f=false&n=&i=1&x=1.5&2=k"


def test_values_of_other_types_use_str() -> None:
    assert QueryParams([("a", [1, 2])]).get("a") == "[1, 2]"  # type: ignore[list-item]


def test_a_key_with_an_empty_list_adds_nothing() -> None:
    assert QueryParams({"a": [], "b": "1"}).multi_items() == [("b", "1")]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("a", [("a", "")]),
        ("a=", [("a", "")]),
        ("=a", [("", "a")]),
        ("&&a=1&&", [("a", "1")]),
        ("a=1;b=2", [("a", "1;b=2")]),
        ("a=b=c", [("a", "b=c")]),
        ("a+b=c+d", [("a b", "c d")]),
        ("a=%20%2B%26", [("a", " +&")]),
        ("a=%C3%BC", [("a", "ü")]),
        ("a=%FF", [("a", "\ufffd")]),
        ("a=%zz", [("a", "%zz")]),
        ("ü=€", [("ü", "€")]),
    ],
)
def test_parsing_query_strings(text: str, items: list[tuple[str, str]]) -> None:
    assert QueryParams(text).multi_items() == items


def test_parsing_bytes_as_utf8() -> None:
    assert QueryParams(b"a=%C3%BC&b=\xc3\xbc").multi_items() == [("a", "ü"), ("b", "ü")]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("a=1", "b=2"), {}, "at most 1 positional argument \\(2 given\\)"),
        (("a=1",), {"b": 2}, "either one positional argument or keyword arguments"),
        ((1,), {}, "Invalid type for query params: .* got int: 1"),
        ((object(),), {}, "Invalid type for query params"),
        (([("a", "1", "2")],), {}, "expected \\(key, value\\) pairs, got \\('a', '1', '2'\\)"),
        ((["ab"],), {}, "expected \\(key, value\\) pairs"),
    ],
)
def test_invalid_arguments_are_type_errors(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        QueryParams(*args, **kwargs)  # type: ignore[arg-type]


# Reading --------------------------------------------------------------------------------------


def test_reading_gives_the_first_value() -> None:
    params = QueryParams("a=1&b=2&a=3")
    assert params["a"] == "1"
    assert params.get("a") == "1"
    assert params.get("z") is None
    assert params.get("z", "default") == "default"
    assert params.get_list("a") == ["1", "3"]
    assert params.get_list("z") == []
    assert list(params.keys()) == ["a", "b"]
    assert list(params.values()) == ["1", "2"]
    assert list(params.items()) == [("a", "1"), ("b", "2")]
    assert list(params) == ["a", "b"]
    assert len(params) == 2
    assert "a" in params
    assert "z" not in params
    assert dict(params) == {"a": "1", "b": "2"}


def test_missing_key_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        QueryParams("a=1")["z"]


def test_get_list_returns_a_copy() -> None:
    params = QueryParams("a=1")
    params.get_list("a").append("2")
    assert params.get_list("a") == ["1"]


def test_query_params_are_a_mapping() -> None:
    assert isinstance(QueryParams(), Mapping)


# Copies ---------------------------------------------------------------------------------------


def test_set_add_remove_and_merge_return_new_objects() -> None:
    params = QueryParams("a=1&b=2&a=3")
    assert str(params.set("a", 9)) == "a=9&b=2"
    assert str(params.set("c", None)) == "a=1&a=3&b=2&c="
    assert str(params.add("a", True)) == "a=1&a=3&a=true&b=2"
    assert str(params.add("c", 1)) == "a=1&a=3&b=2&c=1"
    assert str(params.remove("a")) == "b=2"
    assert str(params.remove("z")) == "a=1&a=3&b=2"
    assert str(params.merge({"a": 7, "c": 8})) == "a=7&b=2&c=8"
    assert str(params.merge("b=5&b=6")) == "a=1&a=3&b=5&b=6"
    assert str(params.merge(QueryParams("c=1"))) == "a=1&a=3&b=2&c=1"
    assert str(params.merge()) == "a=1&a=3&b=2"
    assert str(params.merge(None)) == "a=1&a=3&b=2"
    assert str(params) == "a=1&a=3&b=2"


def test_copies_do_not_share_state() -> None:
    params = QueryParams("a=1")
    added = params.add("a", 2)
    added.add("a", 3)
    assert params.get_list("a") == ["1"]
    assert added.get_list("a") == ["1", "2"]
    assert QueryParams(added).add("a", 4).get_list("a") == ["1", "2", "4"]
    assert added.get_list("a") == ["1", "2"]


def test_query_params_are_immutable() -> None:
    params = QueryParams("a=1")
    with pytest.raises(RuntimeError, match=r"immutable.*params\.set\(key, value\)"):
        params["a"] = "2"
    with pytest.raises(RuntimeError, match=r"immutable.*params\.merge\(\.\.\.\)"):
        params.update({"a": "2"})
    assert params["a"] == "1"


# Serialising, equality, hashing ---------------------------------------------------------------


def test_str_is_form_urlencoded() -> None:
    params = QueryParams({"a": "x y", "b": "&=?/+#%", "c": "~-._*!'()", "d": "ü€"})
    expected = "a=x+y&b=%26%3D%3F%2F%2B%23%25&c=~-._%2A%21%27%28%29&d=%C3%BC%E2%82%AC"
    assert str(params) == expected
    assert str(QueryParams([("a b", "1")])) == "a+b=1"


def test_str_of_a_lone_surrogate_raises_invalid_url() -> None:
    with pytest.raises(InvalidURL, match="surrogate"):
        str(QueryParams({"a": "\ud800"}))


def test_repr() -> None:
    assert repr(QueryParams("a=1&b=x y")) == "QueryParams('a=1&b=x+y')"


def test_equality_ignores_order_but_not_values() -> None:
    assert QueryParams("a=1&b=2") == QueryParams("b=2&a=1")
    assert QueryParams("a=1&a=2") == QueryParams("a=2&a=1")
    assert QueryParams("a=1&a=2") != QueryParams("a=1")
    assert QueryParams("a=1") != QueryParams("a=2")
    assert QueryParams("a=1") == QueryParams([("a", "1")])
    assert QueryParams("a=1") != "a=1"
    assert QueryParams("a=1") != {"a": "1"}


def test_hash_agrees_with_equality() -> None:
    assert hash(QueryParams("a=1&b=2")) == hash(QueryParams("b=2&a=1"))
    assert len({QueryParams("a=1&b=2"), QueryParams("b=2&a=1"), QueryParams("a=2")}) == 2


def test_query_params_pickle() -> None:
    params = QueryParams("a=1&b=ü&a=2")
    restored = pickle.loads(pickle.dumps(params))
    assert restored == params
    assert restored.multi_items() == params.multi_items()


def test_query_params_have_no_instance_dict() -> None:
    with pytest.raises(AttributeError):
        QueryParams().__dict__  # noqa: B018


# Properties -----------------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)


@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=8))
def test_query_params_round_trip_through_str(pairs: list[tuple[str, str]]) -> None:
    params = QueryParams(tuple(pairs))
    again = QueryParams(str(params))
    assert again == params
    assert again.multi_items() == params.multi_items()
    assert str(again) == str(params)


@given(st.text(max_size=40))
def test_parsing_any_query_string_gives_strings(text: str) -> None:
    params = QueryParams(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.multi_items())
