"""The crossover is exact: it matches a brute-force scan of both cost curves."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfhost.engine.cost import api_usd_per_month, billing_unit, self_hosted_usd_per_month
from selfhost.engine.crossover import (
    API_CHEAPER_AT_SCALE,
    API_FREE,
    CROSSES,
    NO_CAPACITY,
    crossover_rps,
)

HOURS = 730.0


def unit_for(capacity, price, n=1, k=1, min_replicas=1, util=1.0):
    return billing_unit(
        capacity_rps=capacity,
        target_utilization=util,
        min_replicas=min_replicas,
        gpus_per_replica=n,
        instance_gpus=k,
        usd_per_gpu_hour=price,
        hours_per_month=HOURS,
    )


def brute_force_crossover(unit, ops, usd_per_request, r_max, samples=200_001):
    """Largest scanned rate at which self-hosting is not cheaper; the crossover is just above it.

    Scans an even grid plus a point just after every cost step, where a gap too narrow for the
    grid can reopen.
    """
    grid = np.linspace(0.0, r_max, samples)
    step_starts = np.arange(0.0, r_max, float(unit.rps)) * (1 + 1e-12) + 1e-12
    r = np.sort(np.concatenate([grid, step_starts]))
    self_cost = self_hosted_usd_per_month(r, unit, ops)
    api_cost = api_usd_per_month(r, usd_per_request, HOURS)
    not_cheaper = r[self_cost >= api_cost]
    return float(not_cheaper.max()), float(grid[1] - grid[0])


def test_hand_computed_single_gpu_case():
    # One GPU at $2/h = $1460/month serving 10 req/s; ops $1000/month; API $0.001/request
    # -> a = 0.001 * 730 * 3600 = $2628 per (req/s)/month. Step 1 costs 2460 -> API matches at
    # r = 2460 / 2628 = 0.936 req/s < 10, and step 2 (r in (10, 20]) starts at 26280 > 3920.
    unit = unit_for(capacity=10.0, price=2.0)
    result = crossover_rps(unit, 1000.0, 0.001, HOURS)
    assert result.reason == CROSSES
    assert result.rps == pytest.approx(2460.0 / 2628.0)


def test_step_that_reopens_the_gap_moves_the_crossover_to_the_last_step():
    # Expensive GPU, small capacity: after the first crossing, adding replica 2 makes
    # self-hosting dearer again, so the answer is on a later step, not the first crossing.
    unit = unit_for(capacity=1.0, price=3.0)  # V = 2190 per unit, q = 1
    a = 2628.0  # USD/month per req/s at $0.001/request
    result = crossover_rps(unit, 5000.0, 0.001, HOURS)
    m_star = np.ceil((5000 + a) / (a - 2190.0)) - 1
    assert result.rps == pytest.approx(min(m_star, (5000 + 2190 * m_star) / a))
    r0, dr = brute_force_crossover(unit, 5000.0, 0.001, 40.0)
    assert abs(float(result.rps) - r0) <= dr


@pytest.mark.parametrize(
    ("capacity", "price", "usd_per_request", "reason"),
    [
        (0.0, 2.0, 0.001, NO_CAPACITY),  # does not fit: serves nothing
        (
            1.0,
            10.0,
            0.001,
            API_CHEAPER_AT_SCALE,
        ),  # a unit costs $7300 but its traffic is worth $2628
        (10.0, 2.0, 0.0, API_FREE),
    ],
)
def test_never_cases_say_why(capacity, price, usd_per_request, reason):
    result = crossover_rps(unit_for(capacity, price), 1000.0, usd_per_request, HOURS)
    assert result.reason == reason
    assert np.isnan(result.rps)


def test_broadcasts_deployments_against_apis():
    unit = unit_for(np.array([[5.0], [10.0], [20.0]]), np.array([[2.0], [2.0], [4.0]]))
    result = crossover_rps(unit, 1000.0, np.array([[0.0005, 0.001, 0.004, 0.01]]), HOURS)
    assert result.rps.shape == (3, 4)
    assert result.reason.shape == (3, 4)


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.floats(0.05, 50.0),
    price=st.floats(0.2, 12.0),
    n=st.sampled_from([1, 2, 4, 8]),
    k=st.sampled_from([1, 2, 8]),
    min_replicas=st.integers(1, 3),
    util=st.floats(0.3, 1.0),
    ops=st.floats(0.0, 20_000.0),
    usd_per_request=st.floats(1e-5, 0.05),
)
def test_matches_brute_force_scan(capacity, price, n, k, min_replicas, util, ops, usd_per_request):
    unit = unit_for(capacity, price, n=n, k=k, min_replicas=min_replicas, util=util)
    result = crossover_rps(unit, ops, usd_per_request, HOURS)
    if result.reason != CROSSES:
        assert result.reason == API_CHEAPER_AT_SCALE
        # Far out, self-hosting is still not cheaper at the start of some step.
        r = np.linspace(0, 200 * float(unit.rps), 20_001)[1:]
        assert np.any(self_hosted_usd_per_month(r, unit, ops) >= api_usd_per_month(r, usd_per_request, HOURS))
        return
    r_star = float(result.rps)
    r_max = max(3.0 * r_star, 3.0 * float(unit.rps) * float(unit.min_units)) + 1.0
    r0, dr = brute_force_crossover(unit, ops, usd_per_request, r_max)
    assert abs(r_star - r0) <= 2 * dr + 1e-9 * r_star
    # and it holds: every scanned rate above the crossover is strictly cheaper self-hosted
    above = np.linspace(r_star * (1 + 1e-9) + 1e-12, r_max, 5001)
    assert np.all(
        self_hosted_usd_per_month(above, unit, ops) < api_usd_per_month(above, usd_per_request, HOURS)
    )
