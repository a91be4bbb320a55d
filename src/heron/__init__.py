"""heron: a fast, correct HTTP client for Python, sync and async, compatible with httpx.

Only the names re-exported here are public; every module below is private.
"""

from __future__ import annotations

from ._api import delete as delete
from ._api import get as get
from ._api import head as head
from ._api import options as options
from ._api import patch as patch
from ._api import post as post
from ._api import put as put
from ._api import request as request
from ._api import stream as stream
from ._async.client import AsyncClient as AsyncClient
from ._async.transport import AsyncHTTPTransport as AsyncHTTPTransport
from ._auth import Auth as Auth
from ._auth import BasicAuth as BasicAuth
from ._auth import DigestAuth as DigestAuth
from ._auth import FunctionAuth as FunctionAuth
from ._auth import NetRCAuth as NetRCAuth
from ._config import USE_CLIENT_DEFAULT as USE_CLIENT_DEFAULT
from ._config import Limits as Limits
from ._config import Proxy as Proxy
from ._config import Timeout as Timeout
from ._config import create_ssl_context as create_ssl_context
from ._cookies import Cookies as Cookies
from ._exceptions import CloseError as CloseError
from ._exceptions import ConnectError as ConnectError
from ._exceptions import ConnectTimeout as ConnectTimeout
from ._exceptions import CookieConflict as CookieConflict
from ._exceptions import DecodingError as DecodingError
from ._exceptions import HTTPError as HTTPError
from ._exceptions import HTTPStatusError as HTTPStatusError
from ._exceptions import InvalidURL as InvalidURL
from ._exceptions import LocalProtocolError as LocalProtocolError
from ._exceptions import NetworkError as NetworkError
from ._exceptions import PoolTimeout as PoolTimeout
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import ProxyError as ProxyError
from ._exceptions import ReadError as ReadError
from ._exceptions import ReadTimeout as ReadTimeout
from ._exceptions import RemoteProtocolError as RemoteProtocolError
from ._exceptions import RequestError as RequestError
from ._exceptions import RequestNotRead as RequestNotRead
from ._exceptions import ResponseNotRead as ResponseNotRead
from ._exceptions import StreamClosed as StreamClosed
from ._exceptions import StreamConsumed as StreamConsumed
from ._exceptions import StreamError as StreamError
from ._exceptions import TimeoutException as TimeoutException
from ._exceptions import TooManyRedirects as TooManyRedirects
from ._exceptions import TransportError as TransportError
from ._exceptions import UnsupportedProtocol as UnsupportedProtocol
from ._exceptions import WriteError as WriteError
from ._exceptions import WriteTimeout as WriteTimeout
from ._headers import Headers as Headers
from ._main import main as main
from ._models import Request as Request
from ._models import Response as Response
from ._status_codes import codes as codes
from ._streams import AsyncByteStream as AsyncByteStream
from ._streams import ByteStream as ByteStream
from ._streams import SyncByteStream as SyncByteStream
from ._sync.client import Client as Client
from ._sync.transport import HTTPTransport as HTTPTransport
from ._transports.asgi import ASGITransport as ASGITransport
from ._transports.base import AsyncBaseTransport as AsyncBaseTransport
from ._transports.base import BaseTransport as BaseTransport
from ._transports.mock import MockTransport as MockTransport
from ._transports.wsgi import WSGITransport as WSGITransport
from ._urls import URL as URL
from ._urls import QueryParams as QueryParams
from ._version import __description__ as __description__
from ._version import __title__ as __title__
from ._version import __version__ as __version__

__all__ = [
    "URL",
    "USE_CLIENT_DEFAULT",
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
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "DecodingError",
    "DigestAuth",
    "FunctionAuth",
    "HTTPError",
    "HTTPStatusError",
    "HTTPTransport",
    "Headers",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "MockTransport",
    "NetRCAuth",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "QueryParams",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "RequestNotRead",
    "Response",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WSGITransport",
    "WriteError",
    "WriteTimeout",
    "__description__",
    "__title__",
    "__version__",
    "codes",
    "create_ssl_context",
    "delete",
    "get",
    "head",
    "main",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "stream",
]
__all__.sort(key=str.lower)

# Report every public object as living in `heron`, so reprs, tracebacks and docs show
# `heron.Client` rather than the private module that defines it.
for _name in __all__:
    if not _name.startswith("__"):
        _obj = globals()[_name]
        # Classes and functions directly; a sentinel instance (USE_CLIENT_DEFAULT) via its class.
        (_obj if callable(_obj) else type(_obj)).__module__ = "heron"
del _name, _obj
