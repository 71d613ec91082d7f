"""A hostile environment: $SELFHOST_CATALOG and $SELFHOST_CACHE_DIR pointing at devices, FIFOs or
nothing, stdout closed, full or a broken pipe, streams that cannot encode the tables' symbols.

Each ends in a clean result or one ``Error:`` line (exit code 2 for what the user asked, 1 for
an I/O failure), never a traceback, a hang or Python's "Exception ignored" at exit. Stream cases
run as bounded subprocesses (they need real file descriptors).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bounds import run_selfhost
from hostile import assert_ok, assert_refused, run, sparse_file, write
from selfhost.inputs import MAX_DOCUMENT_BYTES

CHEAP = ("crossover", "--rps", "5", "-m", "llama-3.1-8b", "-g", "h100-sxm-80gb")
REPORT = ("report", "--rps", "2", "-m", "llama-3.1-8b", "-g", "l4", "--uncertainty", "0")


# --------------------------------------------------------------------------- $SELFHOST_CATALOG


@pytest.mark.parametrize(
    "make",
    [
        "dev-zero",
        "dev-urandom",
        "fifo",
        "link-to-dev-zero",
        "missing",
        "huge",
        "not-utf8",
        "directory-of-nothing",
    ],
)
def test_selfhost_catalog_pointing_at_anything_but_catalog_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: str
):
    if make == "dev-zero":
        value = "/dev/zero"
    elif make == "dev-urandom":
        value = "/dev/urandom"
    elif make == "fifo":
        value = str(tmp_path / "catalog.yaml")
        os.mkfifo(value)
    elif make == "link-to-dev-zero":
        value = str(tmp_path / "catalog.yaml")
        os.symlink("/dev/zero", value)
    elif make == "missing":
        value = str(tmp_path / "gone.yaml")
    elif make == "huge":
        value = str(sparse_file(tmp_path / "huge.yaml", MAX_DOCUMENT_BYTES + 1))
    elif make == "not-utf8":
        value = str(tmp_path / "latin1.yaml")
        Path(value).write_bytes("gpus: []\n# caf\xe9\n".encode("latin-1"))
    else:
        (tmp_path / "empty").mkdir()
        value = str(tmp_path / "empty")
    monkeypatch.setenv("SELFHOST_CATALOG", value)
    message = assert_refused(run(*CHEAP), value)
    if make == "huge":
        assert "16 MB" in message  # the limit is named


def test_selfhost_catalog_with_empty_parts_and_a_directory_holding_a_fifo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    directory = tmp_path / "overlays"
    directory.mkdir()
    os.mkfifo(directory / "stuck.yaml")  # not a regular file: not one of the directory's catalog files
    write(directory / "ok.yaml", "gpus: []\n")
    monkeypatch.setenv("SELFHOST_CATALOG", f"{os.pathsep}{directory}{os.pathsep}{os.pathsep}")
    assert_ok(run(*CHEAP))


def test_the_cache_directory_set_to_a_file_a_device_or_proc_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    expected = run(*CHEAP, "--format", "json")
    assert_ok(expected)
    plain = write(tmp_path / "a-file", "x")
    for value in (str(plain), str(plain / "below"), "/dev/null", "/proc/self/selfhost-cache", "off"):
        monkeypatch.setenv("SELFHOST_CACHE_DIR", value)
        again = run(*CHEAP, "--format", "json")
        assert_ok(again)
        assert again.stdout == expected.stdout, value


def test_home_and_xdg_cache_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SELFHOST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "missing" / "cache"))
    monkeypatch.setenv("HOME", "/nonexistent")
    assert_ok(run(*CHEAP))
    monkeypatch.setenv("XDG_CACHE_HOME", "/dev/null")
    assert_ok(run(*CHEAP))


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "100000000", ""])
def test_odd_terminal_widths(monkeypatch: pytest.MonkeyPatch, columns: str):
    monkeypatch.setenv("COLUMNS", columns)
    assert_ok(run(*CHEAP))


# --------------------------------------------------------------------------- stdout


def _close_stdout() -> None:
    os.close(1)


def test_stdout_closed_is_one_line_and_exit_1():
    done = subprocess.run(
        [*_python_selfhost(), *CHEAP],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_close_stdout,
        timeout=120,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.startswith("Error:")] == [
        "Error: cannot write to standard output: standard output is closed"
    ]


def test_a_command_that_writes_only_files_runs_with_stdout_closed(tmp_path: Path):
    target = tmp_path / "review.md"
    done = subprocess.run(
        [*_python_selfhost(), *REPORT, "-o", str(target)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_close_stdout,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert target.read_text(encoding="utf-8").startswith("# ")


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_stdout_on_a_full_device_is_one_line_and_exit_1(fmt: str):
    with open("/dev/full", "w") as full:
        done = run_selfhost([*CHEAP, "--format", fmt], stdout=full)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: cannot write to standard output: No space left on device"
    ]


def test_a_broken_pipe_ends_quietly_with_exit_1():
    """The reader went away (``| head``): exit 1 without a word, as Click and git do."""
    read, write_end = os.pipe()
    os.close(read)  # nobody will read: every write fails with EPIPE
    try:
        done = run_selfhost(["sweep", "--rps-range", "1:100:50", "-m", "llama-3.1-8b"], stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert "Error:" not in done.stderr, done.stderr


def _python_selfhost() -> list[str]:
    import sys

    return [sys.executable, "-m", "selfhost"]


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize(
    "args",
    [
        CHEAP,
        ("cost", "--rps", "5", "-m", "llama-3.1-8b", "-g", "h100-sxm-80gb"),
        ("fit", "llama-3.3-70b", "-g", "h100-sxm-80gb"),
        ("catalog", "list", "models"),
        ("crossover", "--help"),
    ],
    ids=["crossover", "cost", "fit", "catalog-list", "help"],
)
def test_streams_that_cannot_encode_the_symbols(encoding: str, args: tuple[str, ...]):
    done = run_selfhost(list(args), env={"PYTHONIOENCODING": encoding})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert done.stdout.strip()


def test_ascii_stand_ins_keep_the_meaning():
    done = run_selfhost([*CHEAP, "--format", "csv"], env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    done.stdout.encode("ascii")  # every character is ASCII
    from selfhost.cli.entry import ASCII_STAND_INS

    assert ASCII_STAND_INS["→"] == "->" and ASCII_STAND_INS["≤"] == "<="
