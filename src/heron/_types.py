"""Type aliases for the many forms heron's public functions accept as input.

Return types are always concrete classes; these unions describe inputs only. Forward
references keep this module import-free at runtime, so every other module may use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from http.cookiejar import CookieJar
from typing import IO, TYPE_CHECKING, Any, TypeAlias, Union

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from ._auth import Auth
    from ._config import Proxy, Timeout
    from ._cookies import Cookies
    from ._headers import Headers
    from ._models import Request
    from ._urls import URL, QueryParams

__all__ = [
    "AuthTypes",
    "CertTypes",
    "CookieTypes",
    "FileContent",
    "FileTypes",
    "HeaderTypes",
    "PrimitiveData",
    "ProxyTypes",
    "QueryParamTypes",
    "RequestContent",
    "RequestData",
    "RequestExtensions",
    "RequestFiles",
    "ResponseContent",
    "ResponseExtensions",
    "TimeoutTypes",
    "URLTypes",
]

PrimitiveData: TypeAlias = str | int | float | bool | None

URLTypes: TypeAlias = Union["URL", str]

QueryParamTypes: TypeAlias = Union[
    "QueryParams",
    Mapping[str, PrimitiveData | Sequence[PrimitiveData]],
    Sequence[tuple[str, PrimitiveData]],
    str,
    bytes,
]

HeaderTypes: TypeAlias = Union[
    "Headers",
    Mapping[str, str],
    Mapping[bytes, bytes],
    Sequence[tuple[str, str]],
    Sequence[tuple[bytes, bytes]],
]

CookieTypes: TypeAlias = Union["Cookies", CookieJar, dict[str, str], list[tuple[str, str]]]

TimeoutTypes: TypeAlias = Union[
    float,
    tuple[float | None, float | None, float | None, float | None],
    "Timeout",
    None,
]
ProxyTypes: TypeAlias = Union["URL", str, "Proxy"]
CertTypes: TypeAlias = str | tuple[str, str] | tuple[str, str, str]

AuthTypes: TypeAlias = Union[
    tuple[str | bytes, str | bytes],
    Callable[["Request"], "Request"],
    "Auth",
]

RequestContent: TypeAlias = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
ResponseContent: TypeAlias = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
ResponseExtensions: TypeAlias = Mapping[str, Any]

RequestData: TypeAlias = Mapping[str, Any]

FileContent: TypeAlias = IO[bytes] | bytes | str
FileTypes: TypeAlias = (
    # file (or bytes)
    FileContent
    # (filename, file (or bytes))
    | tuple[str | None, FileContent]
    # (filename, file (or bytes), content_type)
    | tuple[str | None, FileContent, str | None]
    # (filename, file (or bytes), content_type, headers)
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles: TypeAlias = Mapping[str, FileTypes] | Sequence[tuple[str, FileTypes]]

RequestExtensions: TypeAlias = Mapping[str, Any]
