"""``URL`` and ``QueryParams``: immutable, validated URLs and query strings, as in httpx.

Parsing and encoding live in ``_urlparse``; this module is the public face over it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

from ._exceptions import InvalidURL
from ._types import QueryParamTypes
from ._urlparse import (
    KEEP,
    Keep,
    ParseResult,
    build,
    decode_host,
    parse_port,
    percent_encode,
    quote_userinfo,
    resolve,
    split_authority,
    urlparse,
)

__all__ = ["URL", "QueryParams"]

# The keyword arguments URL() accepts, and the type each must have (None is always allowed).
_COMPONENT_TYPES: Final[dict[str, type]] = {
    "scheme": str,
    "username": str,
    "password": str,
    "userinfo": bytes,
    "host": str,
    "port": int,
    "netloc": bytes,
    "path": str,
    "query": bytes,
    "raw_path": bytes,
    "fragment": str,
    "params": object,
}


class RawURL(NamedTuple):
    """What the deprecated ``URL.raw`` returns."""

    raw_scheme: bytes
    raw_host: bytes
    port: int | None
    raw_path: bytes


class URL:
    """An absolute URL or a relative reference, parsed and normalised once.

    ``url`` is a string or another ``URL``; keyword arguments replace components::

        >>> url = URL("https://example.com/path?a=1", params={"b": 2})
        >>> url
        URL('https://example.com/path?b=2')
        >>> url.host, url.port, url.raw_path
        ('example.com', None, b'/path?b=2')

    Keywords: ``scheme``, ``username``, ``password``, ``userinfo`` (bytes), ``host``,
    ``port``, ``netloc`` (bytes), ``path``, ``query`` (bytes), ``raw_path`` (bytes),
    ``fragment`` and ``params`` (which replaces the query). Invalid input raises
    ``InvalidURL`` naming the part that is wrong; arguments of the wrong type raise
    ``TypeError``.
    """

    __slots__ = ("_uri_reference",)
    _uri_reference: ParseResult

    def __init__(self, url: URL | str = "", **kwargs: Any) -> None:
        if isinstance(url, str):
            uri_reference = urlparse(url)
        elif isinstance(url, URL):
            uri_reference = url._uri_reference
        else:
            raise TypeError(
                f"Invalid type for url. Expected str or heron.URL, got {type(url).__name__}: "
                f"{url!r}"
            )
        if kwargs:
            uri_reference = _apply_components(uri_reference, kwargs)
        self._uri_reference = uri_reference

    @property
    def scheme(self) -> str:
        """The scheme, lowercased: ``"https"``. Empty for relative URLs."""
        return self._uri_reference.scheme

    @property
    def raw_scheme(self) -> bytes:
        """The scheme as ASCII bytes: ``b"https"``."""
        return self._uri_reference.scheme.encode("ascii")

    @property
    def userinfo(self) -> bytes:
        """The percent-encoded ``username:password``, as bytes; ``b""`` when absent."""
        return self._uri_reference.userinfo.encode("ascii")

    @property
    def username(self) -> str:
        """The decoded username: ``URL("https://jo%40x:pw@a.com").username == "jo@x"``."""
        return unquote(self._uri_reference.userinfo.partition(":")[0])

    @property
    def password(self) -> str:
        """The decoded password; ``""`` when absent."""
        return unquote(self._uri_reference.userinfo.partition(":")[2])

    @property
    def host(self) -> str:
        """The host, lowercased, internationalised names in Unicode: ``"中国.com"``.

        IPv6 addresses come without brackets (``"::1"``); ``""`` when there is no host.
        """
        return decode_host(self._uri_reference.host or "")

    @property
    def raw_host(self) -> bytes:
        """The host as sent on the wire (IDNA-encoded): ``b"xn--fiqs8s.com"``."""
        return (self._uri_reference.host or "").encode("ascii")

    @property
    def port(self) -> int | None:
        """The port, or ``None`` when absent or the scheme's default (``https://a:443``)."""
        return self._uri_reference.port

    @property
    def netloc(self) -> bytes:
        """``host[:port]`` as bytes, IPv6 in brackets: ``b"[::1]:8080"``. No userinfo."""
        return self._uri_reference.netloc.encode("ascii")

    @property
    def path(self) -> str:
        """The decoded path; ``"/"`` when the path is empty."""
        return unquote(self._uri_reference.path or "/")

    @property
    def query(self) -> bytes:
        """The percent-encoded query string, without the "?": ``b"a=1&b=2"``."""
        return (self._uri_reference.query or "").encode("ascii")

    @property
    def params(self) -> QueryParams:
        """The query string parsed into ``QueryParams``."""
        return QueryParams(self._uri_reference.query or "")

    @property
    def raw_path(self) -> bytes:
        """The request target: encoded path and query, ``b"/search?q=heron"``."""
        reference = self._uri_reference
        path = reference.path or "/"
        if reference.query is not None:
            path = f"{path}?{reference.query}"
        return path.encode("ascii")

    @property
    def fragment(self) -> str:
        """The decoded fragment, without the "#"; ``""`` when absent."""
        return unquote(self._uri_reference.fragment or "")

    @property
    def is_absolute_url(self) -> bool:
        """True when the URL has both a scheme and a host, so it can be requested."""
        return bool(self._uri_reference.scheme and self._uri_reference.host)

    @property
    def is_relative_url(self) -> bool:
        """The opposite of ``is_absolute_url``."""
        return not self.is_absolute_url

    @property
    def raw(self) -> RawURL:
        """Deprecated, as in httpx: use raw_scheme, raw_host, port and raw_path."""
        warnings.warn(
            "URL.raw is deprecated: use URL.raw_scheme, URL.raw_host, URL.port and "
            "URL.raw_path instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return RawURL(self.raw_scheme, self.raw_host, self.port, self.raw_path)

    def copy_with(self, **kwargs: Any) -> URL:
        """A copy with components replaced; same keywords as ``URL()``."""
        return URL(self, **kwargs)

    def copy_set_param(self, key: str, value: Any = None) -> URL:
        """A copy whose query has ``key`` set to ``value`` (replacing every existing value)."""
        return self.copy_with(params=self.params.set(key, value))

    def copy_add_param(self, key: str, value: Any = None) -> URL:
        """A copy whose query has one more ``key=value`` pair."""
        return self.copy_with(params=self.params.add(key, value))

    def copy_remove_param(self, key: str) -> URL:
        """A copy whose query has no ``key``."""
        return self.copy_with(params=self.params.remove(key))

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        """A copy whose query is merged with ``params`` (their keys replace ours)."""
        return self.copy_with(params=self.params.merge(params))

    def join(self, url: URL | str) -> URL:
        """Resolve ``url`` against this URL (RFC 3986 section 5)::

        >>> URL("https://example.com/a/b").join("../c")
        URL('https://example.com/c')
        """
        joined = URL.__new__(URL)
        joined._uri_reference = resolve(self._uri_reference, URL(url)._uri_reference)
        return joined

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL):
            return str(self) == str(other)
        if isinstance(other, str):
            text = str(self)
            if other == text:
                return True
            try:
                return text == str(URL(other))
            except InvalidURL:
                return False
        return NotImplemented

    def __str__(self) -> str:
        return str(self._uri_reference)

    def __repr__(self) -> str:
        reference = self._uri_reference
        if ":" in reference.userinfo:
            username = reference.userinfo.partition(":")[0]
            reference = reference.replace_userinfo(f"{username}:[secure]")
        return f"{self.__class__.__name__}({str(reference)!r})"

    def __reduce__(self) -> tuple[type[URL], tuple[str]]:
        return (self.__class__, (str(self),))


