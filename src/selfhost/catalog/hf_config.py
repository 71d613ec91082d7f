"""Read the architecture of a Hugging Face ``config.json`` (already parsed to a mapping).

Three entry points: `architecture_from_hf_config` gives the fields of the catalog's
`Architecture`; `params_from_hf_config` counts the parameters, using config keys the schema
does not hold (Qwen3 q/k norms, Qwen3-MoE sparse-layer keys, DeepSeek MTP and router bias);
`max_context_from_hf_config` reads ``max_position_embeddings``. No file I/O here: the caller
loads the JSON.

Key defaults follow the transformers configuration classes (v5.24) where a key may be absent:
``head_dim`` = ``hidden_size // num_attention_heads`` (Qwen3 dense: 128), Llama and DeepSeek
``num_key_value_heads`` = ``num_attention_heads``, ``tie_word_embeddings`` false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from selfhost.catalog.schema import Architecture
from selfhost.engine.params import ParamCounts, count_params
from selfhost.errors import CatalogError

LLAMA = "LlamaForCausalLM"
MISTRAL = "MistralForCausalLM"
QWEN2 = "Qwen2ForCausalLM"
QWEN3 = "Qwen3ForCausalLM"
QWEN3_MOE = "Qwen3MoeForCausalLM"
MIXTRAL = "MixtralForCausalLM"
DEEPSEEK_V2 = "DeepseekV2ForCausalLM"
DEEPSEEK_V3 = "DeepseekV3ForCausalLM"

SUPPORTED_ARCHITECTURES: tuple[str, ...] = (
    LLAMA,
    MISTRAL,
    QWEN2,
    QWEN3,
    QWEN3_MOE,
    MIXTRAL,
    DEEPSEEK_V2,
    DEEPSEEK_V3,
)

# Families whose config class reads `attention_bias` (q, k, v and o projections; DeepSeek:
# q_a/q, kv_a and o). Mistral and Mixtral hard-code bias=False; Qwen2 hard-codes q/k/v bias.
_READS_ATTENTION_BIAS = frozenset({LLAMA, QWEN3, QWEN3_MOE, DEEPSEEK_V2, DEEPSEEK_V3})
# Families whose config class sets num_key_value_heads = num_attention_heads when absent.
# The others (Mistral 8, Qwen2 32, Qwen3-MoE 4) have fixed defaults, so the key is required.
_KV_HEADS_DEFAULT_TO_HEADS = frozenset({LLAMA, DEEPSEEK_V2, DEEPSEEK_V3})
_DEEPSEEK = frozenset({DEEPSEEK_V2, DEEPSEEK_V3})
QWEN3_DEFAULT_HEAD_DIM = 128  # transformers Qwen3Config default, not hidden/heads


def _architecture_name(config: Mapping[str, Any]) -> str:
    archs = config.get("architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise CatalogError(
            'config.json has no \'architectures\' list; it needs e.g. "architectures": ["LlamaForCausalLM"]'
        )
    name = archs[0]
    if name not in SUPPORTED_ARCHITECTURES:
        raise CatalogError(
            f"unsupported architecture '{name}' in config.json; supported: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    return name


def _int(config: Mapping[str, Any], key: str, arch: str, default: int | None = None) -> int:
    """An integer >= 0 from the config; ``default`` when the key is absent or null."""
    value = config.get(key)
    if value is None:
        if default is None:
            raise CatalogError(f"config.json ({arch}) is missing required key '{key}'")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(f"config.json ({arch}) key '{key}' must be a non-negative integer, got {value!r}")
    return value


def _bool(config: Mapping[str, Any], key: str, arch: str, default: bool = False) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CatalogError(f"config.json ({arch}) key '{key}' must be true or false, got {value!r}")
    return value


def _int_list(config: Mapping[str, Any], key: str, arch: str) -> tuple[int, ...]:
    value = config.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CatalogError(f"config.json ({arch}) key '{key}' must be a list of layer indices, got {value!r}")
    return tuple(value)


def _count_kwargs(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The architecture name and the keyword arguments of `count_params` for this config."""
    arch = _architecture_name(config)
    hidden = _int(config, "hidden_size", arch)
    heads = _int(config, "num_attention_heads", arch)
    if hidden == 0 or heads == 0:
        raise CatalogError(f"config.json ({arch}) keys 'hidden_size' and 'num_attention_heads' must be > 0")
    kv_default = heads if arch in _KV_HEADS_DEFAULT_TO_HEADS else None
    attention_bias = arch in _READS_ATTENTION_BIAS and _bool(config, "attention_bias", arch)

    kw: dict[str, Any] = {
        "num_hidden_layers": _int(config, "num_hidden_layers", arch),
        "hidden_size": hidden,
        "intermediate_size": _int(config, "intermediate_size", arch),
        "num_attention_heads": heads,
        "num_key_value_heads": _int(config, "num_key_value_heads", arch, kv_default),
        "vocab_size": _int(config, "vocab_size", arch),
        "tie_word_embeddings": _bool(config, "tie_word_embeddings", arch),
        "qkv_bias": arch == QWEN2 or attention_bias,
        "o_bias": attention_bias,
        "mlp_bias": arch == LLAMA and _bool(config, "mlp_bias", arch),
        "qk_norm": arch in (QWEN3, QWEN3_MOE),
    }

    if arch in _DEEPSEEK:
        q_lora = config.get("q_lora_rank")
        nope = _int(config, "qk_nope_head_dim", arch)
        rope = _int(config, "qk_rope_head_dim", arch)
        kw.update(
            # Query/key head width of MLA; no cache is sized from it (kv_bytes uses the latent).
            head_dim=nope + rope,
            mla_kv_lora_rank=_int(config, "kv_lora_rank", arch),
            mla_q_lora_rank=0 if q_lora is None else _int(config, "q_lora_rank", arch),
            mla_qk_rope_head_dim=rope,
            mla_qk_nope_head_dim=nope,
            mla_v_head_dim=_int(config, "v_head_dim", arch),
            moe_n_routed_experts=_int(config, "n_routed_experts", arch),
            moe_num_experts_per_tok=_int(config, "num_experts_per_tok", arch),
            moe_n_shared_experts=_int(config, "n_shared_experts", arch, 0),
            moe_intermediate_size=_int(config, "moe_intermediate_size", arch),
            moe_first_k_dense_replace=_int(config, "first_k_dense_replace", arch, 0),
            moe_layer_freq=_int(config, "moe_layer_freq", arch, 1),
            # e_score_correction_bias exists with noaux_tc routing, which V3 always uses
            moe_router_score_bias=arch == DEEPSEEK_V3 or config.get("topk_method") == "noaux_tc",
            mtp_num_layers=_int(config, "num_nextn_predict_layers", arch, 0),
        )
        return arch, kw

    default_head_dim = QWEN3_DEFAULT_HEAD_DIM if arch == QWEN3 else None
    if default_head_dim is None and hidden % heads == 0:
        default_head_dim = hidden // heads
    kw["head_dim"] = _int(config, "head_dim", arch, default_head_dim)

    if arch == MIXTRAL:
        kw.update(
            moe_n_routed_experts=_int(config, "num_local_experts", arch),
            moe_num_experts_per_tok=_int(config, "num_experts_per_tok", arch),
            # every Mixtral layer is MoE; each expert is as wide as intermediate_size
            moe_intermediate_size=kw["intermediate_size"],
        )
    elif arch == QWEN3_MOE:
        kw.update(
            moe_n_routed_experts=_int(config, "num_experts", arch),
            moe_num_experts_per_tok=_int(config, "num_experts_per_tok", arch),
            moe_intermediate_size=_int(config, "moe_intermediate_size", arch),
            moe_decoder_sparse_step=_int(config, "decoder_sparse_step", arch, 1),
            moe_mlp_only_layers=_int_list(config, "mlp_only_layers", arch),
        )
    return arch, kw


