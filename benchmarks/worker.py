"""One measurement: one client, one scenario, in a fresh interpreter started by bench.py.

Usage (bench.py does this): ``python worker.py '<json parameters>'``. The process pins itself
to the client core, builds the client, warms it up (connections open, imports done), then
measures wall time, its own CPU time (getrusage RUSAGE_SELF: all threads of this process) and the
nginx worker's CPU time over the measured loop only. It prints one line,
``RESULT {...json...}``; a failure is reported on that line too, never as a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import ssl
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from scenarios import ASYNC_CLIENTS, SCENARIOS, Scenario
from server import DOWNLOAD_NAME, DOWNLOAD_SIZE, SMALL_BODY, UPLOAD_SIZE, process_cpu_seconds

__all__ = ["MARKER", "main"]

MARKER = "RESULT "
TIMEOUT = 60.0  # per network operation, for every client
WARMUP_REQUESTS = 20
UPLOAD_CHUNK = os.urandom(64 * 1024)


@dataclass(frozen=True)
class Params:
    scenario: Scenario
    client: str
    base_url: str
    ca_path: str
    count: int
    limit: float
    server_pid: int | None
    http1: bool
    http2: bool
    pool: int | None  # max connections (and keep-alive connections); None = library default
    headers: dict[str, str]

    @property
    def workload(self) -> str:
        """What one operation is: "download", "upload" or "get" (of the small body)."""
        return _WORKLOADS.get(self.scenario.name, "get")

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_path)

    @property
    def small_url(self) -> str:
        return self.base_url + "/small"


_WORKLOADS = {"download": "download", "h2-download": "download", "upload": "upload"}


def _params(raw: dict[str, Any]) -> Params:
    scenario = SCENARIOS[raw["scenario"]]
    name = scenario.name
    kind = {"newconn-https": "https", "h2-tls": "h2", "h2c": "h2c", "h2-download": "h2"}.get(
        name, "http"
    )
    pool: int | None = None
    if scenario.concurrency > 1:
        pool = 1 if name.startswith("h2") else scenario.concurrency
    return Params(
        scenario=scenario,
        client=raw["client"],
        base_url=raw["urls"][kind],
        ca_path=raw["ca_path"],
        count=raw["count"],
        limit=raw["limit"],
        server_pid=raw["server_pid"],
        http1=name != "h2c",
        http2=name.startswith("h2"),
        pool=pool,
        headers={"Connection": "close"} if name.startswith("newconn") else {},
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall time, this process's CPU time and the server's CPU time between start() and stop()."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def _server(self) -> float:
        return process_cpu_seconds(self.server_pid) if self.server_pid else 0.0

    def start(self) -> None:
        self.server0 = self._server()
        self.cpu0 = _cpu_seconds()
        self.t0 = time.perf_counter()

    def stop(self, operations: int, units: float) -> dict[str, float]:
        elapsed = time.perf_counter() - self.t0
        cpu = _cpu_seconds() - self.cpu0
        server = self._server() - self.server0
        return {
            "operations": operations,
            "units": units,
            "elapsed": elapsed,
            "cpu": cpu,
            "server_cpu": server,
        }


# Uploads are streamed from generators but framed with Content-Length, given explicitly:
# nginx spends about four times more CPU per GiB on a chunked body than on a sized one, enough to
# make it the bottleneck for the fastest clients. bench.py checks the framing in nginx's log.
UPLOAD_HEADERS = {"Content-Length": str(UPLOAD_SIZE)}


def _upload_body() -> Iterator[bytes]:
    for _ in range(UPLOAD_SIZE // len(UPLOAD_CHUNK)):
        yield UPLOAD_CHUNK


class SizedUploadBody:
    """The generator's chunks with a length: how requests streams a body with Content-Length."""

    def __len__(self) -> int:
        return UPLOAD_SIZE

    def __iter__(self) -> Iterator[bytes]:
        return _upload_body()