def _apply_components(base: ParseResult, kwargs: dict[str, Any]) -> ParseResult:
    """Check the types of URL()'s keyword arguments and build the new ParseResult."""
    for key, value in kwargs.items():
        expected = _COMPONENT_TYPES.get(key)
        if expected is None:
            raise TypeError(f"{key!r} is an invalid keyword argument for URL()")
        if value is not None and (
            not isinstance(value, expected) or (key == "port" and isinstance(value, bool))
        ):
            raise TypeError(
                f"Argument {key!r} must be {expected.__name__} but got {type(value).__name__}"
            )

    userinfo: str | Keep = KEEP
    host: str | Keep | None = KEEP
    port: int | Keep | None = KEEP
    path: str | Keep = KEEP
    query: str | Keep | None = KEEP

    if "netloc" in kwargs:
        netloc = kwargs["netloc"]
        if netloc is None:
            userinfo, host, port = "", None, None
        else:
            raw_userinfo, host, port_text = split_authority(_ascii(netloc))
            port = parse_port(port_text)
            if raw_userinfo is not None:
                userinfo = raw_userinfo
    if "userinfo" in kwargs:
        userinfo = _ascii(kwargs["userinfo"] or b"")
    if "username" in kwargs or "password" in kwargs:
        # Each keeps the other's current value: URL(url, password="x") keeps the username.
        current_username, colon, current_password = base.userinfo.partition(":")
        username = kwargs.get("username", KEEP)
        password = kwargs.get("password", KEEP)
        if username is KEEP:
            username = current_username
        else:
            username = quote_userinfo(username or "", "username")
        if password is KEEP:
            password = current_password if colon else None
        elif password is not None:
            password = quote_userinfo(password, "password")
        userinfo = username if password is None else f"{username}:{password}"
    if "host" in kwargs:
        host = kwargs["host"]
    if "port" in kwargs:
        port = kwargs["port"]
    if "raw_path" in kwargs:
        raw_path = _ascii(kwargs["raw_path"] or b"")
        path, question, query_text = raw_path.partition("?")
        query = query_text if question else None
    if "path" in kwargs:
        path = kwargs["path"] or ""
    if "query" in kwargs:
        query = None if kwargs["query"] is None else _ascii(kwargs["query"])
    if "params" in kwargs:
        query = str(QueryParams(kwargs["params"])) or None
    fragment = kwargs.get("fragment", KEEP)

    return build(
        base,
        scheme=(kwargs["scheme"] or "") if "scheme" in kwargs else KEEP,
        userinfo=userinfo,
        host=host,
        port=port,
        path=path,
        query=query,
        fragment=fragment,
    )


