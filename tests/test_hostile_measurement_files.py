"""Hostile measurement files (`validate FILE`) and benchmark result files (`measurements import FILE`):
one line naming the file, bounded in time and memory, parsed by libyaml, nothing executed.

A measurement's numbers (``value: .inf``, booleans) are the subject of tests/test_hostile_numbers.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile import HOSTILE_JSON, HOSTILE_YAML, assert_refused, hostile_yaml, run, sparse_file, write
from selfhost.inputs import MAX_DOCUMENT_BYTES, MAX_INPUT_BYTES

BENCH = Path(__file__).parent / "fixtures" / "bench_results" / "vllm"
RESULT = BENCH / "nvidia-vllm-16.0qps-Llama-3.1-405B-FP8-20241109-150547.json"
MEASURED = ("-m", "llama-3.1-405b", "-q", "fp8", "-g", "h100-sxm-80gb", "-n", "8")


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
@pytest.mark.parametrize("strict", [False, True])
def test_a_hostile_measurements_file_is_one_line_naming_it(tmp_path: Path, name: str, strict: bool):
    marker = tmp_path / "executed"
    path = write(tmp_path / "mine.yaml", hostile_yaml(name, marker))
    assert_refused(run("validate", path, *(["--strict"] if strict else [])), str(path))
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge", "directory"])
def test_a_measurements_path_that_is_no_file(tmp_path: Path, kind: str):
    path = tmp_path / "mine.yaml"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        sparse_file(path, MAX_DOCUMENT_BYTES + 1)
    else:
        path.mkdir()
    assert_refused(run("validate", path), str(path))


ENTRY = """\
- id: run-{i}
  dataset: my benchmarks
  model: llama-3.1-8b
  gpu: h100-sxm-80gb
  quant: fp8
  engine: vllm
  n_gpus: 1
  input_tokens: {tokens}
  output_tokens: 128
  concurrency: {batch}
  scope: total
  value: {value}
  unit: tokens/s
  source: my own vllm bench serve runs, 2026-11
"""


def test_five_thousand_entries_are_read_bounded(tmp_path: Path):
    """5,000 entries are parsed by libyaml and predicted within the case's deadline, and the
    table shows a bounded number of rows (JSON keeps them all)."""
    text = "measurements:\n" + "".join(
        ENTRY.format(i=i, tokens=128 + i % 7, batch=1 + i % 64, value=1000 + i) for i in range(5000)
    )
    path = write(tmp_path / "many.yaml", text)
    ran = run("validate", path, seconds=120)
    assert ran.code == 0, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr and "showing 250 of 5000 points" in ran.stderr


@pytest.mark.parametrize("content", ["measurements: 5\n", "measurements: {a: 1}\n", "- 1\n", "other: []\n"])
def test_a_measurements_file_of_the_wrong_shape(tmp_path: Path, content: str):
    path = write(tmp_path / "mine.yaml", content)
    assert_refused(run("validate", path), str(path))


# --------------------------------------------------------------------------- benchmark result files


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_a_hostile_result_file_is_one_line_naming_it(tmp_path: Path, name: str):
    path = write(tmp_path / "result.json", HOSTILE_JSON[name])
    assert_refused(run("measurements", "import", path, *MEASURED), str(path))


@pytest.mark.parametrize("name", ["nested-flow-100", "alias-bomb", "python-object", "int-of-5000-digits"])
def test_a_hostile_yaml_result_file_is_one_line(tmp_path: Path, name: str):
    path = write(tmp_path / "report.yaml", hostile_yaml(name, tmp_path / "executed"))
    assert_refused(run("measurements", "import", path, *MEASURED), str(path))
    assert not (tmp_path / "executed").exists()


def test_a_result_file_of_json_lines_with_one_hostile_line(tmp_path: Path):
    good = RESULT.read_text(encoding="utf-8").strip()
    path = write(tmp_path / "appended.jsonl", good + "\n" + "[" * 100_000 + "\n")
    assert_refused(run("measurements", "import", path, *MEASURED), str(path), "line 2")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge"])
def test_a_result_path_that_is_no_file(tmp_path: Path, kind: str):
    path = tmp_path / "result.json"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        sparse_file(path, MAX_INPUT_BYTES + 1)
    message = assert_refused(run("measurements", "import", path, *MEASURED), str(path))
    if kind == "huge":
        assert "200 MB" in message