async def _async_upload_body() -> AsyncIterator[bytes]:
    for _ in range(UPLOAD_SIZE // len(UPLOAD_CHUNK)):
        yield UPLOAD_CHUNK


def _check_status(status: int, url: str) -> None:
    if status != 200:
        raise RuntimeError(f"{url} answered {status}, expected 200")


def _check_small(body: bytes) -> None:
    if body != SMALL_BODY:
        raise RuntimeError(f"expected the body {SMALL_BODY!r}, got {body[:40]!r}")


# --- Clients -------------------------------------------------------------------------------------


class SyncClient(Protocol):
    def get(self, url: str) -> None: ...
    def download(self, url: str) -> int: ...
    def upload(self, url: str) -> None: ...
    def http_version(self, url: str) -> str: ...
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def get(self, url: str) -> None: ...
    async def download(self, url: str) -> int: ...
    async def upload(self, url: str) -> None: ...
    async def http_version(self, url: str) -> str: ...
    async def close(self) -> None: ...


def _httpx_style_kwargs(module: Any, p: Params) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "verify": p.ssl_context,
        "http1": p.http1,
        "http2": p.http2,
        "timeout": TIMEOUT,
        "headers": p.headers,
        "trust_env": False,
    }
    if p.pool is not None:
        kwargs["limits"] = module.Limits(max_connections=p.pool, max_keepalive_connections=p.pool)
    return kwargs


class HttpxStyleSync:
    """heron.Client or httpx.Client: the same API."""

    def __init__(self, module: Any, p: Params) -> None:
        self.client = module.Client(**_httpx_style_kwargs(module, p))
        self.download_version = ""

    def get(self, url: str) -> None:
        response = self.client.get(url)
        _check_status(response.status_code, url)
        _check_small(response.content)

    def download(self, url: str) -> int:
        received = 0
        with self.client.stream("GET", url) as response:
            _check_status(response.status_code, url)
            self.download_version = response.http_version
            for chunk in response.iter_bytes():
                received += len(chunk)
        return received

    def upload(self, url: str) -> None:
        response = self.client.post(url, content=_upload_body(), headers=UPLOAD_HEADERS)
        _check_status(response.status_code, url)

    def http_version(self, url: str) -> str:
        return str(self.client.get(url).http_version)

    def close(self) -> None:
        self.client.close()


class HttpxStyleAsync:
    """heron.AsyncClient or httpx.AsyncClient."""

    def __init__(self, module: Any, p: Params) -> None:
        self.client = module.AsyncClient(**_httpx_style_kwargs(module, p))
        self.download_version = ""

    async def get(self, url: str) -> None:
        response = await self.client.get(url)
        _check_status(response.status_code, url)
        _check_small(response.content)

    async def download(self, url: str) -> int:
        received = 0
        async with self.client.stream("GET", url) as response:
            _check_status(response.status_code, url)
            self.download_version = response.http_version
            async for chunk in response.aiter_bytes():
                received += len(chunk)
        return received

    async def upload(self, url: str) -> None:
        response = await self.client.post(
            url, content=_async_upload_body(), headers=UPLOAD_HEADERS
        )
        _check_status(response.status_code, url)

    async def http_version(self, url: str) -> str:
        return str((await self.client.get(url)).http_version)

    async def close(self) -> None:
        await self.client.aclose()


class RequestsClient:
    """requests.Session: chunks of 64 KiB when streaming (its default of 1 byte is no contest)."""

    def __init__(self, p: Params) -> None:
        import requests

        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = p.ca_path
        self.session.headers.update(p.headers)

    def get(self, url: str) -> None:
        response = self.session.get(url, timeout=TIMEOUT)
        _check_status(response.status_code, url)
        _check_small(response.content)

    def download(self, url: str) -> int:
        received = 0
        with self.session.get(url, stream=True, timeout=TIMEOUT) as response:
            _check_status(response.status_code, url)
            for chunk in response.iter_content(64 * 1024):
                received += len(chunk)
        return received

    def upload(self, url: str) -> None:
        response = self.session.post(url, data=SizedUploadBody(), timeout=TIMEOUT)
        _check_status(response.status_code, url)

    def http_version(self, url: str) -> str:
        raise NotImplementedError("requests speaks HTTP/1.1 only")

    def close(self) -> None:
        self.session.close()


