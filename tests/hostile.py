"""Helpers of the hostile-input tests: run the real entry point in-process, bounded, and read its result.

`run` calls ``selfhost.cli.app.main`` (the console script, with its top-level guard) with its
own stdout and stderr, under `bounds.deadline`, and records the warnings raised on the way:
a hostile case must end in a clean result or in one ``Error:`` line, never a traceback or a
NumPy warning. Cases that could exhaust memory, or that need real file descriptors (a closed
stdout, /dev/full), run as a subprocess with `bounds.run_selfhost` instead.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bounds import deadline

#: An in-process case must finish within this; far more than any of them needs (~1 s). [s]
CASE_DEADLINE_S = 60


@dataclass(frozen=True)
class Ran:
    """What a run of `selfhost` left: exit code, its two streams, and the warnings raised."""

    code: int
    stdout: str
    stderr: str
    warned: tuple[str, ...]

    def error(self) -> str:
        """The one 'Error:' message (with any indented lines after it)."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1, self.stderr[-3000:]
        return self.stderr[self.stderr.index("Error:") :]


def run(*args: str | Path, seconds: int = CASE_DEADLINE_S) -> Ran:
    """``selfhost ARGS`` in-process through the console script's entry point, bounded in time."""
    from selfhost.cli.app import main

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    saved = sys.argv, sys.stdout, sys.stderr
    sys.argv, sys.stdout, sys.stderr = ["selfhost", *map(str, args)], out, err
    code = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with deadline(seconds):
                main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv, sys.stdout, sys.stderr = saved
    texts = []
    for stream in (out, err):
        stream.flush()
        texts.append(stream.buffer.getvalue().decode("utf-8"))  # type: ignore[attr-defined]
    warned = tuple(f"{w.category.__name__}: {w.message}" for w in caught)
    return Ran(code, texts[0], texts[1], warned)


def assert_clean(ran: Ran) -> None:
    """No traceback, no warning on stderr or raised."""
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert "Warning" not in ran.stderr, ran.stderr[-3000:]
    assert not ran.warned, ran.warned


def assert_refused(ran: Ran, *fragments: str, code: int = 2) -> str:
    """Exit ``code``, one 'Error:' line naming every fragment, nothing on stdout, nothing else wrong."""
    assert_clean(ran)
    assert ran.code == code, (ran.code, ran.stderr[-3000:])
    message = ran.error()
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_ok(ran: Ran) -> None:
    """Exit 0 and clean."""
    assert_clean(ran)
    assert ran.code == 0, ran.stderr[-3000:]


def assert_handled(ran: Ran) -> None:
    """Either a clean result or a clean refusal: exit 0, or exit 2 with one 'Error:' line."""
    assert_clean(ran)
    assert ran.code in (0, 2), (ran.code, ran.stderr[-3000:])
    if ran.code:
        ran.error()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def deep_yaml(levels: int) -> str:
    """A flow list nested ``levels`` deep."""
    return "[" * levels + "]" * levels


def alias_bomb(levels: int = 9, fan: int = 10) -> str:
    """YAML 'billion laughs': each anchor a list of ``fan`` aliases of the one before."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that uses no disk (a hole): too large to read, cheap to make."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def args_of(*parts: str | Sequence[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        out.extend([part] if isinstance(part, str) else part)
    return out


#: YAML documents every YAML reader must refuse in one line naming the file, quickly and without
#: building anything large or running anything. ``{marker}`` is replaced by a path that must not
#: be created (a tag that would run a command).
HOSTILE_YAML: dict[str, str] = {
    "nested-flow-5000": "x: " + deep_yaml(5000) + "\n",
    "nested-flow-100": "x: " + deep_yaml(100) + "\n",
    "nested-block-100": "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n",
    "alias-bomb": alias_bomb(),
    "int-of-5000-digits": "x: " + "9" * 5000 + "\n",
    "duplicate-key": "x: 1\nx: 2\n",
    "python-object": "x: !!python/object/apply:os.system ['touch {marker}']\n",
    "python-name": "x: !!python/name:os.system\n",
    "unclosed-flow": "x: [1, 2\n",
    "two-documents": "x: 1\n---\ny: 2\n",
    "nul-byte": "x: a\x00b\n",
    "tab-indentation": "x:\n\t- 1\n",
}
#: JSON texts every JSON reader must refuse in one line.
HOSTILE_JSON: dict[str, str] = {
    "nested-100000": "[" * 100_000 + "]" * 100_000,
    "nested-100": "[" * 100 + "]" * 100,
    "int-of-5000-digits": '{"x": ' + "9" * 5000 + "}",
    "truncated": '{"x": [1, 2',
    "not-json": "this is not json",
}


def hostile_yaml(name: str, marker: Path) -> str:
    return HOSTILE_YAML[name].replace("{marker}", str(marker))
