"""``AsyncClient``: event hooks around the auth flow around redirects around the transport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from .._auth import Auth
from .._client import BaseClient, ClientState, EventHooks, async_app_transport
from .._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    Limits,
    Proxy,
    UseClientDefault,
)
from .._exceptions import RequestError, TooManyRedirects
from .._models import Request, Response
from .._streams import AsyncByteStream
from .._transports.base import AsyncBaseTransport
from .._types import (
    AuthTypes,
    CertTypes,
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
from .transport import AsyncHTTPTransport

__all__ = ["AsyncClient"]

_DEFAULT = UseClientDefault.USE_CLIENT_DEFAULT


class AsyncClient(BaseClient):
    """An HTTP client with connection pooling, for asyncio and trio.

    Use it as an async context manager so that its connections are closed::

        async with heron.AsyncClient(base_url="https://api.example.org") as client:
            response = await client.get("/items", params={"page": 2})

    Configuration given here (headers, params, cookies, auth, timeout, ...) applies to every
    request; per-request arguments override it. ``app=`` calls an ASGI or WSGI application
    in-process instead of the network, which is how test suites use it.
    """

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        verify: Any = True,
        cert: CertTypes | None = None,
        http1: bool = True,
        http2: bool = False,
        proxy: ProxyTypes | None = None,
        mounts: Mapping[str, AsyncBaseTransport | None] | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
        follow_redirects: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        event_hooks: EventHooks | None = None,
        base_url: URLTypes = "",
        transport: AsyncBaseTransport | None = None,
        trust_env: bool = True,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
        app: Any = None,
    ) -> None:
        super().__init__(
            auth=auth,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            event_hooks=event_hooks,
            base_url=base_url,
            trust_env=trust_env,
            default_encoding=default_encoding,
        )
        allow_env_proxies = trust_env and transport is None and app is None
        proxy_map = self._get_proxy_map(proxy, allow_env_proxies)

        self._transport: AsyncBaseTransport
        if transport is not None:
            self._transport = transport
        elif app is not None:
            self._transport = async_app_transport(app)
        else:
            self._transport = AsyncHTTPTransport(
                verify=verify,
                cert=cert,
                trust_env=trust_env,
                http1=http1,
                http2=http2,
                limits=limits,
            )
        mounted: dict[str, AsyncBaseTransport | None] = {
            key: None
            if proxy is None
            else self._init_proxy_transport(
                proxy,
                verify=verify,
                cert=cert,
                trust_env=trust_env,
                http1=http1,
                http2=http2,
                limits=limits,
            )
            for key, proxy in proxy_map.items()
        }
        if mounts is not None:
            mounted.update(mounts)
        self._mounts = self._sort_mounts(mounted)

    @staticmethod
    def _init_proxy_transport(
        proxy: Proxy,
        *,
        verify: Any,
        cert: CertTypes | None,
        trust_env: bool,
        http1: bool,
        http2: bool,
        limits: Limits,
    ) -> AsyncBaseTransport:
        return AsyncHTTPTransport(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            proxy=proxy,
        )

    # Sending ----------------------------------------------------------------------------

    async def request(
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
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Build and send a request, returning the response with its body read.

        ``auth``, ``follow_redirects`` and ``timeout`` default to the client's settings;
        ``auth=None`` sends the request without the client's authentication.
        """
        request = self.build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        return await self.send(request, auth=auth, follow_redirects=follow_redirects)

    @asynccontextmanager
    async def stream(
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
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request and yield the response before its body is read.

        The body is read as you iterate (``aiter_bytes()``, ``aiter_lines()``, ...) and the
        response is closed when the block ends::

            async with client.stream("GET", "/large") as response:
                async for chunk in response.aiter_bytes():
                    ...
        """
        request = self.build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )
        response = await self.send(
            request, auth=auth, follow_redirects=follow_redirects, stream=True
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
    ) -> Response:
        """Send a request built with ``build_request()`` (or by hand).

        With ``stream=True`` the body is not read: iterate it, then ``aclose()`` the response.
        The timeout travels with the request (``request.extensions["timeout"]``).
        """
        if self._state == ClientState.CLOSED:
            raise RuntimeError(
                f"Cannot send a request: this {type(self).__name__} has been closed. Create "
                "a new client, or send requests inside its `with` block."
            )
        self._state = ClientState.OPENED
        follow = (
            self.follow_redirects
            if isinstance(follow_redirects, UseClientDefault)
            else follow_redirects
        )
        self._set_timeout(request)
        request_auth = self._build_request_auth(request, auth)
        response = await self._send_handling_auth(
            request, auth=request_auth, follow_redirects=follow, history=[]
        )
        try:
            if not stream:
                await response.aread()
            return response
        except BaseException:
            await response.aclose()
            raise

    async def _send_handling_auth(
        self, request: Request, auth: Auth, follow_redirects: bool, history: list[Response]
    ) -> Response:
        if type(auth) is Auth:
            # Fast path: the base flow sends the request once, as it is, and returns the response.
            return await self._send_handling_redirects(
                request, follow_redirects=follow_redirects, history=history
            )
        auth_flow = auth.async_auth_flow(request)
        try:
            request = await auth_flow.__anext__()
            while True:
                response = await self._send_handling_redirects(
                    request, follow_redirects=follow_redirects, history=history
                )
                try:
                    try:
                        next_request = await auth_flow.asend(response)
                    except StopAsyncIteration:
                        return response
                    response.history = list(history)
                    await response.aread()
                    request = next_request
                    history.append(response)
                except BaseException:
                    await response.aclose()
                    raise
        finally:
            await auth_flow.aclose()

    async def _send_handling_redirects(
        self, request: Request, follow_redirects: bool, history: list[Response]
    ) -> Response:
        while True:
            if len(history) > self.max_redirects:
                raise TooManyRedirects(
                    f"Exceeded the maximum of {self.max_redirects} redirects while requesting "
                    f"{history[0].request.url!r}. Raise max_redirects on the client if the "
                    "chain is expected, or check the server for a redirect loop.",
                    request=request,
                )
            for hook in self._event_hooks["request"]:
                await hook(request)

            response = await self._send_single_request(request)
            try:
                for hook in self._event_hooks["response"]:
                    await hook(response)
                response.history = list(history)
                if not response.has_redirect_location:
                    return response

                request = self._build_redirect_request(request, response)
                history = [*history, response]
                if not follow_redirects:
                    response.next_request = request
                    return response
                self._check_redirect_scheme(request)
                await response.aread()
            except BaseException:
                await response.aclose()
                raise

    async def _send_single_request(self, request: Request) -> Response:
        transport: AsyncBaseTransport = self._transport_for_url(request.url)
        start = time.perf_counter()
        if not isinstance(request.stream, AsyncByteStream):
            raise RuntimeError(
                f"{type(self).__name__} cannot send a request body of type "
                f"{type(request.stream).__name__}: a sync client needs a sync iterator and an "
                "async client an async iterator (bytes and str work with both)."
            )
        try:
            response = await transport.handle_async_request(request)
        except RequestError as exc:
            # What `request_context` does, as a plain try: a context manager costs microseconds.
            if exc._request is None:
                exc._request = request
            raise
        response.request = request
        if not isinstance(response.stream, AsyncByteStream):
            raise RuntimeError(
                f"{type(transport).__name__} returned a response whose body is a "
                f"{type(response.stream).__name__}, which {type(self).__name__} cannot read: "
                "an async client's transport must return an async stream."
            )
        response._set_started_at(start)
        self._cookies.extract_cookies(response)
        response.default_encoding = self._default_encoding
        self._log_response(request, response)
        return response

    # The method helpers -----------------------------------------------------------------

    async def get(
        self,
        url: URLTypes,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``GET`` request."""
        return await self.request(
            "GET",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def options(
        self,
        url: URLTypes,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send an ``OPTIONS`` request."""
        return await self.request(
            "OPTIONS",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def head(
        self,
        url: URLTypes,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``HEAD`` request."""
        return await self.request(
            "HEAD",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def delete(
        self,
        url: URLTypes,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``DELETE`` request."""
        return await self.request(
            "DELETE",
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def post(
        self,
        url: URLTypes,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``POST`` request."""
        return await self.request(
            "POST",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def put(
        self,
        url: URLTypes,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``PUT`` request."""
        return await self.request(
            "PUT",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    async def patch(
        self,
        url: URLTypes,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = _DEFAULT,
        follow_redirects: bool | UseClientDefault = _DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = _DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Send a ``PATCH`` request."""
        return await self.request(
            "PATCH",
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            auth=auth,
            follow_redirects=follow_redirects,
            timeout=timeout,
            extensions=extensions,
        )

    # Lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the transport and every mounted transport, releasing their connections."""
        if self._state != ClientState.CLOSED:
            self._state = ClientState.CLOSED
            await self._transport.aclose()
            for transport in self._mounts.values():
                if transport is not None:
                    await transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        if self._state != ClientState.UNOPENED:
            raise RuntimeError(
                "Cannot open a client more than once"
                if self._state == ClientState.OPENED
                else "Cannot reopen a client once it has been closed; create a new one."
            )
        self._state = ClientState.OPENED
        await self._transport.__aenter__()
        for transport in self._mounts.values():
            if transport is not None:
                await transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = ClientState.CLOSED
        await self._transport.__aexit__(exc_type, exc_value, traceback)
        for transport in self._mounts.values():
            if transport is not None:
                await transport.__aexit__(exc_type, exc_value, traceback)
