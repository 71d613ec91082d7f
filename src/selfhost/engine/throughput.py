"""Throughput and latency from a roofline with calibrated efficiencies.

A `ServingArrays` holds one element per deployment (model x quantization x GPU x count x
engine); every function broadcasts its other arguments against those arrays.

These are first-order estimates: the efficiencies (MBU, MFU, per-step overhead) come from the
engine profile in the catalog, which names the measurements it was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.engine.memory import effective_context_tokens

FloatArray = NDArray[np.float64]

ACTIVATION_BYTES_PER_ELEMENT = 2.0  # BF16/FP16 activations in the tensor-parallel all-reduce
ALLREDUCES_PER_LAYER = 2.0  # one after attention, one after the MLP (Megatron-style TP)

# Capacity limit codes: which constraint set the batch size.
LIMIT_NONE = 0  # no feasible batch (capacity 0)
LIMIT_KV = 1  # KV-cache memory
LIMIT_ENGINE = 2  # engine's max concurrent sequences
LIMIT_LATENCY = 3  # time-per-output-token or time-to-first-token target


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class ServingArrays:
    """Per-deployment inputs of the throughput model. Every field: array of shape (n,) or scalar.

    Attributes
    ----------
    n_gpus : GPUs in one replica. [count]
    memory_bandwidth_bytes_s : Peak memory bandwidth per GPU. [bytes/s]
    peak_flops : Dense tensor throughput per GPU at the compute dtype. [FLOP/s]
    interconnect_bytes_s : GPU-to-GPU bandwidth per GPU for all-reduce. [bytes/s]
    weight_bytes : The model's weight bytes, one copy split over the replica (data-parallel
        attention's extra copies are `attention_weight_bytes`). [bytes]
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
    windowed_kv_bytes_per_token : The part of ``kv_bytes_per_token`` held by layers that keep
        only the last ``attention_window_tokens`` tokens (sliding window, chunked attention);
        0 for models without such layers. [bytes]
    attention_window_tokens : That window. [tokens]
    pipeline_stages : Pipeline stages of a replica (vLLM/SGLang pipeline parallelism, with as many
        micro-batches in flight as stages); tensor parallel = n_gpus / stages. [count]
    dp_attention : 1 where attention runs data parallel over the replica's GPUs (each GPU attends
        for its own share of the sequences, holding their KV and a whole copy of the attention
        weights) and the MoE/MLP layers stay split over all of them. [flag]
    attention_weight_bytes : Bytes of the attention projections of the whole model, which
        `dp_attention` replicates on every GPU. [bytes]
    step_overhead_per_sequence_s : Time per step per sequence in the batch on top of
        `step_overhead_s` (scheduling, sampling and bookkeeping that grow with the batch). [s]
    expert_efficiency : Share of MBU and MFU the routed experts' kernels reach (a grouped GEMM over
        many experts with a few tokens each is less efficient than one dense GEMM). [unitless]
    expert_flops_per_token : The routed experts' share of `flops_per_token`. [FLOP]
    prefill_attention_flops_per_token_per_context : Attention FLOPs per prompt token per earlier
        prompt token in prefill, where the engine computes attention in another form than in
        decode (MLA: vLLM and SGLang decode "absorbed" over the cached latent, 2 L n_h (2 r_kv +
        d_r), and prefill as multi-head attention over the up-projected keys and values,
        2 L n_h (d_n + d_r + d_v)); 0: as ``attention_flops_per_token_per_context``. [FLOP]
    kv_reads_per_step : Times a decode step reads each cached KV byte from memory: 1 for
        attention kernels that read a KV head once for all the query heads sharing it; query
        heads per KV head for a kernel that reads it once per query head (TensorRT-LLM before
        its MQA/GQA-optimized decode kernels, `selfhost.catalog.schema.EngineGeneration`). [count]
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
    windowed_kv_bytes_per_token: FloatArray | float = 0.0
    attention_window_tokens: FloatArray | float = 0.0
    pipeline_stages: FloatArray | float = 1.0
    dp_attention: FloatArray | float = 0.0
    attention_weight_bytes: FloatArray | float = 0.0
    step_overhead_per_sequence_s: FloatArray | float = 0.0
    expert_efficiency: FloatArray | float = 1.0
    expert_flops_per_token: FloatArray | float = 0.0
    prefill_attention_flops_per_token_per_context: FloatArray | float = 0.0
    kv_reads_per_step: FloatArray | float = 1.0

    @classmethod
    def from_values(cls, **values: ArrayLike) -> ServingArrays:
        """Build from scalars or sequences, converting each to a float array."""
        return cls(**{name: np.asarray(value, dtype=float) for name, value in values.items()})


