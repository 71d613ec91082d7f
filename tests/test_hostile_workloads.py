"""Hostile workloads files (`plan FILE`) and saved plans (`deploy --from-plan FILE`): one line naming
the file, bounded, nothing executed; workload text lands escaped in the Markdown plan.

The numbers of a workload (booleans, infinities, out-of-range rates) are the subject of
tests/test_hostile_numbers.py; here: the files and the text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hostile import (
    HOSTILE_JSON,
    HOSTILE_YAML,
    assert_ok,
    assert_refused,
    hostile_yaml,
    run,
    sparse_file,
    write,
)
from selfhost.engine.assignment import MAX_WORKLOADS
from selfhost.inputs import MAX_DOCUMENT_BYTES

ONE = "  - name: {name}\n    requests_per_s: 2\n    input_tokens: 500\n    output_tokens: 100\n    model: llama-3.1-8b\n"
CHEAP = ("-g", "l4")


def workloads(*names: str) -> str:
    return "workloads:\n" + "".join(ONE.format(name=json.dumps(n)) for n in names)


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
def test_a_hostile_workloads_file_is_one_line_naming_it(tmp_path: Path, name: str):
    marker = tmp_path / "executed"
    path = write(tmp_path / "workloads.yaml", hostile_yaml(name, marker))
    assert_refused(run("plan", path, *CHEAP), str(path))
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge", "directory", "missing"])
def test_a_workloads_path_that_is_no_file(tmp_path: Path, kind: str):
    path = tmp_path / "workloads.yaml"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        sparse_file(path, MAX_DOCUMENT_BYTES + 1)
    elif kind == "directory":
        path.mkdir()
    assert_refused(run("plan", path, *CHEAP), str(path))


def test_more_workloads_than_the_exact_solver_takes_is_named(tmp_path: Path):
    path = write(tmp_path / "many.yaml", workloads(*(f"w{i}" for i in range(MAX_WORKLOADS + 1))))
    assert_refused(run("plan", path, *CHEAP), str(MAX_WORKLOADS))


def test_thousands_of_workloads_are_refused_bounded(tmp_path: Path):
    path = write(tmp_path / "many.yaml", workloads(*(f"w{i}" for i in range(5000))))
    assert_refused(run("plan", path, *CHEAP, seconds=60), str(MAX_WORKLOADS))


@pytest.mark.parametrize(
    "content",
    [
        "workloads: 5\n",
        "workloads: {a: 1}\n",
        "workloads: []\n",
        "- a\n",
        "other: []\n",
        "workloads:\n  - 5\n",
    ],
    ids=["number", "mapping", "empty", "top-level-list", "other-key", "entry-not-a-mapping"],
)
def test_a_workloads_file_of_the_wrong_shape(tmp_path: Path, content: str):
    path = write(tmp_path / "w.yaml", content)
    assert_refused(run("plan", path, *CHEAP), str(path))


def test_workload_text_is_escaped_in_the_markdown_plan(tmp_path: Path):
    evil = "<script>alert(1)</script> | [x](javascript:alert(1))"
    path = write(tmp_path / "w.yaml", workloads(evil))
    ran = run("plan", path, *CHEAP, "--format", "markdown")
    assert_ok(ran)
    assert "<script>" not in ran.stdout and "&lt;script&gt;" in ran.stdout
    row = next(line for line in ran.stdout.splitlines() if "alert" in line)
    assert row.count(" | ") == row.count("|") - row.count("\\|") - 2  # the '|' of the name is escaped


# --------------------------------------------------------------------------- deploy --from-plan


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_a_hostile_saved_plan_is_one_line(tmp_path: Path, name: str):
    path = write(tmp_path / "plan.json", HOSTILE_JSON[name])
    assert_refused(run("deploy", "--from-plan", path, "--self-signed", "-o", tmp_path / "kit"), str(path))
    assert not (tmp_path / "kit").exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "not-a-plan"])
def test_a_saved_plan_that_is_no_plan(tmp_path: Path, kind: str):
    path = tmp_path / "plan.json"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        write(path, json.dumps({"results": 5}))
    assert_refused(run("deploy", "--from-plan", path, "--self-signed", "-o", tmp_path / "kit"), str(path))
