"""The cost of a traffic profile: fixed for the peak vs hourly autoscaling, the API on the same
requests, and the crossover of the whole profile scaled, exact and checked by brute force.

A flat profile must reproduce selfhost.engine.cost and selfhost.engine.crossover exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfhost.engine import cost, crossover
from selfhost.engine import traffic_cost as tc

HOURS = 730.0
OPS = 4000.0


def unit_for(capacity=2.0, target=0.7, min_replicas=1, gpus=2, instance=8, price=2.5):
    return cost.billing_unit(
        capacity_rps=capacity,
        target_utilization=target,
        min_replicas=min_replicas,
        gpus_per_replica=gpus,
        instance_gpus=instance,
        usd_per_gpu_hour=price,
        hours_per_month=HOURS,
    )


def business_hours(n_hours=168, high=8.0, low=1.0):
    return np.array([high if 9 <= h % 24 < 18 and h // 24 < 5 else low for h in range(n_hours)])


# --------------------------------------------------------------------------- flat = today's model


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.01, 200.0),
    capacity=st.floats(0.05, 20.0),
    target=st.floats(0.1, 1.0),
    min_replicas=st.integers(0, 4),
    gpus=st.sampled_from([1, 2, 4, 8]),
    instance=st.sampled_from([1, 2, 8]),
    price=st.floats(0.2, 12.0),
    ops=st.floats(0.0, 20000.0),
    usd_per_request=st.floats(1e-5, 0.05),
    n_hours=st.sampled_from([24, 168]),
    granularity=st.sampled_from([1, 4, 24]),
)
def test_a_flat_profile_costs_what_cost_py_says_and_crosses_where_crossover_py_says(
    rate, capacity, target, min_replicas, gpus, instance, price, ops, usd_per_request, n_hours, granularity
):
    unit = unit_for(capacity, target, min_replicas, gpus, instance, price)
    flat = np.full(n_hours, rate)
    today = cost.self_hosted_usd_per_month(rate, unit, ops)
    units = cost.units_needed(rate, unit)
    for p in (
        tc.fixed_provisioning(
            flat, unit, capacity_rps=capacity, ops_usd_per_month=ops, hours_per_month=HOURS
        ),
        tc.autoscaled_provisioning(
            flat,
            unit,
            capacity_rps=capacity,
            ops_usd_per_month=ops,
            hours_per_month=HOURS,
            billing_granularity_h=granularity,
        ),
    ):
        assert float(p.usd_per_month) == pytest.approx(float(today), rel=1e-12)
        assert np.all(p.units_by_hour == units)  # same replicas, every hour
        assert float(p.gpu_hours_per_month) == pytest.approx(float(units * unit.gpus * HOURS), rel=1e-12)
    api_today = cost.api_usd_per_month(rate, usd_per_request, HOURS)
    assert float(tc.api_usd_per_month(flat, usd_per_request, HOURS)) == pytest.approx(
        float(api_today), rel=1e-12
    )

    flat_cross = crossover.crossover_rps(unit, ops, usd_per_request, HOURS)
    for g in (None, granularity):
        profile = tc.profile_crossover(
            flat,
            unit,
            ops_usd_per_month=ops,
            usd_per_request=usd_per_request,
            hours_per_month=HOURS,
            billing_granularity_h=g,
        )
        assert int(profile.reason) == int(flat_cross.reason)
        if flat_cross.reason == crossover.CROSSES:
            assert float(profile.mean_rps) == pytest.approx(float(flat_cross.rps), rel=1e-9, abs=1e-12)
            assert float(profile.multiple) == pytest.approx(float(flat_cross.rps) / rate, rel=1e-9, abs=1e-12)
        else:
            assert math.isnan(float(profile.mean_rps))


# --------------------------------------------------------------------------- brute force


def self_cost(k, rates, unit, granularity):
    """Brute-force monthly self-hosted cost at scale k (one deployment)."""
    q, m0, v = float(unit.rps), float(unit.min_units), float(unit.usd_per_month)
    n = rates.size
    units = np.maximum(m0, np.ceil(k * rates / q))
    if granularity is None:
        units = np.full(n, units.max())
    else:
        units = np.repeat(units.reshape(-1, granularity).max(axis=1), granularity)
    return OPS + v * units.sum() / n


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_hours=st.sampled_from([24, 168]),
    granularity=st.sampled_from([None, 1, 2, 24]),
    capacity=st.floats(0.5, 5.0),
    min_replicas=st.integers(0, 3),
    usd_per_request=st.floats(0.002, 0.02),
)
def test_the_exact_profile_crossover_agrees_with_a_brute_force_scan(
    seed, n_hours, granularity, capacity, min_replicas, usd_per_request
):
    rng = np.random.default_rng(seed)
    rates = rng.gamma(1.5, 2.0, size=n_hours)
    unit = unit_for(capacity=capacity, min_replicas=min_replicas)
    result = tc.profile_crossover(
        rates,
        unit,
        ops_usd_per_month=OPS,
        usd_per_request=usd_per_request,
        hours_per_month=HOURS,
        billing_granularity_h=granularity,
    )
    api_at_1 = float(tc.api_usd_per_month(rates, usd_per_request, HOURS))
    if int(result.reason) != crossover.CROSSES:
        assert int(result.reason) == crossover.API_CHEAPER_AT_SCALE
        # asymptotically the self-hosted cost grows at least as fast as the API's
        big = 1e4
        assert self_cost(big, rates, unit, granularity) >= api_at_1 * big * 0.999
        return
    k_star = float(result.multiple)
    # at k* self-hosting is not cheaper; everywhere above it (on a fine grid) it is
    assert self_cost(k_star, rates, unit, granularity) >= api_at_1 * k_star * (1 - 1e-9)
    grid = np.linspace(k_star * (1 + 1e-9) + 1e-12, 3 * k_star + 10, 4000)
    assert all(self_cost(k, rates, unit, granularity) < api_at_1 * k for k in grid)
    # and the scan's last not-cheaper point below k* sits within one grid step of it. The scan
    # includes a point just after every step start (k = j q / rate of some hour): where the API line
    # crosses a step just after it starts, the not-cheaper stretch is shorter than a grid step
    top = k_star * 1.5 + 1
    q = float(unit.rps)
    starts = np.concatenate([np.arange(1, np.ceil(top * r / q) + 1) * q / r for r in rates if r > 0])
    scan = np.union1d(np.linspace(0, top, 20001)[1:], starts[starts <= top] * (1 + 1e-12))
    not_cheaper = [k for k in scan if self_cost(k, rates, unit, granularity) >= api_at_1 * k]
    step = top / 20000
    assert max(not_cheaper) == pytest.approx(k_star, abs=step)


def test_step_crossover_with_one_block_is_the_closed_form():
    unit = unit_for()
    mine, why = tc.step_crossover(
        np.array([1.0]),
        np.array([float(unit.usd_per_month)]),
        1.0,
        float(unit.rps),
        OPS,
        0.006 * HOURS * 3600,
    )
    flat = crossover.crossover_rps(unit, OPS, 0.006, HOURS)
    assert why == crossover.CROSSES
    assert mine == pytest.approx(float(flat.rps), rel=1e-12)


def test_reasons_when_there_is_no_crossover():
    rates = business_hours()
    dead = unit_for(capacity=0.0)
    assert (
        int(
            tc.profile_crossover(
                rates,
                dead,
                ops_usd_per_month=OPS,
                usd_per_request=0.01,
                hours_per_month=HOURS,
                billing_granularity_h=1,
            ).reason
        )
        == crossover.NO_CAPACITY
    )
    assert (
        int(
            tc.profile_crossover(
                rates,
                unit_for(),
                ops_usd_per_month=OPS,
                usd_per_request=0.0,
                hours_per_month=HOURS,
                billing_granularity_h=1,
            ).reason
        )
        == crossover.API_FREE
    )
    # a request price far below the GPU cost per request: the API stays cheaper at any scale
    assert (
        int(
            tc.profile_crossover(
                rates,
                unit_for(),
                ops_usd_per_month=OPS,
                usd_per_request=1e-6,
                hours_per_month=HOURS,
                billing_granularity_h=1,
            ).reason
        )
        == crossover.API_CHEAPER_AT_SCALE
    )


# --------------------------------------------------------------------------- fixed vs autoscaled


def test_fixed_provisioning_pays_the_peak_all_month_and_autoscaling_follows_the_hours():
    # 2 req/s per replica at 70 % = 1.4 req/s planned per replica; 4 replicas per 8-GPU unit = 5.6 req/s
    unit = unit_for()
    rates = business_hours(high=8.0, low=1.0)  # 45 business hours at 8 req/s, 123 hours at 1 req/s
    fixed = tc.fixed_provisioning(rates, unit, capacity_rps=2.0, ops_usd_per_month=OPS, hours_per_month=HOURS)
    scaled = tc.autoscaled_provisioning(
        rates, unit, capacity_rps=2.0, ops_usd_per_month=OPS, hours_per_month=HOURS
    )
    # peak 8 req/s needs ceil(8 / 5.6) = 2 units of 8 GPUs at $2.5/h: 2 x 14,600 + 4,000
    assert float(fixed.usd_per_month) == pytest.approx(2 * 8 * 2.5 * HOURS + OPS)
    assert np.all(fixed.units_by_hour == 2)
    # autoscaled: 2 units for 45 of 168 hours, 1 unit otherwise
    expected = OPS + 8 * 2.5 * HOURS * (45 * 2 + 123 * 1) / 168
    assert float(scaled.usd_per_month) == pytest.approx(expected)
    assert float(scaled.gpu_hours_per_month) == pytest.approx(8 * HOURS * (45 * 2 + 123) / 168)
    # idle share: paid capacity at 100 % is units x 4 replicas x 2 req/s
    used = rates / (fixed.units_by_hour * 4 * 2.0)
    idle_fixed = 8 * 2.5 * HOURS / 168 * np.sum(fixed.units_by_hour * (1 - used))
    assert float(fixed.idle_usd_per_month) == pytest.approx(idle_fixed)
    assert float(fixed.idle_share) == pytest.approx(idle_fixed / float(fixed.usd_per_month))
    assert float(scaled.idle_share) < float(fixed.idle_share)


def test_profile_costs_is_both_provisionings_and_the_api_on_one_billing_unit():
    unit, rates = unit_for(), business_hours()
    month = tc.profile_costs(
        rates, unit, capacity_rps=2.0, usd_per_request=0.002, ops_usd_per_month=OPS, hours_per_month=HOURS,
        billing_granularity_h=4,
    )  # fmt: skip
    fixed = tc.fixed_provisioning(rates, unit, capacity_rps=2.0, ops_usd_per_month=OPS, hours_per_month=HOURS)
    scaled = tc.autoscaled_provisioning(
        rates, unit, capacity_rps=2.0, ops_usd_per_month=OPS, hours_per_month=HOURS, billing_granularity_h=4
    )
    for got, want in ((month.fixed, fixed), (month.autoscaled, scaled)):
        assert all(np.array_equal(getattr(got, f), getattr(want, f)) for f in vars(want))
    assert float(month.autoscaled.usd_per_month) < float(month.fixed.usd_per_month)  # nights cost less
    assert float(month.api_usd_per_month) == float(tc.api_usd_per_month(rates, 0.002, HOURS))


def test_billing_blocks_pay_for_the_busiest_hour_of_each_block():
    values = np.array([1, 3, 2, 2, 5, 1] * 4, dtype=float)
    assert tc.block_max(values, 3).tolist() == [3, 3, 3, 5, 5, 5] * 4
    assert tc.block_max(values, 1).tolist() == values.tolist()
    assert tc.block_max(values, 24).tolist() == [5.0] * 24
    with pytest.raises(ValueError, match="dividing 24"):
        tc.block_max(values, 5)


def test_coarser_billing_never_costs_less_and_a_whole_week_block_is_fixed_provisioning():
    unit = unit_for()
    rates = business_hours()
    costs = [
        float(
            tc.autoscaled_provisioning(
                rates,
                unit,
                capacity_rps=2.0,
                ops_usd_per_month=OPS,
                hours_per_month=HOURS,
                billing_granularity_h=g,
            ).usd_per_month
        )
        for g in (1, 2, 4, 8, 24, 168)
    ]
    assert costs == sorted(costs)
    fixed = tc.fixed_provisioning(rates, unit, capacity_rps=2.0, ops_usd_per_month=OPS, hours_per_month=HOURS)
    assert costs[-1] == pytest.approx(float(fixed.usd_per_month))
    week_block = tc.profile_crossover(
        rates,
        unit,
        ops_usd_per_month=OPS,
        usd_per_request=0.004,
        hours_per_month=HOURS,
        billing_granularity_h=168,
    )
    peak = tc.profile_crossover(
        rates,
        unit,
        ops_usd_per_month=OPS,
        usd_per_request=0.004,
        hours_per_month=HOURS,
        billing_granularity_h=None,
    )
    assert float(week_block.multiple) == pytest.approx(float(peak.multiple), rel=1e-9)


def test_a_peaky_profile_crosses_later_than_a_flat_one_of_the_same_mean():
    unit = unit_for()
    peaky = business_hours()
    flat = np.full(168, peaky.mean())
    kwargs = dict(ops_usd_per_month=OPS, usd_per_request=0.004, hours_per_month=HOURS)
    flat_rps = float(tc.profile_crossover(flat, unit, billing_granularity_h=None, **kwargs).mean_rps)
    fixed_rps = float(tc.profile_crossover(peaky, unit, billing_granularity_h=None, **kwargs).mean_rps)
    scaled_rps = float(tc.profile_crossover(peaky, unit, billing_granularity_h=1, **kwargs).mean_rps)
    assert flat_rps < scaled_rps < fixed_rps


def test_shapes_broadcast_deployments_against_the_hours():
    rates = business_hours()
    unit = cost.billing_unit(
        capacity_rps=np.array([1.0, 2.0, 4.0]),
        target_utilization=0.7,
        min_replicas=1,
        gpus_per_replica=2,
        instance_gpus=8,
        usd_per_gpu_hour=2.5,
        hours_per_month=HOURS,
    )
    p = tc.autoscaled_provisioning(
        rates, unit, capacity_rps=np.array([1.0, 2.0, 4.0]), ops_usd_per_month=OPS, hours_per_month=HOURS
    )
    assert p.units_by_hour.shape == (3, 168)
    assert p.usd_per_month.shape == (3,)
    assert np.all(np.diff(p.usd_per_month) <= 0)  # more capacity per replica never costs more
    c = tc.profile_crossover(
        rates,
        unit,
        ops_usd_per_month=OPS,
        usd_per_request=np.array([0.004, 0.004, 0.004]),
        hours_per_month=HOURS,
        billing_granularity_h=1,
    )
    assert c.multiple.shape == (3,)
    one = tc.profile_crossover(
        rates,
        unit_for(capacity=2.0),
        ops_usd_per_month=OPS,
        usd_per_request=0.004,
        hours_per_month=HOURS,
        billing_granularity_h=1,
    )
    assert float(c.multiple[1]) == pytest.approx(float(one.multiple))


def test_bad_profiles_are_refused_with_what_was_expected():
    unit = unit_for()
    with pytest.raises(ValueError, match="24 or 168 hours"):
        tc.fixed_provisioning(np.ones(10), unit, capacity_rps=2.0, ops_usd_per_month=0, hours_per_month=HOURS)
    with pytest.raises(ValueError, match="non-negative"):
        tc.fixed_provisioning(
            -np.ones(24), unit, capacity_rps=2.0, ops_usd_per_month=0, hours_per_month=HOURS
        )
