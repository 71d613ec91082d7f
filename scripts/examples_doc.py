#!/usr/bin/env python3
"""Refresh the output blocks of examples/README.md from the real `selfhost` output.

    python scripts/examples_doc.py           # rewrite every output block
    python scripts/examples_doc.py --check   # exit 1 if any block is out of date

A block is a ```bash fence holding one `selfhost ...` command (optionally piped to
`tail -n N` or `head -n N`), followed directly by a ```text fence: the text fence is replaced
by the command's stdout, run in-process at a 200-column terminal on the built-in catalog.
Notes on stderr (the roofline reminder, stale prices) are not quoted: they depend on the date.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "examples" / "README.md"
COLUMNS = "200"

BLOCK = re.compile(r"(```bash\n)(?P<command>[^\n]*)\n```\n\n```text\n(?P<output>.*?)```", re.S)
PIPE = re.compile(r"^(?P<command>.*?)(?:\s*\|\s*(?P<cut>tail|head) -n (?P<lines>\d+))?$")


def run(command: str) -> str:
    """The stdout of one documented command line, as a user at a 200-column terminal sees it."""
    from typer.testing import CliRunner

    from selfhost.cli.app import app

    match = PIPE.match(command.strip())
    assert match is not None
    args = shlex.split(match["command"])
    if args[0] != "selfhost":
        raise SystemExit(f"examples/README.md: a documented command must start with 'selfhost': {command}")
    env = {"COLUMNS": COLUMNS, "LINES": "50", "TERM": "dumb", "NO_COLOR": "1", "SELFHOST_CATALOG": ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, args[1:])
    finally:
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
    return "\n".join(lines) + "\n"


def refreshed(text: str) -> str:
    """``text`` with every output block replaced by its command's current output."""

    def replace(m: re.Match[str]) -> str:
        return f"{m[1]}{m['command']}\n```\n\n```text\n{run(m['command'])}```"

    return BLOCK.sub(replace, text)


def commands(text: str) -> list[str]:
    """The documented commands, in order."""
    return [m["command"] for m in BLOCK.finditer(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    fresh = refreshed(current)
    if args.check:
        if fresh != current:
            print(f"{DOC} is out of date: run python scripts/examples_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    print(f"wrote {DOC} ({len(commands(fresh))} commands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
