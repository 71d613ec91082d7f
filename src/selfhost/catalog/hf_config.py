"""Read the architecture of a Hugging Face ``config.json`` (already parsed to a mapping).

`architecture_from_hf_config` gives the catalog's `Architecture` fields, every key the
parameter count needs included (Qwen3 q/k norms, Qwen3-MoE sparse-layer keys, DeepSeek MTP and
router bias, gpt-oss expert biases and attention sinks, Llama 4's interleaved MoE and shared
expert), and the windowed layers that bound the KV cache (gpt-oss sliding window, Llama 4
chunked attention); `params_from_hf_config` counts the parameters from that architecture;
`max_context_from_hf_config` reads ``max_position_embeddings``; `native_dtype_from_hf_config`
reads the weight dtype; `model_from_hf_config` builds a whole catalog `Model` entry. No file
I/O here: the caller loads the JSON.

Key defaults follow the transformers configuration classes (v5.24; Llama 4 and gpt-oss read
against PyPI transformers 5.25.0) where a key may be absent: ``head_dim`` =
``hidden_size // num_attention_heads`` (Qwen3 dense: 128; gpt-oss: 64), Llama, Llama 4 and
DeepSeek ``num_key_value_heads`` = ``num_attention_heads``, ``tie_word_embeddings`` false.

Llama 4 (``Llama4ForConditionalGeneration``) keeps the language model under ``text_config``;
only that part is read. The vision encoder and projector are not counted: they do not run
when serving text, and `selfhost` sizes text serving.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from selfhost.catalog.architecture import count_params_for
from selfhost.catalog.schema import MAX_LAYERS, Architecture, Model, QualityTier
from selfhost.engine.params import ParamCounts
from selfhost.errors import CatalogError

LLAMA = "LlamaForCausalLM"
MISTRAL = "MistralForCausalLM"
QWEN2 = "Qwen2ForCausalLM"
QWEN3 = "Qwen3ForCausalLM"
QWEN3_MOE = "Qwen3MoeForCausalLM"
MIXTRAL = "MixtralForCausalLM"
DEEPSEEK_V2 = "DeepseekV2ForCausalLM"
DEEPSEEK_V3 = "DeepseekV3ForCausalLM"
GPT_OSS = "GptOssForCausalLM"
LLAMA4 = "Llama4ForConditionalGeneration"
LLAMA4_TEXT = "Llama4ForCausalLM"

SUPPORTED_ARCHITECTURES: tuple[str, ...] = (
    LLAMA,
    LLAMA4,
    LLAMA4_TEXT,
    MISTRAL,
    QWEN2,
    QWEN3,
    QWEN3_MOE,
    MIXTRAL,
    DEEPSEEK_V2,
    DEEPSEEK_V3,
    GPT_OSS,
)

# Families whose config class reads `attention_bias` (q, k, v and o projections; DeepSeek:
# q_a/q, kv_a and o). Mistral and Mixtral hard-code bias=False; Qwen2 hard-codes q/k/v bias.
_READS_ATTENTION_BIAS = frozenset(
    {LLAMA, LLAMA4, LLAMA4_TEXT, QWEN3, QWEN3_MOE, DEEPSEEK_V2, DEEPSEEK_V3, GPT_OSS}
)
# Families whose config class sets num_key_value_heads = num_attention_heads when absent.
# The others (Mistral 8, Qwen2 32, Qwen3-MoE 4, gpt-oss 8) have fixed defaults, so the key is required.
_KV_HEADS_DEFAULT_TO_HEADS = frozenset({LLAMA, LLAMA4, LLAMA4_TEXT, DEEPSEEK_V2, DEEPSEEK_V3})
_DEEPSEEK = frozenset({DEEPSEEK_V2, DEEPSEEK_V3})
_LLAMA4 = frozenset({LLAMA4, LLAMA4_TEXT})
QWEN3_DEFAULT_HEAD_DIM = 128  # transformers Qwen3Config default, not hidden/heads
GPT_OSS_DEFAULT_HEAD_DIM = 64  # transformers GptOssConfig default
GPT_OSS_DEFAULT_SLIDING_WINDOW = 128  # transformers GptOssConfig default
LLAMA4_DEFAULT_CHUNK_SIZE = 8192  # transformers Llama4TextConfig attention_chunk_size
LLAMA4_DEFAULT_NO_ROPE_INTERVAL = 4  # transformers Llama4TextConfig no_rope_layer_interval


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


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The mapping that holds the language model's keys: ``text_config`` for Llama 4, else the config."""
    arch = _architecture_name(config)
    if arch != LLAMA4:
        return config
    text = config.get("text_config")
    if not isinstance(text, Mapping):
        raise CatalogError(f"config.json ({arch}) has no 'text_config' object with the language model's keys")
    return text