class Urllib3Client:
    """urllib3.PoolManager, retries off so that errors surface."""

    def __init__(self, p: Params) -> None:
        import urllib3

        kwargs: dict[str, Any] = {}
        if p.pool is not None:
            kwargs["maxsize"] = p.pool
        self.pool = urllib3.PoolManager(
            ca_certs=p.ca_path,
            headers=p.headers or None,
            timeout=urllib3.Timeout(TIMEOUT),
            retries=False,
            **kwargs,
        )

    def get(self, url: str) -> None:
        response = self.pool.request("GET", url)
        _check_status(response.status, url)
        _check_small(response.data)

    def download(self, url: str) -> int:
        received = 0
        response = self.pool.request("GET", url, preload_content=False)
        _check_status(response.status, url)
        for chunk in response.stream(64 * 1024):
            received += len(chunk)
        response.release_conn()
        return received

    def upload(self, url: str) -> None:
        response = self.pool.request("POST", url, body=_upload_body(), headers=UPLOAD_HEADERS)
        _check_status(response.status, url)

    def http_version(self, url: str) -> str:
        raise NotImplementedError("urllib3 speaks HTTP/1.1 only")

    def close(self) -> None:
        self.pool.clear()


class AiohttpClient:
    """aiohttp.ClientSession; iter_any() yields body bytes as they arrive, like iter_bytes()."""

    def __init__(self, p: Params) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=p.pool or 100, ssl=p.ssl_context),
            headers=p.headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=TIMEOUT),
        )

    async def get(self, url: str) -> None:
        async with self.session.get(url) as response:
            _check_status(response.status, url)
            _check_small(await response.read())

    async def download(self, url: str) -> int:
        received = 0
        async with self.session.get(url) as response:
            _check_status(response.status, url)
            async for chunk in response.content.iter_any():
                received += len(chunk)
        return received

    async def upload(self, url: str) -> None:
        body = _async_upload_body()
        async with self.session.post(url, data=body, headers=UPLOAD_HEADERS) as response:
            _check_status(response.status, url)
            await response.read()

    async def http_version(self, url: str) -> str:
        raise NotImplementedError("aiohttp speaks HTTP/1.1 only")

    async def close(self) -> None:
        await self.session.close()


def _sync_client(p: Params) -> SyncClient:
    if p.client == "heron":
        import heron

        return HttpxStyleSync(heron, p)
    if p.client == "httpx":
        import httpx

        return HttpxStyleSync(httpx, p)
    if p.client == "requests":
        return RequestsClient(p)
    if p.client == "urllib3":
        return Urllib3Client(p)
    raise ValueError(f"unknown sync client {p.client!r}")


def _async_client(p: Params) -> AsyncClient:
    if p.client == "heron-async":
        import heron

        return HttpxStyleAsync(heron, p)
    if p.client == "httpx-async":
        import httpx

        return HttpxStyleAsync(httpx, p)
    if p.client == "aiohttp":
        return AiohttpClient(p)
    raise ValueError(f"unknown async client {p.client!r}")


# --- Workloads -----------------------------------------------------------------------------------


def _check_download(received: int) -> None:
    if received != DOWNLOAD_SIZE:
        raise RuntimeError(f"downloaded {received} bytes, expected {DOWNLOAD_SIZE}")


def _unit_size(workload: str) -> float:
    """What one operation counts for: a request, or the MiB of one transfer."""
    sizes = {"download": DOWNLOAD_SIZE / 2**20, "upload": UPLOAD_SIZE / 2**20}
    return sizes.get(workload, 1.0)


