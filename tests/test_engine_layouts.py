"""Serving layouts and length distributions in the roofline: pipeline stages, data-parallel
attention, per-sequence overhead, MoE kernel efficiency, and the drain of a finite run.

Every expected value is worked out here from the formulas in the docstrings, on a small made-up
replica whose numbers are easy to follow.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from selfhost.engine.throughput import (
    LENGTHS_EXPONENTIAL,
    LENGTHS_FIXED,
    LENGTHS_UNIFORM,
    ServingArrays,
    decode_step_time_s,
    drain_time_s,
    prefill_marginal_time_s,
)


def replica(**overrides: float) -> ServingArrays:
    """8 GPUs of 1 TB/s and 1 PFLOP/s; 80 GB of dense weights; 100 kB of KV per token."""
    values = dict(
        n_gpus=8.0,
        memory_bandwidth_bytes_s=1e12,
        peak_flops=1e15,
        interconnect_bytes_s=100e9,
        weight_bytes=80e9,
        expert_weight_bytes=0.0,
        expert_active_fraction=0.0,
        kv_bytes_per_token=1e5,
        flops_per_token=1.6e11,
        attention_flops_per_token_per_context=0.0,
        num_layers=80.0,
        hidden_size=8192.0,
        kv_capacity_tokens=1e7,
        memory_bandwidth_utilization=1.0,
        compute_utilization=1.0,
        step_overhead_s=0.002,
        allreduce_latency_s=0.0,
        max_batch_sequences=1024.0,
        interconnect_bandwidth_utilization=1.0,
    )
    values.update(overrides)
    return ServingArrays.from_values(**values)


def test_pipeline_stages_take_a_token_through_every_stage_at_the_micro_batch():
    # TP4 x PP2 at batch 64: micro-batches of 32 on 4 GPUs. Linear: 80 GB / 4 TB/s = 20 ms vs
    # 32 x 160 GFLOP / 4 PFLOP/s = 1.28 ms -> 20 ms. KV: 32 x 1000 x 100 kB / 4 TB/s = 0.8 ms.
    # All-reduce: 2 x 80 layers x 2 (3/4) x 32 x 8192 x 2 B / 100 GB/s = 15.7 ms. Overhead 2 ms.
    pp = replica(pipeline_stages=2.0)
    expected = 0.020 + 0.0008 + 2 * 80 * (2 * 0.75 * 32 * 8192 * 2) / 100e9 + 0.002
    assert decode_step_time_s(pp, 64.0, 1000.0)[()] == pytest.approx(expected)
    # the same as a 4-GPU tensor-parallel replica at half the batch
    tp4 = replica(n_gpus=4.0)
    assert decode_step_time_s(pp, 64.0, 1000.0) == pytest.approx(decode_step_time_s(tp4, 32.0, 1000.0))


def test_pipeline_stages_share_the_prefill_of_a_prompt():
    # a prompt's marginal prefill keeps both stages busy: its FLOPs over all 8 GPUs
    pp, tp8 = replica(pipeline_stages=2.0), replica()
    flops = 1000 * 1.6e11
    assert prefill_marginal_time_s(pp, 1000.0)[()] == pytest.approx(
        flops / 8e15 + 2 * 80 / 2 * (2 * 0.75 * 1000 * 8192 * 2) / 100e9
    )
    assert prefill_marginal_time_s(tp8, 1000.0)[()] == pytest.approx(
        flops / 8e15 + 2 * 80 * (2 * 0.875 * 1000 * 8192 * 2) / 100e9
    )


def test_data_parallel_attention_reads_its_own_kv_a_copy_of_the_attention_weights_and_exchanges_once():
    # 10 GB of the 80 are attention; each of the 8 GPUs reads all of it: 70 GB more over 8 TB/s.
    # One exchange per layer instead of two.
    tp = replica(attention_weight_bytes=10e9)
    dp = replica(attention_weight_bytes=10e9, dp_attention=1.0)
    b, c = 64.0, 1000.0
    linear_tp = 80e9 / 8e12
    linear_dp = (80e9 + 7 * 10e9) / 8e12
    exchange = (2 * 0.875 * b * 8192 * 2) / 100e9
    kv = b * c * 1e5 / 8e12
    assert decode_step_time_s(tp, b, c)[()] == pytest.approx(linear_tp + kv + 2 * 80 * exchange + 0.002)
    assert decode_step_time_s(dp, b, c)[()] == pytest.approx(linear_dp + kv + 80 * exchange + 0.002)


def test_the_per_sequence_overhead_grows_with_the_whole_batch():
    base, busy = replica(n_gpus=1.0), replica(n_gpus=1.0, step_overhead_per_sequence_s=1e-4)
    assert (decode_step_time_s(busy, 200.0, 100.0) - decode_step_time_s(base, 200.0, 100.0))[
        ()
    ] == pytest.approx(0.02)


def test_expert_kernels_run_at_their_share_of_bandwidth_and_compute():
    # a MoE replica on one GPU: 60 of its 80 GB are routed experts, 1 of 8 per token
    moe = replica(
        n_gpus=1.0,
        expert_weight_bytes=60e9,
        expert_active_fraction=0.125,
        flops_per_token=4e10,
        expert_flops_per_token=3e10,
        step_overhead_s=0.0,
        kv_bytes_per_token=0.0,
    )
    half = dataclasses.replace(moe, expert_efficiency=np.asarray(0.5))
    # batch 1: 20 GB dense + 60/8 GB of experts; at half efficiency the experts take twice as long
    assert decode_step_time_s(moe, 1.0, 0.0)[()] == pytest.approx((20e9 + 7.5e9) / 1e12)
    assert decode_step_time_s(half, 1.0, 0.0)[()] == pytest.approx((20e9 + 15e9) / 1e12)
    # a compute-bound batch of 100,000 tokens (every expert touched): FLOPs 1e10 + 3e10 / 0.5
    big = 1e5
    assert decode_step_time_s(half, big, 0.0)[()] == pytest.approx(big * (1e10 + 6e10) / 1e15)


def test_a_burst_of_fixed_lengths_drains_at_a_constant_batch():
    s = replica(n_gpus=1.0)
    assert drain_time_s(s, 32.0, 500.0, 200.0, LENGTHS_FIXED)[()] == pytest.approx(
        200 * decode_step_time_s(s, 32.0, 500.0)[()]
    )


@pytest.mark.parametrize("batch", [1, 2, 7, 64, 320])
def test_exponential_lengths_drain_as_the_sum_over_the_shrinking_batch(batch):
    # with k sequences left the next ends after D / k steps on average: D * sum_k step(k) / k
    s = replica(n_gpus=1.0, step_overhead_s=0.005)
    brute = 200 * sum(decode_step_time_s(s, float(k), 500.0)[()] / k for k in range(1, batch + 1))
    assert drain_time_s(s, float(batch), 500.0, 200.0, LENGTHS_EXPONENTIAL)[()] == pytest.approx(
        brute, rel=0.01
    )


@pytest.mark.parametrize("batch", [1, 8, 320])
def test_uniform_lengths_drain_until_the_longest_of_the_batch_ends(batch):
    # the longest of B uniform lengths on [0, 2D] averages 2D B / (B + 1); the batch falls linearly
    s = replica(n_gpus=1.0, step_overhead_s=0.005)
    x = (np.arange(2000) + 0.5) / 2000
    mean_step = np.mean([decode_step_time_s(s, max(1.0, xi * batch), 500.0)[()] for xi in x])
    expected = 2 * 200 * batch / (batch + 1) * mean_step
    assert drain_time_s(s, float(batch), 500.0, 200.0, LENGTHS_UNIFORM)[()] == pytest.approx(
        expected, rel=0.02
    )