def _ascii(data: bytes) -> str:
    """Bytes given for a URL component as text; non-ASCII bytes become percent-escapes."""
    if data.isascii():
        return data.decode("ascii")
    return "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in data)


# Query parameters ----------------------------------------------------------------------------

# application/x-www-form-urlencoded, as urllib.parse.urlencode() writes it: everything but
# ASCII letters, digits and "-._~" is percent-encoded, and spaces become "+".
_FORM_UNSAFE: Final = re.compile(r"[^A-Za-z0-9\-._~ ]+")


def _form_quote(text: str) -> str:
    try:
        return _FORM_UNSAFE.sub(percent_encode, text).replace(" ", "+")
    except UnicodeEncodeError:
        raise InvalidURL(
            f"Invalid query parameter {text!r}: a lone surrogate can't be encoded as UTF-8."
        ) from None


def _form_unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text) if "%" in text else text


def _primitive_to_str(value: Any) -> str:
    # httpx's conversions: booleans in lowercase, None as an empty value.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class QueryParams(Mapping[str, str]):
    """An immutable multi-dict of query parameters.

    Built from a query string (``str`` or ``bytes``), a mapping (values may be lists), a list
    of pairs, or another ``QueryParams``; or from keyword arguments::

        >>> params = QueryParams({"q": "heron", "page": 2})
        >>> str(params)
        'q=heron&page=2'
        >>> params.set("page", 3)
        QueryParams('q=heron&page=3')

    Values are converted to strings: ``True`` -> ``"true"``, ``False`` -> ``"false"``,
    ``None`` -> ``""``. Indexing returns a key's first value; ``get_list()`` returns them all.
    """

    __slots__ = ("_dict",)

    def __init__(self, *args: QueryParamTypes | None, **kwargs: Any) -> None:
        if len(args) > 1:
            raise TypeError(
                f"QueryParams() takes at most 1 positional argument ({len(args)} given)"
            )
        if args and kwargs:
            raise TypeError(
                "QueryParams() takes either one positional argument or keyword arguments, not both"
            )
        value: Any = args[0] if args else kwargs
        self._dict: dict[str, list[str]] = {}
        if value is None or isinstance(value, str | bytes):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if text:
                self._parse(text)
        elif isinstance(value, QueryParams):
            self._dict = dict(value._dict)  # the lists are never mutated once built
        elif isinstance(value, Mapping):
            for key, item in value.items():
                values = item if isinstance(item, list | tuple) else [item]
                self._dict.setdefault(_primitive_to_str(key), []).extend(
                    _primitive_to_str(one) for one in values
                )
            # A key whose value is an empty list adds nothing, as in urlencode(doseq=True).
            self._dict = {key: values for key, values in self._dict.items() if values}
        elif isinstance(value, list | tuple):
            for pair in value:
                if not (isinstance(pair, list | tuple) and len(pair) == 2):
                    raise TypeError(
                        f"Invalid item in query params: expected (key, value) pairs, got {pair!r}"
                    )
                key, item = pair
                self._dict.setdefault(_primitive_to_str(key), []).append(_primitive_to_str(item))
        else:
            raise TypeError(
                "Invalid type for query params: expected str, bytes, a mapping, a list of "
                f"(key, value) pairs or QueryParams, got {type(value).__name__}: {value!r}"
            )

    def _parse(self, text: str) -> None:
        # application/x-www-form-urlencoded parsing, as urllib.parse.parse_qsl() with
        # keep_blank_values=True: "&" separates pairs, "a" means "a=".
        for pair in text.split("&"):
            if pair:
                key, _, value = pair.partition("=")
                self._dict.setdefault(_form_unquote(key), []).append(_form_unquote(value))

    @classmethod
    def _from_dict(cls, data: dict[str, list[str]]) -> QueryParams:
        params = cls.__new__(cls)
        params._dict = data
        return params

    def keys(self) -> KeysView[str]:
        """The distinct keys, in first-seen order."""
        return self._dict.keys()

    def values(self) -> ValuesView[str]:
        """The first value of each key."""
        return {key: values[0] for key, values in self._dict.items()}.values()

    def items(self) -> ItemsView[str, str]:
        """(key, first value) for each key. See ``multi_items()`` for every pair."""
        return {key: values[0] for key, values in self._dict.items()}.items()

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (key, value) pair, grouped by key in first-seen order."""
        return [(key, value) for key, values in self._dict.items() for value in values]

    def get(self, key: Any, default: Any = None) -> Any:
        """The first value for ``key``, or ``default``."""
        values = self._dict.get(key)
        return values[0] if values else default

    def get_list(self, key: str) -> list[str]:
        """Every value for ``key`` (an empty list when absent)."""
        return list(self._dict.get(key, ()))

    def set(self, key: str, value: Any = None) -> QueryParams:
        """A copy with ``key`` set to ``value``, replacing all its values."""
        data = {k: list(v) for k, v in self._dict.items()}
        data[_primitive_to_str(key)] = [_primitive_to_str(value)]
        return self._from_dict(data)

    def add(self, key: str, value: Any = None) -> QueryParams:
        """A copy with one more ``key=value`` pair."""
        data = {k: list(v) for k, v in self._dict.items()}
        data.setdefault(_primitive_to_str(key), []).append(_primitive_to_str(value))
        return self._from_dict(data)

    def remove(self, key: str) -> QueryParams:
        """A copy without ``key``."""
        data = {k: list(v) for k, v in self._dict.items()}
        data.pop(_primitive_to_str(key), None)
        return self._from_dict(data)

    def merge(self, params: QueryParamTypes | None = None) -> QueryParams:
        """A copy with the keys of ``params`` replacing ours::

        >>> QueryParams("a=1&b=2").merge({"b": 3, "c": 4})
        QueryParams('a=1&b=3&c=4')
        """
        data = {k: list(v) for k, v in self._dict.items()}
        data.update(QueryParams(params)._dict)
        return self._from_dict(data)

    def __getitem__(self, key: Any) -> str:
        return self._dict[key][0]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __bool__(self) -> bool:
        return bool(self._dict)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.multi_items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryParams):
            return NotImplemented
        return sorted(self.multi_items()) == sorted(other.multi_items())

    def __str__(self) -> str:
        return "&".join(
            f"{_form_quote(key)}={_form_quote(value)}" for key, value in self.multi_items()
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[type[QueryParams], tuple[list[tuple[str, str]]]]:
        return (self.__class__, (self.multi_items(),))

    def update(self, params: QueryParamTypes | None = None) -> None:
        """Not supported: ``QueryParams`` are immutable. Use ``q = q.merge(...)``."""
        raise RuntimeError(
            "QueryParams are immutable: use `params = params.merge(...)` to get an updated copy."
        )

    def __setitem__(self, key: str, value: str) -> None:
        raise RuntimeError(
            "QueryParams are immutable: use `params = params.set(key, value)` to get an "
            "updated copy."
        )
