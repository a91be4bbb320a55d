from __future__ import annotations

import types

import heron


def test_all_is_sorted_case_insensitively() -> None:
    assert heron.__all__ == sorted(heron.__all__, key=str.lower)


def test_all_names_resolve() -> None:
    for name in heron.__all__:
        assert hasattr(heron, name), name


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(heron).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    dunders = {"__title__", "__description__", "__version__"}
    assert public | dunders == set(heron.__all__)


def test_every_export_reports_module_heron() -> None:
    for name in heron.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(heron, name)
        module = getattr(obj, "__module__", None) or type(obj).__module__
        assert module == "heron", f"heron.{name} reports __module__ == {module!r}"


def test_version_metadata() -> None:
    assert heron.__title__ == "heron"
    assert heron.__version__.count(".") >= 2
