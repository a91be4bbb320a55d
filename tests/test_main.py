"""The `heron` command-line client."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import heron
import heron._sync.client


def echo(request: heron.Request) -> heron.Response:
    if request.url.path == "/fail":
        raise heron.ConnectError("connection refused")
    return heron.Response(
        200,
        headers={"X-Echo": "1"},
        text=f"{request.method} {request.url} {request.content.decode()}",
    )


@pytest.fixture(autouse=True)
def mock_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def transport(**kwargs: Any) -> heron.MockTransport:
        return heron.MockTransport(echo)

    monkeypatch.setattr(heron._sync.client, "HTTPTransport", transport)


def test_get_prints_the_status_and_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert heron.main(["https://example.org/", "-p", "a=1", "-H", "X-A: b"]) == 0
    out = capsys.readouterr().out
    assert "HTTP/1.1 200 OK" in out
    assert "GET https://example.org/?a=1" in out


def test_a_body_makes_it_a_post(capsys: pytest.CaptureFixture[str]) -> None:
    assert heron.main(["https://example.org/", "-j", '{"a": 1}', "--auth", "u:p"]) == 0
    assert 'POST https://example.org/ {"a":1}' in capsys.readouterr().out


def test_verbose_shows_both_heads(capsys: pytest.CaptureFixture[str]) -> None:
    assert heron.main(["https://example.org/x", "-v", "-c", "hi", "-m", "PUT"]) == 0
    out = capsys.readouterr().out
    assert "> PUT /x HTTP/1.1" in out
    assert "x-echo: 1" in out.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://example.org/", "-H", "no-colon"], "NAME:VALUE"),
        (["https://example.org/", "-p", "novalue"], "NAME=VALUE"),
        (["https://example.org/", "--auth", "nopassword"], "USER:PASSWORD"),
    ],
)
def test_bad_arguments_say_how_to_fix_them(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert heron.main(args) == 2
    assert message in capsys.readouterr().err


def test_transport_errors_are_reported_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert heron.main(["https://example.org/fail"]) == 1
    assert "ConnectError: connection refused" in capsys.readouterr().err


def test_main_reads_sys_argv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["heron", "https://example.org/"])
    assert heron.main() == 0
    assert "200 OK" in capsys.readouterr().out


def test_missing_cli_extra_prints_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    assert heron.main(["https://example.org/"]) == 1
    assert "pip install 'heron[cli]'" in capsys.readouterr().err
