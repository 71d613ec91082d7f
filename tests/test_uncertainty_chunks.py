"""Chunked Monte Carlo: the same numbers as drawing and computing everything at once, in memory
that grows with the samples but not with the number of comparisons."""

from __future__ import annotations

import dataclasses
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases import builtin_catalog, default_scenario
from selfhost import uncertainty
from selfhost.analysis import _number
from selfhost.apis import request_usd
from selfhost.comparisons import headline_comparisons, take_unit
from selfhost.engine import cost, crossover
from selfhost.question import Scenario
from selfhost.uncertainty import (
    QUANTILE_NAMES,
    DrawStream,
    UncertaintySpec,
    _deployment_keys,
    _index,
    costs_with_uncertainty,
    crossover_samples,
    crossover_with_uncertainty,
    draw,
    interpolated_capacity,
    order_statistics,
    quantiles,
    quantiles_in_place,
)

MODELS = ("llama-3.3-70b", "qwen2.5-32b", "deepseek-v3", "qwen2.5-7b")


def whole_array_crossover_samples(
    catalog, scenario: Scenario, comps, spec: UncertaintySpec
) -> list[dict[str, Any]]:
    """The reference: every draw at once (`draw`), every pair's samples as one (n_pairs, n) array."""
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    rows, pair_row = np.unique(comps.rows, return_inverse=True)
    ranges, price_index, efficiency = _deployment_keys(catalog, comps.grid, rows, spec)
    api_ids, api_index = _index([a.id for a in comps.apis])
    by_id = {a.id: a for a in comps.apis}
    base = request_usd(
        [by_id[i] for i in api_ids], workload.input_tokens, workload.output_tokens, ca.cached_input_fraction
    )
    d = draw(spec, len(ranges), len(api_ids), len(efficiency.engines), efficiency.extrapolated)
    configs = [comps.grid.config(int(r)) for r in rows]
    cap = interpolated_capacity(configs, efficiency.row_index, d.efficiency_multiplier, workload)
    low = np.array([ranges[k].low_usd_per_gpu_hour for k in price_index])
    high = np.array([ranges[k].high_usd_per_gpu_hour for k in price_index])
    unit = cost.billing_unit(
        capacity_rps=cap,
        target_utilization=ca.target_utilization,
        min_replicas=ca.min_replicas,
        gpus_per_replica=np.array([c.n_gpus for c in configs])[:, None],
        instance_gpus=np.array([comps.grid.price(int(r)).instance_gpus for r in rows])[:, None],
        usd_per_gpu_hour=low[:, None] + d.price_u[price_index] * (high - low)[:, None],
        hours_per_month=ca.hours_per_month,
    )
    pair_unit = take_unit(unit, pair_row, axis=0)
    per_request = base[api_index, None] * d.api_multiplier[api_index]
    self_usd = cost.self_hosted_usd_per_month(rps, pair_unit, ca.ops_usd_per_month)
    api_usd = cost.api_usd_per_month(rps, per_request, ca.hours_per_month)
    saving = api_usd - self_usd
    cross = crossover.crossover_rps(pair_unit, ca.ops_usd_per_month, per_request, ca.hours_per_month).rps
    cross = np.where(np.isnan(cross), np.inf, cross)
    stats = {
        "crossover_rps": quantiles(cross),
        "self_hosted_usd_per_month": quantiles(self_usd),
        "api_usd_per_month": quantiles(api_usd),
        "saving_usd_per_month": quantiles(saving),
    }
    records = []
    for k in range(len(comps)):
        record = {
            f"{n}_{q}": _number(v[i, k]) for n, v in stats.items() for i, q in enumerate(QUANTILE_NAMES)
        }
        record["probability_self_hosted_cheaper"] = float(np.mean(saving[k] > 0.0))
        record["probability_no_crossover"] = float(np.mean(np.isinf(cross[k])))
        records.append(record)
    return records


