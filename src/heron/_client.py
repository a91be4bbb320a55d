"""What ``Client`` and ``AsyncClient`` share and that never awaits.

Merging the client's configuration into each request, planning redirects (the next request's
method, URL, headers and body), choosing a transport by mount pattern, and the settable
properties. The I/O halves live in ``_async/client.py`` and its generated twin.
"""

from __future__ import annotations

import enum
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._auth import Auth, BasicAuth, build_auth
from ._config import (
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    Proxy,
    Timeout,
    UseClientDefault,
)
from ._cookies import Cookies
from ._decoders import SUPPORTED_DECODERS
from ._exceptions import InvalidURL, RemoteProtocolError, StreamConsumed, UnsupportedProtocol
from ._headers import Headers
from ._models import Request, Response
from ._mounts import URLPattern, get_environment_proxies
from ._status_codes import codes
from ._types import (
    AuthTypes,
    CookieTypes,
    HeaderTypes,
    ProxyTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
    URLTypes,
)
from ._urls import URL, QueryParams
from ._version import __version__

__all__ = [
    "BaseClient",
    "ClientState",
    "EventHooks",
    "async_app_transport",
    "sync_app_transport",
]

logger = logging.getLogger("heron")

USER_AGENT = f"python-heron/{__version__}"
# Redirects are only ever followed to these schemes: a `file:` or `javascript:` Location is an
# error, not a request.
FOLLOWABLE_SCHEMES = frozenset({"http", "https"})

EventHooks = Mapping[str, list[Callable[..., Any]]]

# Bounds of each client's cache of merged request URLs (emptied when full).
_MERGED_URLS_CACHE_SIZE: Final = 128
_MERGED_URL_MAX_LENGTH: Final = 2048

#: The auth of a request sent without authentication. (Stateless, so one serves every request.)
_NO_AUTH: Final = Auth()


class ClientState(enum.Enum):
    UNOPENED = 1  # created; may be used directly or entered as a context manager
    OPENED = 2  # entered, or has sent a request
    CLOSED = 3  # closed: sending or re-entering raises


def _default_headers() -> Headers:
    encodings = ", ".join(name for name in SUPPORTED_DECODERS if name != "identity")
    return Headers(
        {
            "Accept": "*/*",
            "Accept-Encoding": encodings,
            "Connection": "keep-alive",
            "User-Agent": USER_AGENT,
        }
    )


def _enforce_trailing_slash(url: URL) -> URL:
    if url.raw_path.endswith(b"/"):
        return url
    return url.copy_with(raw_path=url.raw_path + b"/")


def _same_origin(url: URL, other: URL) -> bool:
    return url.scheme == other.scheme and url.host == other.host and url.port == other.port


def _is_https_upgrade(url: URL, location: URL) -> bool:
    """http -> https on the same host and default ports keeps credentials (RFC 9110 allows it)."""
    return (
        url.host == location.host
        and url.scheme == "http"
        and location.scheme == "https"
        and url.port in (None, 80)
        and location.port in (None, 443)
    )


