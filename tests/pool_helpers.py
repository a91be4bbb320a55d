"""The pool's internals in both flavours, under names that scripts/unasync.py maps.

Tests under tests/_async import ``AsyncConnectionPool`` (and friends) from here; their generated
twins import ``ConnectionPool``. Importing from ``heron._async.pool`` directly would not be
rewritten, since module paths are not names.
"""

from __future__ import annotations

from heron._async import connection as AsyncConnectionModule
from heron._async import pool as AsyncPoolModule
from heron._async.connection import AsyncHTTPConnection
from heron._async.pool import AsyncConnectionPool, AsyncPoolByteStream
from heron._sync import connection as ConnectionModule
from heron._sync import pool as PoolModule
from heron._sync.connection import HTTPConnection
from heron._sync.pool import ConnectionPool, PoolByteStream

__all__ = [
    "AsyncConnectionModule",
    "AsyncConnectionPool",
    "AsyncHTTPConnection",
    "AsyncPoolByteStream",
    "AsyncPoolModule",
    "ConnectionModule",
    "ConnectionPool",
    "HTTPConnection",
    "PoolByteStream",
    "PoolModule",
]
