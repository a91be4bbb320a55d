"""The ``heron`` command: send one request from the shell and print the response.

It needs the ``cli`` extra (``pip install 'heron[cli]'``); without it, ``heron`` prints that
install command instead of a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

INSTALL_HINT = (
    "The heron command-line client needs extra packages. Install them with:\n\n"
    "    pip install 'heron[cli]'\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``heron`` command; returns the process exit status."""
    try:
        import click
    except ImportError:
        sys.stderr.write(INSTALL_HINT)
        return 1
    command = _build_command()
    try:
        command.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="heron",
            standalone_mode=False,
        )
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:  # pragma: no cover - Ctrl-C at a prompt
        return 1
    return 0


def _parse_pairs(values: Sequence[str], separator: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition(separator)
        if not sep:
            raise ValueError(f"Invalid {what} {value!r}: write it as NAME{separator}VALUE.")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def _build_command() -> Any:
    import click

    import heron

    @click.command(name="heron")
    @click.argument("url")
    @click.option(
        "-m", "--method", default=None, help="HTTP method (default GET, or POST with a body)."
    )
    @click.option("-p", "--params", multiple=True, help="Query parameter NAME=VALUE.")
    @click.option("-H", "--headers", multiple=True, help="Request header 'Name: value'.")
    @click.option("-c", "--content", default=None, help="Raw request body.")
    @click.option("-j", "--json", "json_body", default=None, help="JSON request body.")
    @click.option("--auth", default=None, help="Basic auth as USER:PASSWORD.")
    @click.option("--follow-redirects", is_flag=True, help="Follow redirects.")
    @click.option("--timeout", type=float, default=5.0, show_default=True, help="Timeout (s).")
    @click.option("--http2", is_flag=True, help="Offer HTTP/2.")
    @click.option("--no-verify", is_flag=True, help="Skip TLS certificate verification.")
    @click.option("-v", "--verbose", is_flag=True, help="Show the request and response heads.")
    def command(
        url: str,
        method: str | None,
        params: tuple[str, ...],
        headers: tuple[str, ...],
        content: str | None,
        json_body: str | None,
        auth: str | None,
        follow_redirects: bool,
        timeout: float,
        http2: bool,
        no_verify: bool,
        verbose: bool,
    ) -> None:
        """Send one HTTP request to URL and print the response."""
        try:
            body = None if json_body is None else json.loads(json_body)
            request_params = _parse_pairs(params, "=", "query parameter")
            request_headers = _parse_pairs(headers, ":", "header")
            user, sep, password = (auth or "").partition(":")
            if auth is not None and not sep:
                raise ValueError("Invalid --auth: write it as USER:PASSWORD.")
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        chosen = method or ("POST" if content is not None or json_body is not None else "GET")
        try:
            with heron.Client(http2=http2, verify=not no_verify, timeout=timeout) as client:
                response = client.request(
                    chosen,
                    url,
                    params=tuple(request_params),
                    headers=request_headers,
                    content=content,
                    json=body,
                    auth=(user, password) if auth is not None else None,
                    follow_redirects=follow_redirects,
                )
        except heron.HTTPError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
        if verbose:
            request = response.request
            click.echo(f"> {request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1")
            for name, value in request.headers.items():
                click.echo(f"> {name}: {value}")
            click.echo(">")
        click.echo(f"{response.http_version} {response.status_code} {response.reason_phrase}")
        if verbose:
            for name, value in response.headers.multi_items():
                click.echo(f"{name}: {value}")
            click.echo("")
        click.echo(response.text)

    return command