def attended_context_tokens(s: ServingArrays, context_tokens: ArrayLike) -> FloatArray:
    """All-layer KV tokens a sequence of ``context_tokens`` holds and attends over. [tokens]

    ``context_tokens`` itself unless the model has windowed layers, which keep (and attend
    over) at most ``attention_window_tokens`` of them: `selfhost.engine.memory.effective_context_tokens`.
    """
    return effective_context_tokens(
        context_tokens, s.kv_bytes_per_token, s.windowed_kv_bytes_per_token, s.attention_window_tokens
    )


def tensor_parallel_size(s: ServingArrays) -> FloatArray:
    """GPUs that work on every layer at once: the replica's GPUs over its pipeline stages. [count]

    A layer split (pipeline without micro-batches, llama.cpp's default) gives each GPU a run of
    layers and the GPUs take turns within a step, so a step runs at one GPU's bandwidth and
    compute over the whole model and nothing is all-reduced; memory still adds up over the GPUs.
    """
    return np.asarray(
        np.where(np.asarray(s.layer_split) > 0, 1.0, s.n_gpus / np.maximum(1.0, s.pipeline_stages)),
        dtype=float,
    )


def microbatches(s: ServingArrays) -> FloatArray:
    """Micro-batches a replica's batch is split into: one per pipeline stage, one for a layer split. [count]"""
    return np.asarray(
        np.where(np.asarray(s.layer_split) > 0, 1.0, np.maximum(1.0, s.pipeline_stages)), dtype=float
    )


def weight_bytes_read_per_step(s: ServingArrays, batch: ArrayLike) -> FloatArray:
    """Weight bytes streamed from memory in one forward step over ``batch`` tokens, all GPUs. [bytes]

    Notes
    -----
    Dense weights are read once per step, except the input-embedding table (one row per
    token). For a mixture of experts, a batch of B tokens each
    routed to k of E experts touches an expected ``1 - (1 - k/E)**B`` share of the experts in a
    layer (uniform routing), so small batches read far less than all expert weights. With
    `dp_attention` every GPU reads its own copy of the attention weights: ``(n - 1)`` copies more.
    """
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    touched = 1.0 - _experts_untouched(s, b)
    return np.asarray(
        _dense_bytes_read(s) + s.expert_weight_bytes * touched + _replicated_bytes(s), dtype=float
    )


def _experts_untouched(s: ServingArrays, b: FloatArray) -> FloatArray:
    """``(1 - k/E)**b``: the expected share of a layer's routed experts no token of ``b`` uses;
    the power (NumPy's costliest step here) is taken only where the model has experts (1 elsewhere,
    exactly what the power gives there)."""
    fraction = np.asarray(s.expert_active_fraction, dtype=float)
    base, exponent = np.broadcast_arrays(1.0 - fraction, b)
    share = np.ones(base.shape)
    np.power(base, exponent, out=share, where=np.broadcast_to(fraction > 0.0, base.shape))
    return share


def _dense_bytes_read(s: ServingArrays) -> FloatArray:
    """Weights every step reads whole: all but the routed experts and the unread embedding rows. [bytes]"""
    return np.asarray(s.weight_bytes - s.expert_weight_bytes - s.unread_weight_bytes, dtype=float)


def _replicated_bytes(s: ServingArrays) -> FloatArray:
    """The attention weights' extra copies under `dp_attention`: ``(n - 1)`` of them. [bytes]"""
    return np.asarray(
        np.asarray(s.dp_attention) * (tensor_parallel_size(s) - 1.0) * s.attention_weight_bytes, dtype=float
    )


