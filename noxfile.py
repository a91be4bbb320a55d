"""Development sessions: `nox -s ci` is what CI runs; the others are its parts."""

from __future__ import annotations

import os
import pathlib
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["ci"]

ROOT = pathlib.Path(__file__).parent
TEST_EXTRAS = ".[test,docs,brotli,zstd,socks,cli]"


def _has_twins() -> bool:
    return (ROOT / "scripts" / "unasync.py").exists()


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", "src", "tests", "scripts", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "scripts", "benchmarks", "noxfile.py")


def _typecheck(session: nox.Session) -> None:
    session.run("mypy")


def _unasync(session: nox.Session) -> None:
    if _has_twins():
        session.run("python", "scripts/unasync.py", "--check")


def _tests(session: nox.Session) -> None:
    """The whole suite twice: on h11 (no extra), then with heron[speedups] (httptools).

    Coverage of both runs is combined, so each HTTP/1.1 parser's code counts (#6).
    """
    args = ["pytest", "--cov=heron", "--cov-branch", "--cov-report=", *session.posargs]
    session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "httptools")
    session.run(*args, env={"COVERAGE_FILE": ".coverage.h11"})
    session.install("-e", ".[speedups]")
    _typecheck(session)  # again, against httptools' own type stubs
    session.run(*args, env={"COVERAGE_FILE": ".coverage.httptools"})
    session.run("coverage", "combine", ".coverage.h11", ".coverage.httptools")
    session.run("coverage", "report", "--show-missing", "--skip-covered", "--fail-under=95")


def _docs(session: nox.Session) -> None:
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / ".site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session
def ci(session: nox.Session) -> None:
    """Everything CI checks, in one environment: lint, types, twins, tests, docs."""
    session.install("--upgrade", "pip")
    session.install("-e", TEST_EXTRAS)
    _lint(session)
    _typecheck(session)
    _unasync(session)
    _tests(session)
    _docs(session)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.5")
    _lint(session)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", TEST_EXTRAS)
    _typecheck(session)


@nox.session
def unasync(session: nox.Session) -> None:
    _unasync(session)


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", TEST_EXTRAS)
    _tests(session)


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    _docs(session)


# Debian packages: the server, its echo module (the upload sink), and the tools that
# `bench.py --server-check` drives.
BENCH_SERVER_PACKAGES = ("nginx-light", "libnginx-mod-http-echo")
BENCH_TOOL_PACKAGES = {"wrk": "wrk", "h2load": "nghttp2-client", "curl": "curl"}
ECHO_MODULE = "ngx_http_echo_module.so"
ECHO_MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/etc/nginx/modules")


def _bench_apt_install(session: nox.Session, packages: list[str]) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.error(
            f"benchmarks need {' '.join(packages)}; install them (Debian: apt-get install -y "
            f"{' '.join(packages)}) and run again"
        )
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", *packages, external=True, env=env)


def _bench_system_packages(session: nox.Session) -> None:
    missing = []
    has_nginx = any(shutil.which(name) for name in ("nginx", "/usr/sbin/nginx"))
    has_echo = any(pathlib.Path(d, ECHO_MODULE).exists() for d in ECHO_MODULE_DIRS)
    if not (has_nginx and has_echo):
        missing += BENCH_SERVER_PACKAGES
    if "--server-check" in session.posargs:
        missing += [pkg for tool, pkg in BENCH_TOOL_PACKAGES.items() if shutil.which(tool) is None]
    if missing:
        _bench_apt_install(session, missing)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against httpx, aiohttp, requests and urllib3 on a loopback nginx (not in CI).

    Arguments after `--` go to benchmarks/bench.py (`-- --help`, `-- --quick`). Set
    HERON_BENCH_EXTRAS (e.g. "speedups") to install heron with those extras.
    """
    _bench_system_packages(session)
    extras = os.environ.get("HERON_BENCH_EXTRAS", "").strip()
    session.install("-e", f".[{extras}]" if extras else ".")
    session.install("-r", "benchmarks/requirements.txt")
    command = " ".join(["nox -s bench", *(["--", *session.posargs] if session.posargs else [])])
    if extras:
        command = f"HERON_BENCH_EXTRAS={extras} {command}"
    session.run(
        "python", "benchmarks/bench.py", *session.posargs, env={"HERON_BENCH_COMMAND": command}
    )
