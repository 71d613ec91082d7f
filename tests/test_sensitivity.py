"""Sensitivity (the tornado): base case equals `crossover`, directions of effect, zero range, output."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

from cases import builtin_catalog, default_scenario
from selfhost.analysis import crossover_report
from selfhost.catalog.schema import Catalog
from selfhost.render import (
    TORNADO_AXIS,
    TORNADO_HALF_WIDTH,
    TORNADO_HIGH,
    TORNADO_LOW,
    tornado_bar,
    tornado_bars,
)
from selfhost.sensitivity import INPUTS, scenario_multipliers, sensitivity_report

Cli = Callable[..., Result]
INF = math.inf


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return builtin_catalog()


def by_input(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["api"], r["input"]): r for r in results}


def rps_or_inf(x: float | None) -> float:
    return INF if x is None else x


def test_scenarios_move_one_input_at_a_time():
    m = scenario_multipliers(0.3)
    assert m.shape == (1 + 2 * len(INPUTS), len(INPUTS))
    assert (m[0] == 1).all()
    for i in range(len(INPUTS)):
        assert m[1 + 2 * i, i] == pytest.approx(0.7) and m[2 + 2 * i, i] == pytest.approx(1.3)
        others = [j for j in range(len(INPUTS)) if j != i]
        assert (m[1 + 2 * i, others] == 1).all() and (m[2 + 2 * i, others] == 1).all()


def test_base_case_is_exactly_the_crossover_result(catalog):
    scenario = default_scenario(("llama-3.3-70b", "qwen2.5-32b", "deepseek-v3"))
    base = crossover_report(catalog, scenario)
    report = sensitivity_report(catalog, scenario)
    assert len(report.results) == len(base.results) * len(INPUTS)
    for pair in base.results:
        rows = [r for r in report.results if (r["model"], r["api"]) == (pair["model"], pair["api"])]
        assert {r["input"] for r in rows} == {inp.key for inp in INPUTS}
        for r in rows:
            assert r["crossover_rps_base"] == pair["crossover_rps"]
            assert r["saving_usd_per_month_base"] == pair["saving_usd_per_month"]
            assert r["price_option"] == pair["price_option"]  # the deployment stays the base case's


def test_each_pair_is_found_in_the_grid_by_its_layout_too(catalog):
    """A MoE model's GPU count runs as 'TP4' and as 'DP4 attention + EP4', at different capacities:
    the fixed deployment of sensitivity and uncertainty is the crossover's, layout included."""
    from selfhost.comparisons import headline_comparisons

    comps = headline_comparisons(catalog, default_scenario(("deepseek-v3",)))
    grid = comps.grid
    layouts = {grid.config(i).layout for i in range(len(grid)) if grid.config(i).n_gpus == 4}
    assert len(layouts) > 1, layouts  # the grid holds both layouts of four GPUs
    for row, record in zip(comps.rows, comps.report.results, strict=True):
        config = grid.config(int(row))
        assert (config.layout, config.n_gpus) == (record["layout"], record["gpus_per_replica"])
        assert grid.capacity.point.requests_per_s[int(row)] == record["capacity_rps_per_replica"]


def test_zero_range_gives_zero_swings(catalog):
    report = sensitivity_report(catalog, default_scenario(), spread=0.0)
    for r in report.results:
        assert r["swing_usd_per_month"] == 0.0
        assert r["crossover_swing_rps"] in (0.0, None)  # None: no crossover at either end (inf - inf)
        assert (
            r["saving_usd_per_month_low"] == r["saving_usd_per_month_base"] == r["saving_usd_per_month_high"]
        )
        assert r["crossover_rps_low"] == r["crossover_rps_base"] == r["crossover_rps_high"]
        assert r["low_value"] == r["base_value"] == r["high_value"]


def test_rows_are_sorted_by_swing_within_each_comparison(catalog):
    report = sensitivity_report(catalog, default_scenario())
    for api in {r["api"] for r in report.results}:
        swings = [rps_or_inf(r["swing_usd_per_month"]) for r in report.results if r["api"] == api]
        assert swings == sorted(swings, reverse=True)


def test_known_values_for_llama_against_gpt5_mini(catalog):
    # GPT-5 mini costs (1000 x 0.25 + 300 x 2.00) / 1e6 = 0.00085 USD per request, so at 5 req/s
    # 5 x 3600 x 730 x 0.00085 = 11169.00 USD/month. The deployment is fixed to 1-GPU MI300X replicas at
    # 1.99 USD/h (DigitalOcean); its GPU count comes from the base case, so the arithmetic below does not
    # depend on the estimated capacity.
    scenario = default_scenario(
        quants=("fp8",), gpus=("mi300x-192gb",), gpu_counts=(1,), apis=("openai-gpt-5-mini",)
    )
    rows = by_input(sensitivity_report(catalog, scenario).results)
    gpu = rows[("openai-gpt-5-mini", "gpu_price")]
    api_usd = 5 * 3600 * 730 * 0.00085
    gpus = (api_usd - gpu["saving_usd_per_month_base"] - 4000) / (1.99 * 730)
    assert gpus == pytest.approx(round(gpus)) and gpus >= 1
    gpus = round(gpus)
    assert gpu["base_value"] == pytest.approx(1.99)
    assert (gpu["low_value"], gpu["high_value"]) == pytest.approx((1.393, 2.587))
    assert gpu["saving_usd_per_month_low"] == pytest.approx(api_usd - (gpus * 1.393 * 730 + 4000))
    assert gpu["saving_usd_per_month_high"] == pytest.approx(api_usd - (gpus * 2.587 * 730 + 4000))
    assert gpu["swing_usd_per_month"] == pytest.approx(gpus * 0.6 * 1.99 * 730)
    ops = rows[("openai-gpt-5-mini", "ops_cost")]
    assert ops["swing_usd_per_month"] == pytest.approx(2 * 0.3 * 4000)
    rate = rows[("openai-gpt-5-mini", "rps")]
    assert rate["crossover_rps_low"] == rate["crossover_rps_base"] == rate["crossover_rps_high"]
    api = rows[("openai-gpt-5-mini", "api_price")]
    assert api["base_value"] == pytest.approx(0.00085 * 1e6 / 1300)  # blended USD/1M tokens
    self_usd = gpus * 1.99 * 730 + 4000
    assert api["saving_usd_per_month_high"] == pytest.approx(1.3 * api_usd - self_usd)
    assert api["saving_usd_per_month_low"] == pytest.approx(0.7 * api_usd - self_usd)


