from __future__ import annotations
import __future__

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
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
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


# httpx 0.28.1's `__all__`: code written for httpx must find every one of these names.
HTTPX_NAMES = [
    "__description__",
    "__title__",
    "__version__",
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "AsyncClient",
    "AsyncHTTPTransport",
    "Auth",
    "BaseTransport",
    "BasicAuth",
    "ByteStream",
    "Client",
    "CloseError",
    "codes",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "create_ssl_context",
    "DecodingError",
    "delete",
    "DigestAuth",
    "get",
    "head",
    "Headers",
    "HTTPError",
    "HTTPStatusError",
    "HTTPTransport",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "main",
    "MockTransport",
    "NetRCAuth",
    "NetworkError",
    "options",
    "patch",
    "PoolTimeout",
    "post",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "put",
    "QueryParams",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "request",
    "Request",
    "RequestError",
    "RequestNotRead",
    "Response",
    "ResponseNotRead",
    "stream",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "URL",
    "USE_CLIENT_DEFAULT",
    "WriteError",
    "WriteTimeout",
    "WSGITransport",
]


def test_every_httpx_name_is_exported() -> None:
    assert set(HTTPX_NAMES) <= set(heron.__all__)
    # heron's additions beyond httpx 0.28.1, each listed on the compatibility page.
    assert set(heron.__all__) - set(HTTPX_NAMES) == {"FunctionAuth"}
