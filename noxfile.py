"""Development sessions: `nox -s ci` is what CI runs; the others are its parts."""

from __future__ import annotations

import pathlib

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
    session.run(
        "pytest",
        "--cov=heron",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        "--cov-fail-under=95",
        *session.posargs,
    )


def _docs(session: nox.Session) -> None:
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / ".site"))


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