def _repeat(operation: Callable[[], object], count: int, deadline: float) -> int:
    """Run `operation` up to `count` times, stopping after the first one past `deadline`."""
    done = 0
    while done < count:
        operation()
        done += 1
        if time.perf_counter() > deadline:
            break
    return done


async def _arepeat(operation: Callable[[], Awaitable[object]], count: int, deadline: float) -> int:
    done = 0
    while done < count:
        await operation()
        done += 1
        if time.perf_counter() > deadline:
            break
    return done


async def _run_concurrently(
    operation: Callable[[], Awaitable[object]], concurrency: int, count: int, deadline: float
) -> int:
    """`concurrency` lanes start operations until `count` have started or `deadline` passed."""
    started = done = 0

    async def lane() -> None:
        nonlocal started, done
        while started < count and time.perf_counter() < deadline:
            started += 1
            await operation()
            done += 1

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return done


def run_sync(p: Params) -> dict[str, float]:
    client = _sync_client(p)
    download_url = f"{p.base_url}/files/{DOWNLOAD_NAME}"
    upload_url = p.base_url + "/upload"
    operations: dict[str, Callable[[], object]] = {
        "download": lambda: _check_download(client.download(download_url)),
        "upload": lambda: client.upload(upload_url),
    }
    operation = operations.get(p.workload, lambda: client.get(p.small_url))
    try:
        for _ in range(WARMUP_REQUESTS):
            client.get(p.small_url)
        if p.http2:
            _check_http2(client.http_version(p.small_url))
        meter = Meter(p.server_pid)
        meter.start()
        done = _repeat(operation, p.count, meter.t0 + p.limit)
        result = meter.stop(done, done * _unit_size(p.workload))
        if p.http2 and p.workload == "download":
            _check_http2(getattr(client, "download_version", ""))
        return result
    finally:
        client.close()


async def run_async(p: Params) -> dict[str, float]:
    client = _async_client(p)
    download_url = f"{p.base_url}/files/{DOWNLOAD_NAME}"
    upload_url = p.base_url + "/upload"

    async def download() -> None:
        _check_download(await client.download(download_url))

    operations: dict[str, Callable[[], Awaitable[object]]] = {
        "download": download,
        "upload": lambda: client.upload(upload_url),
    }
    operation = operations.get(p.workload, lambda: client.get(p.small_url))
    concurrency = p.scenario.concurrency
    try:
        if p.http2:
            _check_http2(await client.http_version(p.small_url))
        for _ in range(WARMUP_REQUESTS):
            await client.get(p.small_url)
        for _ in range(2 if concurrency > 1 else 0):  # opens every connection, warms the streams
            await asyncio.gather(*(client.get(p.small_url) for _ in range(concurrency)))
        meter = Meter(p.server_pid)
        meter.start()
        deadline = meter.t0 + p.limit
        if concurrency > 1:
            done = await _run_concurrently(operation, concurrency, p.count, deadline)
        else:
            done = await _arepeat(operation, p.count, deadline)
        result = meter.stop(done, done * _unit_size(p.workload))
        if p.http2 and p.workload == "download":
            _check_http2(getattr(client, "download_version", ""))
        return result
    finally:
        await client.close()


def _check_http2(version: str) -> None:
    if version != "HTTP/2":
        raise RuntimeError(f"expected an HTTP/2 response, got {version}")


def main() -> None:
    raw = json.loads(sys.argv[1])
    if raw.get("cpu") is not None:
        os.sched_setaffinity(0, {raw["cpu"]})
    try:
        p = _params(raw)
        result = asyncio.run(run_async(p)) if p.client in ASYNC_CLIENTS else run_sync(p)
        out: dict[str, Any] = {"ok": True, **result}
    except Exception as exc:
        message = " ".join(str(exc).split()) or "(no message)"
        out = {"ok": False, "error": f"{type(exc).__name__}: {message}"}
        if raw.get("verbose"):
            traceback.print_exc()
    print(MARKER + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
