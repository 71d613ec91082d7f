"""Monte Carlo uncertainty: zero spread is the deterministic answer, quantiles are ordered, output."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from typer.testing import Result

from cases import builtin_catalog, default_case, default_scenario
from selfhost import uncertainty
from selfhost.analysis import costs, crossover_report, deployment_grid
from selfhost.catalog.lookup import by_id
from selfhost.errors import InputError
from selfhost.scenarios import price_options
from selfhost.uncertainty import (
    EFFICIENCY_SIGMA,
    QUANTILE_NAMES,
    UncertaintySpec,
    costs_with_uncertainty,
    crossover_with_uncertainty,
    draw,
    gpu_price_range,
    interpolated_capacity,
)

setup = default_case

Cli = Callable[..., Result]

ZERO = UncertaintySpec(
    samples=64,
    api_price_spread=0.0,
    efficiency_sigma=0.0,
    efficiency_sigma_extrapolated=0.0,
    gpu_price_fallback_spread=0.0,
    gpu_price_range_from_catalog=False,
)
CROSSOVER_KEYS = ("crossover_rps", "self_hosted_usd_per_month", "api_usd_per_month", "saving_usd_per_month")


def inf_if_none(x: float | None) -> float:
    return math.inf if x is None else x


def test_zero_spread_reproduces_the_deterministic_crossover_exactly():
    catalog = builtin_catalog()
    scenario = default_scenario(("llama-3.3-70b", "qwen2.5-32b", "deepseek-v3", "llama-3.1-8b"))
    base = crossover_report(catalog, scenario)
    mc = crossover_with_uncertainty(catalog, scenario, spec=ZERO)
    assert len(mc.results) == len(base.results)
    for b, r in zip(base.results, mc.results, strict=True):
        for key in CROSSOVER_KEYS:
            for q in QUANTILE_NAMES:
                assert r[f"{key}_{q}"] == b[key], (r["model"], r["api"], key, q)
        assert r["probability_self_hosted_cheaper"] == (1.0 if b["saving_usd_per_month"] > 0 else 0.0)
        assert r["probability_no_crossover"] == (1.0 if b["crossover_rps"] is None else 0.0)


def test_zero_spread_reproduces_the_deterministic_cost_exactly():
    catalog, scenario = builtin_catalog(), default_scenario()
    base = costs(catalog, scenario)
    mc = costs_with_uncertainty(catalog, scenario, spec=ZERO, rows=30)
    for b, r in zip(base.results[:30], mc.results[:30], strict=True):
        for q in QUANTILE_NAMES:
            assert r[f"self_hosted_usd_per_month_{q}"] == b["self_hosted_usd_per_month"]
            assert r[f"self_hosted_usd_per_mtok_{q}"] == pytest.approx(
                b["self_hosted_usd_per_mtok"], rel=1e-12
            )
    assert "self_hosted_usd_per_month_p50" not in mc.results[30]  # only the rows shown get a band


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_quantiles_are_ordered_and_probabilities_are_probabilities(seed):
    scenario = default_scenario(("llama-3.3-70b", "qwen2.5-7b", "deepseek-v3"), all_apis=True)
    report = crossover_with_uncertainty(
        builtin_catalog(), scenario, spec=UncertaintySpec(samples=3000, seed=seed)
    )
    for r in report.results:
        for key in CROSSOVER_KEYS:
            p10, p50, p90 = (inf_if_none(r[f"{key}_{q}"]) for q in QUANTILE_NAMES)
            if key == "saving_usd_per_month":  # None here is minus infinity (no capacity): not expected
                assert None not in (r[f"{key}_{q}"] for q in QUANTILE_NAMES)
            assert p10 <= p50 <= p90, (r["model"], r["api"], key)
        assert 0.0 <= r["probability_self_hosted_cheaper"] <= 1.0
        assert 0.0 <= r["probability_no_crossover"] <= 1.0
        # P(cheaper) agrees with where zero falls among the saving's quantiles
        if r["saving_usd_per_month_p10"] > 0:
            assert r["probability_self_hosted_cheaper"] >= 0.9
        if r["saving_usd_per_month_p90"] < 0:
            assert r["probability_self_hosted_cheaper"] <= 0.1


def test_a_huge_saving_with_tiny_spread_is_certain():
    # DeepSeek-V3 against GPT-5 at 5 req/s saves about 46,000 USD a month (README); 0.1 % spreads cannot flip it
    tiny = UncertaintySpec(
        samples=5000,
        api_price_spread=0.001,
        efficiency_sigma=0.001,
        efficiency_sigma_extrapolated=0.001,
        gpu_price_fallback_spread=0.001,
        gpu_price_range_from_catalog=False,
    )
    report = crossover_with_uncertainty(builtin_catalog(), default_scenario(("deepseek-v3",)), spec=tiny)
    gpt5 = next(r for r in report.results if r["api"] == "openai-gpt-5")
    assert gpt5["saving_usd_per_month"] > 40_000
    assert gpt5["probability_self_hosted_cheaper"] == 1.0
    assert gpt5["saving_usd_per_month_p50"] == pytest.approx(gpt5["saving_usd_per_month"], rel=0.01)


def test_same_seed_same_answer_other_seed_other_answer():
    run = functools.partial(crossover_with_uncertainty, builtin_catalog(), default_scenario())
    a = run(spec=UncertaintySpec(samples=2000, seed=3)).results
    b = run(spec=UncertaintySpec(samples=2000, seed=3)).results
    c = run(spec=UncertaintySpec(samples=2000, seed=4)).results
    assert a == b
    assert [r["saving_usd_per_month_p50"] for r in a] != [r["saving_usd_per_month_p50"] for r in c]


def test_draws_stay_in_their_ranges():
    spec = UncertaintySpec(samples=20_000, seed=1)
    d = draw(spec, n_price_keys=2, n_apis=3, n_engines=2)
    assert d.price_u.shape == (2, 20_000) and d.api_multiplier.shape == (3, 20_000)
    assert d.price_u.min() >= 0.0 and d.price_u.max() < 1.0
    assert d.api_multiplier.min() >= 0.9 and d.api_multiplier.max() <= 1.1
    # lognormal: the median factor is 1 and the log-factors have standard deviation sigma
    assert np.median(d.efficiency_multiplier) == pytest.approx(1.0, abs=0.01)
    assert np.std(np.log(d.efficiency_multiplier)) == pytest.approx(EFFICIENCY_SIGMA, abs=0.01)


def test_gpu_price_range_spans_the_catalog_offers_or_falls_back():
    catalog = builtin_catalog()

    h100 = by_id(catalog.gpus)["h100-sxm-80gb"]
    on_demand = [o for o in catalog.rental_offers if o.gpu == h100.id and o.pricing == "on-demand"]
    option = price_options(catalog, h100, pricing=["on-demand"], hours_per_month=730)[0]
    spec = UncertaintySpec(samples=1)
    r = gpu_price_range(catalog, option, spec)
    assert (r.low_usd_per_gpu_hour, r.high_usd_per_gpu_hour) == (
        min(o.usd_per_gpu_hour for o in on_demand),
        max(o.usd_per_gpu_hour for o in on_demand),
    )
    owned = price_options(catalog, h100, pricing=["owned"], hours_per_month=730)[0]
    r = gpu_price_range(catalog, owned, spec)
    assert r.low_usd_per_gpu_hour == pytest.approx(0.8 * owned.usd_per_gpu_hour)
    assert r.high_usd_per_gpu_hour == pytest.approx(1.2 * owned.usd_per_gpu_hour)


def test_interpolated_capacity_is_exact_at_one_and_rises_with_efficiency():
    catalog, configs, workload, _ = setup()
    grid = deployment_grid(catalog, default_scenario(), configs=configs, workload=workload)
    rows = np.arange(0, len(grid), max(1, len(grid) // 7))
    picked = [grid.config(int(i)) for i in rows]
    factors = np.sort(np.append(np.exp(np.linspace(-0.8, 0.8, 301)), 1.0))[None, :]
    cap = interpolated_capacity(picked, np.zeros(len(picked), dtype=int), factors, workload)
    assert cap.shape == (len(picked), factors.shape[1])
    at_one = int(np.flatnonzero(factors[0] == 1.0)[0])
    np.testing.assert_array_equal(cap[:, at_one], grid.capacity.point.requests_per_s[rows])
    assert (np.diff(cap, axis=1) >= -1e-12).all()  # capacity never falls when efficiency rises


def test_bad_specs_are_input_errors():
    with pytest.raises(InputError, match="at least 1 sample"):
        UncertaintySpec(samples=0)
    with pytest.raises(InputError, match="sigma"):
        UncertaintySpec(samples=1, efficiency_sigma=-0.1)


# --------------------------------------------------------------------------- CLI

ARGS = ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "--uncertainty", "2000"]
EXTRA_KEYS = [f"{k}_{q}" for k in CROSSOVER_KEYS for q in QUANTILE_NAMES] + [
    "probability_self_hosted_cheaper",
    "probability_no_crossover",
]


def test_cli_crossover_json_has_the_bands_and_assumptions(cli: Cli):
    result = cli(*ARGS, "--format", "json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    for r in doc["results"]:
        assert set(EXTRA_KEYS) <= set(r)
    u = doc["assumptions"]["uncertainty"]
    assert u["samples"] == 2000 and u["seed"] == 0 and u["efficiency_sigma"] == 0.27
    assert u["efficiency_sigma_extrapolated"] == 0.43
    assert u["api_price_spread"] == 0.1
    assert "calibration residuals" in u["efficiency_sigma_source"]
    assert "calibration residuals" in result.stderr
    again = json.loads(cli(*ARGS, "--format", "json").stdout)
    assert again["results"] == doc["results"]  # default seed: deterministic output


def test_cli_crossover_table_and_csv(cli: Cli):
    table = cli(*ARGS)
    assert table.exit_code == 0, table.output
    assert (
        "Crossover P10–P90 · P(own GPUs cheaper)" in " ".join(re.sub("[┃│]", " ", table.stdout).split())
        or "P10–P90" in table.stdout
    )
    reader = csv.DictReader(io.StringIO(cli(*ARGS, "--format", "csv").stdout))
    rows = list(reader)
    assert set(EXTRA_KEYS) <= set(reader.fieldnames or [])
    assert "uncertainty_band" not in (reader.fieldnames or [])
    assert 0.0 <= float(rows[0]["probability_self_hosted_cheaper"]) <= 1.0
    plain = cli("crossover", "--rps", "5", "-m", "llama-3.3-70b", "--format", "csv")
    assert "crossover_rps_p50" not in plain.stdout.splitlines()[0]


def test_cli_cost_bands_the_rows_shown(cli: Cli):
    args = ["cost", "--rps", "5", "-m", "llama-3.3-70b", "--uncertainty", "500", "--limit", "3"]
    doc = json.loads(cli(*args, "--format", "json").stdout)
    assert len(doc["results"]) == 3
    for r in doc["results"]:
        lo, mid, hi = (r[f"self_hosted_usd_per_month_{q}"] for q in QUANTILE_NAMES)
        assert lo <= mid <= hi
    table = cli(*args)
    assert table.exit_code == 0, table.output
    assert "P10 → P90 $/month" in table.stdout
    assert "API prices" not in table.stderr  # cost has no API side


def test_cli_rejects_negative_samples(cli: Cli):
    result = cli("crossover", "--rps", "5", "--uncertainty", "-5")
    assert result.exit_code == 2
    assert "--uncertainty" in result.stderr


def test_help_states_the_library_spreads(cli: Cli):
    # the --uncertainty help text repeats the constants so that `selfhost --help` does not import NumPy
    from selfhost import uncertainty

    help_text = " ".join(cli("crossover", "--help").stdout.split())
    assert f"+-{uncertainty.API_PRICE_SPREAD:.0%}".replace("%", " %") in help_text
    assert f"sigma {uncertainty.EFFICIENCY_SIGMA:g}" in help_text
    assert f"{uncertainty.EFFICIENCY_SIGMA_EXTRAPOLATED:g} on a GPU without measurements" in help_text


def test_efficiency_sigmas_follow_the_calibration_residuals() -> None:
    # sigma = mean |ln(predicted / measured)| leaving one source out / sqrt(2 / pi), rounded to 0.01,
    # on GPUs the held-out fold had measured and on those it had not; scripts/calibrate.py --write
    # refreshes docs/calibration-fit.json, this keeps the sigmas in step
    from pathlib import Path

    fit = json.loads((Path(__file__).resolve().parents[1] / "docs" / "calibration-fit.json").read_text())
    by_evidence = fit["leave_one_source_out"]["throughput_by_gpu_evidence"]
    for sigma, block in (
        (EFFICIENCY_SIGMA, by_evidence["measured"]),
        (uncertainty.EFFICIENCY_SIGMA_EXTRAPOLATED, by_evidence["extrapolated"]),
    ):
        assert abs(sigma - block["mean_abs_log_error"] / math.sqrt(2 / math.pi)) <= 0.005
    assert by_evidence["extrapolated"]["mean_abs_log_error"] > by_evidence["measured"]["mean_abs_log_error"]


def test_an_extrapolated_deployment_shares_its_engines_draw_and_adds_its_own():
    spec = UncertaintySpec(samples=50_000, seed=3)
    d = draw(spec, n_price_keys=1, n_apis=0, n_engines=2, extrapolated=[1, 1, 0])
    log_f = np.log(d.efficiency_multiplier)
    assert log_f.shape == (5, 50_000)
    assert np.std(log_f[:2], axis=1) == pytest.approx([EFFICIENCY_SIGMA] * 2, abs=0.01)
    sigma_x = uncertainty.EFFICIENCY_SIGMA_EXTRAPOLATED
    assert np.std(log_f[2:], axis=1) == pytest.approx([sigma_x] * 3, abs=0.01)
    # correlation with its engine's draw is sigma / sigma_x; with the other engine's, none
    assert np.corrcoef(log_f[1], log_f[2])[0, 1] == pytest.approx(EFFICIENCY_SIGMA / sigma_x, abs=0.02)
    assert abs(np.corrcoef(log_f[0], log_f[2])[0, 1]) < 0.02