@pytest.mark.parametrize(("samples", "chunk"), [(1, 1), (1000, 128), (5003, 997), (4096, 4096)])
def test_streamed_draws_are_the_draws_made_at_once(samples: int, chunk: int, monkeypatch):
    monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", chunk)
    spec = UncertaintySpec(samples=samples, seed=11)
    whole = draw(spec, n_price_keys=3, n_apis=2, n_engines=3, extrapolated=[0, 2, 2])
    stream = DrawStream(spec, 3, 2, 3, [0, 2, 2])
    assert stream.chunks[-1].stop == samples and all(p.stop - p.start <= chunk for p in stream.chunks)
    for part in stream.chunks:
        for k in range(3):
            np.testing.assert_array_equal(stream.price_u(k, part), whole.price_u[k, part])
        for a in range(2):
            np.testing.assert_array_equal(stream.api_multiplier(a, part), whole.api_multiplier[a, part])
        for row in range(6):
            np.testing.assert_array_equal(
                stream.efficiency_multiplier(row, part), whole.efficiency_multiplier[row, part]
            )
    assert (stream.low, stream.high) == (whole.efficiency_multiplier.min(), whole.efficiency_multiplier.max())


@pytest.mark.parametrize("seed", [0, 5])
def test_chunked_crossover_equals_the_whole_array_computation(seed: int, monkeypatch):
    catalog, scenario = builtin_catalog(), default_scenario(MODELS, all_apis=True)
    comps = headline_comparisons(catalog, scenario)
    spec = UncertaintySpec(samples=3001, seed=seed)
    reference = whole_array_crossover_samples(catalog, scenario, comps, spec)
    for chunk in (3001, 1000, 257):  # one chunk (unchunked), then chunks that do not divide the samples
        monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", chunk)
        records, _ = crossover_samples(catalog, scenario, comps, spec)
        assert records == reference, chunk


def test_chunked_costs_equal_unchunked(monkeypatch):
    catalog, scenario = builtin_catalog(), default_scenario(("llama-3.3-70b", "deepseek-v3"))
    spec = UncertaintySpec(samples=2500, seed=3)
    results = []
    for chunk in (10**6, 333):
        monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", chunk)
        results.append(costs_with_uncertainty(catalog, scenario, spec=spec, rows=12).results[:12])
    assert results[0] == results[1]
    assert all("self_hosted_usd_per_month_p50" in r for r in results[0])


def test_the_report_is_the_same_whatever_the_chunk(monkeypatch):
    catalog, scenario = builtin_catalog(), default_scenario(("qwen2.5-72b",))
    spec = UncertaintySpec(samples=1500, seed=2)
    monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", 1500)
    whole = crossover_with_uncertainty(catalog, scenario, spec=spec)
    monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", 100)
    chunked = crossover_with_uncertainty(catalog, scenario, spec=spec)
    assert chunked.results == whole.results and chunked.assumptions == whole.assumptions


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([np.inf, -np.inf, 0.0, 1.0])),
        min_size=1,
        max_size=300,
    )
)
def test_in_place_quantiles_are_numpys_inverted_cdf_quantiles(values: list[float]):
    samples = np.array(values, dtype=float)
    expected = quantiles(samples)
    got = quantiles_in_place(samples.copy(), order_statistics(len(samples)))
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(0.05, 1.0),
    span=st.floats(1e-6, 20.0),
    values=st.lists(st.floats(-5.0, 5.0, allow_nan=False), min_size=1, max_size=200),
)
def test_the_binned_node_search_is_numpys_searchsorted(low: float, span: float, values: list[float]):
    x_nodes = np.log(np.unique(np.append(np.geomspace(low, low + span, uncertainty.EFFICIENCY_NODES), 1.0)))
    # the samples, every node and its two neighbouring floats, and points far outside
    x = np.concatenate(
        [values, x_nodes, np.nextafter(x_nodes, -np.inf), np.nextafter(x_nodes, np.inf), [-50, 50]]
    )
    expected = np.clip(np.searchsorted(x_nodes, x, side="right") - 1, 0, len(x_nodes) - 2)
    np.testing.assert_array_equal(uncertainty.node_below(x_nodes, x), expected)


