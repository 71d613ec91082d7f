"""Roofline throughput: physics limits, monotonicity, and the capacity search."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfhost.engine.throughput import (
    LIMIT_ENGINE,
    LIMIT_KV,
    LIMIT_LATENCY,
    LIMIT_NONE,
    ServingArrays,
    capacity,
    decode_step_time_s,
    load_point,
    prefill_time_s,
    weight_bytes_read_per_step,
)


def serving(**overrides):
    """Llama-3-70B-like at 4 bits on one 400 GB/s device unless overridden."""
    values = dict(
        n_gpus=1,
        memory_bandwidth_bytes_s=400e9,
        peak_flops=14.2e12,
        interconnect_bytes_s=400e9,
        weight_bytes=42.5e9,
        expert_weight_bytes=0.0,
        expert_active_fraction=0.0,
        kv_bytes_per_token=327_680,
        flops_per_token=2 * 70e9,
        attention_flops_per_token_per_context=4 * 80 * 64 * 128,
        num_layers=80,
        hidden_size=8192,
        kv_capacity_tokens=20_000,
        memory_bandwidth_utilization=1.0,
        compute_utilization=1.0,
        step_overhead_s=0.0,
        allreduce_latency_s=0.0,
        max_batch_sequences=256,
    )
    values.update(overrides)
    return ServingArrays.from_values(**values)


def test_single_stream_decode_is_bounded_by_bandwidth_over_weight_bytes():
    # facts.md §6: M3 Max 400 GB/s over a 42.5 GB Q4_K_M 70B -> ceiling ~9.4 tokens/s
    step = decode_step_time_s(serving(), 1, 1)
    assert 1.0 / step == pytest.approx(400 / 42.5, rel=1e-3)


def test_efficiency_and_overhead_slow_decode_down():
    fast = decode_step_time_s(serving(), 1, 512)
    slow = decode_step_time_s(serving(memory_bandwidth_utilization=0.75, step_overhead_s=0.002), 1, 512)
    assert slow == pytest.approx(fast / 0.75 + 0.002, rel=1e-2)


def test_large_batches_become_compute_bound():
    s = serving(memory_bandwidth_bytes_s=3350e9, peak_flops=989e12, kv_bytes_per_token=0.0)
    step = decode_step_time_s(s, 4096, 0)
    assert step == pytest.approx(4096 * 2 * 70e9 / 989e12, rel=1e-6)


def test_moe_small_batches_read_only_the_touched_experts():
    s = serving(weight_bytes=100e9, expert_weight_bytes=90e9, expert_active_fraction=8 / 256)
    assert weight_bytes_read_per_step(s, 1) == pytest.approx(10e9 + 90e9 * 8 / 256)
    assert weight_bytes_read_per_step(s, 10_000) == pytest.approx(100e9, rel=1e-6)


def test_tensor_parallel_adds_allreduce_time():
    one = decode_step_time_s(serving(n_gpus=1), 8, 1000)
    two = decode_step_time_s(serving(n_gpus=2, allreduce_latency_s=1e-5), 8, 1000)
    assert two > one / 2


def test_a_layer_split_runs_each_step_at_one_gpus_speed():
    # llama.cpp's default: the GPUs hold runs of layers and take turns, so 4 GPUs decode a model
    # no faster than one GPU big enough to hold it, and nothing is all-reduced
    split = serving(n_gpus=4, layer_split=1.0, allreduce_latency_s=1e-3, step_overhead_s=0.004)
    one = serving(n_gpus=1, allreduce_latency_s=1e-3, step_overhead_s=0.004)
    for batch, context in [(1, 1), (8, 1000), (64, 4000)]:
        assert decode_step_time_s(split, batch, context) == pytest.approx(
            decode_step_time_s(one, batch, context)
        )
    assert prefill_time_s(split, 2048) == pytest.approx(prefill_time_s(one, 2048))
    # facts-style check: 141 GB of BF16 70B weights at one H100 PCIe's 2,000 GB/s is ~14 tokens/s
    h100x4 = serving(
        n_gpus=4, layer_split=1.0, memory_bandwidth_bytes_s=2000e9, weight_bytes=141e9, peak_flops=756e12
    )
    assert 1.0 / decode_step_time_s(h100x4, 1, 1) == pytest.approx(2000 / 141, rel=1e-3)
    # the same GPUs in tensor parallel add their bandwidth (minus the all-reduces)
    assert decode_step_time_s(serving(n_gpus=4), 1, 1) == pytest.approx(
        decode_step_time_s(one, 1, 1) / 4, rel=0.05
    )


def test_prefill_is_compute_bound_for_long_prompts():
    # 2 * 70e9 * 4096 FLOPs plus causal attention at 14.2 TFLOP/s is tens of seconds
    t = prefill_time_s(serving(), 4096)
    assert t == pytest.approx((2 * 70e9 * 4096 + 4 * 80 * 64 * 128 * 4096**2 / 2) / 14.2e12, rel=1e-6)


def test_load_point_relations_hold():
    pt = load_point(serving(), np.array([1, 4, 16]), 500, 200)
    assert np.allclose(pt.requests_per_s, np.array([1, 4, 16]) / (200 * pt.tpot_s))
    assert np.allclose(pt.output_tokens_per_s, pt.requests_per_s * 200)
    assert np.all(np.diff(pt.tpot_s) > 0)
    assert np.all(np.diff(pt.requests_per_s) > 0)


@pytest.mark.parametrize(
    ("overrides", "max_tpot_s", "limit"),
    [
        ({"kv_capacity_tokens": 20_000}, 10.0, LIMIT_KV),  # 20000 / (500 + 100) = 33 sequences
        ({"kv_capacity_tokens": 1e9, "max_batch_sequences": 8}, 10.0, LIMIT_ENGINE),
        ({"kv_capacity_tokens": 1e9}, 0.2, LIMIT_LATENCY),
        ({"kv_capacity_tokens": 100}, 10.0, LIMIT_NONE),  # not one sequence fits
        ({}, 0.01, LIMIT_NONE),  # 100 tokens/s is out of reach even alone
    ],
)
def test_capacity_reports_the_binding_limit(overrides, max_tpot_s, limit):
    cap = capacity(serving(**overrides), 500, 200, max_tpot_s, 1e9)
    assert cap.limit == limit
    if limit == LIMIT_KV:
        assert cap.batch == 33
    if limit == LIMIT_NONE:
        assert cap.point.requests_per_s == 0


def test_capacity_batch_is_the_largest_meeting_the_latency_target():
    s = serving(kv_capacity_tokens=1e9, max_batch_sequences=4096)
    cap = capacity(s, 500, 200, 0.2, 1e9)
    b = float(cap.batch)
    assert load_point(s, b, 500, 200).tpot_s <= 0.2 < load_point(s, b + 1, 500, 200).tpot_s


@settings(max_examples=60, deadline=None)
@given(
    bw=st.floats(100e9, 5000e9),
    factor=st.floats(1.0, 4.0),
    kv_tokens=st.floats(1_000, 2_000_000),
    tpot=st.floats(0.02, 1.0),
    p=st.integers(1, 8000),
    d=st.integers(1, 2000),
)
def test_capacity_never_falls_when_bandwidth_rises(bw, factor, kv_tokens, tpot, p, d):
    low = capacity(serving(memory_bandwidth_bytes_s=bw, kv_capacity_tokens=kv_tokens), p, d, tpot, 1e9)
    high = capacity(
        serving(memory_bandwidth_bytes_s=bw * factor, kv_capacity_tokens=kv_tokens), p, d, tpot, 1e9
    )
    assert high.point.requests_per_s >= low.point.requests_per_s * (1 - 1e-12)


def test_capacity_broadcasts_over_deployments_and_workloads():
    s = serving(memory_bandwidth_bytes_s=np.array([[400e9], [3350e9]]))
    cap = capacity(s, np.array([[100, 1000, 4000]]), 300, 0.1, 5.0)
    assert cap.point.requests_per_s.shape == (2, 3)
    assert cap.batch.shape == (2, 3)


# --------------------------------------------------------------------------- windowed layers


def windowed(**overrides):
    """gpt-oss-120b-like KV: 73,728 B/token, half of it in 128-token sliding-window layers."""
    values = dict(
        kv_bytes_per_token=73_728,
        windowed_kv_bytes_per_token=36_864,
        attention_window_tokens=128,
        attention_flops_per_token_per_context=4 * 36 * 64 * 64,
        weight_bytes=1.0,  # attention dominates: the linear term is negligible
        flops_per_token=1.0,
    )
    values.update(overrides)
    return serving(**values)


def test_decode_reads_only_the_window_of_windowed_layers():
    # B c_eff kv / BW with c_eff = 32768 - 0.5 * (32768 - 128) = 16448 tokens per sequence
    b, c = 8, 32_768
    step = decode_step_time_s(windowed(), b, c)
    kv_read = b * (18 * 2048 * c + 18 * 2048 * 128)  # full layers x c + windowed x W, by hand
    assert step == pytest.approx(kv_read / 400e9 + 1.0 / 400e9, rel=1e-9)
    plain = decode_step_time_s(windowed(windowed_kv_bytes_per_token=0.0, attention_window_tokens=0.0), b, c)
    assert plain == pytest.approx(b * 73_728 * c / 400e9 + 1.0 / 400e9, rel=1e-9)


def test_attention_flops_shrink_with_the_window_too():
    s = windowed(memory_bandwidth_bytes_s=1e30, peak_flops=1e15)  # compute-bound attention
    b, c = 4, 10_000
    attended = c - 0.5 * (c - 128)
    assert decode_step_time_s(s, b, c) == pytest.approx(
        b * attended * 4 * 36 * 64 * 64 / 1e15 + 1.0 / 1e15, rel=1e-9
    )


def test_capacity_holds_more_long_sequences_with_windowed_layers():
    # kv_capacity counts tokens held by every layer; a 4,100-token mean sequence holds 2,114
    s = windowed(kv_capacity_tokens=100_000, max_batch_sequences=10_000)
    cap = capacity(s, 4000, 200, 10.0, 1e9)
    assert cap.kv_batch_limit == np.floor(100_000 / (4100 - 0.5 * (4100 - 128))) == 47
    plain = capacity(
        windowed(kv_capacity_tokens=100_000, max_batch_sequences=10_000, windowed_kv_bytes_per_token=0.0),
        4000,
        200,
        10.0,
        1e9,
    )
    assert plain.kv_batch_limit == np.floor(100_000 / 4100) == 24
