"""What is measured: the scenarios, the clients each one runs, and how long each may take.

Shared by the orchestrator (bench.py) and the measuring process (worker.py), so both read the
same counts and limits.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASYNC_CLIENTS",
    "CLIENTS",
    "HERON_CLIENTS",
    "SCENARIOS",
    "Scenario",
]

# Client names. "-async" runs the library's asyncio client; heron and httpx share one API.
CLIENTS = ("heron", "heron-async", "httpx", "httpx-async", "requests", "urllib3", "aiohttp")
HERON_CLIENTS = ("heron", "heron-async")
ASYNC_CLIENTS = ("heron-async", "httpx-async", "aiohttp")


@dataclass(frozen=True)
class Scenario:
    """One workload: `count` requests (or transfers) per measurement, or fewer at `limit` s."""

    name: str
    title: str
    unit: str  # "req" (throughput in requests/s) or "MiB" (throughput in MiB/s)
    clients: tuple[str, ...]
    count: int
    limit: float
    quick_count: int
    quick_limit: float
    concurrency: int = 1

    def budget(self, quick: bool) -> tuple[int, float]:
        return (self.quick_count, self.quick_limit) if quick else (self.count, self.limit)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "seq-sync",
            "Sequential keep-alive GETs of a 13-byte body, sync clients",
            "req",
            ("heron", "httpx", "requests", "urllib3"),
            count=10_000,
            limit=8.0,
            quick_count=500,
            quick_limit=2.0,
        ),
        Scenario(
            "seq-async",
            "Sequential keep-alive GETs of a 13-byte body, asyncio, one request at a time",
            "req",
            ("heron-async", "httpx-async", "aiohttp"),
            count=10_000,
            limit=8.0,
            quick_count=500,
            quick_limit=2.0,
        ),
        Scenario(
            "conc100",
            "100 concurrent keep-alive GETs of a 13-byte body on asyncio (100 connections)",
            "req",
            ("heron-async", "httpx-async", "aiohttp"),
            count=20_000,
            limit=8.0,
            quick_count=1_000,
            quick_limit=2.0,
            concurrency=100,
        ),
        Scenario(
            "download",
            "256 MiB streamed download (chunks iterated and counted)",
            "MiB",
            ("heron", "heron-async", "httpx", "httpx-async", "requests", "urllib3", "aiohttp"),
            count=3,
            limit=15.0,
            quick_count=1,
            quick_limit=15.0,
        ),
        Scenario(
            "upload",
            "128 MiB upload streamed from a generator of 64 KiB chunks (Content-Length)",
            "MiB",
            ("heron", "heron-async", "httpx", "httpx-async", "requests", "aiohttp"),
            count=3,
            limit=15.0,
            quick_count=1,
            quick_limit=15.0,
        ),
        Scenario(
            "newconn-http",
            "A new connection per request (Connection: close), HTTP",
            "req",
            ("heron", "httpx", "requests"),
            count=3_000,
            limit=8.0,
            quick_count=200,
            quick_limit=2.0,
        ),
        Scenario(
            "newconn-https",
            "A new connection per request (Connection: close), HTTPS (TLS 1.3, ECDSA P-256)",
            "req",
            ("heron", "httpx", "requests"),
            count=1_500,
            limit=8.0,
            quick_count=100,
            quick_limit=2.0,
        ),
        Scenario(
            "h2-tls",
            "HTTP/2 over TLS: 100 concurrent GETs of a 13-byte body over one connection",
            "req",
            ("heron-async", "httpx-async"),
            count=20_000,
            limit=8.0,
            quick_count=1_000,
            quick_limit=2.0,
            concurrency=100,
        ),
        Scenario(
            "h2c",
            "HTTP/2 cleartext (prior knowledge): 100 concurrent GETs over one connection",
            "req",
            ("heron-async", "httpx-async"),
            count=20_000,
            limit=8.0,
            quick_count=1_000,
            quick_limit=2.0,
            concurrency=100,
        ),
        Scenario(
            "h2-download",
            "HTTP/2 over TLS: 256 MiB streamed download (chunks iterated and counted)",
            "MiB",
            ("heron", "heron-async", "httpx", "httpx-async"),
            count=3,
            limit=20.0,
            quick_count=1,
            quick_limit=20.0,
        ),
    )
}