def test_the_chunked_crossover_kernel_is_crossover_rps_bit_for_bit():
    rng = np.random.default_rng(3)
    n = 20_000
    q = rng.choice([0.0, 0.01, 1.0, 3.3, 10.0], n) * rng.random(n)  # some units serve nothing
    v = rng.random(n) * 20_000
    v[::7] = 0.0  # free units
    per_request = rng.random(n) * 0.01
    per_request[::11] = 0.0  # a free API
    scratch = crossover.Scratch(n)
    for m0 in (1.0, 2.0, 40.0):  # the minimum units often above m* too
        for ops in (0.0, 4000.0):
            unit = cost.BillingUnit(np.asarray(1.0), np.asarray(1.0), v, q, np.asarray(m0))
            expected = crossover.crossover_rps(unit, ops, per_request, 730.0).rps
            expected[np.isnan(expected)] = np.inf
            got = crossover.crossover_rps_into(q, v, m0, ops, per_request, 730.0, np.empty(n), scratch)
            assert np.isfinite(expected).sum() > 1000 and np.isinf(expected).sum() > 1000
            np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------- memory


def peak_bytes(catalog, scenario: Scenario, samples: int) -> int:
    comps = headline_comparisons(catalog, scenario)
    spec = UncertaintySpec(samples=samples)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        crossover_samples(catalog, scenario, comps, spec)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_memory_grows_with_the_samples_not_with_the_comparisons():
    catalog = builtin_catalog()
    few = default_scenario(("llama-3.3-70b",))  # 2 comparisons
    many = default_scenario(tuple(m.id for m in catalog.models))  # every model's comparisons
    assert len(headline_comparisons(catalog, many)) >= 8 * len(headline_comparisons(catalog, few))
    n = 200_000
    per_sample_few, per_sample_many = peak_bytes(catalog, few, n) / n, peak_bytes(catalog, many, n) / n
    assert per_sample_many < 1.6 * per_sample_few, (per_sample_few, per_sample_many)
    assert (
        per_sample_many < 200
    )  # bytes per sample: a few arrays of n (and of the engines), however many comparisons
    assert peak_bytes(catalog, few, 2 * n) / (2 * n) < 1.3 * per_sample_few  # linear in the samples


def test_the_node_search_steps_where_one_bin_holds_two_nodes():
    # a geomspace node a hair below 1.0: the inserted node 1.0 shares its bin, so the bin's
    # guess plus one step is wrong for samples at or above 1.0 and the check must step on
    low, high = 0.5, 2.0
    nodes = np.geomspace(low, high, uncertainty.EFFICIENCY_NODES)
    nodes = np.unique(np.append(nodes * (1.0 - 1e-9) / nodes[np.argmin(np.abs(nodes - 1.0))], 1.0))
    x_nodes = np.log(nodes)
    gaps = np.diff(x_nodes)
    assert gaps.min() < (x_nodes[-1] - x_nodes[0]) / uncertainty.NODE_BINS  # two nodes in one bin
    near = x_nodes[np.argmin(gaps) : np.argmin(gaps) + 2]
    x = np.concatenate(
        [near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf), near.mean(keepdims=True)]
    )
    expected = np.clip(np.searchsorted(x_nodes, x, side="right") - 1, 0, len(x_nodes) - 2)
    np.testing.assert_array_equal(uncertainty.node_below(x_nodes, x), expected)
    j, w = uncertainty.node_weights(x_nodes, np.exp(x))
    lo, hi = x_nodes[j], x_nodes[j + 1]
    np.testing.assert_array_equal(w, np.clip((np.log(np.exp(x)) - lo) / (hi - lo), 0.0, 1.0))


def test_the_crossover_kernel_is_infinite_wherever_crossover_rps_finds_none():
    # the corners where the floored margin divides zero by zero or multiplies zero by infinity:
    # units serving nothing, free units, free APIs, no operations cost, and negative zeros
    values = np.array([0.0, -0.0, 1e-300, 0.5, 3.0, 1e6])  # no overflow: beyond it neither is exact
    q, v, p = (g.ravel() for g in np.meshgrid(values, values, values / 1e4))
    scratch = crossover.Scratch(len(q))
    for m0 in (1.0, 3.0):
        for ops in (0.0, 4000.0):
            unit = cost.BillingUnit(np.asarray(1.0), np.asarray(1.0), v, q, np.asarray(m0))
            with np.errstate(all="ignore"):
                expected = crossover.crossover_rps(unit, ops, p, 730.0).rps
            expected[np.isnan(expected)] = np.inf
            got = crossover.crossover_rps_into(q, v, m0, ops, p, 730.0, np.empty(len(q)), scratch)
            assert np.isinf(expected).sum() > 100 and np.isfinite(expected).sum() > 10
            np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=0, max_size=200),
    infinite=st.integers(0, 300),
)
def test_quantiles_told_how_many_samples_are_infinite_are_the_same(values: list[float], infinite: int):
    samples = np.array(values + [np.inf] * infinite, dtype=float)
    if len(samples) == 0:
        return
    np.random.default_rng(len(values)).shuffle(samples)
    expected = quantiles(samples)
    got = quantiles_in_place(samples.copy(), order_statistics(len(samples)), infinite)
    np.testing.assert_array_equal(got, expected)


