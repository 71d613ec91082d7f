"""Hostile output paths: nothing the user wrote is lost, overwritten without --force, or written through a dangling link.

Every command that writes goes through `selfhost.files`; each case here runs the real command
(in-process through the console script's entry point, or as a bounded subprocess) against a
path a careless user, another run or a full disk would give it.
"""

from __future__ import annotations

import concurrent.futures
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bounds import assert_one_error, run_selfhost
from hostile import assert_ok, assert_refused, run, write
from selfhost import files
from selfhost.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
LLAMA_CONFIG = FIXTURES / "hf_configs" / "meta-llama__Llama-3.1-8B-Instruct.json"
BENCH = FIXTURES / "bench_results" / "vllm" / "nvidia-vllm-16.0qps-Llama-3.1-405B-FP8-20241109-150547.json"
USAGE = FIXTURES / "usage" / "openai_usage_completions_example.json"
MEASURED = ("-m", "llama-3.1-405b", "-q", "fp8", "-g", "h100-sxm-80gb", "-n", "8")

WORKLOADS = """\
workloads:
  - name: chat
    requests_per_s: 2
    input_tokens: 500
    output_tokens: 100
    model: llama-3.1-8b
"""


def import_config(into: Path | str, model_id: str = "mine") -> tuple[str, ...]:
    return (
        "catalog", "import-config", str(LLAMA_CONFIG), "--id", model_id, "--license", "llama3.1",
        "--quality-tier", "small", "--into", str(into),
    )  # fmt: skip


def measurements_import(into: Path | str, prefix: str = "") -> tuple[str, ...]:
    extra = ("--id-prefix", prefix) if prefix else ()
    return ("measurements", "import", str(BENCH), *MEASURED, *extra, "--into", str(into))


def writers(tmp_path: Path, target: Path) -> dict[str, tuple[str, ...]]:
    """Every command that writes one file, writing ``target``."""
    workloads = write(tmp_path / "workloads.yaml", WORKLOADS)
    return {
        "report": ("report", "--rps", "2", "-m", "llama-3.1-8b", "-g", "l4", "--uncertainty", "0", "-o", str(target)),
        "plan-router": ("plan", str(workloads), "-g", "l4", "--router", "litellm", "-o", str(target)),
        "workload": ("workload", str(USAGE), "-o", str(target)),
        "import-config": import_config(target),
        "measurements-import": measurements_import(target),
    }  # fmt: skip


WRITERS = ("report", "plan-router", "workload", "import-config", "measurements-import")
SUFFIX = {"report": ".md"}


def target_for(tmp_path: Path, command: str, name: str = "out") -> Path:
    return tmp_path / f"{name}{SUFFIX.get(command, '.yaml')}"


def entries_of(path: Path, section: str) -> list[str]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [entry["id"] for entry in document[section]]


# --------------------------------------------------------------------------- clobbering


@pytest.mark.parametrize("command", ["report", "plan-router", "workload"])
def test_an_existing_file_is_never_replaced_without_force(tmp_path: Path, command: str):
    target = target_for(tmp_path, command)
    target.write_text("my own notes\n", encoding="utf-8")
    assert_refused(run(*writers(tmp_path, target)[command]), str(target), "--force")
    assert target.read_text(encoding="utf-8") == "my own notes\n"
    assert_ok(run(*writers(tmp_path, target)[command], "--force"))
    assert target.read_text(encoding="utf-8") != "my own notes\n"


def test_deploy_never_replaces_a_kit_without_force(tmp_path: Path):
    kit = tmp_path / "kit"
    args = ("deploy", "-m", "llama-3.1-8b", "-g", "l4", "--self-signed", "-o", str(kit))
    assert_ok(run(*args))
    readme = kit / "README.md"
    readme.write_text("edited by hand\n", encoding="utf-8")
    assert_refused(run(*args), "--force")
    assert readme.read_text(encoding="utf-8") == "edited by hand\n"