def _str_list(config: Mapping[str, Any], key: str, arch: str) -> list[str] | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(
            f"config.json ({arch}) key '{key}' must be a list of layer-type names, got {value!r}"
        )
    return value


def _windowed_layers(config: Mapping[str, Any], arch: str, num_layers: int) -> tuple[int, int]:
    """``(windowed layers, window in tokens)``; ``(0, 0)`` when every layer attends to everything.

    gpt-oss: ``layer_types`` entries ``sliding_attention`` (default: every other layer, from the
    first) keep ``sliding_window`` tokens. Llama 4: the RoPE layers (``no_rope_layers`` entry 1;
    default: all but every ``no_rope_layer_interval``-th) use chunked attention over
    ``attention_chunk_size`` tokens; the NoPE layers attend to the whole sequence.
    """
    if arch == GPT_OSS:
        if "sliding_window" in config and config["sliding_window"] is None:
            return 0, 0
        window = _int(config, "sliding_window", arch, GPT_OSS_DEFAULT_SLIDING_WINDOW)
        types = _str_list(config, "layer_types", arch)
        if types is None:
            windowed = (num_layers + 1) // 2  # every other layer, from the first: 0, 2, 4, ...
        elif len(types) != num_layers:
            raise CatalogError(
                f"config.json ({arch}) key 'layer_types' lists {len(types)} layers, but num_hidden_layers is {num_layers}"
            )
        else:
            windowed = sum(t == "sliding_attention" for t in types)
        return (windowed, window) if windowed and window else (0, 0)
    if arch in _LLAMA4:
        if "attention_chunk_size" in config and config["attention_chunk_size"] is None:
            return 0, 0
        chunk = _int(config, "attention_chunk_size", arch, LLAMA4_DEFAULT_CHUNK_SIZE)
        types = _str_list(config, "layer_types", arch)
        if types is not None:
            windowed = sum(t == "chunked_attention" for t in types)
        else:
            rope = list(_int_list(config, "no_rope_layers", arch))
            if not rope:
                interval = _int(config, "no_rope_layer_interval", arch, LLAMA4_DEFAULT_NO_ROPE_INTERVAL) or 1
                windowed = (
                    num_layers - num_layers // interval
                )  # all but layers i with (i + 1) % interval == 0
            elif len(rope) != num_layers:
                raise CatalogError(
                    f"config.json ({arch}) key 'no_rope_layers' lists {len(rope)} layers, but num_hidden_layers is {num_layers}"
                )
            else:
                windowed = sum(1 for r in rope if r)
        return (windowed, chunk) if windowed and chunk else (0, 0)
    return 0, 0


def _int_list(config: Mapping[str, Any], key: str, arch: str) -> tuple[int, ...]:
    value = config.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CatalogError(f"config.json ({arch}) key '{key}' must be a list of layer indices, got {value!r}")
    return tuple(value)


