"""Read the user's files with bounds: regular files only, at most `MAX_INPUT_BYTES`, text as UTF-8.

Benchmark results and usage logs can be large or be something other than a file (a FIFO, a
device). Every reader checks the path first, then either reads the whole text (JSON, YAML and
CSV documents) or streams lines (JSON lines), so a huge log never sits in memory twice.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from selfhost.errors import InputError

#: Largest input file read. [bytes]
MAX_INPUT_BYTES = 200 * 1024 * 1024
BYTES_PER_MB = 1024 * 1024


def check_input_file(path: str | Path, what: str, *, max_bytes: int | None = None) -> Path:
    """``path`` if it is a regular file of at most ``max_bytes``; ``what`` names it in errors.

    Raises:
        InputError: missing, not a regular file (directory, FIFO, device) or too large.
    """
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = Path(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        raise InputError(f"{what} '{p}' does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{what} '{p}' is a directory; give the path of one file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{what} '{p}' is not a regular file (a pipe, socket or device); copy it to a file first"
        )
    if info.st_size > max_bytes:
        raise InputError(
            f"{what} '{p}' is {info.st_size / BYTES_PER_MB:,.0f} MB; the limit is "
            f"{max_bytes / BYTES_PER_MB:,.0f} MB (split it or filter it first)"
        )
    return p


def read_text(path: str | Path, what: str, *, max_bytes: int | None = None) -> str:
    """The whole file as text (UTF-8, a leading BOM dropped), after `check_input_file`."""
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = check_input_file(path, what, max_bytes=max_bytes)
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{what} '{p}' is larger than the {max_bytes / BYTES_PER_MB:,.0f} MB limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} '{p}' is not UTF-8 text (byte {exc.start}); is it compressed?") from None


def iter_lines(path: str | Path, what: str, *, max_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) of the file, streamed; blank lines skipped. After `check_input_file`."""
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = check_input_file(path, what, max_bytes=max_bytes)
    read = 0
    try:
        with p.open("r", encoding="utf-8-sig", errors="strict", newline=None) as f:
            for number, line in enumerate(f, start=1):
                read += len(line)
                if read > max_bytes:
                    raise InputError(
                        f"{what} '{p}' is larger than the {max_bytes / BYTES_PER_MB:,.0f} MB limit"
                    )
                if line.strip():
                    yield number, line
    except UnicodeDecodeError:
        raise InputError(f"{what} '{p}' is not UTF-8 text; is it compressed?") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None


def first_text(path: str | Path, what: str, n_bytes: int = 4096) -> str:
    """The first ``n_bytes`` of the file as text (for format detection), after `check_input_file`."""
    p = check_input_file(path, what)
    with p.open("rb") as f:
        head = f.read(n_bytes)
    return head.decode("utf-8-sig", errors="replace")
