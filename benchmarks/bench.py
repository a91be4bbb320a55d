"""heron against httpx, aiohttp, requests and urllib3 on one loopback nginx: `nox -s bench`.

Every measurement runs one client in a fresh interpreter (worker.py) pinned to one core, with
nginx's single worker pinned to the other. Repetitions are interleaved (A, B, C, A, B, C, ...)
and the tables give medians. Run ``python benchmarks/bench.py --help`` for the options;
benchmarks/README.md explains the method.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Collection
from pathlib import Path

from report import Row, Sample, Summary, ratio_table, scenario_table, summarize
from scenarios import CLIENTS, HERON_CLIENTS, SCENARIOS, Scenario
from server import UPLOAD_SIZE, Server, default_cache_dir, find_nginx
from worker import MARKER

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
LIBRARIES = ("heron", "httpx", "httpcore", "h11", "h2", "aiohttp", "requests", "urllib3")
OPTIONAL_LIBRARIES = ("httptools",)
UPLOAD_HEAD_ALLOWANCE = 4096  # bytes of request line and headers allowed in an upload's length
WORKER_GRACE = 90.0  # seconds a worker may run past its loop's time limit (start-up, warm-up)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="Benchmark heron against httpx, aiohttp, requests and urllib3 on loopback.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fast smoke run: 1 repetition, small counts"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated clients to run (default: all): {', '.join(CLIENTS)}",
    )
    parser.add_argument("--reps", type=int, help="repetitions per client (default 5, quick 1)")
    parser.add_argument(
        "--heron-variant",
        action="append",
        default=[],
        metavar="LABEL:VAR=VALUE[,VAR=VALUE]",
        help="also run heron's clients with these environment variables, shown as "
        "heron[LABEL] (e.g. to force one HTTP/1.1 parser when heron[speedups] is installed); "
        "repeatable",
    )
    parser.add_argument(
        "--no-plain-heron", action="store_true", help="run only the heron variants"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where the 256 MiB file and the certificates are kept (default: %(default)s)",
    )
    parser.add_argument("--nginx", default=None, help="the nginx binary (default: found on PATH)")
    parser.add_argument(
        "--client-cpu", type=int, default=0, help="core for the clients (default 0)"
    )
    parser.add_argument("--server-cpu", type=int, default=1, help="core for nginx (default 1)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin clients or nginx to cores"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        metavar="N",
        help="run nginx and the clients N steps above normal priority (root only): on a busy "
        "machine they then lose less CPU to other processes",
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--server-check",
        action="store_true",
        help="first measure the server with wrk/h2load/curl (headroom.py)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--verbose", action="store_true", help="workers print tracebacks")
    args = parser.parse_args(argv)
    args.scenario_list = _split(args.scenarios, SCENARIOS, "scenario", parser)
    args.client_list = _split(args.clients, CLIENTS, "client", parser)
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.variants = [_parse_variant(v, parser) for v in args.heron_variant]
    if args.no_pin:
        args.client_cpu = args.server_cpu = None
    else:
        available = os.sched_getaffinity(0)
        if len(available) < 2:
            print("bench: fewer than 2 cores available; not pinning", file=sys.stderr)
            args.client_cpu = args.server_cpu = None
        elif args.client_cpu not in available or args.server_cpu not in available:
            parser.error(f"--client-cpu and --server-cpu must be among {sorted(available)}")
    return args


def _split(
    value: str, known: Collection[str], what: str, parser: argparse.ArgumentParser
) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown {what}(s): {', '.join(unknown)}")
    return names


def _parse_variant(text: str, parser: argparse.ArgumentParser) -> tuple[str, dict[str, str]]:
    label, sep, assignments = text.partition(":")
    env: dict[str, str] = {}
    for item in assignments.split(","):
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            parser.error(f"--heron-variant {text!r}: expected LABEL:VAR=VALUE[,VAR=VALUE]")
        env[name.strip()] = value
    if not sep or not label.strip():
        parser.error(f"--heron-variant {text!r}: expected LABEL:VAR=VALUE[,VAR=VALUE]")
    return label.strip(), env


def _rows(scenario: Scenario, args: argparse.Namespace) -> list[Row]:
    rows = []
    for client in scenario.clients:
        if client not in args.client_list:
            continue
        if client in HERON_CLIENTS:
            if not args.no_plain_heron:
                rows.append(Row(client, client))
            rows += [Row(f"{client}[{label}]", client, env) for label, env in args.variants]
        else:
            rows.append(Row(client, client))
    return rows


def _run_worker(server: Server, scenario: Scenario, row: Row, args: argparse.Namespace) -> Sample:
    count, limit = scenario.budget(args.quick)
    params = {
        "scenario": scenario.name,
        "client": row.client,
        "urls": server.urls(),
        "ca_path": str(server.ca_path),
        "count": count,
        "limit": limit,
        "server_pid": server.worker_pid,
        "cpu": args.client_cpu,
        "verbose": args.verbose,
    }
    env = {**os.environ, **row.env}
    if scenario.name == "upload":
        server.take_upload_log()  # forget lines left by an earlier failed run
    try:
        completed = subprocess.run(
            [sys.executable, str(HERE / "worker.py"), json.dumps(params)],
            capture_output=True,
            text=True,
            env=env,
            timeout=limit + WORKER_GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Sample(error=f"worker killed after {limit + WORKER_GRACE:g} s")
    if args.verbose and completed.stderr:
        sys.stderr.write(completed.stderr)
    for line in completed.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            break
    else:
        tail = " ".join(completed.stderr.strip().splitlines()[-3:]) or "no output"
        return Sample(error=f"worker exited with code {completed.returncode}: {tail}")
    if not result.pop("ok"):
        return Sample(error=result["error"])
    sample = Sample(**result)
    if scenario.name == "upload":
        sample = _check_uploads(server, sample)
    return sample


def _check_uploads(server: Server, sample: Sample) -> Sample:
    """nginx must have read every byte of every upload the client counted."""
    lengths = server.wait_for_uploads(sample.operations)
    time.sleep(0.05)
    lengths += server.take_upload_log()  # more than counted would be an error too
    # Body plus head; a chunked body would add about 20 KiB of framing.
    wrong = [n for n in lengths if not UPLOAD_SIZE < n < UPLOAD_SIZE + UPLOAD_HEAD_ALLOWANCE]
    if len(lengths) != sample.operations or wrong:
        return Sample(
            error=f"nginx logged request lengths {lengths} for {sample.operations} uploads "
            f"of {UPLOAD_SIZE} bytes with Content-Length"
        )
    return sample


def _progress(scenario: Scenario, rep: int, reps: int, row: Row, sample: Sample) -> None:
    if sample.error is not None:
        text = f"error: {sample.error}"
    elif scenario.unit == "req":
        text = f"{sample.throughput:,.0f} req/s, {sample.cpu_per_unit * 1000:.3f} ms CPU/req"
    else:
        text = f"{sample.throughput:,.0f} MiB/s, {sample.cpu_per_unit * 1024:.2f} s CPU/GiB"
    print(f"[{scenario.name} {rep + 1}/{reps}] {row.label}: {text}", file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES + OPTIONAL_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name in LIBRARIES:
                versions[name] = "not installed"
    return versions


def _heron_source() -> str:
    """The commit heron was measured at, and whether src/ had uncommitted changes."""
    root = HERE.parent

    def git(*args: str) -> str:
        try:
            result = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", "src")
    return f"commit {commit}" + (" with uncommitted changes in src/" if dirty else "")


def _cpu_model() -> str:
    """The first CPU's model name and clock from /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or "unknown"
    if "cpu MHz" in fields:
        model += f", {float(fields['cpu MHz']):,.0f} MHz"
    return model


