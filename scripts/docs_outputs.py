#!/usr/bin/env python3
"""Refresh the command outputs quoted in README.md and examples/README.md from the real `selfhost`.

    python scripts/docs_outputs.py           # rewrite every generated output block
    python scripts/docs_outputs.py --check   # exit 1 if any block is out of date

Commands run in-process at a 100-column terminal on the built-in catalog (issue 10: the
outputs a reader sees in a terminal of ordinary width, narrow columns left out and named).

- examples/README.md: a ```bash fence holding one `selfhost ...` command (optionally piped to
  `tail -n N` or `head -n N`), followed directly by a ```text fence, which gets the stdout.
- README.md: a ```text fence directly after a comment ``<!-- output: CMD[; CMD...] -->`` gets
  each command's stdout followed by its notes (the ``note:`` lines on stderr), as a user sees
  them in a terminal.

--check ignores the notes that depend on today's date (prices older than N days), so it does not
fail as the calendar moves.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DOC = ROOT / "examples" / "README.md"
README = ROOT / "README.md"
COLUMNS = "100"  # the width README.md and examples/README.md quote

BLOCK = re.compile(r"(```bash\n)(?P<command>[^\n]*)\n```\n\n```text\n(?P<output>.*?)```", re.S)
MARKED = re.compile(r"(<!-- output: (?P<commands>[^\n]*?) -->\n```text\n)(?P<output>.*?)```", re.S)
PIPE = re.compile(r"^(?P<command>.*?)(?:\s*\|\s*(?P<cut>tail|head) -n (?P<lines>\d+))?$")
DATED_NOTE = re.compile(r"^note: \d+ prices? used (is|are) older than \d+ days: .*\n", re.M)


def run(command: str, *, notes: bool = False) -> str:
    """The output of one documented command line at a 100-column terminal: stdout, then with
    ``notes`` the ``note:`` lines it wrote to stderr."""
    from typer.testing import CliRunner

    from selfhost.cli.app import app_for

    match = PIPE.match(command.strip())
    assert match is not None
    args = shlex.split(match["command"])
    if args[0] != "selfhost":
        raise SystemExit(f"a documented command must start with 'selfhost': {command}")
    env = {"COLUMNS": COLUMNS, "LINES": "50", "TERM": "dumb", "NO_COLOR": "1", "SELFHOST_CATALOG": ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    os.chdir(ROOT)  # documented paths (examples/...) are relative to the repository
    try:
        result = CliRunner().invoke(app_for(args[1:]), args[1:])
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if result.exit_code != 0:
        raise SystemExit(f"`{command}` failed ({result.exit_code}):\n{result.output}")
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    if match["cut"] == "tail":
        lines = lines[-int(match["lines"]) :]
    elif match["cut"] == "head":
        lines = lines[: int(match["lines"])]
    if notes:
        lines += [line.rstrip() for line in result.stderr.splitlines() if line.startswith("note: ")]
    return "\n".join(lines) + "\n"


def refreshed_examples(text: str) -> str:
    """examples/README.md with every output block replaced by its command's current stdout."""

    def replace(m: re.Match[str]) -> str:
        return f"{m[1]}{m['command']}\n```\n\n```text\n{run(m['command'])}```"

    return BLOCK.sub(replace, text)


def refreshed_readme(text: str) -> str:
    """README.md with every marked output block replaced by its commands' current output."""

    def replace(m: re.Match[str]) -> str:
        output = "".join(run(command, notes=True) for command in m["commands"].split(" ; "))
        return f"{m[1]}{output}```"

    return MARKED.sub(replace, text)


def commands(text: str) -> list[str]:
    """The documented commands of examples/README.md, in order."""
    return [m["command"] for m in BLOCK.finditer(text)]


def readme_commands(text: str) -> list[str]:
    """The commands whose output README.md quotes, in order."""
    return [c for m in MARKED.finditer(text) for c in m["commands"].split(" ; ")]


def undated(text: str) -> str:
    """``text`` without the stale-price notes, which change as the calendar moves."""
    return DATED_NOTE.sub("", text)


DOCS = ((EXAMPLES_DOC, refreshed_examples), (README, refreshed_readme))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a document is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, refresh in DOCS:
        current = path.read_text(encoding="utf-8")
        fresh = refresh(current)
        if args.check:
            if undated(fresh) != undated(current):
                stale.append(path)
        else:
            path.write_text(fresh, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"{path.relative_to(ROOT)} is out of date: run python scripts/docs_outputs.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