def weight_read_time_s(s: ServingArrays, batch: ArrayLike) -> FloatArray:
    """Time to stream the weights of one step over ``batch`` tokens on the tensor-parallel GPUs. [s]

    ``weights_read / (t BW MBU)``, with the routed experts' share read at
    ``MBU * expert_efficiency``.
    """
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    experts = s.expert_weight_bytes * (1.0 - _experts_untouched(s, b))
    other = _dense_bytes_read(s) + _replicated_bytes(s)
    bandwidth = tensor_parallel_size(s) * s.memory_bandwidth_bytes_s * s.memory_bandwidth_utilization
    return np.asarray((other + experts / s.expert_efficiency) / bandwidth, dtype=float)


def linear_flops_time_s(s: ServingArrays, tokens: ArrayLike, gpus: ArrayLike) -> FloatArray:
    """Time of the matmul FLOPs outside attention for ``tokens`` tokens on ``gpus`` GPUs. [s]

    ``tokens * (flops_per_token + expert_flops * (1 / expert_efficiency - 1)) / (gpus peak MFU)``.
    """
    per_token = s.flops_per_token + s.expert_flops_per_token * (1.0 / s.expert_efficiency - 1.0)
    return np.asarray(
        np.asarray(tokens, dtype=float)
        * per_token
        / (np.asarray(gpus) * s.peak_flops * s.compute_utilization),
        dtype=float,
    )


def step_overhead_time_s(s: ServingArrays, batch: ArrayLike) -> FloatArray:
    """Fixed time of one step: ``step_overhead + step_overhead_per_sequence * batch``. [s]"""
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    return np.asarray(s.step_overhead_s + s.step_overhead_per_sequence_s * b, dtype=float)


def _exchanges_per_layer(s: ServingArrays) -> FloatArray:
    """All-reduces per layer: after attention and after the MLP; with data-parallel attention only
    the MoE/MLP exchange (an all-gather before it and a reduce-scatter after: one all-reduce's bytes)."""
    return np.asarray(np.where(np.asarray(s.dp_attention) > 0, 1.0, ALLREDUCES_PER_LAYER), dtype=float)


def allreduce_time_s(s: ServingArrays, tokens: ArrayLike) -> FloatArray:
    """Tensor-parallel communication time of one forward step over ``tokens`` tokens. [s]

    Notes
    -----
    Ring all-reduce, two per layer (one with `dp_attention`), each moving
    ``2 (t - 1) / t x tokens x hidden x 2 bytes`` per GPU over the interconnect (t = the tensor
    parallel size), plus a fixed latency. Zero for one GPU and for a layer split. Pipeline stages
    run their layers one after another, so all the layers' exchanges count.
    """
    n = tensor_parallel_size(s)
    volume = (
        2.0 * (n - 1.0) / n * np.asarray(tokens, dtype=float) * s.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    )
    per_allreduce = s.allreduce_latency_s + volume / (
        s.interconnect_bytes_s * s.interconnect_bandwidth_utilization
    )
    return np.asarray(
        np.where(n > 1, _exchanges_per_layer(s) * s.num_layers * per_allreduce, 0.0), dtype=float
    )


def decode_step_time_s(s: ServingArrays, batch: ArrayLike, context_tokens: ArrayLike) -> FloatArray:
    """Time between two tokens of one sequence with ``batch`` sequences at mean context ``context_tokens``. [s]

    Notes
    -----
    A roofline per operator class, summed: the linear layers (weights read once per step against
    their GEMM FLOPs) and attention (KV cache read against the score FLOPs) run one after the
    other, so their times add; within each class memory and compute overlap::

        t_linear    = max(weights_read(b) / (t BW MBU), b * flops_per_token / (t peak MFU))
        t_attention = max(b c kv_bytes r / (t BW MBU), b c attention_flops / (t peak MFU))   (r: kv_reads_per_step)
        step        = t_linear + t_attention + allreduce(b) + overhead + per_sequence * B

    (the routed experts run at ``expert_efficiency`` of MBU and MFU: `weight_read_time_s`,
    `linear_flops_time_s`)

    with t = `tensor_parallel_size` and b = batch / `microbatches`; c is the
    `attended_context_tokens` (the context itself unless the model has windowed layers; the
    window is applied to the mean context, not averaged over the sequence's life). Without
    pipeline stages b is the batch and t the replica's GPUs. With P pipeline stages each of P
    micro-batches of B/P sequences passes the P stages in turn (each stage holding 1/P of the
    layers), so a token takes P stage-times of a micro-batch, which adds up to one t-GPU step
    over all layers at batch B/P; the P micro-batches in flight keep every stage busy. A layer
    split is one micro-batch through n single-GPU stages: a step at one GPU's speed.
    """
    micro = microbatches(s)
    b = np.asarray(batch, dtype=float) / micro
    c = attended_context_tokens(s, context_tokens)
    n = tensor_parallel_size(s)
    bandwidth = n * s.memory_bandwidth_bytes_s * s.memory_bandwidth_utilization
    peak = n * s.peak_flops * s.compute_utilization
    t_linear = np.maximum(weight_read_time_s(s, b), linear_flops_time_s(s, b, n))
    t_attention = np.maximum(
        b * c * s.kv_bytes_per_token * s.kv_reads_per_step / bandwidth,
        b * c * s.attention_flops_per_token_per_context / peak,
    )
    overhead = step_overhead_time_s(s, np.asarray(batch, dtype=float))
    return np.asarray(t_linear + t_attention + allreduce_time_s(s, b) + overhead, dtype=float)


