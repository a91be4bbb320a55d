"""README's first command runs scripts/tour.py: it must keep working."""

from __future__ import annotations

import pathlib
import runpy

import pytest

TOUR = pathlib.Path(__file__).parent.parent / "scripts" / "tour.py"


def test_tour_runs_to_completion(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(TOUR))
    assert namespace["main"]() == 0
    out = capsys.readouterr().out
    assert "The tour is complete." in out
    assert "skipped" not in out  # Flask and FastAPI are test dependencies
    assert "Hello World" in out
    assert "Tomato" in out
    assert "150 pokemon" in out
    assert "5 requests on one Client" in out
    assert "ConnectError" in out
