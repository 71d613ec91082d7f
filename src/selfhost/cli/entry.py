"""The guard around every run of the console script: whatever happens, one line, never a traceback.

Commands already turn the core's errors into one-line messages (`cli.common.guarded`). This
guard sits around the whole app, for what no command can catch:

- **the streams**: stdout closed before the run (``>&-``) or a full device (``> /dev/full``) is
  one line, exit code 1; the error surfaces while writing or at the final flush, which the
  guard makes explicitly, so Python never prints "Exception ignored" at exit. A broken pipe
  (the reader went away, ``| head``) ends with exit code 1 and no message, as Click does.
- **encodings**: with ``PYTHONIOENCODING=ascii`` or ``latin-1`` (or a C locale), the tables'
  symbols (``→``, ``≈``, ``≤``, ``…``) are written as ASCII stand-ins (``->``, ``~``, ``<=``,
  ``...``) instead of failing with UnicodeEncodeError; other characters become ``?``.
- **limits of the interpreter**: RecursionError, MemoryError, OverflowError and any other
  exception are one line naming what happened (exit code 1, or 2 for a `SelfhostError` that
  escaped a command); a bug is reported as one, with a request to report it.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

#: Error handler name for the standard streams when they cannot encode every character.
ERRORS_HANDLER = "selfhost-ascii"
IO_EXIT_CODE = 1

#: ASCII stand-ins for the symbols tables and notes use; anything else becomes '?'.
ASCII_STAND_INS = {
    "→": "->", "←": "<-", "↔": "<->", "≈": "~", "≤": "<=", "≥": ">=", "≠": "!=", "±": "+-",
    "×": "x", "÷": "/", "·": ".", "•": "*", "…": "...", "–": "-", "—": "-", "−": "-", "‑": "-",
    "‘": "'", "’": "'", "“": '"', "”": '"', "µ": "u", "°": "deg", "\u00a0": " ", "\u202f": " ",
    "€": "EUR", "£": "GBP", "²": "^2", "³": "^3", "½": "1/2", "✓": "ok", "✗": "x", "▁": "_",
    "█": "#", "▇": "#", "▆": "#", "▅": "#", "▄": "=", "▃": "=", "▂": "_", "│": "|", "─": "-",
    "━": "-", "┃": "|", "═": "=", "║": "|", "∞": "inf", "Δ": "delta ", "σ": "sigma",
}  # fmt: skip


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start : exc.end]
    return "".join(ASCII_STAND_INS.get(ch, "?") for ch in text), exc.end


class _ClosedStream:
    """Stands in for a standard stream that was closed before the run: writing fails as the
    closed descriptor would (EBADF), so the guard can say so; a run that writes nothing there
    is unaffected."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, f"standard {self.name} is closed")

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, f"standard {self.name} is closed")


def configure_streams() -> None:
    """Make the standard streams safe to write any text to (see the module docstring)."""
    try:
        codecs.lookup_error(ERRORS_HANDLER)
    except LookupError:
        codecs.register_error(ERRORS_HANDLER, _stand_in)
    if sys.stdout is None:
        sys.stdout = _ClosedStream("output")
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not encoding.startswith("utf"):
            reconfigure(errors=ERRORS_HANDLER)


def _say(message: str) -> None:
    """One 'Error: ...' line on stderr, if there is a stderr to write to."""
    from selfhost.cli.usage import printable

    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"Error: {printable(message)}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point a failed stdout at /dev/null, so the interpreter's last flush at exit is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    with contextlib.suppress(OSError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def _stream_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO, errno.EDQUOT) and not exc.filename:
        return f"cannot write to standard output: {reason}"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"input/output error: {reason}{where}"


def _code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def run_guarded(run: Callable[[], Any]) -> NoReturn:
    """Run ``run`` (the app, which exits by SystemExit) behind the guard; exit with its code.

    Every failure is one 'Error:' line on stderr: 2 for usage errors (`SelfhostError`), 1 for
    I/O failures and anything unexpected, 130 for Ctrl-C.
    """
    from selfhost.errors import SelfhostError

    configure_streams()
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = _code(exc)
    except SelfhostError as exc:
        _say(str(exc))
        code = exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        code = 130
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            _say(_stream_error(exc))
        _silence_stdout()
        code = IO_EXIT_CODE
    except RecursionError:
        _say("an input is nested too deeply to process (Python's recursion limit); simplify it")
        code = IO_EXIT_CODE
    except MemoryError:
        _say("out of memory; ask a smaller question (fewer models, rates or samples)")
        code = IO_EXIT_CODE
    except OverflowError as exc:
        _say(f"a number is too large to compute with ({exc}); use smaller values")
        code = IO_EXIT_CODE
    except Exception as exc:  # a bug: still one line, and a way to report it
        text = str(exc).splitlines()[0] if str(exc) else ""
        _say(
            f"unexpected {type(exc).__name__}{': ' + text if text else ''} (a bug in selfhost; please "
            "report it with the command you ran)"
        )
        code = IO_EXIT_CODE
    try:
        sys.stdout.flush()  # here, not at exit: a full disk must be an error, not a warning
    except (OSError, ValueError) as exc:
        if code == 0 and not isinstance(exc, OSError):  # one message per run: an error said wins
            _say("cannot write to standard output")
        elif code == 0 and isinstance(exc, OSError) and exc.errno != errno.EPIPE:
            _say(_stream_error(exc))
        _silence_stdout()
        code = IO_EXIT_CODE
    sys.exit(code)