def _architecture_dict(top: Mapping[str, Any]) -> dict[str, Any]:
    """The `Architecture` fields of this config, not yet validated."""
    arch = _architecture_name(top)
    config = _text_config(top)
    hidden = _int(config, "hidden_size", arch)
    heads = _int(config, "num_attention_heads", arch)
    if hidden == 0 or heads == 0:
        raise CatalogError(f"config.json ({arch}) keys 'hidden_size' and 'num_attention_heads' must be > 0")
    kv_default = heads if arch in _KV_HEADS_DEFAULT_TO_HEADS else None
    # GptOssConfig defaults attention_bias to true, every other family to false
    attention_bias = arch in _READS_ATTENTION_BIAS and _bool(config, "attention_bias", arch, arch == GPT_OSS)
    intermediate = _int(config, "intermediate_size", arch)
    num_layers = _int(config, "num_hidden_layers", arch)
    if num_layers > MAX_LAYERS:  # before anything is listed per layer
        raise CatalogError(
            f"config.json ({arch}) key 'num_hidden_layers' is {num_layers:,}; at most {MAX_LAYERS:,} layers are accepted"
        )
    windowed, window = _windowed_layers(config, arch, num_layers)

    fields: dict[str, Any] = {
        "hf_architecture": arch,
        "num_hidden_layers": num_layers,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_attention_heads": heads,
        "num_key_value_heads": _int(config, "num_key_value_heads", arch, kv_default),
        "head_dim": None,  # set below
        "vocab_size": _int(config, "vocab_size", arch),
        "tie_word_embeddings": _bool(
            config, "tie_word_embeddings", arch, _bool(top, "tie_word_embeddings", arch)
        ),
        "qkv_bias": arch == QWEN2 or attention_bias,
        "o_bias": attention_bias,
        "mlp_bias": arch == LLAMA and _bool(config, "mlp_bias", arch),
        "qk_norm": arch in (QWEN3, QWEN3_MOE),
        "num_nextn_predict_layers": 0,
        "attention_sinks": arch == GPT_OSS,
        "windowed_layers": windowed,
        "attention_window_tokens": window,
        "moe": None,
        "mla": None,
    }

    if arch in _DEEPSEEK:
        q_lora = config.get("q_lora_rank")
        nope = _int(config, "qk_nope_head_dim", arch)
        rope = _int(config, "qk_rope_head_dim", arch)
        fields.update(
            # Query/key head width of MLA; no cache is sized from it (kv_bytes uses the latent).
            head_dim=nope + rope,
            num_nextn_predict_layers=_int(config, "num_nextn_predict_layers", arch, 0),
            mla={
                "kv_lora_rank": _int(config, "kv_lora_rank", arch),
                "qk_rope_head_dim": rope,
                "qk_nope_head_dim": nope,
                "v_head_dim": _int(config, "v_head_dim", arch),
                "q_lora_rank": None if q_lora is None else _int(config, "q_lora_rank", arch) or None,
            },
            moe={
                "n_routed_experts": _int(config, "n_routed_experts", arch),
                "num_experts_per_tok": _int(config, "num_experts_per_tok", arch),
                "n_shared_experts": _int(config, "n_shared_experts", arch, 0),
                "moe_intermediate_size": _int(config, "moe_intermediate_size", arch),
                "first_k_dense_replace": _int(config, "first_k_dense_replace", arch, 0),
                "layer_freq": _int(config, "moe_layer_freq", arch, 1),
                "decoder_sparse_step": 1,
                "mlp_only_layers": (),
                # e_score_correction_bias exists with noaux_tc routing, which V3 always uses
                "router_score_bias": arch == DEEPSEEK_V3 or config.get("topk_method") == "noaux_tc",
                "router_bias": False,
                "expert_bias": False,
            },
        )
        return fields

    default_head_dim = {QWEN3: QWEN3_DEFAULT_HEAD_DIM, GPT_OSS: GPT_OSS_DEFAULT_HEAD_DIM}.get(arch)
    if default_head_dim is None and hidden % heads == 0:
        default_head_dim = hidden // heads
    fields["head_dim"] = _int(config, "head_dim", arch, default_head_dim)

    moe_common = {
        "n_shared_experts": 0,
        "first_k_dense_replace": 0,
        "layer_freq": 1,
        "router_score_bias": False,
        "router_bias": False,
        "expert_bias": False,
    }
    if arch == MIXTRAL:
        fields["moe"] = {
            "n_routed_experts": _int(config, "num_local_experts", arch),
            "num_experts_per_tok": _int(config, "num_experts_per_tok", arch),
            # every Mixtral layer is MoE; each expert is as wide as intermediate_size
            "moe_intermediate_size": intermediate,
            **moe_common,
            "decoder_sparse_step": 1,
            "mlp_only_layers": (),
        }
    elif arch == QWEN3_MOE:
        fields["moe"] = {
            "n_routed_experts": _int(config, "num_experts", arch),
            "num_experts_per_tok": _int(config, "num_experts_per_tok", arch),
            "moe_intermediate_size": _int(config, "moe_intermediate_size", arch),
            **moe_common,
            "decoder_sparse_step": _int(config, "decoder_sparse_step", arch, 1),
            "mlp_only_layers": _int_list(config, "mlp_only_layers", arch),
        }
    elif arch == GPT_OSS:
        # every layer is MoE; experts are intermediate_size wide, with biases, and so is the router
        k_default = _int(config, "experts_per_token", arch, 0) or None
        fields["moe"] = {
            "n_routed_experts": _int(config, "num_local_experts", arch),
            "num_experts_per_tok": _int(config, "num_experts_per_tok", arch, k_default),
            "moe_intermediate_size": intermediate,
            **moe_common,
            "router_bias": True,
            "expert_bias": True,
            "decoder_sparse_step": 1,
            "mlp_only_layers": (),
        }
    elif arch in _LLAMA4:
        # Llama4TextMoe: routed experts and one shared expert, both intermediate_size wide; the
        # dense layers (Maverick interleaves them) are intermediate_size_mlp wide. Layer i is MoE
        # when (i + 1) % interleave_moe_layer_step == 0 (moe_layers = range(step - 1, L, step)),
        # the rule decoder_sparse_step expresses; an explicit moe_layers list overrides it.
        step = _int(config, "interleave_moe_layer_step", arch, 1)
        if step == 0:
            raise CatalogError(f"config.json ({arch}) key 'interleave_moe_layer_step' must be > 0")
        explicit = config.get("moe_layers")
        if explicit is not None:
            moe_layers = set(_int_list(config, "moe_layers", arch))
            step, dense_only = 1, tuple(i for i in range(num_layers) if i not in moe_layers)
        else:
            dense_only = ()
        fields["intermediate_size"] = _int(config, "intermediate_size_mlp", arch)
        fields["qk_norm"] = False  # Llama 4's q/k norm is a weightless L2 norm
        fields["moe"] = {
            "n_routed_experts": _int(config, "num_local_experts", arch),
            "num_experts_per_tok": _int(config, "num_experts_per_tok", arch),
            "moe_intermediate_size": intermediate,
            **moe_common,
            "n_shared_experts": 1,
            "decoder_sparse_step": step,
            "mlp_only_layers": dense_only,
        }
    return fields


