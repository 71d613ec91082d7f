"""The one-call profile crossover: a flat profile gives `selfhost crossover --rps MEAN`'s numbers,
and a shaped profile of the same mean moves the crossover the way the engine says."""

from __future__ import annotations

import numpy as np
import pytest

from selfhost import question as q
from selfhost.analysis import crossover_report
from selfhost.catalog.loader import load_catalog
from selfhost.errors import InputError
from selfhost.profile_crossover import profile_crossover_record, workload_for_profile
from selfhost.question import CostAssumptions, Scenario, Selection
from selfhost.scenarios import Workload
from selfhost.selection import select_configs
from selfhost.traffic_profile import ProfileSource, ProfileTokens, TokenStats, TrafficProfile

MEAN_RPS = 5.0


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(include_builtin=True, env={})


def scenario(pricing=("on-demand",)) -> Scenario:
    """`selfhost crossover --rps 5 -m llama-3.3-70b` on three GPUs and quantizations, defaults otherwise."""
    return Scenario(
        selection=Selection(
            models=("llama-3.3-70b",),
            gpus=("h100-sxm-80gb", "a100-80gb", "l40s-48gb"),
            quants=("fp8", "awq-int4", "bf16"),
        ),
        costs=CostAssumptions(pricing=pricing),
        rps=MEAN_RPS,
    )


WORKLOAD = Workload(
    input_tokens=q.DEFAULT_INPUT_TOKENS,
    output_tokens=q.DEFAULT_OUTPUT_TOKENS,
    context_tokens=q.DEFAULT_INPUT_TOKENS + q.DEFAULT_OUTPUT_TOKENS,
    max_tpot_ms=q.DEFAULT_MAX_TPOT_MS,
    max_ttft_ms=q.DEFAULT_MAX_TTFT_MS,
)


def profile(rates, tokens=(1000.0, 300.0)) -> TrafficProfile:
    return TrafficProfile(
        hourly_rps=tuple(float(r) for r in rates),
        tokens=ProfileTokens(input=TokenStats(mean=tokens[0]), output=TokenStats(mean=tokens[1])),
        source=ProfileSource(file="test", format="test", synthetic=True),
    )


def llama_70b_configs(catalog, pricing=("on-demand",)):
    return select_configs(catalog, scenario(pricing))


def test_a_flat_profile_reproduces_selfhost_crossover(catalog):
    configs = llama_70b_configs(catalog)
    s = scenario()
    ca = s.priced
    report = crossover_report(catalog, s)
    assert report.results, report.notes
    for record in report.results:
        config = next(
            c
            for c in configs
            if (c.gpu.id, c.quant.id, c.n_gpus, c.engine.id)
            == (record["gpu"], record["quant"], record["gpus_per_replica"], record["engine"])
        )
        api = next(a for a in catalog.apis if a.id == record["api"])
        flat = profile(np.full(168, MEAN_RPS))
        mine = profile_crossover_record(catalog, s, config, api, flat, price_option=record["price_option"])
        for way in ("fixed", "autoscaled"):
            assert mine[way]["usd_per_month"] == pytest.approx(record["self_hosted_usd_per_month"], rel=1e-12)
            assert mine[way]["gpu_hours_per_month"] == pytest.approx(
                record["gpus_billed"] * ca.hours_per_month, rel=1e-12
            )
            if record["crossover_rps"] is None:
                assert mine[way]["crossover"]["mean_rps"] is None
                assert mine[way]["crossover"]["note"] == record["crossover_note"]
            else:
                assert mine[way]["crossover"]["mean_rps"] == pytest.approx(record["crossover_rps"], rel=1e-9)
        assert mine["api_usd_per_month"] == pytest.approx(record["api_usd_per_month"], rel=1e-12)
        expected = record["crossover_rps"]
        assert mine["flat_crossover_rps"] == (
            None if expected is None else pytest.approx(expected, rel=1e-12)
        )
        assert mine["capacity_rps_per_replica"] == pytest.approx(record["capacity_rps_per_replica"])


def test_same_mean_business_hours_costs_more_to_keep_and_crosses_later(catalog):
    configs = llama_70b_configs(catalog)
    s = scenario()
    report = crossover_report(catalog, s)
    record = report.results[0]
    config = next(
        c
        for c in configs
        if (c.gpu.id, c.quant.id, c.n_gpus) == (record["gpu"], record["quant"], record["gpus_per_replica"])
    )
    api = next(a for a in catalog.apis if a.id == record["api"])
    shape = np.array([4.0 if 9 <= h % 24 < 18 and h // 24 < 5 else 0.5 for h in range(168)])
    busy = profile(shape * MEAN_RPS / shape.mean())
    mine = profile_crossover_record(catalog, s, config, api, busy, price_option=record["price_option"])
    assert busy.mean_rps == pytest.approx(MEAN_RPS)
    assert mine["fixed"]["usd_per_month"] >= record["self_hosted_usd_per_month"]
    assert mine["autoscaled"]["usd_per_month"] <= mine["fixed"]["usd_per_month"]
    assert mine["api_usd_per_month"] == pytest.approx(record["api_usd_per_month"], rel=1e-12)  # same requests
    fixed, scaled = mine["fixed"]["crossover"]["mean_rps"], mine["autoscaled"]["crossover"]["mean_rps"]
    if record["crossover_rps"] is not None:
        assert fixed >= record["crossover_rps"] and scaled <= fixed
    assert 0 < mine["autoscaled"]["idle_share"] <= mine["fixed"]["idle_share"] < 1


def test_owned_hardware_does_not_autoscale(catalog):
    s = scenario(pricing=("owned",))
    configs = [
        c
        for c in llama_70b_configs(catalog, ("owned",))
        if c.gpu.id == "h100-sxm-80gb" and c.quant.id == "fp8"
    ]
    api = next(a for a in catalog.apis if a.id.startswith("openai"))
    busy = profile([8.0 if 9 <= h < 18 else 1.0 for h in range(24)])
    for config in configs:
        try:
            mine = profile_crossover_record(catalog, s, config, api, busy)
        except InputError:
            continue  # no owned option for this GPU count, or it does not fit
        assert mine["autoscaled"]["usd_per_month"] == pytest.approx(mine["fixed"]["usd_per_month"])
        assert mine["billing_granularity_h"] == 24 and mine["notes"]
        return
    pytest.fail(
        "no owned H100 FP8 option fits in the catalog: the test needs one (owned pricing is what it checks)"
    )


def test_an_unknown_price_option_names_the_valid_ones(catalog):
    config = next(
        c for c in llama_70b_configs(catalog) if c.gpu.id == "h100-sxm-80gb" and c.quant.id == "fp8"
    )
    api = next(a for a in catalog.apis if a.id.startswith("openai"))
    with pytest.raises(InputError, match="is not one of h100-sxm-80gb's"):
        profile_crossover_record(
            catalog, scenario(), config, api, profile(np.full(24, 1.0)), price_option="nope"
        )


def test_the_workload_takes_the_profiles_tokens():
    w = workload_for_profile(profile(np.ones(24), tokens=(2500.4, 80.6)), WORKLOAD)
    assert (w.input_tokens, w.output_tokens) == (2500, 81)
    assert w.context_tokens == 2581 and w.max_tpot_ms == WORKLOAD.max_tpot_ms
