"""`capacity()` gives exactly what one-step-per-call integer bisection gives, on a grid of cases.

`capacity` evaluates several bisection steps' probes in one `load_point` call for small inputs
and replays the steps; the reference below is the bisection as it was written before, one
`load_point` call per step, on whatever physics `load_point` has. Equality is exact, to the
last batch and bit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from selfhost.engine import throughput
from selfhost.engine.throughput import LIMIT_ENGINE, LIMIT_KV, LIMIT_LATENCY, LIMIT_NONE, ServingArrays

STEPS = 20  # the search covers batches up to 2**20


def bisection(s: ServingArrays, p, d, max_tpot_s, max_ttft_s) -> throughput.Capacity:
    """The reference: integer bisection in [1, B_max], one feasibility evaluation per step."""
    p = np.asarray(p, dtype=float)
    d = np.maximum(1.0, np.asarray(d, dtype=float))
    kv_limit = np.floor(s.kv_capacity_tokens / np.maximum(1.0, p + d / 2.0))
    b_max = np.minimum(kv_limit, s.max_batch_sequences)
    max_tpot, max_ttft = np.asarray(max_tpot_s, dtype=float), np.asarray(max_ttft_s, dtype=float)

    def feasible(batch):
        pt = throughput.load_point(s, batch, p, d)
        return (pt.tpot_s <= max_tpot) & (pt.ttft_s <= max_ttft) & (batch <= b_max)

    shape = np.broadcast_shapes(np.shape(b_max), np.shape(max_tpot), np.shape(max_ttft), np.shape(p))
    lo = np.ones(shape)
    hi = np.broadcast_to(np.maximum(1.0, b_max), shape).astype(float)
    ok_at_one = feasible(lo)
    for _ in range(STEPS):
        mid = np.floor((lo + hi + 1.0) / 2.0)
        good = feasible(mid)
        lo = np.where(good, mid, lo)
        hi = np.where(good, hi, mid - 1.0)
    batch = np.where(ok_at_one, lo, 0.0)
    at_b = np.broadcast_to(b_max, batch.shape)
    kv_first = np.broadcast_to(kv_limit, batch.shape) <= np.broadcast_to(s.max_batch_sequences, batch.shape)
    limit = np.where(
        batch == 0,
        LIMIT_NONE,
        np.where(batch < at_b, LIMIT_LATENCY, np.where(kv_first, LIMIT_KV, LIMIT_ENGINE)),
    )
    pt = throughput.load_point(s, np.maximum(batch, 1.0), p, d)
    zero = np.where(batch > 0, 1.0, 0.0)
    return throughput.Capacity(
        batch=batch,
        kv_batch_limit=kv_limit,
        limit=limit.astype(np.int8),
        point=dataclasses.replace(
            pt, requests_per_s=pt.requests_per_s * zero, output_tokens_per_s=pt.output_tokens_per_s * zero
        ),
    )


def deployments(n: int, seed: int) -> ServingArrays:
    """n varied deployments: 1-700 B parameters, dense and MoE, 1-8 GPUs, tensor parallel or layer split,
    KV capacity from none to millions of tokens, engine caps from 1 to 2**20 sequences."""
    rng = np.random.default_rng(seed)
    params = 10.0 ** rng.uniform(9, np.log10(700e9), n)
    moe = rng.random(n) < 0.3
    n_gpus = rng.choice([1.0, 2.0, 4.0, 8.0], n)
    weight_bytes = params * rng.choice([2.0, 1.0, 0.56], n)
    return ServingArrays.from_values(
        n_gpus=n_gpus,
        memory_bandwidth_bytes_s=rng.uniform(0.2e12, 8e12, n),
        peak_flops=rng.uniform(50e12, 2000e12, n),
        interconnect_bytes_s=rng.uniform(16e9, 900e9, n),
        weight_bytes=weight_bytes,
        expert_weight_bytes=np.where(moe, 0.85 * weight_bytes, 0.0),
        expert_active_fraction=np.where(moe, rng.choice([2 / 8, 8 / 128, 8 / 256], n), 0.0),
        kv_bytes_per_token=rng.uniform(2e4, 1e6, n),
        flops_per_token=2.0 * params * np.where(moe, 0.2, 1.0),
        attention_flops_per_token_per_context=rng.uniform(1e4, 1e6, n),
        num_layers=rng.integers(16, 126, n),
        hidden_size=rng.choice([2048.0, 4096.0, 8192.0, 16384.0], n),
        kv_capacity_tokens=np.where(rng.random(n) < 0.1, 0.0, 10.0 ** rng.uniform(2, 7, n)),
        memory_bandwidth_utilization=rng.uniform(0.3, 1.0, n),
        compute_utilization=rng.uniform(0.2, 0.8, n),
        step_overhead_s=rng.uniform(0.0, 0.02, n),
        allreduce_latency_s=rng.uniform(0.0, 5e-5, n),
        max_batch_sequences=rng.choice([1.0, 8.0, 256.0, 1024.0, 2.0**20], n),
        unread_weight_bytes=rng.uniform(0.0, 0.02, n) * weight_bytes,
        interconnect_bandwidth_utilization=rng.uniform(0.1, 1.0, n),
        layer_split=(rng.random(n) < 0.2).astype(float),
    )


def one(s: ServingArrays, i: int) -> ServingArrays:
    """Deployment i alone, every field a scalar (a one-at-a-time library call)."""
    return ServingArrays(
        **{
            f.name: np.asarray(getattr(s, f.name))[i] if np.ndim(getattr(s, f.name)) else getattr(s, f.name)
            for f in dataclasses.fields(s)
        }
    )


def assert_same(got: throughput.Capacity, want: throughput.Capacity) -> None:
    np.testing.assert_array_equal(got.batch, want.batch)
    np.testing.assert_array_equal(got.limit, want.limit)
    np.testing.assert_array_equal(got.kv_batch_limit, want.kv_batch_limit)
    for field in dataclasses.fields(want.point):
        np.testing.assert_array_equal(getattr(got.point, field.name), getattr(want.point, field.name))


# Workloads: token mixes and latency targets from very tight to none.
WORKLOADS = [
    (1000.0, 300.0, 0.1, 3.0),
    (100.0, 20.0, 0.02, 0.5),
    (8000.0, 1000.0, 0.2, 10.0),
    (1.0, 1.0, 1e9, 1e9),
    (32000.0, 500.0, 0.05, 1.0),
]


@pytest.mark.parametrize(("p", "d", "tpot", "ttft"), WORKLOADS)
def test_one_deployment_at_a_time_equals_the_bisection(p, d, tpot, ttft):
    s = deployments(120, seed=1)
    for i in range(120):
        single = one(s, i)
        assert_same(throughput.capacity(single, p, d, tpot, ttft), bisection(single, p, d, tpot, ttft))


@pytest.mark.parametrize(
    "n", [2, 7, 30, 100, 600, 5000]
)  # every batching of the probes, up to one step per call
def test_arrays_of_deployments_equal_the_bisection(n: int):
    s = deployments(n, seed=n)
    for p, d, tpot, ttft in WORKLOADS:
        assert_same(throughput.capacity(s, p, d, tpot, ttft), bisection(s, p, d, tpot, ttft))


def test_broadcast_workloads_equal_the_bisection():
    """Cases x deployments, as sensitivity and uncertainty call it: token mixes and targets as columns."""
    s = deployments(40, seed=7)
    p = np.array([[100.0], [1000.0], [8000.0]])
    d = np.array([[50.0], [300.0], [900.0]])
    tpot = np.array([[0.05], [0.1], [0.3]])
    got, want = throughput.capacity(s, p, d, tpot, 5.0), bisection(s, p, d, tpot, 5.0)
    assert got.batch.shape == (3, 40)
    assert_same(got, want)


def test_broadcast_workloads_of_a_large_input_equal_the_bisection():
    """The one-step-per-call search (a large input) on token mixes as columns and efficiencies as
    rows: every input broadcast, rows at B_max, bisected and infeasible alike."""
    s = deployments(1500, seed=3)
    p = np.array([[100.0], [1000.0], [8000.0]])
    d = np.array([[50.0], [300.0], [900.0]])
    got, want = (
        throughput.capacity(s, p, d, 0.1, np.array([[0.5], [3.0], [9.0]])),
        bisection(s, p, d, 0.1, np.array([[0.5], [3.0], [9.0]])),
    )
    assert got.batch.shape == (3, 1500)
    assert {LIMIT_NONE, LIMIT_LATENCY} <= set(np.unique(got.limit).tolist())
    assert_same(got, want)


def test_scaled_efficiencies_broadcast_like_the_bisection():
    """Serving fields of a larger shape than the KV capacity (efficiency cases x configs)."""
    s = deployments(25, seed=11)
    scaled = dataclasses.replace(
        s,
        memory_bandwidth_utilization=np.minimum(
            1.0, s.memory_bandwidth_utilization[None, :] * [[0.5], [1.5]]
        ),
    )
    got, want = (
        throughput.capacity(scaled, 1000.0, 300.0, 0.1, 3.0),
        bisection(scaled, 1000.0, 300.0, 0.1, 3.0),
    )
    assert got.batch.shape == want.batch.shape == (2, 25)
    assert_same(got, want)


def test_the_search_finds_every_batch_size_up_to_the_cap():
    """A latency target that allows exactly B sequences gives batch B, for B across [1, cap]."""
    s = one(deployments(1, seed=3), 0)
    s = dataclasses.replace(s, kv_capacity_tokens=np.asarray(1e12), max_batch_sequences=np.asarray(4096.0))
    for b in [1, 2, 3, 63, 64, 65, 1000, 4095, 4096]:
        tpot_at_b = throughput.load_point(s, float(b), 1000.0, 300.0).tpot_s
        cap = throughput.capacity(s, 1000.0, 300.0, tpot_at_b, 1e9)
        assert cap.batch == b
        assert_same(cap, bisection(s, 1000.0, 300.0, tpot_at_b, 1e9))