@settings(max_examples=15, deadline=None)
@given(spread=st.floats(min_value=0.0, max_value=0.9), rps=st.floats(min_value=0.1, max_value=50.0))
def test_directions_of_effect(spread, rps):
    """Dearer GPUs or operations never help self-hosting; dearer APIs never hurt it."""
    catalog = builtin_catalog()
    rows = by_input(sensitivity_report(catalog, default_scenario(rps=rps), spread=spread).results)
    for (_, key), r in rows.items():
        low, high = rps_or_inf(r["crossover_rps_low"]), rps_or_inf(r["crossover_rps_high"])
        save_low, save_high = r["saving_usd_per_month_low"], r["saving_usd_per_month_high"]
        if key in ("gpu_price", "ops_cost"):
            assert high >= low, key  # raising the GPU price never lowers the crossover
            assert save_high <= save_low + 1e-9, key
        if key == "api_price":
            assert high <= low
            assert save_high >= save_low - 1e-9
        if key in ("engine_efficiency", "target_utilization"):
            assert high <= low, key  # more capacity per GPU never raises the crossover
        if key == "rps":
            assert low == high


def test_tornado_bar_draws_each_side_to_scale():
    bar = tornado_bar(-50.0, 100.0, 100.0, half=4)
    assert bar == f"  {TORNADO_LOW * 2}{TORNADO_AXIS}{TORNADO_HIGH * 4}"
    assert tornado_bar(0.0, 0.0, 0.0, half=3) == f"   {TORNADO_AXIS}   "
    assert tornado_bar(None, 10.0, 10.0, half=2) == f"{TORNADO_LOW * 2}{TORNADO_AXIS}{TORNADO_HIGH * 2}"
    # both ends on one side: the +range end is drawn over the -range end
    assert (
        tornado_bar(-100.0, -50.0, 100.0, half=4) == f"{TORNADO_LOW * 2}{TORNADO_HIGH * 2}{TORNADO_AXIS}    "
    )


def test_tornado_bars_scale_per_group():
    records = [
        {"g": 1, "b": 0.0, "lo": -10.0, "hi": 10.0},
        {"g": 1, "b": 0.0, "lo": -5.0, "hi": 0.0},
        {"g": 2, "b": 100.0, "lo": 99.0, "hi": 101.0},
    ]
    bars = tornado_bars(records, "b", "lo", "hi", lambda r: r["g"])
    full = 2 * TORNADO_HALF_WIDTH  # both sides at full length
    assert [b.count(TORNADO_LOW) + b.count(TORNADO_HIGH) for b in bars] == [full, full // 4, full]


# --------------------------------------------------------------------------- CLI

ARGS = ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b"]
RECORD_KEYS = {
    "model",
    "api",
    "input",
    "low_value",
    "high_value",
    "crossover_rps_low",
    "crossover_rps_high",
    "saving_usd_per_month_low",
    "saving_usd_per_month_high",
    "swing_usd_per_month",
}


def test_cli_table_has_the_tornado(cli: Cli):
    result = cli(*ARGS)
    assert result.exit_code == 0, result.output
    assert "Sensitivity at 5 req/s" in result.stdout and "deployment fixed" in result.stdout
    assert "-30% → +30%" in result.stdout
    assert TORNADO_HIGH in result.stdout and TORNADO_AXIS in result.stdout
    assert "base crossover" in result.stdout
    assert "The input that moves the monthly saving most" in result.stdout
    assert "deployment fixed at the base case's cheapest" in result.stderr


def test_cli_json_and_csv_rows(cli: Cli):
    doc = json.loads(cli(*ARGS, "--range", "0.2", "--format", "json").stdout)
    assert len(doc["results"]) == 2 * len(INPUTS)
    assert all(set(r) >= RECORD_KEYS for r in doc["results"])
    assert doc["assumptions"]["range"] == 0.2
    gpu = next(r for r in doc["results"] if r["input"] == "gpu_price")
    assert gpu["low_value"] == pytest.approx(0.8 * gpu["base_value"])

    reader = csv.DictReader(io.StringIO(cli(*ARGS, "--format", "csv").stdout))
    rows = list(reader)
    assert set(reader.fieldnames or []) >= RECORD_KEYS
    assert len(rows) == 2 * len(INPUTS)
    assert "tornado" not in (reader.fieldnames or [])


@pytest.mark.parametrize("bad", ["-0.1", "1.0", "2"])
def test_cli_rejects_a_range_outside_zero_to_one(cli: Cli, bad):
    result = cli(*ARGS, "--range", bad)
    assert result.exit_code == 2
    assert "--range" in result.stderr


def test_cli_default_range_is_the_library_default():
    # repeated in the CLI module so that `selfhost --help` does not import NumPy
    from selfhost import sensitivity
    from selfhost.cli import sensitivity_cmd

    assert sensitivity_cmd.DEFAULT_RANGE == sensitivity.DEFAULT_RANGE
