from __future__ import annotations

import copy
import inspect
import pickle
from typing import Any

import pytest

import heron
from heron._exceptions import request_context


class StandIn:
    """A picklable stand-in for a Request or Response: the exceptions only store them."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StandIn) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


REQUEST: Any = StandIn("request")
RESPONSE: Any = StandIn("response")

# Every edge of the tree in API.md section 9: (class, its one direct base).
HIERARCHY: list[tuple[type[BaseException], type[BaseException]]] = [
    (heron.HTTPError, Exception),
    (heron.RequestError, heron.HTTPError),
    (heron.TransportError, heron.RequestError),
    (heron.TimeoutException, heron.TransportError),
    (heron.ConnectTimeout, heron.TimeoutException),
    (heron.ReadTimeout, heron.TimeoutException),
    (heron.WriteTimeout, heron.TimeoutException),
    (heron.PoolTimeout, heron.TimeoutException),
    (heron.NetworkError, heron.TransportError),
    (heron.ConnectError, heron.NetworkError),
    (heron.ReadError, heron.NetworkError),
    (heron.WriteError, heron.NetworkError),
    (heron.CloseError, heron.NetworkError),
    (heron.ProtocolError, heron.TransportError),
    (heron.LocalProtocolError, heron.ProtocolError),
    (heron.RemoteProtocolError, heron.ProtocolError),
    (heron.ProxyError, heron.TransportError),
    (heron.UnsupportedProtocol, heron.TransportError),
    (heron.DecodingError, heron.RequestError),
    (heron.TooManyRedirects, heron.RequestError),
    (heron.HTTPStatusError, heron.HTTPError),
    (heron.InvalidURL, Exception),
    (heron.CookieConflict, Exception),
    (heron.StreamError, RuntimeError),
    (heron.StreamConsumed, heron.StreamError),
    (heron.StreamClosed, heron.StreamError),
    (heron.ResponseNotRead, heron.StreamError),
    (heron.RequestNotRead, heron.StreamError),
]
ALL_EXCEPTIONS = [cls for cls, _ in HIERARCHY]
REQUEST_ERRORS = [cls for cls in ALL_EXCEPTIONS if issubclass(cls, heron.RequestError)]
# Raised for API misuse: no message argument, the class supplies one that says how to fix it.
MISUSE_ERRORS = [
    heron.StreamConsumed,
    heron.StreamClosed,
    heron.ResponseNotRead,
    heron.RequestNotRead,
]


def pickle_cases() -> list[Any]:
    return [pytest.param(cls, id=cls.__name__) for cls in ALL_EXCEPTIONS]


def make(cls: type[BaseException]) -> BaseException:
    """An instance of `cls`, built the way heron builds it."""
    if cls in MISUSE_ERRORS:
        return cls()
    if cls is heron.HTTPStatusError:
        return heron.HTTPStatusError("404 Not Found", request=REQUEST, response=RESPONSE)
    return cls(f"{cls.__name__} happened")


def ids(value: object) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


@pytest.mark.parametrize(("cls", "base"), HIERARCHY, ids=ids)
def test_hierarchy_edge(cls: type[BaseException], base: type[BaseException]) -> None:
    assert cls.__bases__ == (base,)


def test_hierarchy_lists_every_exported_exception() -> None:
    exported = {
        value
        for name in heron.__all__
        if isinstance(value := getattr(heron, name), type) and issubclass(value, BaseException)
    }
    assert exported == set(ALL_EXCEPTIONS)


def test_remote_protocol_error_is_not_a_network_error() -> None:
    # Retry code that catches NetworkError misses this one (huggingface_hub#4398).
    assert not issubclass(heron.RemoteProtocolError, heron.NetworkError)
    assert issubclass(heron.RemoteProtocolError, heron.TransportError)
    assert not issubclass(heron.LocalProtocolError, heron.NetworkError)


def test_timeouts_are_not_network_errors() -> None:
    assert not issubclass(heron.TimeoutException, heron.NetworkError)


@pytest.mark.parametrize(
    "cls", [heron.InvalidURL, heron.CookieConflict, *MISUSE_ERRORS, heron.StreamError], ids=ids
)
def test_errors_outside_the_tree_are_not_http_errors(cls: type[BaseException]) -> None:
    assert not issubclass(cls, heron.HTTPError)


@pytest.mark.parametrize("cls", [heron.StreamError, *MISUSE_ERRORS], ids=ids)
def test_misuse_errors_are_runtime_errors(cls: type[BaseException]) -> None:
    assert issubclass(cls, RuntimeError)


@pytest.mark.parametrize("cls", ALL_EXCEPTIONS, ids=ids)
def test_every_exception_has_a_non_empty_message(cls: type[BaseException]) -> None:
    assert str(make(cls))


@pytest.mark.parametrize("cls", MISUSE_ERRORS, ids=ids)
def test_misuse_messages_say_how_to_fix_the_call(cls: type[BaseException]) -> None:
    message = str(cls())
    assert "`" in message  # names the method or attribute to use instead
    assert len(message) > 60


@pytest.mark.parametrize("cls", ALL_EXCEPTIONS, ids=ids)
def test_every_exception_reports_module_heron(cls: type[BaseException]) -> None:
    assert cls.__module__ == "heron"


@pytest.mark.parametrize("cls", ALL_EXCEPTIONS, ids=ids)
def test_every_exception_has_a_docstring(cls: type[BaseException]) -> None:
    assert inspect.getdoc(cls)


# .request


@pytest.mark.parametrize("cls", [heron.HTTPError, *REQUEST_ERRORS], ids=ids)
def test_request_property_raises_runtime_error_when_unset(cls: type[heron.HTTPError]) -> None:
    exc = cls("boom")
    with pytest.raises(RuntimeError, match=r"\.request property has not been set") as info:
        _ = exc.request
    assert cls.__name__ in str(info.value)
    # It is a misuse error, not another HTTPError that an `except HTTPError` would swallow.
    assert not isinstance(info.value, heron.HTTPError)


@pytest.mark.parametrize("cls", REQUEST_ERRORS, ids=ids)
def test_request_errors_take_the_request_as_keyword(cls: type[heron.RequestError]) -> None:
    assert cls("boom", request=REQUEST).request is REQUEST


def test_request_can_be_set_later() -> None:
    exc = heron.ConnectError("refused")
    exc.request = REQUEST
    assert exc.request is REQUEST


def test_http_status_error_carries_request_and_response() -> None:
    exc = heron.HTTPStatusError("404 Not Found", request=REQUEST, response=RESPONSE)
    assert exc.request is REQUEST
    assert exc.response is RESPONSE
    assert str(exc) == "404 Not Found"


# request_context


def test_request_context_attaches_the_request() -> None:
    with pytest.raises(heron.ReadTimeout) as info, request_context(request=REQUEST):
        raise heron.ReadTimeout("timed out")
    assert info.value.request is REQUEST


def test_request_context_keeps_a_request_already_attached() -> None:
    other: Any = StandIn("other")
    with pytest.raises(heron.ConnectError) as info, request_context(request=REQUEST):
        raise heron.ConnectError("refused", request=other)
    assert info.value.request is other


def test_request_context_without_request_attaches_nothing() -> None:
    with pytest.raises(heron.ReadError) as info, request_context():
        raise heron.ReadError("reset")
    with pytest.raises(RuntimeError):
        _ = info.value.request


def test_request_context_leaves_other_exceptions_alone() -> None:
    with pytest.raises(ValueError, match="unrelated"), request_context(request=REQUEST):
        raise ValueError("unrelated")
    with pytest.raises(heron.StreamConsumed), request_context(request=REQUEST):
        raise heron.StreamConsumed()


def test_request_context_is_silent_without_an_error() -> None:
    with request_context(request=REQUEST):
        pass


# pickle


@pytest.mark.parametrize("cls", pickle_cases())
def test_every_exception_survives_pickle_with_its_message(cls: type[BaseException]) -> None:
    exc = make(cls)
    restored = pickle.loads(pickle.dumps(exc))
    assert type(restored) is cls
    assert str(restored) == str(exc)
    assert restored.args == exc.args


@pytest.mark.parametrize("cls", REQUEST_ERRORS, ids=ids)
def test_request_errors_survive_pickle_with_their_request(cls: type[heron.RequestError]) -> None:
    restored = pickle.loads(pickle.dumps(cls("boom", request=REQUEST)))
    assert restored.request == REQUEST
    assert str(restored) == "boom"


def test_request_error_without_request_survives_pickle_still_unset() -> None:
    restored = pickle.loads(pickle.dumps(heron.ReadError("reset")))
    with pytest.raises(RuntimeError):
        _ = restored.request


def test_http_status_error_survives_pickle_with_request_and_response() -> None:
    exc = heron.HTTPStatusError("500 Internal Server Error", request=REQUEST, response=RESPONSE)
    restored = pickle.loads(pickle.dumps(exc))
    assert restored.request == REQUEST
    assert restored.response == RESPONSE
    assert str(restored) == "500 Internal Server Error"


def test_pickle_keeps_notes_and_extra_attributes() -> None:
    exc = heron.ConnectTimeout("timed out connecting", request=REQUEST)
    exc.add_note("attempt 2 of 3")
    restored = pickle.loads(pickle.dumps(exc))
    assert restored.__notes__ == ["attempt 2 of 3"]


@pytest.mark.parametrize("cls", pickle_cases())
def test_every_exception_survives_copy(cls: type[BaseException]) -> None:
    exc = make(cls)
    assert str(copy.copy(exc)) == str(exc)
    assert str(copy.deepcopy(exc)) == str(exc)
