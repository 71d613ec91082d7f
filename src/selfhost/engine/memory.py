"""Memory: weights, KV cache, usable device memory, and whether a model fits.

All arguments may be scalars or arrays broadcastable to one shape; results have that shape.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.units import BITS_PER_BYTE

FloatArray = NDArray[np.float64]

# Fit verdict codes, shared with the results layer that turns them into words.
FITS = 0
WEIGHTS_TOO_LARGE = 1
CONTEXT_TOO_LARGE = 2


def weight_bytes(
    params_total: ArrayLike,
    params_embedding: ArrayLike,
    params_lm_head: ArrayLike,
    linear_bits_per_weight: ArrayLike,
    embedding_bits_per_weight: ArrayLike,
    lm_head_bits_per_weight: ArrayLike,
    params_experts_routed: ArrayLike = 0.0,
    expert_bits_per_weight: ArrayLike | None = None,
) -> FloatArray:
    """Bytes of resident weights for a quantization.

    Parameters
    ----------
    params_total : All parameters, every MoE expert included (all stay resident). [params]
    params_embedding : Input-embedding parameters. [params]
    params_lm_head : Output-head parameters; 0 when tied to the embedding. [params]
    linear_bits_per_weight : Effective bits of the other weights incl. scales and zeros. [bit]
    embedding_bits_per_weight, lm_head_bits_per_weight : Bits of those two tensors. [bit]
    params_experts_routed : Routed-expert parameters, part of ``params_total``. [params]
    expert_bits_per_weight : Bits of the routed experts where a format stores them apart
        (gpt-oss MXFP4: experts only); None means ``linear_bits_per_weight``. [bit]

    Returns
    -------
    Weight bytes. [bytes]

    Notes
    -----
    ``((P - E - H) * b_linear + X * (b_expert - b_linear) + E * b_emb + H * b_head) / 8``, with
    ``X`` the routed experts (the second term is exactly 0 when the experts are stored like the
    other linear layers). Norms and biases are counted with the linear layers; they are
    < 0.01 % of any catalog model.
    """
    total = np.asarray(params_total, dtype=float)
    emb = np.asarray(params_embedding, dtype=float)
    head = np.asarray(params_lm_head, dtype=float)
    linear = total - emb - head
    linear_bits = np.asarray(linear_bits_per_weight, dtype=float)
    expert_bits = (
        linear_bits if expert_bits_per_weight is None else np.asarray(expert_bits_per_weight, dtype=float)
    )
    bits = (
        linear * linear_bits
        + np.asarray(params_experts_routed, dtype=float) * (expert_bits - linear_bits)
        + emb * np.asarray(embedding_bits_per_weight, dtype=float)
        + head * np.asarray(lm_head_bits_per_weight, dtype=float)
    )
    return np.asarray(bits / BITS_PER_BYTE, dtype=float)


def effective_context_tokens(
    context_tokens: ArrayLike,
    kv_bytes_per_token: ArrayLike,
    windowed_kv_bytes_per_token: ArrayLike = 0.0,
    window_tokens: ArrayLike = 0.0,
) -> FloatArray:
    """Tokens of all-layer KV cache that one sequence of ``context_tokens`` tokens holds. [tokens]

    Parameters
    ----------
    context_tokens : Tokens in the sequence, ``c``. [tokens]
    kv_bytes_per_token : KV bytes of one token over all layers, ``k``. [bytes/token]
    windowed_kv_bytes_per_token : The part of ``k`` held by layers that keep only the last
        ``window_tokens`` tokens (sliding window or chunked attention), ``k_w``; 0 for none.
        [bytes/token]
    window_tokens : That window, ``W``. [tokens]

    Returns
    -------
    ``(k - k_w) * c + k_w * min(c, W)`` divided by ``k``, i.e. ``c - (k_w / k) * max(0, c - W)``;
    exactly ``c`` where ``k_w`` is 0. Multiply by ``k`` for the sequence's KV bytes. [tokens]

    Notes
    -----
    The engine's KV token counts (``kv_capacity_tokens``) are tokens held by every layer; a
    windowed layer holds at most ``W`` of a sequence's tokens, so a long sequence takes fewer
    of them. gpt-oss-120b (18 of 36 layers windowed at 128): a 32,768-token sequence holds
    ``32768 - 0.5 * 32640 = 16,448`` all-layer tokens. Every place that multiplies KV bytes per
    token by a context length goes through this function. Attention FLOPs scale the same way
    where all layers have the same heads (gpt-oss, Llama 4).
    """
    c = np.asarray(context_tokens, dtype=float)
    kv = np.asarray(kv_bytes_per_token, dtype=float)
    windowed = np.asarray(windowed_kv_bytes_per_token, dtype=float)
    window = np.asarray(window_tokens, dtype=float)
    share = np.divide(windowed, kv, out=np.zeros(np.broadcast(windowed, kv).shape), where=kv > 0)
    reduced = c - share * np.maximum(0.0, c - window)
    return np.asarray(np.where(windowed > 0, reduced, c), dtype=float)


def kv_replication_factor(n_gpus: ArrayLike, kv_heads: ArrayLike) -> FloatArray:
    """How many copies of each KV head a tensor-parallel group of ``n_gpus`` holds. [unitless]

    Tensor parallelism splits KV heads across GPUs; with fewer KV heads than GPUs each head is
    replicated. MLA caches one latent "head", so pass ``kv_heads=1`` for it: every GPU holds the
    whole latent (vLLM's MLA cache is not split by tensor parallelism).
    """
    n = np.asarray(n_gpus, dtype=float)
    heads = np.asarray(kv_heads, dtype=float)
    return np.asarray(np.maximum(1.0, n / heads), dtype=float)


def usable_memory_bytes(
    n_gpus: ArrayLike,
    device_memory_bytes: ArrayLike,
    max_memory_fraction: ArrayLike,
    gpu_memory_utilization: ArrayLike,
    runtime_overhead_bytes_per_gpu: ArrayLike,
) -> FloatArray:
    """Memory a serving engine can give to weights and KV cache across the group. [bytes]

    Notes
    -----
    ``n * (device * max_fraction * utilization - overhead)``, floored at 0. ``device`` is what the
    device reports (an "80 GB" H100 shows 81,559 MiB); ``max_fraction`` is the platform cap (Apple
    Metal lets the GPU wire about 75 % of a 64 GB Mac); ``utilization`` the engine's share (vLLM
    ``--gpu-memory-utilization``); ``overhead`` covers CUDA context, activations and graphs.
    """
    n = np.asarray(n_gpus, dtype=float)
    per_gpu = np.asarray(device_memory_bytes, dtype=float) * np.asarray(
        max_memory_fraction, dtype=float
    ) * np.asarray(gpu_memory_utilization, dtype=float) - np.asarray(
        runtime_overhead_bytes_per_gpu, dtype=float
    )
    return np.asarray(np.maximum(0.0, n * per_gpu), dtype=float)


def kv_capacity_tokens(
    usable_bytes: ArrayLike, weight_bytes_total: ArrayLike, kv_bytes_per_token: ArrayLike
) -> FloatArray:
    """Tokens of KV cache that fit beside the weights, summed over all sequences. [tokens]

    ``kv_bytes_per_token`` is for the whole group, replication included. Returns 0 when the
    weights alone do not fit.
    """
    free = np.maximum(
        0.0, np.asarray(usable_bytes, dtype=float) - np.asarray(weight_bytes_total, dtype=float)
    )
    return np.asarray(np.floor(free / np.asarray(kv_bytes_per_token, dtype=float)), dtype=float)


def max_concurrent_sequences(kv_tokens: ArrayLike, tokens_per_sequence: ArrayLike) -> FloatArray:
    """Sequences of ``tokens_per_sequence`` that the KV cache holds at once. [sequences]"""
    per_seq = np.maximum(1.0, np.asarray(tokens_per_sequence, dtype=float))
    return np.asarray(np.floor(np.asarray(kv_tokens, dtype=float) / per_seq), dtype=float)


def fit_verdict(
    usable_bytes: ArrayLike,
    weight_bytes_total: ArrayLike,
    kv_tokens: ArrayLike,
    context_tokens: ArrayLike,
) -> NDArray[np.int8]:
    """FITS when the weights and one full ``context_tokens`` sequence fit; else why not. [code]

    Codes: ``FITS`` (0), ``WEIGHTS_TOO_LARGE`` (1), ``CONTEXT_TOO_LARGE`` (2: weights fit but
    one sequence of the requested context does not).
    """
    usable = np.asarray(usable_bytes, dtype=float)
    weights = np.asarray(weight_bytes_total, dtype=float)
    kv = np.asarray(kv_tokens, dtype=float)
    context = np.asarray(context_tokens, dtype=float)
    verdict = np.where(weights >= usable, WEIGHTS_TOO_LARGE, np.where(kv < context, CONTEXT_TOO_LARGE, FITS))
    return np.asarray(verdict, dtype=np.int8)
