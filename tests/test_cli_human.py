"""The human side of the CLI (issue 10): options as documented, hints that work, formats a
spreadsheet reads, one notation, errors on one line."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomllib
from rich.cells import cell_len
from typer.testing import Result

from selfhost.render import deployment_words, replica_words, tidy_float, tidy_float_reprs, tidy_floats

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]

Cli = Any


def doc(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- options as documented


def test_pricing_takes_a_comma_list_and_repeated_flags_alike(cli: Cli) -> None:
    base = ["cost", "--rps", "5", "-m", "llama-3.3-70b", "--format", "json"]
    comma = doc(cli(*base, "--pricing", "on-demand,committed"))
    repeated = doc(cli(*base, "--pricing", "on-demand", "--pricing", "committed"))
    assert comma["assumptions"]["pricing"] == repeated["assumptions"]["pricing"] == ["on-demand", "committed"]
    assert comma["results"] == repeated["results"]
    assert {r["pricing"] for r in comma["results"]} == {"on-demand", "committed"}


def test_a_model_list_may_be_comma_separated(cli: Cli) -> None:
    listed = doc(cli("crossover", "--rps", "5", "-m", "llama-3.3-70b,qwen2.5-7b", "--format", "json"))
    assert [v["model"] for v in listed["verdicts"]] == ["llama-3.3-70b", "qwen2.5-7b"]


def test_cost_json_says_how_many_rows_matched_and_the_limit(cli: Cli) -> None:
    every = doc(cli("cost", "--rps", "5", "-m", "qwen2.5-7b", "--format", "json"))
    assert every["limit"] == 0 and every["total_rows"] == len(every["results"]) > 20  # not silently 20
    cut = cli("cost", "--rps", "5", "-m", "qwen2.5-7b", "--limit", "5", "--format", "json")
    limited = doc(cut)
    assert limited["limit"] == 5 and len(limited["results"]) == 5
    assert limited["total_rows"] == every["total_rows"]
    assert f"showing 5 of {every['total_rows']} rows" in cut.stderr


def test_cost_csv_holds_every_row_unless_limited(cli: Cli) -> None:
    total = doc(cli("cost", "--rps", "5", "-m", "qwen2.5-7b", "--format", "json"))["total_rows"]
    rows = list(
        csv.DictReader(io.StringIO(cli("cost", "--rps", "5", "-m", "qwen2.5-7b", "--format", "csv").stdout))
    )
    assert len(rows) == total
    table = cli("cost", "--rps", "5", "-m", "qwen2.5-7b")
    assert f"showing 20 of {total} rows" in table.stderr  # a table shows 20 and says so


def test_estimate_shows_one_request_and_the_largest_load_within_the_targets(cli: Cli) -> None:
    result = cli("estimate", "-m", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4", "--format", "json")
    one, most = doc(result)["results"]
    assert (one["load"], one["concurrency"]) == ("one request", 1)
    assert most["load"] == "largest within targets"
    assert most["concurrency"] == most["concurrency_per_replica"] > 1
    assert most["tpot_s"] * 1000 <= 100.0 and most["ttft_s"] * 1000 <= 3000.0  # the default targets
    assert most["requests_per_s"] == pytest.approx(most["capacity_rps_per_replica"], rel=1e-4)


def test_estimate_names_the_gpu_an_alias_resolved_to(cli: Cli) -> None:
    result = cli("estimate", "-m", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4")
    assert "on h100-sxm-80gb (from 'h100')" in " ".join(result.stdout.split())


def test_estimate_where_nothing_fits_says_what_would(cli: Cli) -> None:
    result = cli("estimate", "-m", "deepseek-v3", "-g", "l4", "-q", "bf16", "--gpus", "1", "--format", "json")
    hints = doc(result)["summary"]["suggestions"]
    assert hints, "a suggestion"
    check = cli("fit", hints[0]["model"], "--gpu", hints[0]["gpu"], "--quant", hints[0]["quant"],
                "--gpus", str(hints[0]["gpus_per_replica"]), "--format", "json")  # fmt: skip
    assert any(r["fits"] for r in doc(check)["results"])  # the suggestion does fit


def test_fit_ends_with_the_smallest_and_the_cheapest_deployment_that_fits(cli: Cli) -> None:
    result = cli("fit", "llama-3.3-70b", "--gpu", "h100", "--gpu", "l40s", "--format", "json")
    d = doc(result)
    fitting = [r for r in d["results"] if r["fits"]]
    smallest, cheapest = d["summary"]["smallest"], d["summary"]["cheapest"]
    assert smallest["gpus_per_replica"] == min(r["gpus_per_replica"] for r in fitting)
    assert cheapest["usd_per_replica_hour"] > 0 and cheapest["provider"]
    table = " ".join(cli("fit", "llama-3.3-70b", "--gpu", "h100", "--gpu", "l40s").stdout.split())
    assert table.endswith(f"({cheapest['provider']}, {cheapest['pricing']}).")
    assert (
        f"Smallest that fits: {replica_words(smallest['gpus_per_replica'], smallest['gpu'], smallest['layout'])}"
        in table
    )


def test_fit_where_nothing_fits_names_a_deployment_that_does(cli: Cli) -> None:
    result = cli("fit", "deepseek-v3", "--gpu", "l4", "--format", "json")
    d = doc(result)
    assert not any(r["fits"] for r in d["results"])
    assert d["summary"]["smallest"] is None and d["summary"]["suggestions"]
    assert "Check with: selfhost fit deepseek-v3 --gpu" in d["verdict"]


# --------------------------------------------------------------------------- one verdict, one notation


def test_the_verdict_agrees_with_the_table(cli: Cli) -> None:
    d = doc(cli("crossover", "--rps", "5", "--format", "json"))
    for v in d["verdicts"]:
        allowed = [o for o in v["options"] if o["allowed"]]
        assert v["usd_per_month"] == min(o["usd_per_month"] for o in allowed)
        records = [r for r in d["results"] if r["model"] == v["model"]]
        cheapest_api = min(r["api_usd_per_month"] for r in records)
        if v["choice_kind"] != "self_hosted":
            assert v["usd_per_month"] == cheapest_api  # an API wins: the cheapest one
    # 'Largest saving' names a model whose own GPUs are its cheapest way, against its next option
    best = re.search(r"Largest saving from self-hosting: (\S+), \$([\d,]+)/month", d["verdict"])
    if best:
        (v,) = [v for v in d["verdicts"] if v["model"] == best[1]]
        assert v["choice_kind"] == "self_hosted" and v["license_allows_production"]


def test_deployment_words_are_the_one_notation() -> None:
    record = {"replicas": 2, "gpus_per_replica": 4, "gpu": "h100-sxm-80gb", "layout": "TP4", "quant": "fp8",
              "provider": "RunPod", "gpus_billed": 8.0}  # fmt: skip
    assert deployment_words(record) == "2 replicas × 4 h100-sxm-80gb (TP4), fp8, RunPod"
    assert deployment_words({**record, "replicas": 1, "gpus_billed": 8.0}) == (
        "1 replica × 4 h100-sxm-80gb (TP4), fp8, RunPod, 8 GPUs billed"
    )
    assert replica_words(1, "l4-24gb", "1 GPU") == "1 l4-24gb"


@pytest.mark.parametrize(
    "args",
    [["crossover", "--rps", "5"], ["cost", "--rps", "5", "-m", "llama-3.3-70b"], ["plan", "examples/hybrid.yaml"],
     ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b"], ["fit", "llama-3.3-70b", "-g", "h100"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_no_table_uses_the_old_nx_notation(
    cli: Cli, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = cli(*args, "--wide").stdout
    assert not re.search(r"\b\d+x\d+\b|\b\d+x [a-z]", out), out  # '2x1', '4x mi300x'


def test_a_crossover_that_never_comes_reads_never_in_every_table(cli: Cli) -> None:
    # at an operations cost of zero and a free-tier-cheap API, own GPUs never win: 'never'
    d = doc(cli("crossover", "--rps", "1", "-m", "qwen3-8b", "--format", "json"))
    table = cli("crossover", "--rps", "1", "-m", "qwen3-8b").stdout
    for v in d["verdicts"]:
        shown = "never" if v["crossover_rps"] is None else None
        if shown:
            assert "never" in table
    assert not re.search(r"│\s+-\s+│", table)  # no bare '-' for a missing crossover


# --------------------------------------------------------------------------- formats a spreadsheet reads


@pytest.mark.parametrize(
    "args",
    [["crossover", "--rps", "5"], ["cost", "--rps", "5", "-m", "qwen2.5-7b"], ["fit", "llama-3.3-70b"],
     ["validate"], ["catalog", "list", "gpus"], ["kv-alert", "-m", "llama-3.3-70b", "-g", "h100"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_jsonl_is_what_pandas_read_json_reads(cli: Cli, args: list[str]) -> None:
    lines = cli(*args, "--format", "jsonl")
    records = doc(cli(*args, "--format", "json"))["results"]
    frame = pd.read_json(io.StringIO(lines.stdout), lines=True)
    assert len(frame) == len(records) and list(frame.columns) == list(records[0])
    assert all(
        json.loads(line) == record for line, record in zip(lines.stdout.splitlines(), records, strict=True)
    )


def test_floats_are_rounded_to_meaningful_digits(cli: Cli) -> None:
    def floats(value: Any) -> list[float]:
        if isinstance(value, float):
            return [value]
        if isinstance(value, dict):
            value = list(value.values())
        return [f for v in value for f in floats(v)] if isinstance(value, list) else []

    every = floats(doc(cli("crossover", "--rps", "5", "--format", "json")))
    assert every and all(tidy_float(x) == x for x in every)  # each already at its 10 digits
    assert not any(len(repr(x)) > 14 for x in every)  # not 0.40425008781173166
    assert tidy_float(8949.400000000001) == 8949.4
    assert tidy_float(0.1 + 0.2) == 0.3
    assert tidy_float(0.40425008781173166) == 0.4042500878
    assert tidy_float(55845.12) == 55845.12  # cents kept
    assert tidy_float(3.2e-7) == 3.2e-7
    assert tidy_float(999.99999999999) == 1000.0  # 10 digits round up into the next decade
    assert tidy_float(123456789.123) == 123456789.12  # cents, past 10 digits


def test_the_sweeps_vectorized_tidying_is_tidy_float_value_by_value() -> None:
    """`tidy_floats` (a streamed CSV's floats) must write the very digits `tidy_float` writes,
    at powers of ten and one ulp either side (where a digit count by log10 alone can slip), for
    the smallest and largest floats, zeros and non-finite values."""
    rng = np.random.default_rng(7)
    powers = 10.0 ** np.arange(-300, 301)
    values = np.concatenate(
        [
            np.exp(rng.normal(0.0, 12.0, 20_000)) * rng.choice([-1.0, 1.0], 20_000),
            powers, np.nextafter(powers, 0.0), np.nextafter(powers, np.inf),
            [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, -1e308],
        ]
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vectorized = tidy_floats(values)
    assert [repr(v) for v in vectorized] == [repr(tidy_float(v)) for v in values.tolist()]


def test_the_sweeps_float_cells_are_the_repr_of_tidy_float_value_by_value() -> None:
    """`tidy_float_reprs` (a streamed CSV's float cells) writes what ``repr(tidy_float(x))``
    writes, across the whole range and at the edges of its fast positional path (1e-4, 1e13),
    where rounding carries into the next decade, at ties of the last kept digit, and for
    integral, negative, tiny and huge values; non-finite values are empty cells."""
    rng = np.random.default_rng(11)
    powers = 10.0 ** np.arange(-300, 301)
    edges = np.array([1e-4, 1e13, 9.9999999995, 99.999999995, 0.00099999999995, 9999999999999.995])
    values = np.concatenate(
        [
            np.exp(rng.normal(0.0, 12.0, 20_000)) * rng.choice([-1.0, 1.0], 20_000),
            rng.integers(-10**6, 10**6, 2_000).astype(float),  # integral values: "5.0"
            np.round(rng.random(2_000) * 1000, 3) + 0.0005,  # near ties of the 10th digit
            powers, np.nextafter(powers, 0.0), np.nextafter(powers, np.inf),
            edges, np.nextafter(edges, 0.0), np.nextafter(edges, np.inf), -edges,
            [0.0, -0.0, 5e-324, 1.7976931348623157e308, -1e308],
        ]
    )  # fmt: skip
    expected = [repr(tidy_float(v)) for v in values.tolist()]
    assert tidy_float_reprs(values) == expected
    assert tidy_float_reprs(np.array([np.inf, -np.inf, np.nan])) == ["", "", ""]


@pytest.mark.parametrize(
    "args",
    [["crossover", "--rps", "5"], ["sweep", "-m", "qwen2.5-7b", "-g", "l40s", "--rps", "1", "--rps", "10"],
     ["cost", "--rps", "5", "-m", "qwen2.5-7b"], ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_csv_columns_keep_one_type(cli: Cli, args: list[str]) -> None:
    frame = pd.read_csv(io.StringIO(cli(*args, "--format", "csv").stdout))
    for name in frame.columns:
        values = set(frame[name].dropna().astype(str))
        if values <= {"True", "False"}:
            assert frame[name].dtype == bool, f"{name}: blank cells in a true/false column"


# --------------------------------------------------------------------------- hints that work, errors on one line


def test_the_distribution_name_is_free_of_the_unrelated_selfhost_on_pypi() -> None:
    # 'selfhost' on PyPI is another project (a CLI for self-hosted GitHub tools); ours installs as this
    assert DISTRIBUTION == "selfhost-llm"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert list(scripts) == ["selfhost"]  # the command stays selfhost


def test_every_install_hint_names_the_distribution_and_pastes_as_is() -> None:
    texts = [p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                                                     *(ROOT / "src").rglob("*.py")]]  # fmt: skip
    hints = [h for t in texts for h in re.findall(r"pip install '([^']*)'", t)]
    assert hints
    for hint in hints:
        if "[" in hint and not hint.startswith("."):
            assert hint.startswith(f"{DISTRIBUTION}["), hint
        assert "\\" not in hint, hint  # Rich's escaped '\[' does not paste


@pytest.mark.parametrize(
    "command",
    ["crossover", "fit", "estimate", "cost", "sweep", "plan", "report", "deploy", "kv-alert", "sensitivity",
     "validate", "workload", "catalog list", "catalog show", "catalog import-config", "measurements import"],
)  # fmt: skip
def test_help_fits_80_columns_with_examples_whole_and_words_for_placeholders(
    cli: Cli, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(*command.split(), "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "\\[" not in text and "<float" not in text and "<int" not in text and "<str>" not in text
    assert all(cell_len(line) <= 80 for line in text.splitlines()), text
    assert not re.search(r"\(default \d+\).*\[default: \d+", text)  # a default printed once


@pytest.mark.parametrize("command", ["crossover", "deploy", "plan", "kv-alert", "sweep"])
def test_the_help_examples_are_whole_commands(
    cli: Cli, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selfhost.cli.app import app

    monkeypatch.setenv("COLUMNS", "80")
    text = cli(command, "--help").stdout
    joined = re.sub(r" \\\n\s+", " ", text)  # shell continuations joined, as a shell reads them
    (info,) = [
        i for i in app.registered_commands if (i.name or i.callback.__name__.replace("_", "-")) == command
    ]
    source = re.sub(r" \\\n\s+", " ", info.callback.__doc__ or "")
    examples = re.findall(r"^\s+(selfhost .*)$", source, re.M)
    assert examples
    for example in examples:
        assert example.strip() in joined  # never split between lines without a continuation


def test_shell_completion_is_offered(cli: Cli) -> None:
    result = cli("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["crossover", "--rps", "abc"], "'abc' is not a valid float"),
     (["crossovr"], "No such command 'crossovr'. Did you mean 'crossover'?"),
     (["catalog", "lst"], "Did you mean 'list'?"),
     (["crossover", "--rps", "5", "--target-utilization", "2"], "got '2'")],
)  # fmt: skip
def test_usage_errors_are_one_line(cli: Cli, args: list[str], fragment: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert fragment in lines[0] and "-h)" in lines[0]


def test_a_question_without_a_rate_says_what_to_give_in_one_line(cli: Cli) -> None:
    result = cli("crossover")  # --rps is optional since --traffic can give the rate instead
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == "Error: give the request rate (--rps), or a traffic profile (--traffic FILE)"


def test_catalog_show_of_an_unknown_id_says_did_you_mean(cli: Cli) -> None:
    result = cli("catalog", "show", "deepsek-v3")
    assert result.exit_code == 2
    assert "did you mean 'deepseek-v3'" in result.stderr and "selfhost catalog list KIND" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_catalog_list_right_aligns_and_formats_numbers(cli: Cli) -> None:
    out = cli("catalog", "list", "gpus").stdout
    (row,) = [line for line in out.splitlines() if line.startswith("│ h100-sxm-80gb ")]
    cells = [c for c in row.split("│")[1:-1]]
    bandwidth = cells[2]
    assert bandwidth.strip() == "3,350" and bandwidth.endswith("3,350 ")  # right-aligned, thousands


def test_chart_without_plotext_prints_the_table_then_the_hint(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "plotext", None)  # as if not installed
    result = cli("crossover", "--rps", "5", "-m", "llama-3.3-70b", "--chart")
    assert result.exit_code == 0, result.output
    assert "llama-3.3-70b" in result.stdout and "Crossover" in result.stdout
    assert f"pip install '{DISTRIBUTION}[chart]'" in result.stderr


@pytest.mark.parametrize(
    ("sequences", "words"), [(1, "1 sequence at"), (3, "3 sequences at"), (1200, "1,200 sequences at")]
)
def test_fit_summary_counts_sequences_in_words(sequences: int, words: str) -> None:
    from selfhost.questions import fit_summary_words

    smallest = {"gpus_per_replica": 1, "gpu": "h100-sxm-80gb", "quant": "fp8", "engine": "vllm",
                "max_concurrent_sequences": sequences}  # fmt: skip
    assert f"Smallest that fits: 1 h100-sxm-80gb, fp8 (vllm), {words} this context." in fit_summary_words(
        {"smallest": smallest, "cheapest": None}
    )
