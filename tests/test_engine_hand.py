"""The engine's formulas, worked out by hand: one tensor-parallel replica's decode step (linear,
attention and all-reduce terms), the prefill term of a loaded step, capacity and which limit binds,
and the boundaries of the memory fit and of the replica count.

Every expected number is computed in the comments from the inputs, first on a small made-up replica
with round figures, then on a real one: Llama-3.3-70B BF16 on two H100 SXM (vLLM's tensor
parallelism), with the catalog's model and GPU figures and engine efficiencies pinned here (so a
refit of the profiles does not move them). Each formula of docs/method.md §1-§2 and §3 that has a
term a plausible slip could drop or double (two all-reduces per layer, the sum of linear and
attention time, prefill scaled by the batch, floor/ceil at a boundary) is pinned, so that slip
fails here and not only through the calibration totals (scripts/mutants.py checks exactly that).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from typer.testing import Result

from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.engine.cost import billing_unit, replicas_needed, self_hosted_usd_per_month, units_needed
from selfhost.engine.memory import (
    CONTEXT_TOO_LARGE,
    FITS,
    WEIGHTS_TOO_LARGE,
    fit_verdict,
    kv_capacity_tokens,
    max_concurrent_sequences,
    usable_memory_bytes,
)
from selfhost.engine.throughput import (
    LENGTHS_EXPONENTIAL,
    LENGTHS_FIXED,
    LENGTHS_UNIFORM,
    LIMIT_ENGINE,
    LIMIT_KV,
    LIMIT_LATENCY,
    LIMIT_NONE,
    ServingArrays,
    allreduce_time_s,
    capacity,
    decode_step_time_s,
    drain_mean_step_s,
    load_point,
    prefill_marginal_time_s,
    prefill_time_s,
)
from selfhost.scenarios import ReplicaConfig, build_arrays, interconnect_one_direction_gb_s

Cli = Callable[..., Result]
EXACT = 1e-9  # relative: these are the same arithmetic in another order


# --------------------------------------------------------------------------- a small made-up replica
#
# Two GPUs of 100 GB/s and 10 TFLOP/s each at MBU = MFU = 0.5, so the replica streams
# BW = 2 x 100e9 x 0.5 = 1e11 bytes/s and computes PEAK = 2 x 10e12 x 0.5 = 1e13 FLOP/s.
# 1 GB of weights, 2 GFLOP per token, 100 kB of KV and 100 kFLOP of attention per token per cached
# token; 10 layers of hidden size 1,000; GPU-to-GPU 100 GB/s at utilization 0.5 = 5e10 bytes/s;
# 10 µs per all-reduce, 1 ms per step.


def toy(**overrides: float) -> ServingArrays:
    values: dict[str, float] = dict(
        n_gpus=2,
        memory_bandwidth_bytes_s=100e9,
        peak_flops=10e12,
        interconnect_bytes_s=100e9,
        weight_bytes=1e9,
        expert_weight_bytes=0.0,
        expert_active_fraction=0.0,
        kv_bytes_per_token=1e5,
        flops_per_token=2e9,
        attention_flops_per_token_per_context=1e5,
        num_layers=10,
        hidden_size=1000,
        kv_capacity_tokens=1e9,
        memory_bandwidth_utilization=0.5,
        compute_utilization=0.5,
        step_overhead_s=1e-3,
        allreduce_latency_s=1e-5,
        max_batch_sequences=256,
        interconnect_bandwidth_utilization=0.5,
    )
    values.update(overrides)
    return ServingArrays.from_values(**values)


def test_toy_allreduce_is_two_ring_allreduces_per_layer() -> None:
    # B = 4 tokens: each all-reduce moves 2 (n-1)/n x 4 x 1000 x 2 bytes = 8,000 bytes per GPU
    # (n = 2), 8,000 / 5e10 = 0.16 µs, plus 10 µs latency = 10.16 µs; two per layer x 10 layers:
    # 20 x 10.16 µs = 203.2 µs
    assert allreduce_time_s(toy(), 4) == pytest.approx(203.2e-6, rel=EXACT)
    # n = 4: 2 x 3/4 x 4 x 1000 x 2 = 12,000 bytes, 0.24 µs + 10 µs; x 20 = 204.8 µs
    assert allreduce_time_s(toy(n_gpus=4), 4) == pytest.approx(204.8e-6, rel=EXACT)
    # one GPU and a layer split exchange nothing
    assert allreduce_time_s(toy(n_gpus=1), 4) == 0.0
    assert allreduce_time_s(toy(layer_split=1.0), 4) == 0.0


def test_toy_decode_step_adds_linear_attention_allreduce_and_overhead() -> None:
    # B = 4 sequences at context c = 1,000:
    #   linear:    max(1e9 bytes / 1e11, 4 x 2e9 FLOP / 1e13)            = max(10 ms, 0.8 ms)  = 10 ms
    #   attention: max(4 x 1000 x 1e5 bytes / 1e11, 4 x 1000 x 1e5 / 1e13) = max(4 ms, 0.04 ms) = 4 ms
    #   all-reduce 0.2032 ms (above), overhead 1 ms
    #   step = 10 + 4 + 0.2032 + 1 = 15.2032 ms   (max(linear, attention) would give 11.2032 ms)
    assert decode_step_time_s(toy(), 4, 1000) == pytest.approx(15.2032e-3, rel=EXACT)
    # batch 100 turns the linear layers compute-bound: 100 x 2e9 / 1e13 = 20 ms > 10 ms;
    # attention 100 x 1000 x 1e5 / 1e11 = 100 ms; all-reduce 20 x (10 µs + 2e5 / 5e10) = 0.28 ms
    #   step = 20 + 100 + 0.28 + 1 = 121.28 ms
    assert decode_step_time_s(toy(), 100, 1000) == pytest.approx(121.28e-3, rel=EXACT)
    # attention whose FLOPs outrun its KV reads (1e8 FLOP per 1e5 bytes, above PEAK / BW = 100 FLOP
    # per byte; MLA models come close): max(4 ms, 4 x 1000 x 1e8 / 1e13 = 40 ms) = 40 ms
    #   step = 10 + 40 + 0.2032 + 1 = 51.2032 ms
    mla_like = toy(attention_flops_per_token_per_context=1e8)
    assert decode_step_time_s(mla_like, 4, 1000) == pytest.approx(51.2032e-3, rel=EXACT)


def test_a_kernel_that_reads_kv_once_per_query_head_multiplies_only_the_kv_reads() -> None:
    # kv_reads_per_step = 8 (TensorRT-LLM before its GQA kernel, Llama 2 70B: 64 query heads over
    # 8 KV heads). B = 4 at c = 1,000: attention max(8 x 4 x 1000 x 1e5 / 1e11, 0.04 ms) = 32 ms
    #   step = 10 + 32 + 0.2032 + 1 = 43.2032 ms (against 15.2032 ms above)
    old_kernel = toy(kv_reads_per_step=8.0)
    assert decode_step_time_s(old_kernel, 4, 1000) == pytest.approx(43.2032e-3, rel=EXACT)
    # KV capacity (what fits) and prefill (no cached KV read) do not change
    assert prefill_time_s(old_kernel, 100) == pytest.approx(prefill_time_s(toy(), 100), rel=EXACT)


def test_toy_prefill_and_its_marginal_cost() -> None:
    # P = 100: FLOPs 100 x 2e9 + 1e5 x 100^2 / 2 = 2.005e11 -> 2.005e11 / 1e13 = 20.05 ms of compute
    #   alone (idle replica): max(20.05 ms, weights 1e9 / 1e11 = 10 ms) + all-reduce of 100 tokens
    #   20 x (10 µs + 2 x 1/2 x 100 x 1000 x 2 / 5e10 = 4 µs) = 0.28 ms, + 1 ms = 21.33 ms
    assert prefill_time_s(toy(), 100) == pytest.approx(21.33e-3, rel=EXACT)
    #   batched with decodes: compute + all-reduce traffic only, 20.05 + 20 x 4 µs = 20.13 ms
    assert prefill_marginal_time_s(toy(), 100) == pytest.approx(20.13e-3, rel=EXACT)


def test_drain_mean_step_weights_each_step_by_the_tokens_it_makes() -> None:
    # A replica whose step is affine in the batch: no weights, KV or FLOPs, 1 ms per step plus
    # 10 µs per sequence: step(b) = 1 + 0.01 b ms (b >= 1). A drain of B = 60 sequences:
    #   fixed lengths: every step at 60: 1 + 0.6 = 1.6 ms
    #   exponential: each batch level k = 60..1 makes D tokens, so the mean over tokens is the mean
    #     of step(x 60) over the 15 midpoints x = 0.5/15 .. 14.5/15 (all x 60 >= 2 >= 1), whose
    #     mean is 0.5: 1 + 0.01 x 60 x 0.5 = 1.3 ms
    #   uniform on [0, 2D]: the batch falls linearly, tokens at x 60 in proportion to x:
    #     2 / 15 x sum x_i (1 + 0.6 x_i) ms = 2 x mean(x) + 1.2 x mean(x^2), with mean(x) = 0.5 and
    #     mean(x^2) = sum_{i=1..15} (i - 0.5)^2 / 15^3 = (1240 - 120 + 3.75) / 3375 = 0.332963:
    #     1 + 1.2 x 0.332963 = 1.399556 ms (the exact integral gives 1 + 0.6 x 2/3 = 1.4 ms)
    flat = toy(
        n_gpus=1,
        weight_bytes=0.0,
        flops_per_token=0.0,
        kv_bytes_per_token=0.0,
        attention_flops_per_token_per_context=0.0,
        step_overhead_per_sequence_s=1e-5,
    )
    assert decode_step_time_s(flat, 60, 100) == pytest.approx(1.6e-3, rel=EXACT)
    kinds = np.array([LENGTHS_FIXED, LENGTHS_EXPONENTIAL, LENGTHS_UNIFORM])
    mean = drain_mean_step_s(flat, 60, 100, kinds)
    assert mean == pytest.approx([1.6e-3, 1.3e-3, 1.399556e-3], rel=1e-6)


def test_allreduce_runs_at_one_direction_of_a_two_direction_link() -> None:
    # NVLink 4 (H100 SXM) is quoted as 900 GB/s over both directions: a ring all-reduce sends and
    # receives at once, so it gets 450 GB/s; the PCIe figures (L40S: Gen4 x16, 32 GB/s) are per
    # direction already
    gpus = by_id(load_catalog(env={}).gpus)
    assert gpus["h100-sxm-80gb"].interconnect_both_directions
    assert interconnect_one_direction_gb_s(gpus["h100-sxm-80gb"]) == 450.0
    assert not gpus["l40s-48gb"].interconnect_both_directions
    assert interconnect_one_direction_gb_s(gpus["l40s-48gb"]) == 32.0
    assert interconnect_one_direction_gb_s(gpus["mi300x-192gb"]) == 448.0  # 7 links x 128 GB/s both ways


def test_toy_load_point_charges_every_sequence_its_prefill() -> None:
    # B = 4, P = 100, D = 50: decode at mean context c = P + D/2 = 125
    #   step = 10 (linear) + 4 x 125 x 1e5 / 1e11 = 0.5 (attention) + 0.2032 + 1 = 11.7032 ms
    #   every one of the B requests adds its prefill once per D steps:
    #   tpot = 11.7032 + 4 x 20.13 / 50 = 11.7032 + 1.6104 = 13.3136 ms
    #   (prefill not scaled by the batch would give 11.7032 + 0.4026 = 12.1058 ms)
    #   rps = 4 / (50 x 13.3136 ms) = 6.008893 req/s; output 50 x rps = 300.4447 tokens/s
    #   ttft = prefill(100) + step = 21.33 + 11.7032 = 33.0332 ms
    point = load_point(toy(), 4, 100, 50)
    assert point.tpot_s == pytest.approx(13.3136e-3, rel=EXACT)
    assert point.requests_per_s == pytest.approx(4 / (50 * 13.3136e-3), rel=EXACT)
    assert point.output_tokens_per_s == pytest.approx(4 / 13.3136e-3, rel=EXACT)  # B / tpot
    assert point.output_tokens_per_s_per_sequence == pytest.approx(1 / 13.3136e-3, rel=EXACT)
    assert point.ttft_s == pytest.approx(33.0332e-3, rel=EXACT)
    # at batch 1 the prefill term is 20.13 / 50 = 0.4026 ms on a step of
    #   10 + 0.125 + 20 x (10 µs + 2,000 / 5e10) = 0.2008 + 1 = 11.3258 ms -> tpot 11.7284 ms
    assert load_point(toy(), 1, 100, 50).tpot_s == pytest.approx(11.7284e-3, rel=EXACT)


# Capacity of the toy at P = 100, D = 50 (c = 125). Up to B = 50 the linear layers stay memory-bound,
# so tpot(B) = 10 + 0.125 B (attention) + 0.2 + 0.0008 B (all-reduce) + 1 + 0.4026 B (prefill)
#            = 11.2 + 0.5284 B ms, and ttft(B) = 21.33 + (11.2 + 0.1258 B) = 32.53 + 0.1258 B ms.


@pytest.mark.parametrize(
    ("overrides", "max_tpot_s", "max_ttft_s", "batch", "limit"),
    [
        # TPOT <= 20 ms: B <= 8.8 / 0.5284 = 16.65 -> 16 (19.6544 ms; 17 gives 20.1828 ms)
        ({}, 20e-3, 1.0, 16, LIMIT_LATENCY),
        # TTFT <= 33.8 ms: B <= 1.27 / 0.1258 = 10.1 -> 10 (33.788 ms; 11 gives 33.9138 ms)
        ({}, 1.0, 33.8e-3, 10, LIMIT_LATENCY),
        # 1,250 KV tokens hold 1250 / 125 = 10 sequences exactly
        ({"kv_capacity_tokens": 1250}, 20e-3, 1.0, 10, LIMIT_KV),
        # one token fewer: floor(1249 / 125) = 9, not round(9.992) = 10
        ({"kv_capacity_tokens": 1249}, 20e-3, 1.0, 9, LIMIT_KV),
        # the engine's cap of 8 binds before TPOT (16) and KV (1e9 tokens)
        ({"max_batch_sequences": 8}, 20e-3, 1.0, 8, LIMIT_ENGINE),
        # KV and engine cap both at 8 (1,000 / 125): KV is reported (it is what more memory would lift)
        ({"max_batch_sequences": 8, "kv_capacity_tokens": 1000}, 20e-3, 1.0, 8, LIMIT_KV),
        # tpot(1) = 11.7284 ms > 11 ms: nothing is feasible
        ({}, 11e-3, 1.0, 0, LIMIT_NONE),
        # 124 KV tokens do not hold one 125-token sequence
        ({"kv_capacity_tokens": 124}, 1.0, 1.0, 0, LIMIT_NONE),
    ],
)
def test_toy_capacity_takes_the_largest_feasible_batch_and_names_the_binding_limit(
    overrides: dict[str, float], max_tpot_s: float, max_ttft_s: float, batch: int, limit: int
) -> None:
    cap = capacity(toy(**overrides), 100, 50, max_tpot_s, max_ttft_s)
    assert (int(cap.batch), int(cap.limit)) == (batch, limit)
    if batch:
        # requests/s at that batch: B / (D x tpot(B)) with tpot(B) = 11.2 + 0.5284 B ms
        assert cap.point.requests_per_s == pytest.approx(
            batch / (50 * (11.2 + 0.5284 * batch) * 1e-3), rel=EXACT
        )
    else:
        assert cap.point.requests_per_s == 0.0


# --------------------------------------------------------------------------- a real replica
#
# Llama-3.3-70B (data/models.yaml: 70.55e9 parameters, 80 layers, hidden 8,192, 64 attention heads
# of 128, 8 KV heads, untied 128,256 x 8,192 embedding) at BF16 on two H100 SXM (data/gpu_prices.yaml:
# 3,350 GB/s, 989 dense BF16 TFLOP/s, NVLink 900 GB/s counting both directions, so 450 GB/s each way,
# 85.52 GB as the device reports it), vLLM's
# tensor parallelism with its memory settings (0.92 of device memory, 3 GB overhead per GPU) and
# efficiencies pinned here: MBU 0.8, MFU 0.5, 2 ms per step, 20 µs per all-reduce, interconnect 0.5.
#
#   weights      70.55e9 x 2 bytes                              = 141.1e9 bytes
#   embedding    128,256 x 8,192 = 1,050,673,152 params, x 2    = 2,101,346,304 bytes not streamed
#   streamed     141.1e9 - 2,101,346,304                        = 138,998,653,696 bytes per step
#   flops/token  2 x (70.55e9 - 1,050,673,152)                  = 138,998,653,696 FLOP
#   KV/token     2 (K, V) x 80 x 8 x 128 x 2 bytes              = 327,680 bytes (8 KV heads >= 2 GPUs: no copies)
#   attention    4 x 80 x 64 x 128                              = 2,621,440 FLOP per token per cached token
#   BW           2 x 3,350e9 x 0.8                              = 5.36e12 bytes/s
#   PEAK         2 x 989e12 x 0.5                               = 9.89e14 FLOP/s
#   usable       2 x (85.52e9 x 0.92 - 3e9)                     = 151.3568e9 bytes
#   KV capacity  floor((151.3568e9 - 141.1e9) / 327,680)        = floor(31,301.27) = 31,301 tokens

STREAMED = 138_998_653_696.0
BW = 2 * 3350e9 * 0.8
PEAK = 2 * 989e12 * 0.5
PINNED = {
    "memory_bandwidth_utilization": 0.8,
    "compute_utilization": 0.5,
    "step_overhead_s": 2e-3,
    "allreduce_latency_s": 2e-5,
    "interconnect_bandwidth_utilization": 0.5,
    "max_batch_sequences": 256,
    "gpu_memory_utilization": 0.92,
    "runtime_overhead_gb": 3.0,
    "platform_efficiency": {},
}


@pytest.fixture(scope="module")
def llama70b_tp2() -> ServingArrays:
    catalog = load_catalog(env={})
    model = by_id(catalog.models)["llama-3.3-70b"]
    gpu = by_id(catalog.gpus)["h100-sxm-80gb"]
    engine = by_id(catalog.engines)["vllm"].model_copy(update=PINNED)
    assert engine.multi_gpu == "tensor-parallel"
    serving, _ = build_arrays([ReplicaConfig(model, by_id(catalog.quantizations)["bf16"], gpu, 2, engine)])
    return serving


def test_real_replica_inputs_come_from_the_architecture_and_the_datasheet(
    llama70b_tp2: ServingArrays,
) -> None:
    s = llama70b_tp2
    assert s.weight_bytes[0] == pytest.approx(141.1e9, rel=EXACT)
    assert s.weight_bytes[0] - s.unread_weight_bytes[0] == pytest.approx(STREAMED, rel=EXACT)
    assert s.flops_per_token[0] == pytest.approx(138_998_653_696, rel=EXACT)
    assert s.kv_bytes_per_token[0] == 327_680
    assert s.attention_flops_per_token_per_context[0] == 2_621_440
    assert s.kv_capacity_tokens[0] == 31_301
    assert (s.num_layers[0], s.hidden_size[0], s.n_gpus[0]) == (80, 8192, 2)
    assert s.memory_bandwidth_bytes_s[0] * 2 * 0.8 == pytest.approx(BW)
    assert s.peak_flops[0] * 2 * 0.5 == pytest.approx(PEAK)


def test_real_replica_decode_step(llama70b_tp2: ServingArrays) -> None:
    # B = 8 at c = 1,150 (1,000 in, 300 out: P + D/2)
    #   linear    max(138,998,653,696 / 5.36e12, 8 x 138,998,653,696 / 9.89e14) = max(25.932585, 1.124357) ms
    #   attention max(8 x 1150 x 327,680 / 5.36e12, 8 x 1150 x 2,621,440 / 9.89e14) = max(0.562436, 0.024385) ms
    #   all-reduce: each moves 2 x 1/2 x 8 x 8,192 x 2 = 131,072 bytes over one direction of NVLink 4
    #     (900 GB/s counts both: 450e9) x 0.5 = 2.25e11 bytes/s
    #     = 0.582542 µs, + 20 µs; 2 per layer x 80 layers: 160 x 20.582542 µs = 3.293207 ms
    #   step = 25.932585 + 0.562436 + 3.293207 + 2 = 31.788228 ms
    linear = STREAMED / BW
    attention = 8 * 1150 * 327_680 / BW
    allreduce = 160 * (20e-6 + 131_072 / 2.25e11)
    assert llama70b_tp2.interconnect_bytes_s[0] == 450e9
    assert allreduce_time_s(llama70b_tp2, 8)[0] == pytest.approx(3.293207e-3, rel=1e-6)
    assert linear == pytest.approx(25.932585e-3, rel=1e-6) and attention == pytest.approx(
        0.562436e-3, rel=1e-5
    )
    step = decode_step_time_s(llama70b_tp2, 8, 1150)[0]
    assert step == pytest.approx(linear + attention + allreduce + 2e-3, rel=EXACT)
    assert step == pytest.approx(31.788228e-3, rel=1e-6)


def test_real_replica_prefill_at_batch_8(llama70b_tp2: ServingArrays) -> None:
    # prefill_marginal(1000) = (1000 x 138,998,653,696 + 2,621,440 x 1000^2 / 2) / 9.89e14
    #                          + 160 x (2 x 1/2 x 1000 x 8,192 x 2 = 16,384,000 bytes) / 2.25e11
    #                        = 1.40309373696e14 / 9.89e14 + 2.62144e9 / 2.25e11 = 141.869943 + 11.650844 ms
    marginal = (1000 * STREAMED + 2_621_440 * 1000**2 / 2) / PEAK + 160 * 16_384_000 / 2.25e11
    assert marginal == pytest.approx(153.520787e-3, rel=1e-6)
    assert prefill_marginal_time_s(llama70b_tp2, 1000)[0] == pytest.approx(marginal, rel=EXACT)
    # at B = 8 every request's prefill is spread over its D = 300 tokens:
    #   tpot = 31.788228 + 8 x 153.520787 / 300 = 31.788228 + 4.093888 = 35.882116 ms
    point = load_point(llama70b_tp2, 8, 1000, 300)
    assert point.tpot_s[0] == pytest.approx(31.788228e-3 + 8 * marginal / 300, rel=1e-6)
    assert point.tpot_s[0] == pytest.approx(35.882116e-3, rel=1e-6)
    assert point.requests_per_s[0] == pytest.approx(8 / (300 * point.tpot_s[0]), rel=EXACT)


def test_real_replica_capacity_is_bound_by_kv(llama70b_tp2: ServingArrays) -> None:
    # 31,301 KV tokens / 1,150 per sequence = 27.2 -> 27 sequences. At B = 27:
    #   step = 25.932585 (linear, still memory-bound: 27 x 0.140545 = 3.79 ms of compute)
    #        + 27 x 1150 x 327,680 / 5.36e12 = 1.898227 (attention)
    #        + 160 x (20 µs + 27 x 8,192 x 2 / 2.25e11 = 1.96608 µs) = 3.514573 (all-reduce) + 2 = 33.345385 ms
    #   tpot = 33.345385 + 27 x 153.520787 / 300 = 33.345385 + 13.816871 = 47.162256 ms   (< 100 ms)
    #   ttft = prefill(1000) + step = (141.869943 + 160 x (20 µs + 16,384,000 / 2.25e11) = 14.850844 + 2)
    #        + 33.345385 = 192.066172 ms   (< 3 s): KV binds
    cap = capacity(llama70b_tp2, 1000, 300, 0.1, 3.0)
    assert (cap.batch[0], cap.limit[0], cap.kv_batch_limit[0]) == (27, LIMIT_KV, 27)
    assert cap.point.tpot_s[0] == pytest.approx(47.162256e-3, rel=1e-6)
    assert cap.point.ttft_s[0] == pytest.approx(192.066172e-3, rel=1e-6)
    assert cap.point.requests_per_s[0] == pytest.approx(27 / (300 * 47.162256e-3), rel=1e-6)
    # a 40 ms TPOT target binds first: tpot(B) = 31.132585 + 0.070305 B + 0.011651 B + 0.511736 B ms
    #   = 31.132585 + 0.593692 B <= 40 -> B <= 14.9 -> 14 sequences (39.444 ms; 15 gives 40.038 ms)
    tight = capacity(llama70b_tp2, 1000, 300, 0.04, 3.0)
    assert (tight.batch[0], tight.limit[0]) == (14, LIMIT_LATENCY)
    assert tight.point.tpot_s[0] == pytest.approx(39.444e-3, rel=1e-4)


# --------------------------------------------------------------------------- memory fit boundaries


def test_kv_capacity_floors_at_the_byte() -> None:
    # 3 tokens of 1,000 bytes beside 10,000 bytes of weights need exactly 13,000 bytes
    assert kv_capacity_tokens(13_000, 10_000, 1_000) == 3
    assert kv_capacity_tokens(12_999, 10_000, 1_000) == 2  # one byte short
    assert kv_capacity_tokens(10_000, 10_000, 1_000) == 0  # weights fill memory exactly
    assert kv_capacity_tokens(9_999, 10_000, 1_000) == 0  # never negative


@pytest.mark.parametrize(
    ("usable", "kv_bytes_per_token", "context", "kv_tokens", "verdict"),
    [
        (13_000, 1_000, 3, 3, FITS),  # 10,000 bytes of weights + exactly one 3-token sequence
        (12_999, 1_000, 3, 2, CONTEXT_TOO_LARGE),  # one byte short: one token short
        (10_001, 1, 1, 1, FITS),  # one free byte holds one 1-byte token
        (10_000, 1, 1, 0, WEIGHTS_TOO_LARGE),  # weights fill memory exactly: no room at all
        (10_000, 1, 0, 0, WEIGHTS_TOO_LARGE),  # ... not even for an empty context
        (9_999, 1, 1, 0, WEIGHTS_TOO_LARGE),
    ],
)
def test_fit_verdict_at_the_boundary(
    usable: int, kv_bytes_per_token: int, context: int, kv_tokens: int, verdict: int
) -> None:
    kv = kv_capacity_tokens(usable, 10_000, kv_bytes_per_token)
    assert kv == kv_tokens
    assert fit_verdict(usable, 10_000, kv, context) == verdict


def test_sequences_at_a_context_floor_and_usable_memory_is_per_gpu() -> None:
    assert max_concurrent_sequences(3 * 32_768, 32_768) == 3
    assert max_concurrent_sequences(3 * 32_768 - 1, 32_768) == 2
    # overhead is taken on every GPU: 2 x (85.52e9 x 0.92 - 3e9) = 151.3568e9
    assert usable_memory_bytes(2, 85.52e9, 1.0, 0.92, 3e9) == pytest.approx(151.3568e9, rel=EXACT)


def test_fit_command_at_the_kv_boundary_of_llama_70b_bf16_on_two_h100(cli: Cli) -> None:
    # (catalog: vLLM keeps 0.92 of the 85.52 GB an H100 reports and 3 GB per GPU for itself;
    # hand arithmetic above: 31,301 KV tokens fit beside 141.1 GB of BF16 weights on two)
    vllm = by_id(load_catalog(env={}).engines)["vllm"]
    assert (vllm.gpu_memory_utilization, vllm.runtime_overhead_gb) == (0.92, 3.0)

    def fit(*args: str) -> dict[str, object]:
        result = cli("fit", "llama-3.3-70b", "-g", "h100", "-q", "bf16", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        [record] = json.loads(result.stdout)["results"]
        return dict(record)

    at = fit("--gpus", "2", "--context", "31301")
    assert (at["fits"], at["kv_capacity_tokens"], at["max_concurrent_sequences"]) == (True, 31_301, 1)
    over = fit("--gpus", "2", "--context", "31302")
    assert (over["fits"], over["reason"]) == (
        False,
        "weights fit, but the KV cache cannot hold one full-context sequence",
    )
    # without --gpus, the smallest group that fits: two GPUs at 31,301 tokens, four at 31,302
    assert fit("--context", "31301")["gpus_per_replica"] == 2
    assert fit("--context", "31302")["gpus_per_replica"] == 4
    # the model's own limit: 131,072 tokens are allowed, one more is not
    assert fit("--gpus", "8", "--context", "131072")["fits"] is True
    beyond = fit("--gpus", "8", "--context", "131073")
    assert (beyond["fits"], beyond["reason"]) == (False, "context 131073 exceeds the model's maximum 131072")


# --------------------------------------------------------------------------- replicas and billing units


def test_replicas_are_the_ceiling_of_rps_over_planned_capacity() -> None:
    # capacity 2 req/s planned at 50 %: 1 req/s per replica
    rps = np.array([0.0, 0.5, 1.0, 1.5, 2.5, 3.0, math.nextafter(3.0, 4.0)])
    assert replicas_needed(rps, 2.0, 0.5, 1).tolist() == [1, 1, 1, 2, 3, 3, 4]
    # min_replicas holds below it and gives way above it
    assert replicas_needed(np.array([0.0, 3.0, 3.5]), 2.0, 0.5, 3).tolist() == [3, 3, 4]
    assert replicas_needed(0.0, 2.0, 0.5, 0) == 0
    assert replicas_needed(1.0, 0.0, 0.5, 1) == math.inf  # a replica that serves nothing


def test_billing_units_hold_whole_replicas_and_respect_min_replicas() -> None:
    # TP-2 replicas on 8-GPU instances: a unit is lcm(2, 8) = 8 GPUs = 4 replicas, serving
    # 4 x 2 req/s x 0.5 = 4 req/s, for 8 x $2 x 730 h = $11,680 a month
    def unit(min_replicas: int) -> object:
        return billing_unit(
            capacity_rps=2.0,
            target_utilization=0.5,
            min_replicas=min_replicas,
            gpus_per_replica=2,
            instance_gpus=8,
            usd_per_gpu_hour=2.0,
            hours_per_month=730,
        )

    one = unit(1)
    assert (one.gpus, one.replicas, one.rps, one.usd_per_month) == (8, 4, 4.0, 11_680)
    # min_units = ceil(min_replicas / 4): 1 -> 1 (not round(0.25) = 0), 4 -> 1, 5 -> 2 (not round(1.25) = 1)
    assert [float(unit(m).min_units) for m in (1, 4, 5, 8, 9)] == [1, 1, 2, 2, 3]
    rps = np.array([0.0, 4.0, math.nextafter(4.0, 5.0), 8.0, 10.0])
    assert units_needed(rps, one).tolist() == [1, 1, 2, 2, 3]
    assert units_needed(rps, unit(5)).tolist() == [2, 2, 2, 2, 3]
    # cost: units x $11,680 + $4,000 operations; at zero traffic the minimum unit is still paid
    assert self_hosted_usd_per_month(0.0, one, 4000) == 15_680
    assert self_hosted_usd_per_month(math.nextafter(4.0, 5.0), one, 4000) == 27_360


def test_cost_command_replicas_at_the_capacity_boundary(cli: Cli) -> None:
    # Llama-3.3-70B BF16 on two H100, planned at 50 %: exactly two replicas' worth of traffic needs two,
    # the next representable rate above it three; --min-replicas 3 keeps three below that
    base = [
        "cost",
        "-m",
        "llama-3.3-70b",
        "-g",
        "h100",
        "-q",
        "bf16",
        "--gpus",
        "2",
        "--target-utilization",
        "0.5",
    ]

    def replicas(rps: float, *extra: str) -> tuple[int, float]:
        result = cli(*base, "--rps", repr(rps), *extra, "--format", "json")
        assert result.exit_code == 0, result.output
        first = json.loads(result.stdout)["results"][0]
        return int(first["replicas"]), float(first["capacity_rps_per_replica"])

    # the exact capacity, from the library: JSON rounds floats to 10 significant digits
    # (render.tidy_float), and the boundary is one representable float wide
    from selfhost.cli import options as o
    from selfhost.question import Scenario
    from selfhost.questions import costs

    defaults = {name: o.DEFAULTS.get(name) for name in o.COST}  # the command's own defaults
    scenario = Scenario.from_options(
        **{**defaults, "rps": 0.01, "model": ["llama-3.3-70b"], "gpu": ["h100"], "quant": ["bf16"], "gpus": [2],
           "target_utilization": 0.5},
    )  # fmt: skip
    capacity_rps = costs(load_catalog(env={}), scenario).results[0]["capacity_rps_per_replica"]
    assert replicas(0.01)[1] == pytest.approx(capacity_rps, rel=1e-9)  # 10 significant digits
    per_replica = capacity_rps * 0.5
    assert replicas(2 * per_replica)[0] == 2
    assert replicas(math.nextafter(2 * per_replica, math.inf))[0] == 3
    assert replicas(2 * per_replica, "--min-replicas", "3")[0] == 3
    assert replicas(0.01, "--min-replicas", "2")[0] == 2


def test_toy_prefill_attends_in_its_own_form_where_the_model_has_one() -> None:
    # MLA-like: prefill attention 2e4 FLOP per prompt token per earlier token (decode's stays 1e5)
    # P = 100: 100 x 2e9 + 2e4 x 100^2 / 2 = 2.001e11 FLOP -> 20.01 ms; alone: max(20.01, 10) + 0.28 + 1
    #   = 21.29 ms; batched with decodes: 20.01 + 20 x 4 µs = 20.09 ms
    own = toy(prefill_attention_flops_per_token_per_context=2e4)
    assert prefill_time_s(own, 100) == pytest.approx(21.29e-3, rel=EXACT)
    assert prefill_marginal_time_s(own, 100) == pytest.approx(20.09e-3, rel=EXACT)
    # decode is unchanged: the same 15.2032 ms step as the toy's
    assert decode_step_time_s(own, 4, 1000) == pytest.approx(15.2032e-3, rel=EXACT)


def test_mla_prefill_attends_over_up_projected_heads_decode_over_the_latent() -> None:
    # DeepSeek-R1 config.json: 61 layers, 128 heads, kv_lora_rank 512, qk_rope_head_dim 64,
    # qk_nope_head_dim 128, v_head_dim 128.
    #   decode (absorbed):  2 x 61 x 128 x (2 x 512 + 64) = 16,990,208 FLOP per token per cached token
    #   prefill (MHA form): 2 x 61 x 128 x (128 + 64 + 128) = 4,997,120
    # Llama-3.3-70B (GQA) prefills as it decodes: 0 = "as decode", 4 x 80 x 64 x 128 = 2,621,440
    catalog = load_catalog(env={})
    models, gpus, engines = by_id(catalog.models), by_id(catalog.gpus), by_id(catalog.engines)
    fp8, gpu, engine = by_id(catalog.quantizations)["fp8"], gpus["h200-141gb"], engines["vllm"]
    serving, _ = build_arrays(
        [
            ReplicaConfig(models["deepseek-r1"], fp8, gpu, 8, engine),
            ReplicaConfig(models["llama-3.3-70b"], fp8, gpu, 8, engine),
        ]
    )
    assert serving.attention_flops_per_token_per_context[0] == 16_990_208
    assert serving.prefill_attention_flops_per_token_per_context[0] == 4_997_120
    assert serving.attention_flops_per_token_per_context[1] == 2_621_440
    assert serving.prefill_attention_flops_per_token_per_context[1] == 0.0
