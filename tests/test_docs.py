"""The documentation's examples run: every ```python block of a page, in order, in one process.

A page's examples build on each other (a server started in one block serves the next), so each
page runs as one script, after ``import heron``. Examples that can't run here (another host
on the internet, a certificate file of yours, Flask or FastAPI, top-level ``async with``) are
fenced as ```py instead: highlighted the same, and not run. A host name other than the loopback
ones fails the script: an example must not reach beyond this machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
RUNNABLE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# Run first: name resolution is the one way out for every transport.
PRELUDE = """\
import socket

_resolve = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    if host is not None and name not in ("localhost", "::1") and not name.startswith("127."):
        raise AssertionError(f"a docs example tried to reach {name}")
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only

import heron
"""
PAGES = sorted(page.name for page in DOCS.glob("*.md") if RUNNABLE.search(page.read_text()))


def test_most_pages_have_runnable_examples() -> None:
    assert len(PAGES) >= 15


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_a_page_run(page: str, tmp_path: Path) -> None:
    blocks = RUNNABLE.findall((DOCS / page).read_text(encoding="utf-8"))
    script = tmp_path / "examples.py"
    script.write_text("\n\n".join([PRELUDE, *blocks]), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{page}'s examples failed:\n{result.stderr[-3000:]}"