def test_streamed_draws_read_in_any_order_are_the_same(monkeypatch):
    # a generator reads on where the previous chunk of its row ended, and jumps otherwise
    monkeypatch.setattr(uncertainty, "SAMPLE_CHUNK", 300)
    spec = UncertaintySpec(samples=1000, seed=4)
    whole = draw(spec, n_price_keys=2, n_apis=2, n_engines=1, extrapolated=[0, 0])
    stream = DrawStream(spec, 2, 2, 1, [0, 0])
    order = [3, 0, 1, 1, 2, 0, 3, 2]  # backwards, repeated, interleaved between rows
    for c in order:
        part = stream.chunks[c]
        for k in range(2):
            np.testing.assert_array_equal(stream.price_u(k, part), whole.price_u[k, part])
            np.testing.assert_array_equal(stream.api_multiplier(k, part), whole.api_multiplier[k, part])
        for row in range(3):
            np.testing.assert_array_equal(
                stream.efficiency_multiplier(row, part), whole.efficiency_multiplier[row, part]
            )


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(0.0, 1e300, allow_nan=False),
            st.sampled_from([0.0, 5e-324, 2.2250738585072014e-308, 1.0, np.inf]),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_quantiles_of_non_negative_samples_on_their_bits_are_numpys(values: list[float]):
    samples = np.array(values, dtype=float)
    got = quantiles_in_place(samples.copy(), order_statistics(len(samples)), non_negative=True)
    np.testing.assert_array_equal(got, quantiles(samples))
    assert not np.signbit(got).any()


def test_the_monthly_costs_are_known_non_negative_only_from_inputs_that_make_them_so():
    catalog, scenario = builtin_catalog(), default_scenario(("llama-3.3-70b", "qwen2.5-7b"))
    comps = headline_comparisons(catalog, scenario)
    spec = UncertaintySpec(samples=500)
    rows = np.unique(comps.rows)
    ranges, price_index, efficiency = _deployment_keys(catalog, comps.grid, rows, spec)
    stream = DrawStream(spec, len(ranges), 0, len(efficiency.engines), efficiency.extrapolated)
    for ops, expected in ((scenario.priced.ops_usd_per_month, True), (-1.0, False)):
        ca = dataclasses.replace(scenario.priced, ops_usd_per_month=ops)
        units = uncertainty.sampled_rows(
            comps.grid,
            rows,
            scenario.workload,
            ca,
            scenario.rate,
            stream,
            ranges,
            price_index,
            efficiency.row_index,
        )
        for _, row in units:
            assert row.non_negative is expected
            if expected:
                assert row.self_hosted_usd_per_month.min() >= 0.0


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=False),
            st.sampled_from([0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf, -1.0, 1.0]),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_quantiles_of_order_keys_are_numpys_quantiles_of_the_doubles(values: list[float]):
    samples = np.array(values, dtype=float)
    keys = uncertainty.order_keys(samples, np.empty(len(samples), dtype=np.int64))
    np.testing.assert_array_equal(samples[np.argsort(keys)], np.sort(samples))  # the keys sort as the doubles
    got = uncertainty.quantiles_of_order_keys(keys, order_statistics(len(samples)))
    np.testing.assert_array_equal(got, quantiles(samples))


def test_order_statistics_are_the_samples_numpy_picks():
    for n in [*range(1, 1200), 9_999, 10_000, 10_001, 99_999, 100_000, 1_000_000, 1_000_003]:
        picked = np.quantile(np.arange(n, dtype=float), uncertainty.QUANTILES, method="inverted_cdf")
        np.testing.assert_array_equal(order_statistics(n), picked.astype(np.intp), err_msg=str(n))
