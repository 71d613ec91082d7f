"""Cost model: billing units, API bills, owned hardware, monotonicity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfhost.engine.cost import (
    api_usd_per_month,
    api_usd_per_request,
    billing_unit,
    owned_usd_per_gpu_hour,
    payback_months,
    replicas_needed,
    self_hosted_usd_per_month,
    units_needed,
    usd_per_mtok,
)


def unit(capacity=4.0, n=1, k=1, price=3.39, min_replicas=1, util=0.8):
    return billing_unit(
        capacity_rps=capacity,
        target_utilization=util,
        min_replicas=min_replicas,
        gpus_per_replica=n,
        instance_gpus=k,
        usd_per_gpu_hour=price,
        hours_per_month=730,
    )


def test_one_gpu_replica_on_single_gpu_instances():
    u = unit()
    assert (u.gpus, u.replicas) == (1, 1)
    assert u.usd_per_month == pytest.approx(3.39 * 730)  # DigitalOcean H100 x1, facts.md §3.1
    assert u.rps == pytest.approx(3.2)


def test_eight_gpu_instances_hold_several_replicas():
    # TP-2 replicas on an 8-GPU instance: one unit = 8 GPUs = 4 replicas
    u = unit(n=2, k=8)
    assert (u.gpus, u.replicas) == (8, 4)
    # TP-16 across 8-GPU instances: one unit = 16 GPUs = 1 replica
    u = unit(n=16, k=8)
    assert (u.gpus, u.replicas) == (16, 1)


def test_units_step_with_rps_and_respect_the_minimum():
    u = unit(capacity=4.0, util=1.0, min_replicas=2)
    assert units_needed(np.array([0.0, 1.0, 8.0, 8.01, 12.0]), u).tolist() == [2, 2, 2, 3, 3]


def test_replicas_needed_formula():
    assert replicas_needed(np.array([0.0, 3.2, 3.3]), 4.0, 0.8, 1).tolist() == [1, 1, 2]


def test_no_capacity_means_infinite_cost():
    assert np.isinf(self_hosted_usd_per_month(1.0, unit(capacity=0.0), 1000))


def test_api_bill_for_gpt_4_1_at_5_rps():
    # gpt-4.1 $2 / $8 per 1M (facts.md §4): 1000 in + 300 out = $0.0044 per request
    per_request = api_usd_per_request(
        input_tokens=1000, output_tokens=300, usd_per_mtok_input=2, usd_per_mtok_output=8
    )
    assert per_request == pytest.approx(0.0044)
    assert api_usd_per_month(5, per_request, 730) == pytest.approx(0.0044 * 5 * 730 * 3600)


def test_cached_input_is_billed_at_the_cached_price():
    full = api_usd_per_request(
        input_tokens=1000, output_tokens=0, usd_per_mtok_input=2, usd_per_mtok_output=8
    )
    half = api_usd_per_request(
        input_tokens=1000,
        output_tokens=0,
        usd_per_mtok_input=2,
        usd_per_mtok_output=8,
        cached_input_fraction=0.5,
        usd_per_mtok_cached_input=0.5,
    )
    assert half == pytest.approx(full * 0.625)


def test_usd_per_mtok_is_nan_without_traffic():
    values = usd_per_mtok(np.array([1000.0, 1000.0]), np.array([0.0, 1.0]), 1300, 730)
    assert np.isnan(values[0])
    assert values[1] == pytest.approx(1000 * 1e6 / (730 * 3600 * 1300))


def test_owned_hardware_hourly_rate():
    # $30,000 over 36 months of 730 h, 1 kW at PUE 1.4 and $0.12/kWh, $150/month hosting
    rate = owned_usd_per_gpu_hour(
        usd_per_gpu=30_000,
        amortization_months=36,
        watts_per_gpu=1000,
        usd_per_kwh=0.12,
        pue=1.4,
        hosting_usd_per_gpu_month=150,
        hours_per_month=730,
    )
    assert rate == pytest.approx(30_000 / (36 * 730) + 1.4 * 0.12 + 150 / 730)


def test_payback_is_infinite_when_self_hosting_saves_nothing():
    assert payback_months(0.0, -100.0) == np.inf
    assert payback_months(0.0, 0.0) == np.inf


def test_payback():
    assert payback_months(np.array([10_000, 10_000, 0]), np.array([2_000, -5, 5])).tolist() == [
        5.0,
        np.inf,
        0.0,
    ]


@settings(max_examples=80, deadline=None)
@given(
    price=st.floats(0.1, 20),
    bump=st.floats(0.0, 10),
    rps=st.floats(0, 500),
    capacity=st.floats(0.01, 100),
)
def test_cost_never_falls_when_the_price_rises(price, bump, rps, capacity):
    low = self_hosted_usd_per_month(rps, unit(capacity=capacity, price=price), 500)
    high = self_hosted_usd_per_month(rps, unit(capacity=capacity, price=price + bump), 500)
    assert high >= low


def test_grid_broadcasts_deployments_against_rps():
    u = unit(capacity=np.array([[1.0], [4.0], [9.0]]), price=np.array([[1.0], [2.0], [3.0]]))
    costs = self_hosted_usd_per_month(np.linspace(0, 50, 7)[None, :], u, 1000)
    assert costs.shape == (3, 7)
