"""Is the server the bottleneck? Drive the same nginx with native tools on the client core.

wrk (HTTP/1.1), h2load (HTTP/2) and curl (bulk transfers) are pinned to the client core like
the Python clients. If they reach rates far above any Python client while the nginx worker's
core still has idle time, the Python numbers measure the clients, not the server. Each tool is
optional: a missing one is reported, not fatal. `bench.py --server-check` runs this.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from server import DOWNLOAD_NAME, UPLOAD_SIZE, Server, process_cpu_seconds

__all__ = ["check_server"]

DURATION = 5  # seconds per wrk/h2load check
TRANSFERS = 3  # curl transfers per bulk check (median reported)


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(
    server: Server, command: list[str], parse: Callable[[str], float]
) -> tuple[float, float, float]:
    """Run a tool; return its figure and its and the nginx worker's CPU shares while it ran."""
    server0 = process_cpu_seconds(server.worker_pid)
    tool0 = _children_cpu()
    t0 = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=DURATION * 10 + 60, check=False
    )
    elapsed = time.perf_counter() - t0
    server_share = (process_cpu_seconds(server.worker_pid) - server0) / elapsed
    tool_share = (_children_cpu() - tool0) / elapsed
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {completed.stderr.strip()[:200]}")
    return parse(completed.stdout), tool_share, server_share


def _wrk_rate(output: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk's output: {output[:200]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output)
    if errors is not None:
        raise RuntimeError(f"wrk saw errors: {errors.group(0)}")
    return float(match.group(1))


def _h2load_rate(output: str) -> float:
    match = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output)
    if match is None:
        raise RuntimeError(f"no req/s in h2load's output: {output[:200]}")
    failed = re.search(r"(\d+) failed", output)
    if failed is not None and int(failed.group(1)) > 0:
        raise RuntimeError(f"h2load: {failed.group(0)} requests")
    return float(match.group(1))


def _curl_rate(output: str) -> float:
    return float(output.strip()) / 2**20


def _curl_h2_rate(output: str) -> float:
    speed, _, version = output.strip().partition(" ")
    if version != "2":
        raise RuntimeError(f"curl used HTTP/{version}, not HTTP/2")
    return _curl_rate(speed)


def _upload_file(server: Server) -> Path:
    path = server.ca_path.parent.parent / "upload-128MiB.bin"
    if not (path.exists() and path.stat().st_size == UPLOAD_SIZE):
        block = os.urandom(1024 * 1024)
        with open(path, "wb") as f:
            for _ in range(UPLOAD_SIZE // len(block)):
                f.write(block)
    return path


def check_server(server: Server, cpu: int | None) -> str:
    """A markdown section: what native tools get from this nginx on the client core."""
    urls = server.urls()
    small = urls["http"] + "/small"
    wrk = ["wrk", "-t1", f"-d{DURATION}s"]
    h2load = ["h2load", "-c1", "-m100", f"-D{DURATION}"]
    curl = ["curl", "-s", "-o", "/dev/null", "--cacert", str(server.ca_path)]
    checks: list[tuple[str, str, list[str], Callable[[str], float], int]] = [
        ("keep-alive GETs, 1 connection", "req/s", [*wrk, "-c1", small], _wrk_rate, 1),
        ("keep-alive GETs, 100 connections", "req/s", [*wrk, "-c100", small], _wrk_rate, 1),
        (
            "new connection per request, HTTP",
            "req/s",
            [*wrk, "-c10", "-H", "Connection: close", small],
            _wrk_rate,
            1,
        ),
        (
            "new connection per request, HTTPS",
            "req/s",
            [*wrk, "-c10", "-H", "Connection: close", urls["https"] + "/small"],
            _wrk_rate,
            1,
        ),
        (
            "HTTP/2 over TLS, 100 streams on 1 connection",
            "req/s",
            [*h2load, urls["h2"] + "/small"],
            _h2load_rate,
            1,
        ),
        (
            "h2c, 100 streams on 1 connection",
            "req/s",
            [*h2load, urls["h2c"] + "/small"],
            _h2load_rate,
            1,
        ),
        (
            "256 MiB download",
            "MiB/s",
            [*curl, "-w", "%{speed_download}", f"{urls['http']}/files/{DOWNLOAD_NAME}"],
            _curl_rate,
            TRANSFERS,
        ),
        (
            "256 MiB download over HTTP/2 (TLS)",
            "MiB/s",
            [
                *curl,
                "--http2",
                "-w",
                "%{speed_download} %{http_version}",
                f"{urls['h2']}/files/{DOWNLOAD_NAME}",
            ],
            _curl_h2_rate,
            TRANSFERS,
        ),
        (
            "128 MiB upload",
            "MiB/s",
            [
                *curl,
                "-X",
                "POST",
                "-H",
                "Expect:",
                "-T",
                str(_upload_file(server)),
                "-w",
                "%{speed_upload}",
                urls["http"] + "/upload",
            ],
            _curl_rate,
            TRANSFERS,
        ),
    ]
    lines = [
        "## Server headroom",
        "",
        "Native tools pinned to the client core, against the same nginx (one worker, pinned).",
        "",
        "| check | tool | result | tool CPU | nginx worker CPU |",
        "|---|---|---:|---:|---:|",
    ]
    for title, unit, command, parse, repeat in checks:
        tool = command[0]
        if shutil.which(tool) is None:
            lines.append(f"| {title} | {tool} | not installed | | |")
            continue
        try:
            results = [_measure(server, _pinned(command, cpu), parse) for _ in range(repeat)]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            lines.append(f"| {title} | {tool} | error: {exc} | | |")
            continue
        figure = statistics.median(r[0] for r in results)
        tool_share = statistics.median(r[1] for r in results)
        server_share = statistics.median(r[2] for r in results)
        lines.append(
            f"| {title} | {tool} | {figure:,.0f} {unit} | {tool_share:.0%} | {server_share:.0%} |"
        )
    server.take_upload_log()  # curl's uploads are not the harness's
    return "\n".join(lines) + "\n"