def _validated(fields: Mapping[str, Any]) -> Architecture:
    """`Architecture(**fields)`, with validation errors as one CatalogError."""
    try:
        return Architecture(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'architecture'}: {err['msg']}" for err in exc.errors()
        )
        arch = fields["hf_architecture"]
        raise CatalogError(f"config.json ({arch}) gives an invalid architecture: {problems}") from None


def architecture_from_hf_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog `Architecture` fields of a parsed Hugging Face config.json.

    Parameters
    ----------
    config : The parsed config.json (``json.load``).

    Returns
    -------
    A dict that validates as ``Architecture(**d)``, every field present; ``moe`` and ``mla``
    are dicts for `MoeSpec` and `MlaSpec` (every field present), or None.

    Raises
    ------
    CatalogError : unsupported ``architectures[0]``, a missing or ill-typed key, or values
        `Architecture` rejects (e.g. heads not a multiple of KV heads).

    Notes
    -----
    Qwen2 has q/k/v biases without a config key; Llama, Qwen3 and DeepSeek take q/k/v and o
    biases from ``attention_bias`` (Llama also ``mlp_bias``). Qwen3 and Qwen3-MoE always have
    q/k norms. Mixtral experts are ``intermediate_size`` wide. For MLA (DeepSeek) ``head_dim``
    is the query/key head width ``qk_nope_head_dim + qk_rope_head_dim``; the router has a
    score-correction bias for V3 or ``topk_method: noaux_tc``. Qwen3-MoE
    ``decoder_sparse_step``/``mlp_only_layers`` and DeepSeek ``moe_layer_freq`` go into the
    `MoeSpec`; DeepSeek ``num_nextn_predict_layers`` keeps its config.json name.
    """
    fields = _architecture_dict(config)
    return _validated(fields).model_dump()


def params_from_hf_config(config: Mapping[str, Any]) -> ParamCounts:
    """Parameter counts of the model a parsed Hugging Face config.json describes. [params]

    The same count as `selfhost.catalog.architecture.count_params_for` on the catalog
    `Architecture` that `architecture_from_hf_config` returns. Raises CatalogError as that
    function does.

    References
    ----------
    research facts.md section 1 (counting method); tests/fixtures/hf_configs (real configs).
    """
    return count_params_for(_validated(_architecture_dict(config)))


def max_context_from_hf_config(config: Mapping[str, Any]) -> int:
    """Longest context the config declares: ``max_position_embeddings``. [tokens]

    RoPE scaling that the config does not enable (Qwen2.5's optional YaRN) is not applied; a
    ``rope_scaling`` block that is present is already reflected in this key (Llama 3.1: 131072).
    """
    arch = _architecture_name(config)
    value = _int(_text_config(config), "max_position_embeddings", arch)
    if value == 0:
        raise CatalogError(f"config.json ({arch}) key 'max_position_embeddings' must be > 0")
    return value


def native_dtype_from_hf_config(config: Mapping[str, Any]) -> Literal["bf16", "fp8", "mxfp4"]:
    """Dtype the published weights ship in: ``fp8`` when ``quantization_config`` says FP8,
    ``mxfp4`` when it says MXFP4 (gpt-oss: the MoE experts), else ``bf16``.

    DeepSeek-V3 declares ``torch_dtype: bfloat16`` but ships FP8 E4M3 weights with
    ``quantization_config: {quant_method: fp8}``. FP16 checkpoints count as ``bf16`` (same
    2 bytes per weight). Other quantization methods (AWQ, GPTQ...) also give ``bf16``: the
    catalog entry describes the unquantized model and the format is a separate choice
    (see `quantization_method_from_hf_config`).
    """
    method = quantization_method_from_hf_config(config)
    if method is None:
        return "bf16"
    if method == "mxfp4":
        return "mxfp4"
    qc = config["quantization_config"]
    fmt = str(qc.get("fmt", "")).lower()
    return "fp8" if method == "fp8" or fmt.startswith("e4m3") or fmt.startswith("e5m2") else "bf16"


def quantization_method_from_hf_config(config: Mapping[str, Any]) -> str | None:
    """``quantization_config.quant_method`` lower-cased, or None when the config has none."""
    qc = config.get("quantization_config")
    if not isinstance(qc, Mapping):
        return None
    method = qc.get("quant_method")
    return str(method).lower() if method is not None else "unknown"


_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_LICENSE = "unknown"
DEFAULT_QUALITY_TIER: QualityTier = "mid"
PARAMS_SIGNIFICANT_DIGITS = 4  # 8.03, 46.70, 671.0, 37.55 (billions)


def round_billions(params: int) -> float:
    """A parameter count in billions, rounded to `PARAMS_SIGNIFICANT_DIGITS` significant digits. [1e9 params]"""
    return float(f"{params / 1e9:.{PARAMS_SIGNIFICANT_DIGITS}g}")


def model_from_hf_config(
    config: Mapping[str, Any],
    *,
    model_id: str,
    source: str,
    as_of: dt.date,
    name: str | None = None,
    hf_repo: str | None = None,
    license: str | None = None,
    license_allows_production: bool | None = None,
    quality_tier: QualityTier | None = None,
) -> Model:
    """A complete catalog `Model` entry for a parsed Hugging Face config.json.

    Parameters
    ----------
    config : The parsed config.json.
    model_id : Catalog id of the new entry (lower-case, e.g. ``llama-3.1-8b``).
    source : Where the config came from, stored as the entry's ``source``.
    as_of : Date the figures apply to (the import date).
    name : Display name; default the last part of `hf_repo`, else `model_id`.
    hf_repo : Hugging Face repository id; default the config's ``_name_or_path`` when that
        looks like ``org/name``, else empty.
    license, license_allows_production, quality_tier : Not in config.json; None gives the
        defaults ``unknown``, False and ``mid``, and the notes say so.

    Returns
    -------
    A validated `Model` with ``confirmed`` False: architecture, parameter counts (rounded to 4
    significant digits), context and native dtype come from the config; ``notes`` say which
    fields were supplied by the user and which are defaults.

    Raises
    ------
    CatalogError : the config cannot be read (see `architecture_from_hf_config`), or the
        entry is invalid (e.g. `model_id` is not a valid id).
    """
    arch = _validated(_architecture_dict(config))
    counts = count_params_for(arch)
    context = max_context_from_hf_config(config)
    if hf_repo is None:
        guess = config.get("_name_or_path")
        hf_repo = guess if isinstance(guess, str) and _REPO_ID.match(guess) else ""
    if name is None:
        name = hf_repo.rsplit("/", 1)[-1] if hf_repo else model_id

    supplied = []
    defaulted = []
    for field, value, default in (
        ("license", license, DEFAULT_LICENSE),
        ("license_allows_production", license_allows_production, False),
        ("quality_tier", quality_tier, DEFAULT_QUALITY_TIER),
    ):
        if value is None:
            defaulted.append(f"{field} ({str(default).lower()})")
        else:
            supplied.append(field)
    notes = [
        f"Imported from config.json ({arch.hf_architecture}): architecture, max_context_tokens "
        "(max_position_embeddings) and native_dtype from the file; params_total_b and params_active_b "
        "counted from the architecture [D]."
    ]
    if counts.mtp:
        notes.append(
            f"The checkpoint also holds {round_billions(counts.mtp)}B of multi-token-prediction "
            "weights (num_nextn_predict_layers), not in params_total_b."
        )
    if supplied:
        notes.append(f"User-supplied, not checked: {', '.join(supplied)}.")
    if defaulted:
        notes.append(f"Defaults, not facts: {', '.join(defaulted)}; set them before relying on the entry.")
    fields: dict[str, Any] = {
        "id": model_id,
        "name": name,
        "hf_repo": hf_repo,
        "architecture": arch,
        "params_total_b": round_billions(counts.total),
        "params_active_b": round_billions(counts.active),
        "max_context_tokens": context,
        "native_dtype": native_dtype_from_hf_config(config),
        "license": DEFAULT_LICENSE if license is None else license,
        "license_allows_production": bool(license_allows_production),
        "quality_tier": DEFAULT_QUALITY_TIER if quality_tier is None else quality_tier,
        "source": source,
        "as_of": as_of,
        "confirmed": False,
        "notes": " ".join(notes),
    }
    try:
        return Model(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"the imported model entry is invalid: {problems}") from None
