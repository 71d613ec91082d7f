"""Engine inputs from a catalog `Architecture`: the one mapping from schema fields to `count_params`.

Every caller that counts a model's parameters from its architecture (scenarios, `catalog
import-config`, config.json reading) goes through `count_params_for`, so a catalog entry and an
imported config.json with the same architecture give the same counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selfhost.engine.params import ParamCounts, count_params, kv_bytes_per_token

if TYPE_CHECKING:
    from selfhost.catalog.schema import Architecture


#: `Architecture` fields that `count_params` takes under the same name.
_SAME_NAME = (
    "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "tie_word_embeddings", "qkv_bias", "o_bias", "mlp_bias", "qk_norm",
    "attention_sinks",
)  # fmt: skip
#: `MoeSpec` fields that `count_params` takes as ``moe_<field>``.
_MOE = (
    "n_routed_experts", "num_experts_per_tok", "n_shared_experts", "first_k_dense_replace", "layer_freq",
    "decoder_sparse_step", "mlp_only_layers", "router_score_bias", "router_bias", "expert_bias",
)  # fmt: skip
#: `MlaSpec` fields that `count_params` takes as ``mla_<field>``.
_MLA = ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")


def count_params_kwargs(arch: Architecture) -> dict[str, Any]:
    """The keyword arguments of `selfhost.engine.params.count_params` for `arch`.

    Absent ``moe``/``mla`` blocks become zeros (a dense GQA/MHA model); ``q_lora_rank`` None
    becomes 0 (full-rank ``q_proj``).
    """
    moe = arch.moe
    mla = arch.mla
    kw: dict[str, Any] = {name: getattr(arch, name) for name in _SAME_NAME}
    kw["mtp_num_layers"] = arch.num_nextn_predict_layers
    if moe is not None:
        kw.update({f"moe_{name}": getattr(moe, name) for name in _MOE})
        kw["moe_intermediate_size"] = moe.moe_intermediate_size
    if mla is not None:
        kw.update({f"mla_{name}": getattr(mla, name) for name in _MLA})
        kw["mla_q_lora_rank"] = mla.q_lora_rank or 0
    return kw


def count_params_for(arch: Architecture) -> ParamCounts:
    """Parameter counts of the model `arch` describes, by role. [params]

    See `selfhost.engine.params.count_params` for the formulas.
    """
    return count_params(**count_params_kwargs(arch))


def kv_bytes_per_token_for(arch: Architecture, kv_bytes_per_element: float = 2.0) -> float:
    """KV cache of one token over all layers, one model copy. [bytes/token]

    ``kv_bytes_per_element``: 2 for BF16/FP16 (default), 1 for FP8. [bytes]
    GQA: ``2 * L * n_kv * d * bytes``; MLA: ``L * (kv_lora_rank + qk_rope_head_dim) * bytes``.
    """
    return _kv_bytes_of_layers(arch, arch.num_hidden_layers, kv_bytes_per_element, mla=True)


def windowed_kv_bytes_per_token_for(arch: Architecture, kv_bytes_per_element: float = 2.0) -> float:
    """The part of `kv_bytes_per_token_for` held by the windowed layers, one model copy. [bytes/token]

    Those layers keep at most ``arch.attention_window_tokens`` tokens per sequence
    (`selfhost.engine.memory.effective_context_tokens`); 0 for a model without windowed layers.
    """
    return _kv_bytes_of_layers(arch, arch.windowed_layers, kv_bytes_per_element, mla=False)


def _kv_bytes_of_layers(arch: Architecture, layers: int, kv_bytes_per_element: float, *, mla: bool) -> float:
    """KV cache of one token over ``layers`` of the model's layers, one model copy; with ``mla``,
    the model's MLA latent sizes if it has them (the windowed layers' share counts none). [bytes/token]"""
    latent = arch.mla if mla else None
    return float(
        kv_bytes_per_token(
            num_hidden_layers=layers,
            num_key_value_heads=arch.num_key_value_heads,
            head_dim=arch.head_dim,
            kv_bytes_per_element=kv_bytes_per_element,
            mla_kv_lora_rank=latent.kv_lora_rank if latent else 0,
            mla_qk_rope_head_dim=latent.qk_rope_head_dim if latent else 0,
        )
    )