def test_a_file_created_after_the_check_is_still_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The no-clobber publish is a hard link: a file that appears between the check and the
    rename (another run, the user) survives, and the writer says it exists."""
    target = tmp_path / "out.md"
    real_publish = files._publish

    def racing(tmp: Path, where: Path, *, replace: bool, shown: Path) -> None:
        where.write_text("written meanwhile\n", encoding="utf-8")
        real_publish(tmp, where, replace=replace, shown=shown)

    monkeypatch.setattr(files, "_publish", racing)
    with pytest.raises(InputError, match="exists; pass --force"):
        files.write_file(target, "new", what="-o")
    assert target.read_text(encoding="utf-8") == "written meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]  # no temporary left behind


def test_a_replaced_file_keeps_its_permissions_and_no_temporary_is_left(tmp_path: Path):
    target = write(tmp_path / "out.md", "old\n")
    target.chmod(0o640)
    files.write_file(target, "new\n", force=True)
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize("command", ["import-config", "measurements-import"])
def test_into_a_link_adds_to_the_file_it_points_at_and_keeps_the_link(tmp_path: Path, command: str):
    real = tmp_path / "real" / "mine.yaml"
    real.parent.mkdir()
    link = tmp_path / "link.yaml"
    assert_ok(run(*writers(tmp_path, real)[command]))
    link.symlink_to(real)
    again = (
        import_config(link, "mine-too") if command == "import-config" else measurements_import(link, "again-")
    )
    assert_ok(run(*again))
    assert link.is_symlink() and link.resolve() == real.resolve()
    section = "models" if command == "import-config" else "measurements"
    ids = entries_of(real, section)
    assert ("mine-too" in ids) if command == "import-config" else any(i.startswith("again-") for i in ids)
    assert sorted(p.name for p in real.parent.iterdir()) == ["mine.yaml"]


@pytest.mark.parametrize("command", WRITERS)
def test_a_dangling_link_is_refused_and_nothing_is_created(tmp_path: Path, command: str):
    target = tmp_path / "elsewhere" / "planted.txt"
    target.parent.mkdir()
    link = target_for(tmp_path, command, "link")
    link.symlink_to(target)
    assert_refused(run(*writers(tmp_path, link)[command]), str(link), "does not exist")
    assert not target.exists() and link.is_symlink()


def test_a_link_to_an_existing_file_is_followed_and_the_link_kept(tmp_path: Path):
    real = write(tmp_path / "real.md", "old\n")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    files.write_file(link, "new\n", force=True)
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new\n"


def test_a_loop_of_links_is_refused(tmp_path: Path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.symlink_to(b)
    b.symlink_to(a)
    assert_refused(run(*writers(tmp_path, a)["report"]), str(a))


# --------------------------------------------------------------------------- not a regular file, missing or unwritable


@pytest.mark.parametrize("command", WRITERS)
def test_a_directory_or_a_fifo_is_refused(tmp_path: Path, command: str):
    directory = tmp_path / f"dir{SUFFIX.get(command, '.yaml')}"
    directory.mkdir()
    assert_refused(run(*writers(tmp_path, directory)[command]), str(directory))
    fifo = target_for(tmp_path, command, "fifo")
    os.mkfifo(fifo)
    assert_refused(run(*writers(tmp_path, fifo)[command]), str(fifo))
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file


@pytest.mark.parametrize("command", WRITERS)
def test_a_missing_directory_is_a_usage_error(tmp_path: Path, command: str):
    target = tmp_path / "no" / "such" / f"dir{SUFFIX.get(command, '.yaml')}"
    assert_refused(run(*writers(tmp_path, target)[command]), "does not exist")


@pytest.mark.parametrize("command", WRITERS)
def test_a_path_under_proc_is_an_io_error(tmp_path: Path, command: str):
    target = Path("/proc/self") / f"selfhost-out{SUFFIX.get(command, '.yaml')}"
    # a Markdown report with matplotlib writes its chart beside it first (selfhost-out-cost-vs-rps.svg),
    # so the line names that file: the path's stem is named either way
    assert_refused(run(*writers(tmp_path, target)[command]), str(target.with_suffix("")), code=1)


def test_deploy_under_proc_or_onto_a_file_is_one_line(tmp_path: Path):
    args = ("deploy", "-m", "llama-3.1-8b", "-g", "l4", "--self-signed", "-o")
    assert_refused(run(*args, "/proc/self/kit"), "/proc/self/kit", code=1)
    plain = write(tmp_path / "kit", "a file\n")
    assert_refused(run(*args, str(plain)), str(plain))
    assert plain.read_text(encoding="utf-8") == "a file\n"


def test_an_unwritable_directory_is_an_io_error(tmp_path: Path):
    """A directory of mode 0500 refuses the write: exit 1, one line naming the cause. Run as a
    separate process that file permissions bind even as root (CAP_DAC_OVERRIDE dropped)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for args in (writers(tmp_path, locked / "out.md")["report"], import_config(locked / "mine.yaml")):
            done = run_selfhost(args, permission_checks=True)
            assert done.returncode == 1, done.stderr
            assert done.stdout == ""
            assert_one_error(done.stderr, "Permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_a_full_disk_leaves_the_old_file_whole(tmp_path: Path):
    """With writes capped (RLIMIT_FSIZE, as on a full disk), the replacement fails: exit 1, one
    line, and the file as it was (the new text went to a temporary file, removed)."""
    target = write(tmp_path / "mine.yaml", "# my overlay\n" + "# padding\n" * 10 + "models:\n")
    before = target.read_bytes()
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 200}, {len(before) + 200}))\n"
        "from selfhost.cli.app import main\n"
        f"sys.argv = ['selfhost', *{list(import_config(target))!r}]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("Error:") == 1, done.stderr
    assert str(target) in done.stderr
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


