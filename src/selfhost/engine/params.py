"""Parameter counts and KV-cache size per token, from the architecture fields of a config.json.

`count_params` counts every weight tensor a decoder-only transformer of the supported families
holds (Llama, Llama 4 text, Mistral, Qwen2, Qwen3, Qwen3-MoE, Mixtral, gpt-oss, DeepSeek-V2/V3). It is exact integer
arithmetic on scalars. `kv_bytes_per_token` is vectorized: all its arguments may be scalars or
arrays broadcastable to one shape.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

SWIGLU_MATRICES = 3  # gate_proj, up_proj, down_proj


@dataclass(frozen=True)
class ParamCounts:
    """Parameters of one model, split by role. Every field is a count. [params]

    ``total`` is the sum of the eight component fields (``embedding`` to ``norms``); the MTP
    fields are outside it.

    Attributes
    ----------
    total : All weights of the main model, every routed expert included. [params]
    active : Weights used per token: everything except the routed experts not chosen, i.e.
        embedding, head, attention, dense MLPs, ``num_experts_per_tok`` routed experts and the
        shared experts of each MoE layer, routers and norms. [params]
    embedding : Input embedding, vocab x hidden. [params]
    lm_head : Output head; 0 when tied to the embedding. [params]
    attention : Attention projections and their biases, all layers. [params]
    mlp_dense : Dense (non-MoE) MLP weights and biases, all dense layers. [params]
    mlp_experts_routed : All routed experts of all MoE layers. [params]
    mlp_experts_shared : Shared (always-on) experts of all MoE layers. [params]
    router : Expert-router weights, plus DeepSeek-V3's score-correction bias. [params]
    norms : All RMSNorm weights: two per layer, the final norm, Qwen3 per-head q/k norms and
        DeepSeek's MLA latent norms. [params]
    mtp : DeepSeek-V3 multi-token-prediction modules, without the embedding and output head
        they share with the main model; not in ``total``. [params]
    mtp_shared_copies : Copies of the embedding and output head that the published
        checkpoint stores again with each MTP module; not in ``total``. [params]
    """

    total: int
    active: int
    embedding: int
    lm_head: int
    attention: int
    mlp_dense: int
    mlp_experts_routed: int
    mlp_experts_shared: int
    router: int
    norms: int
    mtp: int = 0
    mtp_shared_copies: int = 0

    @property
    def non_embedding(self) -> int:
        """All weights except the input embedding and the output head. [params]"""
        return self.total - self.embedding - self.lm_head

    @property
    def total_with_mtp(self) -> int:
        """Every tensor in the published checkpoint, MTP modules included (DeepSeek-V3: 685B). [params]"""
        return self.total + self.mtp + self.mtp_shared_copies


def _is_moe_index(layer: int, freq: int, step: int) -> bool:
    """DeepSeek ``layer % moe_layer_freq == 0`` and Qwen ``(layer + 1) % decoder_sparse_step == 0``."""
    return layer % freq == 0 and (layer + 1) % step == 0


def _residue_count(start: int, stop: int, freq: int, step: int) -> int:
    """How many layers in [start, stop) satisfy `_is_moe_index`, in O(1) for any layer count.

    The layers are ``i = 0 (mod freq)`` and ``i = -1 (mod step)``: by the Chinese remainder
    theorem one residue ``r`` modulo ``freq * step`` when gcd(freq, step) = 1 (it must divide
    the difference, 1), none otherwise.
    """
    if stop <= start:
        return 0
    if math.gcd(freq, step) != 1:
        return 0
    period = freq * step
    r = 0 if step == 1 else freq * ((-pow(freq, -1, step)) % step)

    def below(n: int) -> int:  # residues r + k * period < n, k >= 0
        return 0 if n <= r else (n - r + period - 1) // period

    return below(stop) - below(start)


def count_params(
    *,
    num_hidden_layers: int,
    hidden_size: int,
    intermediate_size: int,
    num_attention_heads: int,
    num_key_value_heads: int,
    head_dim: int,
    vocab_size: int,
    tie_word_embeddings: bool,
    qkv_bias: bool,
    moe_n_routed_experts: int = 0,
    moe_num_experts_per_tok: int = 0,
    moe_n_shared_experts: int = 0,
    moe_intermediate_size: int = 0,
    moe_first_k_dense_replace: int = 0,
    mla_kv_lora_rank: int = 0,
    mla_q_lora_rank: int = 0,
    mla_qk_rope_head_dim: int = 0,
    mla_qk_nope_head_dim: int = 0,
    mla_v_head_dim: int = 0,
    moe_layer_freq: int = 1,
    moe_decoder_sparse_step: int = 1,
    moe_mlp_only_layers: Collection[int] = (),
    moe_router_score_bias: bool = False,
    o_bias: bool = False,
    mlp_bias: bool = False,
    qk_norm: bool = False,
    mtp_num_layers: int = 0,
    moe_router_bias: bool = False,
    moe_expert_bias: bool = False,
    attention_sinks: bool = False,
) -> ParamCounts:
    """Count the weights of a decoder-only transformer from its config.json fields.

    Parameters
    ----------
    num_hidden_layers : Decoder layers, ``L``; MTP modules not included. [count]
    hidden_size : Residual width, ``H``. [count]
    intermediate_size : Width of the dense SwiGLU MLP, ``I``. [count]
    num_attention_heads : Query heads, ``n_h``. [count]
    num_key_value_heads : Key/value heads (GQA), ``n_kv``; unused with MLA. [count]
    head_dim : Width of one attention head, ``d``; unused with MLA. [count]
    vocab_size : Tokens in the vocabulary, ``V``. [count]
    tie_word_embeddings : True when the output head reuses the input embedding. [bool]
    qkv_bias : Bias on the q, k and v projections (Qwen2); with MLA, on ``q_a_proj`` and
        ``kv_a_proj_with_mqa`` (DeepSeek ``attention_bias``). [bool]
    moe_n_routed_experts : Routed experts per MoE layer, ``E``; 0 for a dense model. [count]
    moe_num_experts_per_tok : Routed experts chosen per token, ``k``. [count]
    moe_n_shared_experts : Always-on shared experts per MoE layer, ``S``. [count]
    moe_intermediate_size : SwiGLU width of one expert, ``I_e`` (Mixtral: ``intermediate_size``). [count]
    moe_first_k_dense_replace : Leading layers with a dense MLP (DeepSeek). [count]
    mla_kv_lora_rank : MLA compressed-KV rank, ``r_kv``; 0 means GQA/MHA attention. [count]
    mla_q_lora_rank : MLA query rank, ``r_q``; 0 means a full-rank ``q_proj``. [count]
    mla_qk_rope_head_dim : Rotary part of the MLA q/k head, ``d_r``. [count]
    mla_qk_nope_head_dim : Non-rotary part of the MLA q/k head, ``d_n``. [count]
    mla_v_head_dim : MLA value head width, ``d_v``. [count]
    moe_layer_freq : DeepSeek ``moe_layer_freq``: layer ``i`` may be MoE only if
        ``i % moe_layer_freq == 0``. [count]
    moe_decoder_sparse_step : Qwen3-MoE ``decoder_sparse_step``: layer ``i`` may be MoE only if
        ``(i + 1) % moe_decoder_sparse_step == 0``. [count]
    moe_mlp_only_layers : Qwen3-MoE ``mlp_only_layers``: layer indices forced dense. [index]
    moe_router_score_bias : Router has a per-expert score-correction bias (DeepSeek-V3
        ``e_score_correction_bias``, ``noaux_tc`` routing). [bool]
    o_bias : Bias on the output projection (Llama/Qwen3/DeepSeek ``attention_bias``). [bool]
    mlp_bias : Biases on the dense MLP projections (Llama ``mlp_bias``). [bool]
    qk_norm : Per-head RMSNorm of width ``d`` on q and k, shared across heads (Qwen3). [bool]
    mtp_num_layers : DeepSeek-V3 ``num_nextn_predict_layers``; counted apart from ``total``. [count]
    moe_router_bias : The router linear layer has a bias, ``E`` per MoE layer (gpt-oss). [bool]
    moe_expert_bias : Every expert has biases on its fused gate/up (``2*I_e``) and down (``H``)
        projections (gpt-oss ``gate_up_proj_bias``, ``down_proj_bias``). [bool]
    attention_sinks : One learned sink logit per query head and layer (gpt-oss ``sinks``). [bool]

    Returns
    -------
    ParamCounts : the counts by role. [params]

    Raises
    ------
    ValueError : a size is negative, or ``k`` exceeds ``E``.

    Notes
    -----
    Layer ``i`` is an MoE layer when ``E > 0``, ``i >= moe_first_k_dense_replace``,
    ``i % moe_layer_freq == 0``, ``(i + 1) % moe_decoder_sparse_step == 0`` and ``i`` is not in
    ``moe_mlp_only_layers``; otherwise it has a dense MLP. ``b_x`` is 1 when that bias exists.

    - embedding = V*H; lm_head = V*H, or 0 when tied.
    - GQA attention per layer = H*n_h*d (q) + 2*H*n_kv*d (k, v) + n_h*d*H (o)
      + b_qkv*(n_h + 2*n_kv)*d + b_o*H.
    - MLA attention per layer = H*r_q (q_a) + r_q*n_h*(d_n + d_r) (q_b), or H*n_h*(d_n + d_r)
      (q_proj) when r_q = 0; + H*(r_kv + d_r) (kv_a_proj_with_mqa) + r_kv*n_h*(d_n + d_v)
      (kv_b) + n_h*d_v*H (o) + b_qkv*(r_q + r_kv + d_r) + b_o*H.
    - Attention sinks add n_h per layer to the attention count.
    - Dense MLP per layer = 3*H*I + b_mlp*(2*I + H).
    - One expert = 3*H*I_e + b_exp*(2*I_e + H). MoE layer: routed = E experts; shared = S
      experts; router = H*E (+ E score bias) (+ E router bias).
    - norms = 2*H per layer + H final + (2*d per layer if qk_norm)
      + (r_q + r_kv per layer if MLA).
    - active = total - (E - k)*3*H*I_e per MoE layer. Embedding and head count as active, as in
      Mixtral's 12.9B and DeepSeek-V3's 36.7B (which "includes 0.9B embedding and 0.9B head").
    - One DeepSeek-V3 MTP module = enorm H + hnorm H + eh_proj 2*H*H + one decoder layer (MoE
      by the rule above at index L + j) + shared_head.norm H; the checkpoint also stores a copy
      of the embedding and of the head with it (``mtp_shared_copies`` = V*H + V*H per module).

    References
    ----------
    Totals checked in tests/test_hf_config.py against published counts (Llama-3.3-70B 70.55B
    matches llama.cpp; DeepSeek-V3 671B + 11.5B MTP = 685B, deepseek-ai/DeepSeek-V3
    README_WEIGHTS.md; gpt-oss-120b 116.83B, its model card). Tensor shapes from the
    transformers modeling files of each family (modeling_llama.py, modeling_llama4.py,
    modeling_qwen2.py, modeling_qwen3_moe.py, modeling_mixtral.py, modeling_gpt_oss.py,
    modeling_deepseek_v3.py; PyPI transformers 5.25.0).
    """
    sizes = {
        "num_hidden_layers": num_hidden_layers,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim,
        "vocab_size": vocab_size,
        "moe_n_routed_experts": moe_n_routed_experts,
        "moe_num_experts_per_tok": moe_num_experts_per_tok,
        "moe_n_shared_experts": moe_n_shared_experts,
        "moe_intermediate_size": moe_intermediate_size,
        "moe_first_k_dense_replace": moe_first_k_dense_replace,
        "mla_kv_lora_rank": mla_kv_lora_rank,
        "mla_q_lora_rank": mla_q_lora_rank,
        "mla_qk_rope_head_dim": mla_qk_rope_head_dim,
        "mla_qk_nope_head_dim": mla_qk_nope_head_dim,
        "mla_v_head_dim": mla_v_head_dim,
        "mtp_num_layers": mtp_num_layers,
    }
    negative = [name for name, value in sizes.items() if value < 0]
    if negative:
        raise ValueError(f"sizes must be >= 0; negative: {', '.join(negative)}")
    if moe_layer_freq < 1 or moe_decoder_sparse_step < 1:
        raise ValueError("moe_layer_freq and moe_decoder_sparse_step must be >= 1")
    if moe_num_experts_per_tok > moe_n_routed_experts:
        raise ValueError(
            f"moe_num_experts_per_tok ({moe_num_experts_per_tok}) must not exceed "
            f"moe_n_routed_experts ({moe_n_routed_experts})"
        )

    h = hidden_size
    mla = mla_kv_lora_rank > 0

    if mla:
        q_head = mla_qk_nope_head_dim + mla_qk_rope_head_dim
        heads = num_attention_heads
        if mla_q_lora_rank > 0:
            q = h * mla_q_lora_rank + mla_q_lora_rank * heads * q_head
        else:
            q = h * heads * q_head
        attn_layer = (
            q
            + h * (mla_kv_lora_rank + mla_qk_rope_head_dim)
            + mla_kv_lora_rank * heads * (mla_qk_nope_head_dim + mla_v_head_dim)
            + heads * mla_v_head_dim * h
            + int(qkv_bias) * (mla_q_lora_rank + mla_kv_lora_rank + mla_qk_rope_head_dim)
            + int(o_bias) * h
        )
        attn_norms_layer = mla_q_lora_rank + mla_kv_lora_rank
    else:
        q_width = num_attention_heads * head_dim
        kv_width = num_key_value_heads * head_dim
        attn_layer = (
            h * q_width
            + 2 * h * kv_width
            + q_width * h
            + int(qkv_bias) * (q_width + 2 * kv_width)
            + int(o_bias) * h
        )
        attn_norms_layer = 2 * head_dim if qk_norm else 0
    attn_layer += int(attention_sinks) * num_attention_heads

    dense_layer = SWIGLU_MATRICES * h * intermediate_size + int(mlp_bias) * (2 * intermediate_size + h)
    expert = SWIGLU_MATRICES * h * moe_intermediate_size + int(moe_expert_bias) * (
        2 * moe_intermediate_size + h
    )
    router_layer = (
        h * moe_n_routed_experts + (int(moe_router_score_bias) + int(moe_router_bias)) * moe_n_routed_experts
    )
    layer_norms = 2 * h + attn_norms_layer
    mlp_only = frozenset(moe_mlp_only_layers)
    moe_mlp = (moe_n_routed_experts + moe_n_shared_experts) * expert + router_layer

    def moe_layers_in(start: int, stop: int) -> int:
        """MoE layers among indices [start, stop): counted by arithmetic, not layer by layer."""
        if moe_n_routed_experts == 0:
            return 0
        start = max(start, moe_first_k_dense_replace)
        n = _residue_count(start, stop, moe_layer_freq, moe_decoder_sparse_step)
        forced_dense = sum(
            1
            for i in mlp_only
            if start <= i < stop and _is_moe_index(i, moe_layer_freq, moe_decoder_sparse_step)
        )
        return n - forced_dense

    n_moe = moe_layers_in(0, num_hidden_layers)
    n_dense = num_hidden_layers - n_moe

    embedding = vocab_size * h
    lm_head = 0 if tie_word_embeddings else vocab_size * h
    attention = num_hidden_layers * attn_layer
    mlp_dense = n_dense * dense_layer
    mlp_experts_routed = n_moe * moe_n_routed_experts * expert
    mlp_experts_shared = n_moe * moe_n_shared_experts * expert
    router = n_moe * router_layer
    norms = num_hidden_layers * layer_norms + h  # + final norm
    total = (
        embedding + lm_head + attention + mlp_dense + mlp_experts_routed + mlp_experts_shared + router + norms
    )
    active = total - n_moe * (moe_n_routed_experts - moe_num_experts_per_tok) * expert

    # DeepSeek-V3 MTP module: enorm, hnorm, eh_proj (2H -> H), one decoder layer, shared_head.norm
    mtp_moe = moe_layers_in(num_hidden_layers, num_hidden_layers + mtp_num_layers)
    mtp = (
        mtp_num_layers * (3 * h + 2 * h * h + attn_layer + layer_norms)
        + mtp_moe * moe_mlp
        + (mtp_num_layers - mtp_moe) * dense_layer
    )
    mtp_shared_copies = mtp_num_layers * 2 * vocab_size * h

    return ParamCounts(
        total=total,
        active=active,
        embedding=embedding,
        lm_head=lm_head,
        attention=attention,
        mlp_dense=mlp_dense,
        mlp_experts_routed=mlp_experts_routed,
        mlp_experts_shared=mlp_experts_shared,
        router=router,
        norms=norms,
        mtp=mtp,
        mtp_shared_copies=mtp_shared_copies,
    )


def kv_bytes_per_token(
    *,
    num_hidden_layers: ArrayLike,
    num_key_value_heads: ArrayLike,
    head_dim: ArrayLike,
    kv_bytes_per_element: ArrayLike,
    mla_kv_lora_rank: ArrayLike = 0,
    mla_qk_rope_head_dim: ArrayLike = 0,
) -> FloatArray:
    """KV-cache bytes one token occupies, summed over all layers of one model copy.

    All arguments may be scalars or arrays broadcastable to one shape; the result has that
    shape (0-d for all-scalar input).

    Parameters
    ----------
    num_hidden_layers : Decoder layers that keep a KV cache, ``L``. [count]
    num_key_value_heads : KV heads, ``n_kv``; ignored where MLA applies. [count]
    head_dim : Width of one KV head, ``d``; ignored where MLA applies. [count]
    kv_bytes_per_element : Bytes per cached value: 2 for BF16/FP16, 1 for FP8. [bytes]
    mla_kv_lora_rank : MLA latent rank, ``r_kv``; 0 for GQA/MHA. [count]
    mla_qk_rope_head_dim : MLA rotary key width, ``d_r``, cached beside the latent. [count]

    Returns
    -------
    KV cache per token. [bytes/token]

    Raises
    ------
    ValueError : the arguments do not broadcast to one shape, or one is negative.

    Notes
    -----
    GQA/MHA: ``2 * L * n_kv * d * bytes`` (one key and one value vector per KV head and layer).
    MLA (where ``r_kv > 0`` or ``d_r > 0``): ``L * (r_kv + d_r) * bytes``, the compressed latent
    plus the shared rotary key; vLLM caches it as one head of size ``r_kv + d_r`` (576 for
    DeepSeek-V3). Tensor-parallel replication of KV heads is not included here.

    References
    ----------
    research facts.md section 1.1 (KV per token row: Llama-3.3-70B 320 KiB, Qwen2.5-7B 56 KiB)
    and section 1.2 (DeepSeek-V3: 61 * (512 + 64) * 2 B = 68.6 KiB; vLLM MLA spec).
    """
    named = {
        "num_hidden_layers": num_hidden_layers,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim,
        "kv_bytes_per_element": kv_bytes_per_element,
        "mla_kv_lora_rank": mla_kv_lora_rank,
        "mla_qk_rope_head_dim": mla_qk_rope_head_dim,
    }
    arrays = {name: np.asarray(value, dtype=float) for name, value in named.items()}
    try:
        np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise ValueError(
            f"kv_bytes_per_token: arguments must be scalars or arrays broadcastable to one shape; "
            f"got {shapes}"
        ) from None
    negative = [name for name, a in arrays.items() if np.any(a < 0)]
    if negative:
        raise ValueError(f"kv_bytes_per_token: values must be >= 0; negative: {', '.join(negative)}")

    layers = arrays["num_hidden_layers"]
    nbytes = arrays["kv_bytes_per_element"]
    rank = arrays["mla_kv_lora_rank"]
    rope = arrays["mla_qk_rope_head_dim"]
    gqa = 2.0 * layers * arrays["num_key_value_heads"] * arrays["head_dim"] * nbytes  # K and V
    latent = layers * (rank + rope) * nbytes
    return np.asarray(np.where((rank > 0) | (rope > 0), latent, gqa), dtype=float)
