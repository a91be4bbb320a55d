"""Generate heron's sync twins from the async source, or check that they are current.

Code that awaits is written once, under ``_async/``; this script writes ``_sync/`` from it by
rewriting *tokens*, never raw text, so a rule can only ever touch a whole name:

    python scripts/unasync.py           # regenerate every _sync/ tree
    python scripts/unasync.py --check   # fail on any difference, missing or stale file,
                                        # or a rule that matched nothing

Each generated file is passed through ``ruff format`` so that the twin is formatted exactly as
``ruff format --check`` expects.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (async source, generated sync twin), relative to the repository root.
TREES = [
    ("src/heron/_async", "src/heron/_sync"),
    ("tests/_async", "tests/_sync"),
]

# Whole-name renames, applied to NAME tokens. Exceptions to the generic rules come first.
RENAMES = {
    "AsyncByteStream": "SyncByteStream",
    "AsyncIterator": "Iterator",
    "asynccontextmanager": "contextmanager",
    "StopAsyncIteration": "StopIteration",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "aclose": "close",
    "aread": "read",
    "handle_async_request": "handle_request",
    "async_auth_flow": "sync_auth_flow",
    "_async": "_sync",
    "asend": "send",
    "async_app_transport": "sync_app_transport",
}

# Generic renames, tried in order after RENAMES: (name pattern, replacement).
PATTERNS = [
    (re.compile(r"^Async([A-Z]\w*)$"), r"\1"),
    (re.compile(r"^aiter_(\w+)$"), r"iter_\1"),
]

BANNER = "# Generated from {source} by scripts/unasync.py: do not edit by hand.\n"


class Rewriter:
    """Rewrites async source into its sync twin and records which rules fired."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def rename(self, name: str) -> str:
        if name in RENAMES:
            self.used.add(name)
            return RENAMES[name]
        for pattern, replacement in PATTERNS:
            if pattern.match(name):
                self.used.add(pattern.pattern)
                return pattern.sub(replacement, name)
        return name

    def rewrite(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))

        def at(position: tuple[int, int]) -> int:
            return offsets[position[0] - 1] + position[1]

        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        # Edits are (start offset, stop offset, replacement), applied from the end backwards.
        edits: list[tuple[int, int, str]] = []
        for index, token in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.type == tokenize.STRING:
                new = self.rewrite_text(token.string)
                if new != token.string:
                    edits.append((at(token.start), at(token.end), new))
            elif token.type != tokenize.NAME:
                continue
            elif token.string in ("async", "await"):
                if token.string == "async" and not (
                    following and following.string in ("def", "with", "for")
                ):
                    continue
                # Drop the keyword and the whitespace up to the next token.
                self.used.add(token.string)
                stop = at(following.start) if following else at(token.end)
                edits.append((at(token.start), stop, ""))
            elif token.string == "anyio" and _is_anyio_marker(tokens, index):
                # `@pytest.mark.anyio` has no meaning for sync tests: drop the decorator line.
                self.used.add("@pytest.mark.anyio")
                row = token.start[0]
                edits.append((offsets[row - 1], offsets[row], ""))
            else:
                new = self.rename(token.string)
                if new != token.string:
                    edits.append((at(token.start), at(token.end), new))
        for start, stop, replacement in sorted(edits, reverse=True):
            source = source[:start] + replacement + source[stop:]
        return source

    def rewrite_text(self, text: str) -> str:
        """Rewrite the names inside a string (docstrings, messages, ``__all__`` entries)."""
        text = _KEYWORD_IN_TEXT.sub("", text)
        return _WORD.sub(lambda match: self.rename(match.group(0)), text)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Inside docstring examples: "await x" -> "x", "async with" -> "with".
_KEYWORD_IN_TEXT = re.compile(r"\bawait\s+|\basync\s+(?=(?:def|with|for)\b)")


def _is_anyio_marker(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    words = [t.string for t in tokens[max(0, index - 5) : index + 1]]
    return words == ["@", "pytest", ".", "mark", ".", "anyio"]


def _format(text: str, path: pathlib.Path) -> str:
    """Sort the imports (renames can unsort them) and format, as CI's ruff will check."""
    ruff = [sys.executable, "-m", "ruff"]
    for command in (
        [*ruff, "check", "--select", "I", "--fix", "--exit-zero", "--quiet"],
        [*ruff, "format", "--quiet"],
    ):
        result = subprocess.run(
            [*command, "--stdin-filename", str(path), "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"ruff failed on the twin of {path}:\n{result.stderr}")
        text = result.stdout
    return text


def generate(target_root: pathlib.Path, rewriter: Rewriter) -> dict[pathlib.Path, str]:
    """Return {path relative to the repo: generated text} for every twin file."""
    out: dict[pathlib.Path, str] = {}
    for source_dir, dest_dir in TREES:
        source_root = ROOT / source_dir
        if not source_root.is_dir():
            continue
        for source in sorted(source_root.rglob("*.py")):
            relative = source.relative_to(source_root)
            dest = pathlib.Path(dest_dir) / relative
            text = rewriter.rewrite(source.read_text())
            banner = BANNER.format(source=f"{source_dir}/{relative.as_posix()}")
            out[dest] = _format(banner + text, target_root / dest)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()

    rewriter = Rewriter()
    generated = generate(ROOT, rewriter)
    existing = {
        path.relative_to(ROOT)
        for _, dest_dir in TREES
        if (ROOT / dest_dir).is_dir()
        for path in (ROOT / dest_dir).rglob("*.py")
    }

    if not args.check:
        for _, dest_dir in TREES:
            if (ROOT / dest_dir).is_dir():
                shutil.rmtree(ROOT / dest_dir)
        for path, text in generated.items():
            (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / path).write_text(text)
        print(f"unasync: wrote {len(generated)} files")
        return 0

    problems: list[str] = []
    for path, text in sorted(generated.items()):
        if path not in existing:
            problems.append(f"missing: {path} (run scripts/unasync.py)")
        elif (ROOT / path).read_text() != text:
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
                handle.write(text)
            diff = subprocess.run(
                ["diff", "-u", str(ROOT / path), handle.name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            pathlib.Path(handle.name).unlink()
            problems.append(f"differs: {path}\n{diff}")
    problems += [
        f"stale: {path} has no async source" for path in sorted(existing - set(generated))
    ]
    if generated:
        rules = set(RENAMES) | {p.pattern for p, _ in PATTERNS}
        # Keyword rules need no source to "match"; only the rename rules must all be used.
        unused = sorted(rules - rewriter.used)
        problems += [f"rule matched nothing: {rule!r} (remove it)" for rule in unused]
    if problems:
        print("\n".join(problems))
        return 1
    print(f"unasync: {len(generated)} twin files are current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