def _header(args: argparse.Namespace, server: Server, load_before: tuple[float, ...]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in _versions().items())
    command = os.environ.get("HERON_BENCH_COMMAND") or " ".join(
        ["python", "benchmarks/bench.py", *sys.argv[1:]]
    )
    pinning = (
        f"clients pinned to CPU {args.client_cpu}, the nginx worker to CPU {args.server_cpu}"
        if args.client_cpu is not None
        else "no CPU pinning"
    )
    if args.nice:
        pinning += f"; both at nice -{args.nice}"
    load_after = os.getloadavg()
    variants = "; ".join(f"heron[{label}] = heron with {env}" for label, env in args.variants)
    lines = [
        "## Run",
        "",
        f"- Command: `{command}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {os.cpu_count()} CPUs ({_cpu_model()}), Linux {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"- Server: {server.version()}, one worker process; {pinning}",
        f"- Libraries: {versions}",
        f"- heron source: {_heron_source()}",
        f"- Load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}",
    ]
    if variants:
        lines.append(f"- Variants: {variants}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:14} {scenario.title}  [{', '.join(scenario.clients)}]")
        return 0
    nginx = args.nginx or find_nginx()
    if nginx is None:
        print(
            "bench: nginx not found. Install it with: apt-get install -y nginx-light "
            "libnginx-mod-http-echo (as root), or pass --nginx PATH.",
            file=sys.stderr,
        )
        return 2
    if args.nice:
        try:
            os.nice(-args.nice)  # nginx and every worker inherit it
        except PermissionError:
            print(f"bench: --nice {args.nice} needs root", file=sys.stderr)
            return 2
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(
            f"bench: the 1-minute load average is {load_before[0]:.2f}: other processes are "
            "using the CPUs, so throughput will be noisy (CPU per request less so).",
            file=sys.stderr,
        )
    scenarios = [SCENARIOS[name] for name in args.scenario_list]
    all_samples: dict[str, dict[str, list[Sample]]] = {}
    results: list[tuple[Scenario, list[Summary]]] = []
    sections: list[str] = []
    headroom = ""
    try:
        server = Server.start(nginx, args.cache_dir, args.server_cpu)
    except RuntimeError as exc:  # nginx would not start, or the echo module is missing
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    with server:
        if args.server_check:
            from headroom import check_server

            headroom = check_server(server, args.client_cpu)
            print(headroom, flush=True)
        for scenario in scenarios:
            rows = _rows(scenario, args)
            if not rows:
                continue
            samples: dict[str, list[Sample]] = {row.label: [] for row in rows}
            for rep in range(args.reps):
                for row in rows:
                    sample = _run_worker(server, scenario, row, args)
                    samples[row.label].append(sample)
                    _progress(scenario, rep, args.reps, row, sample)
            all_samples[scenario.name] = samples
            summaries = summarize(rows, samples)
            results.append((scenario, summaries))
            table = scenario_table(scenario, summaries, args.reps, args.quick)
            sections.append(table)
            print(table, flush=True)
        header = _header(args, server, load_before)
    ratios = ratio_table(results)
    report = "\n".join(filter(None, [header, ratios, headroom, "## Results\n", *sections]))
    print(ratios)
    print(header)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        raw = {
            scenario: {
                label: [dataclasses.asdict(sample) for sample in samples]
                for label, samples in by_row.items()
            }
            for scenario, by_row in all_samples.items()
        }
        args.json.write_text(json.dumps({"header": header, "samples": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
