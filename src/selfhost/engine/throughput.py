"""Throughput and latency from a roofline with calibrated efficiencies.

A `ServingArrays` holds one element per deployment (model x quantization x GPU x count x
engine); every function broadcasts its other arguments against those arrays.

These are first-order estimates: the efficiencies (MBU, MFU, per-step overhead) come from the
engine profile in the catalog, which names the measurements it was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

ACTIVATION_BYTES_PER_ELEMENT = 2.0  # BF16/FP16 activations in the tensor-parallel all-reduce
ALLREDUCES_PER_LAYER = 2.0  # one after attention, one after the MLP (Megatron-style TP)

# Capacity limit codes: which constraint set the batch size.
LIMIT_NONE = 0  # no feasible batch (capacity 0)
LIMIT_KV = 1  # KV-cache memory
LIMIT_ENGINE = 2  # engine's max concurrent sequences
LIMIT_LATENCY = 3  # time-per-output-token or time-to-first-token target


@dataclass(frozen=True)
class ServingArrays:
    """Per-deployment inputs of the throughput model. Every field: array of shape (n,) or scalar.

    Attributes
    ----------
    n_gpus : GPUs in one replica. [count]
    memory_bandwidth_bytes_s : Peak memory bandwidth per GPU. [bytes/s]
    peak_flops : Dense tensor throughput per GPU at the compute dtype. [FLOP/s]
    interconnect_bytes_s : GPU-to-GPU bandwidth per GPU for all-reduce. [bytes/s]
    weight_bytes : All resident weight bytes of the replica. [bytes]
    expert_weight_bytes : Bytes of the routed experts (0 for dense models). [bytes]
    expert_active_fraction : Routed experts used per token / routed experts (k/E; 0 dense). [unitless]
    kv_bytes_per_token : KV cache bytes per token for the whole replica, replication included. [bytes]
    flops_per_token : Matmul FLOPs per token outside attention, 2 x active matmul params. [FLOP]
    attention_flops_per_token_per_context : Attention-score FLOPs per token per cached token. [FLOP]
    num_layers, hidden_size : For the all-reduce volume. [count]
    kv_capacity_tokens : KV tokens that fit beside the weights. [tokens]
    memory_bandwidth_utilization, compute_utilization : Engine efficiencies (MBU, MFU). [unitless]
    step_overhead_s : Fixed time per forward step. [s]
    allreduce_latency_s : Fixed latency of one all-reduce. [s]
    max_batch_sequences : Engine cap on concurrent sequences. [count]
    unread_weight_bytes : Resident weights a step does not stream: the input-embedding table,
        of which a step reads only one row per token (0 when tied to the output head). [bytes]
    interconnect_bandwidth_utilization : Achieved / catalogued GPU-to-GPU bandwidth in the
        all-reduce (catalog figures mix one- and two-directional numbers; fitted). [unitless]
    layer_split : 1 where the engine splits the layers over the replica's GPUs (llama.cpp's
        default), 0 where it splits every layer (tensor parallelism). [flag]
    """

    n_gpus: FloatArray
    memory_bandwidth_bytes_s: FloatArray
    peak_flops: FloatArray
    interconnect_bytes_s: FloatArray
    weight_bytes: FloatArray
    expert_weight_bytes: FloatArray
    expert_active_fraction: FloatArray
    kv_bytes_per_token: FloatArray
    flops_per_token: FloatArray
    attention_flops_per_token_per_context: FloatArray
    num_layers: FloatArray
    hidden_size: FloatArray
    kv_capacity_tokens: FloatArray
    memory_bandwidth_utilization: FloatArray
    compute_utilization: FloatArray
    step_overhead_s: FloatArray
    allreduce_latency_s: FloatArray
    max_batch_sequences: FloatArray
    unread_weight_bytes: FloatArray | float = 0.0
    interconnect_bandwidth_utilization: FloatArray | float = 1.0
    layer_split: FloatArray | float = 0.0

    @classmethod
    def from_values(cls, **values: ArrayLike) -> ServingArrays:
        """Build from scalars or sequences, converting each to a float array."""
        return cls(**{name: np.asarray(value, dtype=float) for name, value in values.items()})


def tensor_parallel_size(s: ServingArrays) -> FloatArray:
    """GPUs that work on every layer at once: all of a tensor-parallel replica, one for a layer split.

    With a layer split (pipeline without micro-batches) each GPU holds a run of layers and the
    GPUs take turns within a step, so a step runs at one GPU's bandwidth and compute over the
    whole model, and nothing is all-reduced; memory still adds up over the GPUs. [count]
    """
    return np.asarray(np.where(np.asarray(s.layer_split) > 0, 1.0, s.n_gpus), dtype=float)


def weight_bytes_read_per_step(s: ServingArrays, batch: ArrayLike) -> FloatArray:
    """Weight bytes streamed from memory in one forward step over ``batch`` tokens. [bytes]

    Notes
    -----
    Dense weights are read once per step, except the input-embedding table (one row per
    token). For a mixture of experts, a batch of B tokens each
    routed to k of E experts touches an expected ``1 - (1 - k/E)**B`` share of the experts in a
    layer (uniform routing), so small batches read far less than all expert weights.
    """
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    touched = 1.0 - (1.0 - s.expert_active_fraction) ** b
    dense = s.weight_bytes - s.expert_weight_bytes - s.unread_weight_bytes
    return np.asarray(dense + s.expert_weight_bytes * touched, dtype=float)


def allreduce_time_s(s: ServingArrays, tokens: ArrayLike) -> FloatArray:
    """Tensor-parallel communication time of one forward step over ``tokens`` tokens. [s]

    Notes
    -----
    Ring all-reduce, two per layer, each moving ``2 (n - 1) / n x tokens x hidden x 2 bytes``
    per GPU over the interconnect, plus a fixed latency. Zero for one GPU and for a layer split.
    """
    n = tensor_parallel_size(s)
    volume = (
        2.0 * (n - 1.0) / n * np.asarray(tokens, dtype=float) * s.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    )
    per_allreduce = s.allreduce_latency_s + volume / (
        s.interconnect_bytes_s * s.interconnect_bandwidth_utilization
    )
    return np.asarray(np.where(n > 1, ALLREDUCES_PER_LAYER * s.num_layers * per_allreduce, 0.0), dtype=float)


def decode_step_time_s(s: ServingArrays, batch: ArrayLike, context_tokens: ArrayLike) -> FloatArray:
    """Time of one decode step for ``batch`` sequences at mean context ``context_tokens``. [s]

    Notes
    -----
    A roofline per operator class, summed: the linear layers (weights read once per step against
    their GEMM FLOPs) and attention (KV cache read against the score FLOPs) run one after the
    other, so their times add; within each class memory and compute overlap::

        t_linear    = max(weights_read / (n BW MBU), B * flops_per_token / (n peak MFU))
        t_attention = max(B c kv_bytes / (n BW MBU), B c attention_flops / (n peak MFU))
        step        = t_linear + t_attention + allreduce + overhead

    with n = `tensor_parallel_size` (the replica's GPUs, or 1 for a layer split).
    """
    b = np.asarray(batch, dtype=float)
    c = np.asarray(context_tokens, dtype=float)
    n = tensor_parallel_size(s)
    bandwidth = n * s.memory_bandwidth_bytes_s * s.memory_bandwidth_utilization
    peak = n * s.peak_flops * s.compute_utilization
    t_linear = np.maximum(weight_bytes_read_per_step(s, b) / bandwidth, b * s.flops_per_token / peak)
    t_attention = np.maximum(
        b * c * s.kv_bytes_per_token / bandwidth, b * c * s.attention_flops_per_token_per_context / peak
    )
    return np.asarray(t_linear + t_attention + allreduce_time_s(s, b) + s.step_overhead_s, dtype=float)


def prefill_flops(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """FLOPs to prefill one prompt: matmuls plus causal attention. [FLOP]

    ``P * flops_per_token + attention_flops_per_token_per_context * P**2 / 2``.
    """
    p = np.asarray(prompt_tokens, dtype=float)
    return np.asarray(
        p * s.flops_per_token + s.attention_flops_per_token_per_context * p * p / 2.0, dtype=float
    )


def prefill_time_s(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """Time to prefill one prompt on an otherwise idle replica (the unloaded TTFT). [s]

    Compute-bound for long prompts; a short prompt still has to stream the weights once.
    """
    p = np.asarray(prompt_tokens, dtype=float)
    n = tensor_parallel_size(s)
    t_compute = prefill_flops(s, p) / (n * s.peak_flops * s.compute_utilization)
    t_memory = weight_bytes_read_per_step(s, p) / (
        n * s.memory_bandwidth_bytes_s * s.memory_bandwidth_utilization
    )
    return np.asarray(
        np.maximum(t_compute, t_memory) + allreduce_time_s(s, p) + s.step_overhead_s, dtype=float
    )


def prefill_marginal_time_s(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """Extra time a prompt adds when its prefill is batched with running decodes. [s]

    With continuous batching and chunked prefill the weights are already being streamed for the
    decode batch, so a prompt costs its compute and its all-reduce traffic only.
    """
    p = np.asarray(prompt_tokens, dtype=float)
    n = tensor_parallel_size(s)
    t_compute = prefill_flops(s, p) / (n * s.peak_flops * s.compute_utilization)
    volume = 2.0 * (n - 1.0) / n * p * s.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    t_comm = np.where(
        n > 1,
        ALLREDUCES_PER_LAYER
        * s.num_layers
        * volume
        / (s.interconnect_bytes_s * s.interconnect_bandwidth_utilization),
        0.0,
    )
    return np.asarray(t_compute + t_comm, dtype=float)


@dataclass(frozen=True)
class LoadPoint:
    """Throughput and latency of a replica at a concurrency. Arrays of the broadcast shape.

    tpot_s : Time per output token seen by one sequence, prefill interruptions included. [s]
    ttft_s : Time to first token of a new request. [s]
    requests_per_s : Completed requests per second. [requests/s]
    output_tokens_per_s : Aggregate output tokens per second. [tokens/s]
    output_tokens_per_s_per_sequence : One sequence's decode speed. [tokens/s]
    """

    tpot_s: FloatArray
    ttft_s: FloatArray
    requests_per_s: FloatArray
    output_tokens_per_s: FloatArray
    output_tokens_per_s_per_sequence: FloatArray


def load_point(
    s: ServingArrays, concurrency: ArrayLike, input_tokens: ArrayLike, output_tokens: ArrayLike
) -> LoadPoint:
    """Steady-state throughput and latency with ``concurrency`` sequences in flight.

    Notes
    -----
    Each of B sequences needs D decode steps at mean context ``P + D/2``; every new request also
    adds its prefill to the shared steps. Over one generation of B requests the replica spends
    ``D * step(B) + B * prefill_marginal(P)``, so

    ``tpot = step(B) + B * prefill_marginal(P) / D``, ``requests/s = B / (D * tpot)``,
    ``ttft = prefill(P) + step(B)`` (the new prompt joins the next step).
    """
    b = np.maximum(1.0, np.asarray(concurrency, dtype=float))
    p = np.asarray(input_tokens, dtype=float)
    d = np.maximum(1.0, np.asarray(output_tokens, dtype=float))
    step = decode_step_time_s(s, b, p + d / 2.0)
    tpot = step + b * prefill_marginal_time_s(s, p) / d
    rps = b / (d * tpot)
    ttft = prefill_time_s(s, p) + step
    return LoadPoint(
        tpot_s=np.asarray(tpot, dtype=float),
        ttft_s=np.asarray(ttft, dtype=float),
        requests_per_s=np.asarray(rps, dtype=float),
        output_tokens_per_s=np.asarray(rps * d, dtype=float),
        output_tokens_per_s_per_sequence=np.asarray(1.0 / tpot, dtype=float),
    )


@dataclass(frozen=True)
class Capacity:
    """The largest sustainable load of one replica for a workload. Arrays of the broadcast shape.

    batch : Concurrent sequences at capacity (0 when nothing is feasible). [sequences]
    kv_batch_limit : Sequences the KV cache holds at the mean sequence length. [sequences]
    limit : Which constraint set the batch (LIMIT_* code). [code]
    point : Load point at ``batch`` (requests_per_s is 0 where infeasible).
    """

    batch: FloatArray
    kv_batch_limit: FloatArray
    limit: NDArray[np.int8]
    point: LoadPoint


_BISECTION_STEPS = 20  # covers batch limits up to 2**20 sequences


def capacity(
    s: ServingArrays,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    max_tpot_s: ArrayLike,
    max_ttft_s: ArrayLike,
) -> Capacity:
    """Largest batch that fits KV memory, the engine cap and the latency targets, and its load.

    Notes
    -----
    ``B_max = min(floor(kv_capacity / (P + D/2)), max_batch_sequences)``; TPOT and TTFT grow with
    B and requests/s = B / (D * tpot) grows with B (tpot is affine-ish in B with a positive
    intercept), so the best batch is the largest feasible one, found by vectorized integer
    bisection in ``[1, B_max]``.

    The bisection's next few steps can only probe the midpoints of a small binary tree of
    intervals, so for a small input all of them are evaluated in one `load_point` call along a
    new leading axis and the steps are then replayed from that table: the same probes and the
    same decisions as one call per step, in far fewer calls (a one-deployment call: 3 instead
    of 22). Large inputs take one step per call, where the work, not the call, dominates.
    """
    p = np.asarray(input_tokens, dtype=float)
    d = np.maximum(1.0, np.asarray(output_tokens, dtype=float))
    kv_limit = np.floor(s.kv_capacity_tokens / np.maximum(1.0, p + d / 2.0))
    b_max = np.minimum(kv_limit, s.max_batch_sequences)
    max_tpot = np.asarray(max_tpot_s, dtype=float)
    max_ttft = np.asarray(max_ttft_s, dtype=float)

    def feasible(batch: FloatArray) -> NDArray[np.bool_]:
        pt = load_point(s, batch, p, d)
        return np.asarray((pt.tpot_s <= max_tpot) & (pt.ttft_s <= max_ttft) & (batch <= b_max))

    shape = np.broadcast_shapes(
        np.shape(b_max), np.shape(max_tpot), np.shape(max_ttft), np.shape(p), *map(np.shape, vars(s).values())
    )
    lo = np.ones(shape)
    hi = np.broadcast_to(np.maximum(1.0, b_max), shape).astype(float)
    probes_per_call = 1024  # probes of one load_point call at most: beyond that the work, not the call, costs
    per_call = min(_BISECTION_STEPS, int(np.log2(probes_per_call // lo.size + 1)))  # steps per call
    if per_call <= 1:  # a large input: one step per call
        ok_at_one = feasible(lo)
        for _ in range(_BISECTION_STEPS):
            mid = np.floor((lo + hi + 1.0) / 2.0)
            good = feasible(mid)
            lo = np.where(good, mid, lo)
            hi = np.where(good, hi, mid - 1.0)
    else:  # a small one: the next steps' probes in one call, then the steps replayed from the table
        cells = np.arange(lo.size)
        low, high = lo.reshape(-1), hi.reshape(-1)
        for done in range(0, _BISECTION_STEPS, per_call):
            k = min(per_call, _BISECTION_STEPS - done)
            # the intervals k steps may reach: level j + 1 holds the 2**(j + 1) children of level
            # j's intervals, those after a feasible midpoint first, then the others
            lows, highs, mids = low[None], high[None], []
            for _ in range(k):
                mids.append(np.floor((lows + highs + 1.0) / 2.0))
                lows, highs = np.concatenate([mids[-1], lows]), np.concatenate([highs, mids[-1] - 1.0])
            probes = np.concatenate([*mids, np.ones((1, lo.size))] if done == 0 else mids)
            good = feasible(probes.reshape(-1, *shape)).reshape(len(probes), -1)
            if done == 0:
                ok_at_one = good[-1].reshape(shape)
            node = np.zeros(lo.size, dtype=np.intp)  # the path's interval in each level
            for j in range(k):
                node = np.where(good[(1 << j) - 1 + node, cells], node, node + (1 << j))
            low, high = lows[node, cells], highs[node, cells]
        lo, hi = low.reshape(shape), high.reshape(shape)
    batch = np.where(ok_at_one, lo, 0.0)
    at_b = np.broadcast_to(b_max, shape)
    limit = np.where(
        batch == 0,
        LIMIT_NONE,
        np.where(
            batch < at_b,
            LIMIT_LATENCY,
            np.where(
                np.broadcast_to(kv_limit, shape) <= np.broadcast_to(s.max_batch_sequences, shape),
                LIMIT_KV,
                LIMIT_ENGINE,
            ),
        ),
    ).astype(np.int8)
    pt = load_point(s, np.maximum(batch, 1.0), p, d)
    zero_where_none = np.where(batch > 0, 1.0, 0.0)
    point = LoadPoint(
        tpot_s=pt.tpot_s,
        ttft_s=pt.ttft_s,
        requests_per_s=np.asarray(pt.requests_per_s * zero_where_none, dtype=float),
        output_tokens_per_s=np.asarray(pt.output_tokens_per_s * zero_where_none, dtype=float),
        output_tokens_per_s_per_sequence=pt.output_tokens_per_s_per_sequence,
    )
    return Capacity(
        batch=np.asarray(batch, dtype=float),
        kv_batch_limit=np.asarray(kv_limit, dtype=float),
        limit=limit,
        point=point,
    )
