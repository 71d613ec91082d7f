"""Bounds for hostile-input tests: each case stops within a time and memory limit, whatever it does.

No test asserts a duration. A case that would hang or swallow memory (the bug it guards
against) fails instead of stalling the suite: in-process cases run under a SIGALRM deadline
(`deadline`); cases that could exhaust memory or must see the real entry point (exit codes,
stdout, the environment) run as a subprocess with address-space and CPU limits (`run_selfhost`).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

#: Address space of one `selfhost` subprocess: a normal run needs ~250 MB (NumPy, pydantic). [bytes]
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
#: CPU time of one subprocess; a normal run needs about 1 s. [s]
CPU_LIMIT_S = 60
#: Wall-clock bound of one subprocess or in-process case. [s]
WALL_LIMIT_S = 120


@contextlib.contextmanager
def deadline(seconds: int = WALL_LIMIT_S) -> Iterator[None]:
    """Fail the test if the block runs longer than ``seconds`` (a bound, not a measurement)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s: unbounded work")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S))


#: prctl(2) option and capability number (linux/prctl.h, linux/capability.h).
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1


def _limits_without_override() -> None:
    """`_limits`, and no CAP_DAC_OVERRIDE after exec: root then meets file permissions as any
    user does (a directory of mode 0500 refuses its writes), so permission tests run as root too."""
    import ctypes

    _limits()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE) failed")


def run_selfhost(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Any = subprocess.PIPE,
    stdin: Any = subprocess.DEVNULL,
    permission_checks: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python -m selfhost ARGS`` as a user runs it, under the memory and CPU limits.

    ``env`` adds to the test's environment (which conftest has isolated: private cache, no
    SELFHOST_CATALOG). ``permission_checks``: file permissions bind even when the tests run as
    root (the capability that overrides them is dropped; Linux only).
    """
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "selfhost", *args],
            env=full_env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=WALL_LIMIT_S,
            preexec_fn=_limits_without_override if permission_checks else _limits,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"selfhost {' '.join(args)[:200]} still ran after {WALL_LIMIT_S} s")
    out = done.stdout.decode("utf-8", "replace") if isinstance(done.stdout, bytes) else (done.stdout or "")
    err = done.stderr.decode("utf-8", "replace") if isinstance(done.stderr, bytes) else done.stderr
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def assert_one_error(stderr: str, *fragments: str) -> str:
    """One ``Error:`` message (its located problems may follow on indented lines), no traceback
    and no warning, naming every one of ``fragments``."""
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "Warning" not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr[-2000:]
    message = stderr[stderr.index("Error:") :]
    for fragment in fragments:
        assert fragment in message, message
    return message
