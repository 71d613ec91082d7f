"""Hostile command-line values that ask for unbounded work or echo into the terminal (numbers out of
range are tests/test_hostile_numbers.py's): each is refused in one line, early, or answered bounded.
"""

from __future__ import annotations

from hostile import assert_ok, assert_refused, run
from selfhost.sweep import MAX_MIXES


def mixes(n: int) -> list[str]:
    return [arg for i in range(n) for arg in ("--mix", f"{100 + i}:{10 + i}")]


def test_more_token_mixes_than_a_sweep_takes_is_refused_before_any_grid():
    assert_refused(run("sweep", "--rps-range", "1:100:10", *mixes(MAX_MIXES + 1), seconds=30), str(MAX_MIXES))


def test_a_sweep_far_over_max_rows_is_refused_after_the_first_grids():
    """Every model at 100 token mixes is ~40 M rows: refused once the first mixes pass --max-rows
    (it used to build all 100 grids, minutes and gigabytes, before counting)."""
    message = assert_refused(
        run("sweep", "--rps-range", "1:100:10", *mixes(MAX_MIXES), seconds=60), "--max-rows"
    )
    assert "at least" in message and f"of {MAX_MIXES} token mixes" in message


def test_many_mixes_of_one_model_within_max_rows_stream():
    ran = run(
        "sweep", "-m", "llama-3.1-8b", "-g", "l4", "--rps", "5", *mixes(MAX_MIXES), "-f", "csv", seconds=60
    )
    assert_ok(ran)
    assert ran.stdout.count("\n") > MAX_MIXES


def test_control_characters_typed_are_shown_as_escapes():
    ran = run("crossover", "--rps", "5", "-m", "\x1b]0;pwned\x07\x1b[31mx")
    message = assert_refused(ran)
    assert "\x1b" not in ran.stderr and "\\x1b]0;pwned\\x07" in message


def test_an_unknown_option_with_control_characters_is_shown_as_escapes():
    ran = run("crossover", "--\x1b[31m", "5")
    assert ran.code == 2 and "\x1b" not in ran.stderr and "\\x1b[31m" in ran.stderr