def prefill_attention_flops_per_context(s: ServingArrays) -> FloatArray:
    """Attention FLOPs per prompt token per earlier prompt token in prefill: the prefill form's
    where the model has one (`ServingArrays.prefill_attention_flops_per_token_per_context` > 0,
    MLA), else decode's. [FLOP]"""
    own = np.asarray(s.prefill_attention_flops_per_token_per_context, dtype=float)
    return np.asarray(np.where(own > 0, own, s.attention_flops_per_token_per_context), dtype=float)


def prefill_flops(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """FLOPs to prefill one prompt: matmuls plus causal attention. [FLOP]

    ``P * flops_per_token + a_prefill * P**2 / 2``, with ``a_prefill`` the
    `prefill_attention_flops_per_context` (for MLA the multi-head form, not decode's absorbed one).
    """
    p = np.asarray(prompt_tokens, dtype=float)
    return np.asarray(
        p * s.flops_per_token + prefill_attention_flops_per_context(s) * p * p / 2.0, dtype=float
    )


def _prefill_work_flops(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """`prefill_flops` with the routed experts' FLOPs weighted by 1 / expert_efficiency. [FLOP]"""
    p = np.asarray(prompt_tokens, dtype=float)
    slower = p * s.expert_flops_per_token * (1.0 / s.expert_efficiency - 1.0)
    return np.asarray(prefill_flops(s, p) + slower, dtype=float)


def prefill_time_s(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """Time to prefill one prompt on an otherwise idle replica (the unloaded TTFT). [s]

    Compute-bound for long prompts; a short prompt still has to stream the weights once.
    """
    p = np.asarray(prompt_tokens, dtype=float)
    n = tensor_parallel_size(s)
    t_compute = _prefill_work_flops(s, p) / (n * s.peak_flops * s.compute_utilization)
    t_memory = weight_read_time_s(s, p)
    return np.asarray(
        np.maximum(t_compute, t_memory) + allreduce_time_s(s, p) + step_overhead_time_s(s, 1.0), dtype=float
    )


def prefill_marginal_time_s(s: ServingArrays, prompt_tokens: ArrayLike) -> FloatArray:
    """Extra time a prompt adds when its prefill is batched with running decodes. [s]

    With continuous batching and chunked prefill the weights are already being streamed for the
    decode batch, so a prompt costs its compute and its all-reduce traffic only.
    """
    p = np.asarray(prompt_tokens, dtype=float)
    n = tensor_parallel_size(s)
    micro = microbatches(s)  # pipeline stages work on different micro-batches at once
    t_compute = _prefill_work_flops(s, p) / (n * micro * s.peak_flops * s.compute_utilization)
    volume = 2.0 * (n - 1.0) / n * p * s.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    t_comm = np.where(
        n > 1,
        _exchanges_per_layer(s)
        * s.num_layers
        / micro
        * volume
        / (s.interconnect_bytes_s * s.interconnect_bandwidth_utilization),
        0.0,
    )
    return np.asarray(t_compute + t_comm, dtype=float)


#: Output-length distributions of `drain_time_s` (codes of an int array).
LENGTHS_FIXED, LENGTHS_EXPONENTIAL, LENGTHS_UNIFORM = 0, 1, 2
_DRAIN_NODES = 16  # quadrature nodes over the draining batch
_EULER_GAMMA = 0.5772156649


def drain_time_s(
    s: ServingArrays,
    batch: ArrayLike,
    context_tokens: ArrayLike,
    output_tokens: ArrayLike,
    lengths: ArrayLike,
) -> FloatArray:
    """Time for ``batch`` sequences that start together to all finish, with no new arrivals. [s]

    Parameters
    ----------
    batch : Sequences in flight when the drain starts. [sequences]
    context_tokens : Mean context during the drain (held fixed). [tokens]
    output_tokens : Mean output tokens still to generate per sequence, ``D``. [tokens]
    lengths : LENGTHS_* code of how the output lengths are distributed. [code]

    Notes
    -----
    With B sequences running, one step takes ``step(B)``; as sequences finish the batch shrinks and
    steps get cheaper, but the run lasts until the longest sequence ends:

    - fixed lengths: every sequence ends at step D: ``D * step(B)``.
    - exponential lengths (long-tailed, as ShareGPT's outputs), mean D: while k sequences run the
      next finishes after D / k steps on average, so the drain is ``D * sum_k step(k) / k`` for
      k = 1..B (``D * H_B`` steps in all, H_B the harmonic number), summed here by the
      Euler-Maclaurin formula over log-spaced nodes.
    - uniform lengths on [0, 2D]: the batch falls linearly until the longest ends, after
      ``2D B / (B + 1)`` steps on average: ``2D B / (B + 1) * mean over x in (0, 1] of step(x B)``.

    All arguments broadcast against the arrays of ``s``.
    """
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    c = np.asarray(context_tokens, dtype=float)
    d = np.maximum(1.0, np.asarray(output_tokens, dtype=float))
    kind = np.asarray(lengths)
    fixed = d * decode_step_time_s(s, b, c)
    log_b = np.log(b)
    nodes = np.linspace(0.0, 1.0, _DRAIN_NODES)
    at_one = decode_step_time_s(s, 1.0, c)
    exp_integral = np.zeros(np.broadcast_shapes(np.shape(fixed), np.shape(at_one)))
    uni_mean = np.zeros_like(exp_integral)
    previous = at_one
    for i in range(1, _DRAIN_NODES):
        here = decode_step_time_s(s, np.exp(nodes[i] * log_b), c)
        exp_integral = exp_integral + (previous + here) / 2.0 * log_b / (_DRAIN_NODES - 1)
        previous = here
        # midpoints of (0, 1] for the uniform case
        uni_mean = uni_mean + decode_step_time_s(s, np.maximum(1.0, (i - 0.5) / (_DRAIN_NODES - 1) * b), c)
    uni_mean = uni_mean / (_DRAIN_NODES - 1)
    at_b = decode_step_time_s(s, b, c)
    # Euler-Maclaurin: sum_{k=1}^{B} f(k)/k ~ int_1^B f(x)/x dx + (f(1) + f(B)/B)/2; for a constant f
    # the sum is H_B = ln B + gamma + 1/(2B) - 1/(12 B^2) + ..., so the rest is added at f(1).
    correction = _EULER_GAMMA - 0.5 - 1.0 / (12.0 * b * b)
    exponential = d * (exp_integral + (at_one + at_b / b) / 2.0 + correction * at_one)
    uniform = 2.0 * d * b / (b + 1.0) * uni_mean
    return np.asarray(
        np.where(kind == LENGTHS_EXPONENTIAL, exponential, np.where(kind == LENGTHS_UNIFORM, uniform, fixed)),
        dtype=float,
    )


def drain_mean_step_s(
    s: ServingArrays, batch: ArrayLike, context_tokens: ArrayLike, lengths: ArrayLike
) -> FloatArray:
    """Time per output token of a drain (``batch`` sequences that start together, no new arrivals),
    averaged over the tokens it generates: the mean inter-token latency such a run reports. [s]

    Notes
    -----
    A step at batch k produces k tokens, so the mean over tokens weights each step by its batch:

    - fixed lengths: every step runs at B: ``step(B)``.
    - exponential lengths, mean D: while k sequences run, the next finishes after D / k steps, in
      which k sequences make D tokens: every batch level k = 1..B yields D tokens, so the mean is
      ``mean over k of step(k)`` (midpoints over (0, 1] of step(x B), as `drain_time_s`).
    - uniform lengths on [0, 2D]: the batch falls linearly in time, so the tokens made at batch
      x B are in proportion to x: ``2 * integral over (0, 1] of x step(x B) dx``.

    Prefill interruptions are not counted: in a drain every prompt was prefilled before it began.
    All arguments broadcast against the arrays of ``s``.
    """
    b = np.maximum(1.0, np.asarray(batch, dtype=float))
    c = np.asarray(context_tokens, dtype=float)
    kind = np.asarray(lengths)
    fixed = decode_step_time_s(s, b, c)
    flat = np.zeros(np.shape(fixed))
    weighted = np.zeros(np.shape(fixed))
    nodes = _DRAIN_NODES - 1
    for i in range(1, _DRAIN_NODES):
        x = (i - 0.5) / nodes
        here = decode_step_time_s(s, np.maximum(1.0, x * b), c)
        flat = flat + here / nodes
        weighted = weighted + 2.0 * x * here / nodes
    return np.asarray(
        np.where(kind == LENGTHS_EXPONENTIAL, flat, np.where(kind == LENGTHS_UNIFORM, weighted, fixed)),
        dtype=float,
    )


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
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


def prefill_times_s(s: ServingArrays, input_tokens: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """`prefill_time_s` and `prefill_marginal_time_s` of ``input_tokens``: what `load_point`
    needs of the prompt, which does not depend on the batch (a search over batches takes it
    once). [s]"""
    p = np.asarray(input_tokens, dtype=float)
    return prefill_time_s(s, p), prefill_marginal_time_s(s, p)


def load_point(
    s: ServingArrays,
    concurrency: ArrayLike,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    prefill: tuple[FloatArray, FloatArray] | None = None,
) -> LoadPoint:
    """Steady-state throughput and latency with ``concurrency`` sequences in flight.

    ``prefill``: `prefill_times_s` of ``s`` and ``input_tokens`` where the caller has them.

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
    prefill_s, marginal_s = prefill_times_s(s, p) if prefill is None else prefill
    step = decode_step_time_s(s, b, p + d / 2.0)
    tpot = step + b * marginal_s / d
    rps = b / (d * tpot)
    ttft = prefill_s + step
    return LoadPoint(
        tpot_s=np.asarray(tpot, dtype=float),
        ttft_s=np.asarray(ttft, dtype=float),
        requests_per_s=np.asarray(rps, dtype=float),
        output_tokens_per_s=np.asarray(rps * d, dtype=float),
        output_tokens_per_s_per_sequence=np.asarray(1.0 / tpot, dtype=float),
    )


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
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


def _search_large(
    s: ServingArrays, inputs: tuple[Any, ...], hi: FloatArray, shape: tuple[int, ...]
) -> tuple[FloatArray, NDArray[np.bool_], LoadPoint]:
    """`capacity`'s integer bisection of a large input, one `load_point` call per step: the largest
    feasible batch in ``[1, hi]``, whether one sequence is feasible, and the load point at that
    batch (at one sequence where none is), each of ``shape``. ``inputs``: input and output
    tokens, TPOT and TTFT targets, B_max, and the prompt's `prefill_times_s`.

    Feasibility falls as the batch grows, so where ``hi`` (B_max) is feasible it is the answer
    (and one sequence is feasible too); most deployments stop there, at their KV or engine limit.
    Only the others are tried at one sequence, and only those feasible there are bisected, on
    their own values (every input broadcast and taken at their positions), until every interval
    is closed, after which further steps would leave each answer as it is: the same answers and
    load points as 20 full steps and a call at each end, in about a quarter of the work for a
    catalog's deployments.
    """

    def evaluate(
        arrays: ServingArrays, batch: FloatArray, rest: tuple[Any, ...]
    ) -> tuple[NDArray[np.bool_], LoadPoint]:
        pp, dd, tpot_s, ttft_s, limit, prefill_s, marginal_s = rest
        pt = load_point(arrays, batch, pp, dd, prefill=(prefill_s, marginal_s))
        return np.asarray((pt.tpot_s <= tpot_s) & (pt.ttft_s <= ttft_s) & (batch <= limit)), pt

    def flat(x: Any) -> Any:
        return np.broadcast_to(x, shape).reshape(-1)

    def taken(
        rows: NDArray[np.intp], arrays: ServingArrays, rest: tuple[Any, ...]
    ) -> tuple[ServingArrays, tuple[Any, ...]]:
        """The flat ``arrays`` and ``rest`` at positions ``rows`` (a scalar stays as it is)."""

        def take(x: Any) -> Any:
            return x[rows] if np.ndim(x) else x

        return ServingArrays(**{k: take(v) for k, v in vars(arrays).items()}), tuple(take(x) for x in rest)

    ok_hi, at_hi = evaluate(s, hi, inputs)
    ok_hi = flat(ok_hi)
    hi_flat = flat(hi)
    lo = np.where(ok_hi, hi_flat, 1.0)
    ok_at_one = ok_hi.copy()
    point = {name: flat(value).copy() for name, value in vars(at_hi).items()}
    rows = np.flatnonzero(~ok_hi)
    if rows.size:
        full = ServingArrays(**{k: flat(v) if np.ndim(v) else v for k, v in vars(s).items()})
        rest_full = tuple(flat(x) if np.ndim(x) else x for x in inputs)
        sub, rest = taken(rows, full, rest_full)
        ok_one, at_one = evaluate(sub, np.ones(rows.size), rest)
        ok_at_one[rows] = ok_one
        for name, value in vars(at_one).items():  # where one sequence is the batch, or none is
            point[name][rows] = value
        # one sequence feasible, B_max not: bisect (1, B_max) on these alone
        open_rows = np.flatnonzero(ok_one)
        if open_rows.size:
            sub, rest = taken(open_rows, sub, rest)
            low, high = np.ones(open_rows.size), hi_flat[rows[open_rows]] - 1.0  # hi itself is not feasible
            for _ in range(_BISECTION_STEPS):
                if np.all(high <= low):
                    break
                mid = np.floor((low + high + 1.0) / 2.0)
                good, _ = evaluate(sub, mid, rest)
                low = np.where(good, mid, low)
                high = np.where(good, high, mid - 1.0)
            at = rows[open_rows]
            lo[at] = low
            moved = np.flatnonzero(low > 1.0)  # the load point at one sequence is known already
            if moved.size:
                sub, rest = taken(moved, sub, rest)
                _, at_low = evaluate(sub, low[moved], rest)
                for name, value in vars(at_low).items():
                    point[name][at[moved]] = value
    load = LoadPoint(**{name: value.reshape(shape) for name, value in point.items()})
    return lo.reshape(shape), ok_at_one.reshape(shape), load


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
    ``B_max = min(floor(kv_capacity / c(P + D/2)), max_batch_sequences)``, with ``c`` the
    `attended_context_tokens` of the mean sequence (``P + D/2`` itself without windowed
    layers); TPOT and TTFT grow with
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
    kv_limit = np.floor(s.kv_capacity_tokens / np.maximum(1.0, attended_context_tokens(s, p + d / 2.0)))
    b_max = np.minimum(kv_limit, s.max_batch_sequences)
    max_tpot = np.asarray(max_tpot_s, dtype=float)
    max_ttft = np.asarray(max_ttft_s, dtype=float)

    prefill = prefill_times_s(s, p)  # the same for every batch tried

    def feasible(batch: FloatArray) -> NDArray[np.bool_]:
        pt = load_point(s, batch, p, d, prefill=prefill)
        return np.asarray((pt.tpot_s <= max_tpot) & (pt.ttft_s <= max_ttft) & (batch <= b_max))

    shape = np.broadcast_shapes(
        np.shape(b_max), np.shape(max_tpot), np.shape(max_ttft), np.shape(p), *map(np.shape, vars(s).values())
    )
    lo = np.ones(shape)
    hi = np.broadcast_to(np.maximum(1.0, b_max), shape).astype(float)
    probes_per_call = 1024  # probes of one load_point call at most: beyond that the work, not the call, costs
    per_call = min(_BISECTION_STEPS, int(np.log2(probes_per_call // lo.size + 1)))  # steps per call
    at_batch: LoadPoint | None = None
    if per_call <= 1:  # a large input: one step per call, on the intervals still open
        lo, ok_at_one, at_batch = _search_large(s, (p, d, max_tpot, max_ttft, b_max, *prefill), hi, shape)
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
    pt = at_batch if at_batch is not None else load_point(s, np.maximum(batch, 1.0), p, d, prefill=prefill)
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