# --------------------------------------------------------------------------- sections that are not lists


@pytest.mark.parametrize(
    "content",
    ["models: 5\n", "models: {a: 1}\n", "models: text\n", "gpus: 5\n", "- a\n- b\n", "models: [\n"],
    ids=["number", "mapping", "string", "other-section", "top-level-list", "broken-yaml"],
)
def test_import_config_into_a_file_whose_models_is_not_a_list(tmp_path: Path, content: str):
    target = write(tmp_path / "mine.yaml", content)
    assert_refused(run(*import_config(target)), str(target))
    assert target.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    "content",
    ["measurements: 5\n", "measurements: {a: 1}\n", "models: []\n", "measurements: [\n", "[1, 2]\n"],
    ids=["number", "mapping", "other-key", "broken-yaml", "top-level-list"],
)
def test_measurements_into_a_file_that_is_not_a_measurements_list(tmp_path: Path, content: str):
    target = write(tmp_path / "mine.yaml", content)
    assert_refused(run(*measurements_import(target)), str(target))
    assert target.read_text(encoding="utf-8") == content


def test_into_a_hostile_existing_file_is_refused_bounded(tmp_path: Path):
    deep = write(tmp_path / "deep.yaml", "models: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_refused(run(*import_config(deep)), str(deep), "nest")
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    assert_refused(run(*import_config(zero)), "not a regular file")


# --------------------------------------------------------------------------- concurrency


def test_two_updates_at_once_both_land(tmp_path: Path):
    """A second writer that starts while the first holds the lock waits for it, then reads the
    file the first wrote: both entries land, one after the other."""
    target = tmp_path / "shared.yaml"
    started, second_done = threading.Event(), threading.Event()

    def add(line: str) -> Callable[[str | None, Path], str]:
        def change(text: str | None, _: Path) -> str:
            return (text or "") + line

        return change

    def second() -> None:
        started.set()
        files.update_file(target, add("b\n"), what="--into", read=lambda p: p.read_text(encoding="utf-8"))
        second_done.set()

    def first_change(text: str | None, where: Path) -> str:
        thread = threading.Thread(target=second)
        thread.start()
        started.wait()
        second_done.wait(0.5)  # without a lock the second writer would finish here, on the old text
        first.append(thread)
        return (text or "") + "a\n"

    first: list[threading.Thread] = []
    files.update_file(target, first_change, what="--into", read=lambda p: p.read_text(encoding="utf-8"))
    first[0].join(60)
    assert target.read_text(encoding="utf-8") == "a\nb\n"


def test_concurrent_import_config_runs_lose_no_entry(tmp_path: Path):
    target = tmp_path / "shared.yaml"
    ids = [f"mine-{i}" for i in range(3)]
    with concurrent.futures.ThreadPoolExecutor(len(ids)) as pool:
        done = list(pool.map(lambda i: run_selfhost(import_config(target, i)), ids))
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    assert sorted(entries_of(target, "models")) == ids


def test_concurrent_measurement_imports_lose_no_entry(tmp_path: Path):
    target = tmp_path / "shared.yaml"
    prefixes = ["a-", "b-"]
    with concurrent.futures.ThreadPoolExecutor(len(prefixes)) as pool:
        done = list(pool.map(lambda p: run_selfhost(measurements_import(target, p)), prefixes))
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    ids = entries_of(target, "measurements")
    assert {i[:2] for i in ids} == set(prefixes) and len(ids) == len(set(ids))


@pytest.mark.parametrize("shape", ["name-too-long", "under-a-file"])
@pytest.mark.parametrize("command", [*WRITERS, "deploy"])
def test_a_path_that_cannot_be_one_is_a_usage_error(tmp_path: Path, command: str, shape: str):
    plain = write(tmp_path / "a-file", "x\n")
    target = tmp_path / ("a" * 300 + ".yaml") if shape == "name-too-long" else plain / "out.yaml"
    if command == "deploy":
        args: tuple[str, ...] = (
            "deploy",
            "-m",
            "llama-3.1-8b",
            "-g",
            "l4",
            "--self-signed",
            "-o",
            str(target),
        )
    else:
        args = writers(tmp_path, target)[command]
    assert_refused(run(*args), str(target)[:40])
    assert plain.read_text(encoding="utf-8") == "x\n"
