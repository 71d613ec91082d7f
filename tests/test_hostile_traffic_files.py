"""Hostile usage logs and traffic profiles (`workload FILE`): one line naming the file, bounded in
time and memory, nothing executed.

The numbers of a traffic profile (hourly rates of .inf, booleans) are the subject of
tests/test_hostile_numbers.py; here: the files.
"""

from __future__ import annotations

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
from selfhost.inputs import MAX_INPUT_BYTES

FIXTURES = Path(__file__).parent / "fixtures" / "usage"
PROFILE = Path(__file__).parents[1] / "examples" / "traffic" / "business-hours-chat.yaml"


def spend_row(i: int, **extra: object) -> str:
    import json

    row = {
        "request_id": f"r{i}",
        "startTime": f"2026-11-0{1 + i % 7}T{i % 24:02d}:00:00Z",
        "model": "gpt-4o-mini",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        **extra,
    }
    return json.dumps(row)


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_a_hostile_usage_json_is_one_line_naming_it(tmp_path: Path, name: str):
    path = write(tmp_path / "usage.json", HOSTILE_JSON[name])
    assert_refused(run("workload", path), str(path))


@pytest.mark.parametrize("hint", ["litellm-spend-logs", "jsonl-access-log"])
def test_one_hostile_line_in_a_json_lines_log_is_named_by_its_number(tmp_path: Path, hint: str):
    lines = [spend_row(i) for i in range(30)]
    lines[17] = '{"startTime": ' + "[" * 100_000
    path = write(tmp_path / "spend.jsonl", "\n".join(lines) + "\n")
    assert_refused(run("workload", path, "--format-hint", hint), str(path), "line 18")


def test_a_number_of_5000_digits_in_a_log_line(tmp_path: Path):
    lines = [spend_row(i) for i in range(30)]
    lines[3] = spend_row(3).replace('"prompt_tokens": 100', '"prompt_tokens": ' + "9" * 5000)
    path = write(tmp_path / "spend.jsonl", "\n".join(lines) + "\n")
    assert_refused(run("workload", path, "--format-hint", "litellm-spend-logs"), str(path))


@pytest.mark.parametrize(
    "when",
    [str(10**99), str(10**400), "1e300", "253402300800"],
    ids=["99-digits", "400-digits", "float", "past-year-9999"],
)
def test_a_start_time_no_calendar_holds_is_named_as_no_time(tmp_path: Path, when: str):
    """An epoch number past the year 9999 (in s, ms, us or ns) is no time: the row is named, where
    it used to cast to a garbage hour and fail in NumPy (found by the usage-log fuzzer)."""
    lines = [spend_row(i) for i in range(30)]
    row = spend_row(4)
    lines[4] = row.replace(row.split('"startTime": ', 1)[1].split(",", 1)[0], when)
    path = write(tmp_path / "spend.jsonl", "\n".join(lines) + "\n")
    assert_refused(
        run("workload", path, "--format-hint", "litellm-spend-logs"), str(path), "startTime", "is not a time"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("completion_tokens", str(10**400)), ("prompt_tokens", "1e400"), ("prompt_tokens", '"inf"'),
     ("completion_tokens", "-5"), ("prompt_tokens", str(10**11))],
    ids=["400-digits", "float-overflow", "inf-text", "negative", "past-the-limit"],
)  # fmt: skip
def test_a_count_no_request_can_have_names_the_row_and_the_range(tmp_path: Path, field: str, value: str):
    """One row's token count beyond a float, infinite, negative or past 1e10 would make every mean
    and percentile inf or NaN (NumPy warned on the way): the error names the row's time, the
    field and the range, and nothing warns."""
    lines = [spend_row(i) for i in range(30)]
    lines[5] = spend_row(5).replace(
        f'"{field}": {100 if field == "prompt_tokens" else 20}', f'"{field}": {value}'
    )
    assert lines[5] != spend_row(5)
    path = write(tmp_path / "spend.jsonl", "\n".join(lines) + "\n")
    words = "input tokens" if field == "prompt_tokens" else "output tokens"
    assert_refused(
        run("workload", path, "--format-hint", "litellm-spend-logs"),
        str(path), "2026-11-06T05:00:00+00:00", words, "0 to 10,000,000,000",
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
def test_a_hostile_traffic_profile_is_one_line_naming_it(tmp_path: Path, name: str):
    marker = tmp_path / "executed"
    path = write(tmp_path / "profile.yaml", hostile_yaml(name, marker))
    assert_refused(run("workload", path, "--format-hint", "traffic-profile"), str(path))
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["dev-zero", "dev-urandom", "fifo", "huge", "binary", "empty"])
def test_a_usage_path_that_is_no_log(tmp_path: Path, kind: str):
    path = tmp_path / "usage.json"
    if kind in ("dev-zero", "dev-urandom"):
        path.symlink_to(f"/dev/{kind.removeprefix('dev-')}")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        sparse_file(path, MAX_INPUT_BYTES + 1)
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    else:
        write(path, "")
    message = assert_refused(run("workload", path), str(path))
    if kind == "huge":
        assert "200 MB" in message


def test_the_example_profile_still_reads(tmp_path: Path):
    assert_ok(run("workload", PROFILE))
    assert_ok(run("workload", FIXTURES / "openai_usage_completions_example.json"))
