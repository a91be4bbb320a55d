"""``Cookies``: a mutable mapping over the standard library's ``http.cookiejar.CookieJar``.

The jar does the RFC 6265 work (parsing ``Set-Cookie``, domain and path matching, expiry and
the ``Secure`` flag) through its policy. It speaks ``urllib.request``, so two small adapters
present a heron request and response the way it expects; they read only ``request.url``,
``request.headers``, ``response.headers`` and ``response.request``.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from http.cookiejar import Cookie, CookieJar
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from ._exceptions import CookieConflict, LocalProtocolError
from ._headers import Headers

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from http.client import HTTPResponse

    from ._models import Request, Response
    from ._types import CookieTypes

__all__ = ["Cookies"]

_T = TypeVar("_T")


class Cookies(MutableMapping[str, str]):
    """HTTP cookies: a mutable mapping of names to values, kept in a ``CookieJar`` (``.jar``).

    Accepts another ``Cookies`` (copied), a ``CookieJar`` (used as is, not copied), a dict
    or a list of ``(name, value)`` pairs::

        >>> cookies = heron.Cookies({"session": "abc123"})
        >>> cookies.set("theme", "dark", domain="example.org")
        >>> cookies["theme"]
        'dark'

    Several cookies may share a name when their domain or path differ. Reading such a name
    raises ``heron.CookieConflict``; ``get()`` with ``domain=`` or ``path=`` picks one.
    Names and values must be ``str`` (``TypeError`` otherwise); CR, LF and NUL in them are
    refused with ``heron.LocalProtocolError``, as they are in headers.
    """

    __slots__ = ("jar",)

    jar: CookieJar

    def __init__(self, cookies: CookieTypes | None = None) -> None:
        if isinstance(cookies, CookieJar):
            self.jar = cookies
            return
        self.jar = CookieJar()
        if cookies is None:
            return
        if isinstance(cookies, Cookies):
            for cookie in cookies.jar:
                self.jar.set_cookie(cookie)
        elif isinstance(cookies, Mapping):
            for name, value in cookies.items():
                self.set(name, value)
        elif isinstance(cookies, str | bytes) or not isinstance(cookies, Iterable):
            raise TypeError(
                "Cookies must be a Cookies, a CookieJar, a dict or a list of (name, value) "
                f"pairs, not {type(cookies).__name__}."
            )
        else:
            for pair in cookies:
                try:
                    name, value = pair
                except (TypeError, ValueError):
                    raise TypeError(
                        f"Each cookie must be a (name, value) pair, but got {pair!r}."
                    ) from None
                self.set(name, value)

    def extract_cookies(self, response: Response) -> None:
        """Store the cookies that ``response``'s ``Set-Cookie`` headers set.

        Uses the URL of ``response.request``; the jar's policy refuses cookies for other
        domains or unrelated paths, as RFC 6265 requires.
        """
        headers = response.headers
        if "set-cookie" not in headers and "set-cookie2" not in headers:
            return  # Fast path: most responses set no cookies.
        request = _CookieRequest.from_request(response.request)
        if request is not None:
            self.jar.extract_cookies(cast("HTTPResponse", _CookieResponse(headers)), request)

    def set_cookie_header(self, request: Request) -> None:
        """Add a ``Cookie`` header with the cookies that match ``request``'s URL.

        Domain, path, ``Secure`` and expiry are honoured. A ``Cookie`` header already on the
        request is left as it is.
        """
        if not self:
            return  # Fast path: nothing to send.
        cookie_request = _CookieRequest.from_request(request)
        if cookie_request is not None:
            self.jar.add_cookie_header(cookie_request)

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie; an existing one with the same name, domain and path is replaced.

        With the default ``domain=""`` the cookie is sent to every host.
        """
        _check_str("name", name, name)
        _check_str("value", value, name)
        _check_str("domain", domain, name)
        _check_str("path", path, name)
        cookie = Cookie(
            version=0,
            name=name,
            value=value,
            port=None,
            port_specified=False,
            domain=domain,
            domain_specified=bool(domain),
            domain_initial_dot=domain.startswith("."),
            path=path,
            path_specified=bool(path),
            secure=False,
            expires=None,
            discard=True,
            comment=None,
            comment_url=None,
            # As httpx does; typeshed types the values as str, but the stdlib stores None too.
            rest={"HttpOnly": None},  # type: ignore[dict-item]
            rfc2109=False,
        )
        self.jar.set_cookie(cookie)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(
        self, name: str, default: str | _T, domain: str | None = None, path: str | None = None
    ) -> str | _T: ...
    @overload
    def get(
        self, name: str, *, domain: str | None = None, path: str | None = None
    ) -> str | None: ...
    def get(
        self,
        name: str,
        default: Any = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> Any:
        """The value of cookie ``name``, or ``default`` when there is none.

        ``domain`` and ``path``, when given, must match exactly. Raises
        ``heron.CookieConflict`` when more than one cookie matches.
        """
        found: Cookie | None = None
        for cookie in self._matching(name, domain, path):
            if found is not None:
                raise CookieConflict(
                    f"More than one cookie is named {name!r} (for {_where(found)} and "
                    f"{_where(cookie)}). Pass domain= or path= to cookies.get() to choose one."
                )
            found = cookie
        if found is None:
            return default
        # A `Set-Cookie: name` without "=" gives a cookie whose value is None.
        return found.value if found.value is not None else ""

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie named ``name`` (only those for ``domain``/``path`` if given)."""
        for cookie in list(self._matching(name, domain, path)):
            self.jar.clear(cookie.domain, cookie.path, cookie.name)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove all cookies, or only those for ``domain`` and/or ``path``."""
        if domain is None and path is None:
            self.jar.clear()
            return
        for cookie in list(self.jar):
            if (domain is None or cookie.domain == domain) and (
                path is None or cookie.path == path
            ):
                self.jar.clear(cookie.domain, cookie.path, cookie.name)

    def update(self, cookies: CookieTypes | None = None) -> None:  # type: ignore[override]
        """Set every cookie in ``cookies``, keeping its domain and path."""
        for cookie in Cookies(cookies).jar:
            self.jar.set_cookie(cookie)

    def _matching(self, name: str, domain: str | None, path: str | None) -> Iterator[Cookie]:
        for cookie in self.jar:
            if (
                cookie.name == name
                and (domain is None or cookie.domain == domain)
                and (path is None or cookie.path == path)
            ):
                yield cookie

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(_missing_message(name, self.jar))
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        # Like httpx, deleting a cookie that isn't there is not an error.
        self.delete(name)

    def __len__(self) -> int:
        return len(self.jar)

    def __iter__(self) -> Iterator[str]:
        return (cookie.name for cookie in self.jar)

    def __bool__(self) -> bool:
        jar = self.jar
        if type(jar) is CookieJar and not jar._cookies:  # type: ignore[attr-defined]
            return False  # Fast path: the standard jar keeps its cookies in `_cookies`.
        for _ in jar:
            return True
        return False

    def __repr__(self) -> str:
        cookies = ", ".join(
            f"<Cookie {cookie.name}={cookie.value} for {cookie.domain} />" for cookie in self.jar
        )
        return f"<{type(self).__name__}[{cookies}]>"


def _check_str(field: str, value: object, name: object) -> None:
    if not isinstance(value, str):
        which = "name" if field == "name" else f"{field} of cookie {name!r}"
        raise TypeError(
            f"The cookie {which} must be a str, not {type(value).__name__} ({value!r})."
        )
    if "\r" in value or "\n" in value or "\0" in value:
        which = "name" if field == "name" else f"{field} of cookie {name!r}"
        raise LocalProtocolError(
            f"The cookie {which} contains CR, LF or NUL, which would inject headers into "
            "the request (header injection). Remove them or encode the value first."
        )


def _where(cookie: Cookie) -> str:
    return f"domain={cookie.domain!r}, path={cookie.path!r}"


def _missing_message(name: str, jar: CookieJar) -> str:
    # Names only: values are often credentials and must not end up in tracebacks or logs.
    names = sorted({cookie.name for cookie in jar})
    if not names:
        return f"No cookie named {name!r}: the jar is empty."
    shown = ", ".join(repr(known) for known in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"No cookie named {name!r}. Cookies present: {shown}{more}."


class _CookieRequest(urllib.request.Request):
    """A heron request seen as the ``urllib.request.Request`` that ``CookieJar`` expects.

    Header reads and the ``Cookie`` header write go straight to the heron request.
    """

    def __init__(self, url: str, headers: Headers) -> None:
        # Set first: urllib's constructor already reads the Host header when the URL has none.
        self._heron_headers = headers
        super().__init__(url)

    @classmethod
    def from_request(cls, request: Request) -> _CookieRequest | None:
        """The adapter for ``request``, or None for a URL cookies can't apply to (relative)."""
        url = request.url
        # Built from the parts rather than str(url), so that userinfo never reaches the jar.
        netloc = url.netloc.decode("ascii")
        full_url = f"{url.scheme}://{netloc}{url.raw_path.decode('ascii')}"
        try:
            return cls(full_url, request.headers)
        except ValueError:  # urllib refuses URLs without a scheme
            return None

    def has_header(self, header_name: str) -> bool:
        return header_name in self._heron_headers

    @overload
    def get_header(self, header_name: str) -> str | None: ...
    @overload
    def get_header(self, header_name: str, default: _T) -> str | _T: ...
    def get_header(self, header_name: str, default: Any = None) -> Any:
        return self._heron_headers.get(header_name, default)

    def add_unredirected_header(self, key: str, val: str) -> None:
        self._heron_headers[key] = val


class _CookieResponse:
    """The part of an ``http.client.HTTPResponse`` that ``CookieJar`` reads: its headers."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def info(self) -> _CookieResponse:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        # Each Set-Cookie line separately: joining them would break on commas in Expires.
        return self._headers.get_list(name) or default