def architecture_from_hf_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog `Architecture` fields of a parsed Hugging Face config.json.

    Parameters
    ----------
    config : The parsed config.json (``json.load``).

    Returns
    -------
    A dict that validates as ``Architecture(**d)``; ``moe`` and ``mla`` are dicts for
    `MoeSpec` and `MlaSpec`, or None.

    Raises
    ------
    CatalogError : unsupported ``architectures[0]``, a missing or ill-typed key, or values
        `Architecture` rejects (e.g. heads not a multiple of KV heads).

    Notes
    -----
    Qwen2 has q/k/v biases without a config key; Llama, Qwen3 and DeepSeek take them from
    ``attention_bias``. Mixtral experts are ``intermediate_size`` wide. For MLA (DeepSeek)
    ``head_dim`` is the query/key head width ``qk_nope_head_dim + qk_rope_head_dim``.
    Qwen3-MoE ``decoder_sparse_step``/``mlp_only_layers``, Qwen3 q/k norms, DeepSeek
    ``moe_layer_freq``, MTP layers and router bias have no schema field; only
    `params_from_hf_config` uses them.
    """
    arch, kw = _count_kwargs(config)
    return _architecture_fields(arch, kw)


def _architecture_fields(arch: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    """`Architecture` fields from `count_params` keyword arguments, validated."""
    moe: dict[str, Any] | None = None
    if kw.get("moe_n_routed_experts", 0) > 0:
        moe = {
            "n_routed_experts": kw["moe_n_routed_experts"],
            "num_experts_per_tok": kw["moe_num_experts_per_tok"],
            "n_shared_experts": kw.get("moe_n_shared_experts", 0),
            "moe_intermediate_size": kw["moe_intermediate_size"],
            "first_k_dense_replace": kw.get("moe_first_k_dense_replace", 0),
        }
    mla: dict[str, Any] | None = None
    if kw.get("mla_kv_lora_rank", 0) > 0:
        mla = {
            "kv_lora_rank": kw["mla_kv_lora_rank"],
            "qk_rope_head_dim": kw["mla_qk_rope_head_dim"],
            "qk_nope_head_dim": kw["mla_qk_nope_head_dim"],
            "v_head_dim": kw["mla_v_head_dim"],
            "q_lora_rank": kw["mla_q_lora_rank"] or None,
        }
    fields: dict[str, Any] = {
        "hf_architecture": arch,
        "num_hidden_layers": kw["num_hidden_layers"],
        "hidden_size": kw["hidden_size"],
        "intermediate_size": kw["intermediate_size"],
        "num_attention_heads": kw["num_attention_heads"],
        "num_key_value_heads": kw["num_key_value_heads"],
        "head_dim": kw["head_dim"],
        "vocab_size": kw["vocab_size"],
        "tie_word_embeddings": kw["tie_word_embeddings"],
        "qkv_bias": kw["qkv_bias"],
        "moe": moe,
        "mla": mla,
    }
    try:
        Architecture(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'architecture'}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"config.json ({arch}) gives an invalid architecture: {problems}") from None
    return fields


def params_from_hf_config(config: Mapping[str, Any]) -> ParamCounts:
    """Parameter counts of the model a parsed Hugging Face config.json describes. [params]

    Uses every architecture key `count_params` understands, including those the catalog
    schema lacks (see `architecture_from_hf_config`). Raises CatalogError as that function does.

    References
    ----------
    research facts.md section 1 (counting method); tests/fixtures/hf_configs (real configs).
    """
    arch, kw = _count_kwargs(config)
    _architecture_fields(arch, kw)  # the same validation as architecture_from_hf_config
    return count_params(**kw)


def max_context_from_hf_config(config: Mapping[str, Any]) -> int:
    """Longest context the config declares: ``max_position_embeddings``. [tokens]

    RoPE scaling that the config does not enable (Qwen2.5's optional YaRN) is not applied; a
    ``rope_scaling`` block that is present is already reflected in this key (Llama 3.1: 131072).
    """
    arch = _architecture_name(config)
    value = _int(config, "max_position_embeddings", arch)
    if value == 0:
        raise CatalogError(f"config.json ({arch}) key 'max_position_embeddings' must be > 0")
    return value