class BaseClient:
    """Configuration and request planning shared by ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
        follow_redirects: bool = False,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        event_hooks: EventHooks | None = None,
        base_url: URLTypes = "",
        trust_env: bool = True,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
    ) -> None:
        event_hooks = {} if event_hooks is None else event_hooks
        self.base_url = base_url
        self._auth = build_auth(auth)
        self._params = QueryParams(params)
        self.headers = Headers(headers)
        self._cookies = Cookies(cookies)
        self._timeout = Timeout(timeout)
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self._event_hooks = {
            "request": list(event_hooks.get("request", [])),
            "response": list(event_hooks.get("response", [])),
        }
        self._trust_env = trust_env
        self._default_encoding = default_encoding
        self._state = ClientState.UNOPENED
        self._mounts: dict[URLPattern, Any] = {}

    # Properties -------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Whether the client has been closed."""
        return self._state == ClientState.CLOSED

    @property
    def trust_env(self) -> bool:
        return self._trust_env

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._timeout = Timeout(timeout)

    @property
    def event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: EventHooks) -> None:
        self._event_hooks = {
            "request": list(event_hooks.get("request", [])),
            "response": list(event_hooks.get("response", [])),
        }

    @property
    def auth(self) -> Auth | None:
        """The authentication applied to every request unless a request overrides it."""
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._auth = build_auth(auth)

    @property
    def base_url(self) -> URL:
        """The URL that relative request URLs are joined to (always ends with a slash)."""
        return self._base_url

    @base_url.setter
    def base_url(self, url: URLTypes) -> None:
        self._base_url = _enforce_trailing_slash(URL(url))
        # Request URLs merged with this base_url, by their text: a client requests the same few
        # URLs over and over, and joining one costs more than the rest of building a request.
        self._merged_urls: dict[str, URL] = {}

    @property
    def headers(self) -> Headers:
        """Headers sent with every request; heron's defaults come first."""
        return self._headers

    @headers.setter
    def headers(self, headers: HeaderTypes | None) -> None:
        merged = _default_headers()
        merged.update(headers)
        self._headers = merged

    @property
    def cookies(self) -> Cookies:
        """The client's cookie jar: sent with matching requests, updated from responses."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes | None) -> None:
        self._cookies = Cookies(cookies)

    @property
    def params(self) -> QueryParams:
        """Query parameters merged into every request's URL."""
        return self._params

    @params.setter
    def params(self, params: QueryParamTypes | None) -> None:
        self._params = QueryParams(params)

    # Building requests ------------------------------------------------------------------

    def build_request(
        self,
        method: str,
        url: URLTypes,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = UseClientDefault.USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Request:
        """Build a ``Request`` with the client's configuration merged in, without sending it.

        Use it with ``send()`` when a request needs changing before it goes out::

            request = client.build_request("GET", "/items")
            request.headers["X-Trace"] = "1"
            response = client.send(request)
        """
        if cookies is not None:
            warnings.warn(
                "Setting per-request cookies=<...> is deprecated because whether they should "
                "persist is ambiguous. Set them on the client instead: client.cookies.set(...).",
                DeprecationWarning,
                stacklevel=3,
            )
        merged_url = self._merge_url(url)
        merged_headers = self._merge_headers(headers)
        merged_cookies = self._merge_cookies(cookies)
        merged_params = self._merge_queryparams(params)
        extensions = {} if extensions is None else dict(extensions)
        if "timeout" not in extensions:
            request_timeout = (
                self._timeout if isinstance(timeout, UseClientDefault) else Timeout(timeout)
            )
            extensions["timeout"] = request_timeout.as_dict()
        return Request(
            method,
            merged_url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=merged_params,
            headers=merged_headers,
            cookies=merged_cookies,
            extensions=extensions,
        )

    def _merge_url(self, url: URLTypes) -> URL:
        """Join a relative URL to ``base_url`` by appending its path (never replacing it)."""
        merged = self._merged_urls.get(url) if type(url) is str else None
        if merged is not None:
            return merged  # Fast path: merged before (URLs are immutable).
        merged = URL(url)
        if merged.is_relative_url:
            # RFC 3986 joining would drop the base path for "/items"; requests and httpx users
            # expect base_url="https://host/api" + "/items" to give "https://host/api/items".
            raw_path = self._base_url.raw_path + merged.raw_path.lstrip(b"/")
            merged = self._base_url.copy_with(raw_path=raw_path, fragment=merged.fragment or None)
        if type(url) is str and len(url) <= _MERGED_URL_MAX_LENGTH:
            if len(self._merged_urls) >= _MERGED_URLS_CACHE_SIZE:
                self._merged_urls.clear()
            self._merged_urls[url] = merged
        return merged

    def _merge_headers(self, headers: HeaderTypes | None) -> Headers:
        if headers is None:
            return self._headers  # Fast path: Request() copies them anyway.
        merged = Headers(self._headers)
        merged.update(headers)
        return merged

    def _merge_cookies(self, cookies: CookieTypes | None) -> Cookies | None:
        if cookies or self._cookies:
            merged = Cookies(self._cookies)
            merged.update(cookies)
            return merged
        return None

    def _merge_queryparams(self, params: QueryParamTypes | None) -> QueryParams | None:
        if params or self._params:
            return self._params.merge(params)
        return None

    def _build_request_auth(
        self, request: Request, auth: AuthTypes | UseClientDefault | None
    ) -> Auth:
        chosen = self._auth if isinstance(auth, UseClientDefault) else build_auth(auth)
        if chosen is not None:
            return chosen
        url = request.url
        if not url.userinfo:
            return _NO_AUTH  # Fast path: no credentials in the URL.
        username, password = url.username, url.password
        if username or password:
            return BasicAuth(username, password)
        return _NO_AUTH

    def _set_timeout(self, request: Request) -> None:
        if "timeout" not in request.extensions:
            request.extensions = {**request.extensions, "timeout": self._timeout.as_dict()}

    # Mounts -----------------------------------------------------------------------------

    def _transport_for_url(self, url: URL) -> Any:
        """The transport mounted on the most specific matching pattern, else the default."""
        for pattern, transport in self._mounts.items():
            if pattern.matches(url):
                return self._transport if transport is None else transport  # type: ignore[attr-defined]
        return self._transport  # type: ignore[attr-defined]

    def _get_proxy_map(
        self, proxy: ProxyTypes | None, allow_env_proxies: bool
    ) -> dict[str, Proxy | None]:
        if proxy is None:
            if allow_env_proxies:
                return {
                    key: None if url is None else Proxy(url=url)
                    for key, url in get_environment_proxies().items()
                }
            return {}
        return {"all://": proxy if isinstance(proxy, Proxy) else Proxy(url=proxy)}

    @staticmethod
    def _sort_mounts(mounts: Mapping[str, Any]) -> dict[URLPattern, Any]:
        return dict(sorted((URLPattern(key), value) for key, value in mounts.items()))

    # Redirects --------------------------------------------------------------------------

    def _build_redirect_request(self, request: Request, response: Response) -> Request:
        method = self._redirect_method(request, response)
        url = self._redirect_url(request, response)
        headers = self._redirect_headers(request, url, method)
        stream = self._redirect_stream(request, method, response)
        cookies = Cookies(self._cookies)
        return Request(
            method,
            url,
            headers=headers,
            cookies=cookies,
            stream=stream,
            extensions=request.extensions,
        )

    @staticmethod
    def _redirect_method(request: Request, response: Response) -> str:
        """RFC 9110 section 15.4, with browsers' (and requests') behaviour for 301 and 302."""
        method = request.method
        status = response.status_code
        if status == codes.SEE_OTHER and method != "HEAD":
            return "GET"
        if status == codes.FOUND and method != "HEAD":
            return "GET"
        if status == codes.MOVED_PERMANENTLY and method == "POST":
            return "GET"
        return method

    @staticmethod
    def _redirect_url(request: Request, response: Response) -> URL:
        location = response.headers["Location"]
        try:
            url = URL(location)
        except InvalidURL as exc:
            raise RemoteProtocolError(
                f"The server sent an invalid URL in the Location header: {exc}", request=request
            ) from None
        if url.scheme not in FOLLOWABLE_SCHEMES and url.scheme:
            # Left as it is: following it is refused later, with a clear error.
            return url
        if url.scheme and not url.host:
            url = url.copy_with(host=request.url.host)
        if url.is_relative_url:
            url = request.url.join(url)
        if request.url.fragment and not url.fragment:
            # RFC 9110 section 10.2.2: a redirect without a fragment inherits the original one.
            url = url.copy_with(fragment=request.url.fragment)
        return url

    @staticmethod
    def _redirect_headers(request: Request, url: URL, method: str) -> Headers:
        headers = Headers(request.headers)
        if not _same_origin(url, request.url):
            if not _is_https_upgrade(request.url, url):
                # Credentials are for the origin they were given to.
                headers.pop("Authorization", None)
            headers["Host"] = url.netloc.decode("ascii")
        if method != request.method and method == "GET":
            # The body is dropped with the method change, and so are the headers describing it.
            for name in ("Content-Length", "Transfer-Encoding", "Content-Type"):
                headers.pop(name, None)
        # Proxy credentials must never reach an origin server; cookies are rebuilt from the jar
        # for the new URL.
        headers.pop("Proxy-Authorization", None)
        headers.pop("Cookie", None)
        return headers

    @staticmethod
    def _redirect_stream(request: Request, method: str, response: Response) -> Any:
        if method != request.method and method == "GET":
            return None
        if request.stream is not None and not _is_replayable(request):
            raise StreamConsumed(
                f"The server answered {response.status_code} and asked for the request to "
                f"be sent again to {response.headers.get('Location')!r}, but its body was a "
                "one-shot stream (an iterator or generator) that has already been sent. Pass "
                "the body as bytes, or call request.read() before sending, to allow replays."
            )
        return request.stream

    @staticmethod
    def _check_redirect_scheme(request: Request) -> None:
        if request.url.scheme not in FOLLOWABLE_SCHEMES:
            raise UnsupportedProtocol(
                f"Refusing to follow a redirect to {str(request.url)!r}: heron only follows "
                "redirects to http:// and https:// URLs. Set follow_redirects=False and "
                "inspect response.next_request to handle it yourself.",
                request=request,
            )

    def _log_response(self, request: Request, response: Response) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                # Credentials never reach the log.
                request.url.copy_with(username=None, password=None)
                if request.url.userinfo
                else request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )


def async_app_transport(app: Any) -> Any:
    """The transport an ``AsyncClient(app=...)`` uses: ASGI directly, WSGI in a worker thread."""
    from ._transports.asgi import ASGITransport, is_asgi_app
    from ._transports.wsgi import AsyncWSGITransport

    return ASGITransport(app=app) if is_asgi_app(app) else AsyncWSGITransport(app=app)


def sync_app_transport(app: Any) -> Any:
    """The transport a ``Client(app=...)`` uses: WSGI directly, ASGI on an event-loop thread."""
    from ._transports.asgi import SyncASGITransport, is_asgi_app
    from ._transports.wsgi import WSGITransport

    return SyncASGITransport(app=app) if is_asgi_app(app) else WSGITransport(app=app)


def _is_replayable(request: Request) -> bool:
    # heron's own streams say whether they can be sent again; a user's stream class is trusted.
    return bool(getattr(request.stream, "is_replayable", True))
