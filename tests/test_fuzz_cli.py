"""Hypothesis fuzzing of the command line's text options and arguments, through the console script.

Whatever is typed for an id (--model, --gpu, --quant, --engine, --api, --provider, --pricing,
--kv-dtype), a token mix (--mix), a rate grid (--rps-range) or a file argument, the run ends in a
result or in exactly one ``Error:`` line (exit code 2), with no traceback, no warning, and no
control character reaching the terminal. Numeric options are fuzzed in tests/test_hostile_numbers.py.

Each example runs one cheap question in-process (one model, one GPU) under the case deadline;
the number of examples is fixed, so the module is bounded in time and memory.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import assert_handled, run

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NARROW = ("-m", "llama-3.1-8b", "-g", "h100-sxm-80gb")

#: Text a user (or a script with a bug) may type: ids with typos, control characters, markup,
#: very long values, option-looking values, NUL-free (the OS cannot pass NUL in argv).
typed = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(
        [
            "llama-3.1-8b", "LLAMA 3.1 8B", "h100", "fp8", "all", "auto", "-", "--", "--help", "[red]x[/red]",
            ":emoji:", "\x1b[31mred", "\x1b]0;title\x07", "a" * 5000, "../../etc/passwd", "1e309", "nan",
        ]
    ),
)  # fmt: skip
mixes = st.one_of(
    typed,
    st.tuples(st.integers(-5, 10**12), st.integers(-5, 10**12)).map(lambda p: f"{p[0]}:{p[1]}"),
)
ranges = st.one_of(
    typed,
    st.tuples(
        st.sampled_from(["0", "0.1", "1", "-1", "1e9", "1e12", "inf", "nan", "x"]),
        st.sampled_from(["0.2", "100", "1e9", "1e300", "inf", "-5"]),
        st.sampled_from(["2", "10", "0", "-1", "100000", "100001", "10000000000", "2.5", "x"]),
    ).map(":".join),
)


def assert_printable(stderr: str) -> None:
    """No control character but line feed reaches the terminal from an error line."""
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in stderr), repr(stderr[:300])


@FUZZ
@given(
    st.sampled_from(
        ["--model", "--gpu", "--quant", "--engine", "--api", "--provider", "--pricing", "--kv-dtype"]
    ),
    typed,
)
def test_any_text_for_an_id_option(option: str, value: str) -> None:
    ran = run("crossover", "--rps", "5", *NARROW, option, value)
    assert_handled(ran)
    assert_printable(ran.stderr)


@FUZZ
@given(mixes, ranges)
def test_any_mix_and_rate_grid_for_sweep(mix: str, grid: str) -> None:
    ran = run(
        "sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm-80gb", "--mix", mix, "--rps-range", grid, "-f", "csv"
    )
    assert_handled(ran)
    assert_printable(ran.stderr)


COMMANDS = {
    "fit": lambda v: ["fit", v, "-g", "h100-sxm-80gb"],
    "crossover --catalog": lambda v: ["crossover", "--rps", "1", *NARROW, "--catalog", v],
    "crossover --baseline": lambda v: ["crossover", "--rps", "1", *NARROW, "--baseline", v],
    "plan": lambda v: ["plan", v],
    "catalog show": lambda v: ["catalog", "show", v],
    "workload": lambda v: ["workload", v],
    "validate": lambda v: ["validate", v],
    "import-config": lambda v: ["catalog", "import-config", v, "--id", "x"],
}


@FUZZ
@given(st.sampled_from(sorted(COMMANDS)), typed)
def test_any_text_for_a_command_argument(command: str, value: str) -> None:
    ran = run(*COMMANDS[command](value))
    assert_handled(ran)
    assert_printable(ran.stderr)
