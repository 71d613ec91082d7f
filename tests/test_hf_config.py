"""Reading Hugging Face config.json files: architecture fields, parameter counts, errors.

The configs are the copies in tests/fixtures/hf_configs (provenance in its README.md and in
shared/reference/configs/SOURCES.md). Published parameter counts are checked within 1 %
unless a comment says why not.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from selfhost.catalog.architecture import (
    count_params_for,
    kv_bytes_per_token_for,
    windowed_kv_bytes_per_token_for,
)
from selfhost.catalog.hf_config import (
    SUPPORTED_ARCHITECTURES,
    architecture_from_hf_config,
    max_context_from_hf_config,
    native_dtype_from_hf_config,
    params_from_hf_config,
)
from selfhost.catalog.schema import Architecture
from selfhost.engine.params import count_params
from selfhost.errors import CatalogError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf_configs"
B = 1e9  # params per billion

# git blob ids from SOURCES.md: the fixtures are byte-for-byte copies of these blobs
BLOBS = {
    "meta-llama__Llama-3.1-8B-Instruct.json": "0bb6fd75b3ad2fe988565929f329945262c2814e",
    "meta-llama__Llama-2-70b-hf.json": "c04796ae1cadecbce47430ee7a8392a2a8ec31db",
    "Qwen__Qwen2.5-7B-Instruct.json": "0178295f88afc3c7f279ed284f961f8c1be00654",
    "deepseek-ai__DeepSeek-V3.json": "330b9de73e19848b184f62be82bdfda2d53dd428",
    "mistralai__Mixtral-8x7B-Instruct-v0.1.json": "de132a80b25c9d12c674dbd84cedc1d6f35fb756",
    "Qwen__Qwen3-30B-A3B.json": "2703739b9cfc422a3a0a6c932140db18533a8d1a",
    "Qwen__Qwen3-235B-A22B.json": "5366b39a2fad87796848caedcb3dadb585a5fa51",
    # added for the 2026 catalog (issue 8): provenance in tests/fixtures/hf_configs/README.md
    "Qwen__Qwen3-8B.json": "d46195ac87f837ad233d02b2f80f148bf7c005e0",
    "Qwen__Qwen3-32B.json": "d66d65fbc7960c2b3c254293f74df73b47fef6d3",
    "openai__gpt-oss-120b.json": "2dbc99f5a0ec9e111a4e20139254653ef4e9baf9",
    "openai__gpt-oss-20b.json": "2318561c6fcd793ca52d64b670a5f51cc0a05023",
    "deepseek-ai__DeepSeek-R1.json": "c482e777cbacba9cb292d0fceba48ef52956583e",
    "meta-llama__Llama-4-Scout-17B-16E-Instruct.json": "804f06c293e0fa272879d9031e2b02fdd0c32178",
    "meta-llama__Llama-4-Maverick-17B-128E-Instruct.json": "93dc9fc6a1adcf9595f85fc9b1607c70d516ee8d",
}


def load(name: str) -> dict[str, Any]:
    with (FIXTURES / name).open(encoding="utf-8") as f:
        config: dict[str, Any] = json.load(f)
    return config


def text_config(config: dict[str, Any]) -> dict[str, Any]:
    """The language model's keys: Llama 4 nests them under ``text_config``."""
    nested: dict[str, Any] | None = config.get("text_config")
    return nested if nested is not None else config


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --------------------------------------------------------------------------- fixtures


def test_fixture_set_is_complete() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(BLOBS)


@pytest.mark.parametrize("name", sorted(BLOBS))
def test_fixture_is_the_cited_blob(name: str) -> None:
    assert git_blob_id((FIXTURES / name).read_bytes()) == BLOBS[name]


@pytest.mark.parametrize("name", sorted(BLOBS))
def test_every_fixture_loads(name: str) -> None:
    config = load(name)
    arch = Architecture(**architecture_from_hf_config(config))
    assert arch.hf_architecture == config["architectures"][0]
    p = params_from_hf_config(config)
    assert 0 < p.active <= p.total
    assert max_context_from_hf_config(config) == text_config(config)["max_position_embeddings"]


# --------------------------------------------------------------------------- published counts


PUBLISHED = [
    # file, total [1e9], active [1e9] (None: dense, active == total), rel of active
    # Llama-3.1-8B: HF model page "8.03B params" (safetensors); Meta says "8B"
    ("meta-llama__Llama-3.1-8B-Instruct.json", 8.03, None, 0.01),
    # Llama-2-70B: Meta says "70B"; HF and llama.cpp count 68.98B
    ("meta-llama__Llama-2-70b-hf.json", 69.0, None, 0.01),
    # Qwen2.5-7B-Instruct card: 7.61B ("7.6B"); facts §1.1 computed 7.62B
    ("Qwen__Qwen2.5-7B-Instruct.json", 7.6, None, 0.01),
    # Mistral AI, "Mixtral of experts": 46.7B total, 12.9B used per token
    ("mistralai__Mixtral-8x7B-Instruct-v0.1.json", 46.7, 12.9, 0.01),
    # Qwen3-30B-A3B card: 30.5B total, 3.3B activated. The config gives 3.353B active: the
    # card truncates (3.35 would round to 3.4), hence 2 %
    ("Qwen__Qwen3-30B-A3B.json", 30.5, 3.3, 0.02),
    # Qwen3-235B-A22B card: 235B total, 22B activated
    ("Qwen__Qwen3-235B-A22B.json", 235.0, 22.0, 0.01),
    # Qwen3-8B card (huggingface.co/Qwen/Qwen3-8B): 8.2B total; the config gives 8.19B
    ("Qwen__Qwen3-8B.json", 8.2, None, 0.01),
    # Qwen3-32B card: 32.8B total; the config gives 32.76B
    ("Qwen__Qwen3-32B.json", 32.8, None, 0.01),
    # DeepSeek-R1 has DeepSeek-V3's architecture: 671B main model, 37B active (2 %, as for V3)
    ("deepseek-ai__DeepSeek-R1.json", 671.0, 37.0, 0.02),
]


@pytest.mark.parametrize(("name", "total_b", "active_b", "active_rel"), PUBLISHED)
def test_published_totals(name: str, total_b: float, active_b: float | None, active_rel: float) -> None:
    p = params_from_hf_config(load(name))
    assert p.total / B == pytest.approx(total_b, rel=0.01)
    expected_active = total_b if active_b is None else active_b
    assert p.active / B == pytest.approx(expected_active, rel=active_rel)


def test_deepseek_v3_published_totals() -> None:
    p = params_from_hf_config(load("deepseek-ai__DeepSeek-V3.json"))
    # DeepSeek-V3 README_WEIGHTS.md (facts §1.2): 671B main model, 685B on HF incl. MTP,
    # 11.5B unique MTP parameters
    assert p.total / B == pytest.approx(671, rel=0.01)
    assert p.total_with_mtp / B == pytest.approx(685, rel=0.01)
    assert p.mtp / B == pytest.approx(11.5, rel=0.01)
    # 37B active (paper); the config gives 37.55B, README_WEIGHTS says 36.7B: 2 %, see
    # test_params.test_deepseek_v3_total_active_and_mtp
    assert p.active / B == pytest.approx(37, rel=0.02)


@pytest.mark.parametrize(
    ("name", "non_embedding_b"),
    [
        # Qwen3 cards: "Number of Parameters (Non-Embedding)" 6.95B and 31.2B
        ("Qwen__Qwen3-8B.json", 6.95),
        ("Qwen__Qwen3-32B.json", 31.2),
    ],
)
def test_qwen3_dense_non_embedding(name: str, non_embedding_b: float) -> None:
    p = params_from_hf_config(load(name))
    assert p.non_embedding / B == pytest.approx(non_embedding_b, rel=0.005)


# gpt-oss model card (openai.com/index/gpt-oss-model-card, arXiv:2508.10925), Table 1, in
# billions: MLP (experts with their biases, routers), attention (with sinks and biases),
# embedding + unembedding, total, and active per token. Its "active" leaves the input
# embedding out (a lookup, no FLOPs); selfhost's `active` counts it, as Mixtral's 12.9B does.
GPT_OSS_CARD = {
    "openai__gpt-oss-120b.json": {
        "mlp": 114.71,
        "attention": 0.96,
        "embed": 1.16,
        "total": 116.83,
        "active": 5.13,
    },
    "openai__gpt-oss-20b.json": {
        "mlp": 19.12,
        "attention": 0.64,
        "embed": 1.16,
        "total": 20.91,
        "active": 3.61,
    },
}


@pytest.mark.parametrize("name", sorted(GPT_OSS_CARD))
def test_gpt_oss_counts_equal_the_model_card(name: str) -> None:
    card = GPT_OSS_CARD[name]
    p = params_from_hf_config(load(name))
    assert round((p.mlp_experts_routed + p.router) / B, 2) == card["mlp"]
    assert round(p.attention / B, 2) == card["attention"]
    assert round((p.embedding + p.lm_head) / B, 2) == card["embed"]
    assert round(p.total / B, 2) == card["total"]
    assert round((p.active - p.embedding) / B, 2) == card["active"]


def test_gpt_oss_per_layer_tensors_by_hand() -> None:
    # modeling_gpt_oss.py: q/k/v/o with biases, one sink per head; experts' fused gate_up
    # [E, H, 2I] + bias [E, 2I] and down [E, I, H] + bias [E, H]; router [E, H] + bias [E]
    h, heads, kv, d, e, i = 2880, 64, 8, 64, 128, 2880
    attention = h * heads * d + heads * d + 2 * (h * kv * d + kv * d) + heads * d * h + h + heads
    expert = 3 * h * i + 2 * i + h
    p = params_from_hf_config(load("openai__gpt-oss-120b.json"))
    assert p.attention == 36 * attention
    assert p.mlp_experts_routed == 36 * e * expert
    assert p.router == 36 * (h * e + e)
    assert p.mlp_dense == 0 and p.mlp_experts_shared == 0
    assert p.active == p.total - 36 * (e - 4) * expert  # 4 experts per token


def test_gpt_oss_windows_and_kv_cache_by_hand() -> None:
    d = architecture_from_hf_config(load("openai__gpt-oss-120b.json"))
    # layer_types alternates sliding_attention / full_attention over 36 layers; window 128
    assert (d["windowed_layers"], d["attention_window_tokens"]) == (18, 128)
    assert d["attention_sinks"] is True
    assert (d["qkv_bias"], d["o_bias"]) == (True, True)
    arch = Architecture(**d)
    # 2 (K and V) x 8 KV heads x 64 x 2 bytes = 2,048 bytes per layer per token (BF16)
    assert kv_bytes_per_token_for(arch) == 36 * 2048 == 73_728
    assert windowed_kv_bytes_per_token_for(arch) == 18 * 2048 == 36_864
    assert architecture_from_hf_config(load("openai__gpt-oss-20b.json"))["windowed_layers"] == 12


def test_gpt_oss_default_layer_types_alternate_from_the_first_layer() -> None:
    config = copy.deepcopy(load("openai__gpt-oss-20b.json"))
    listed = architecture_from_hf_config(config)["windowed_layers"]
    del config["layer_types"]  # GptOssConfig: sliding_attention where (i + 1) % 2 == 1
    assert architecture_from_hf_config(config)["windowed_layers"] == listed == 12
    config["num_hidden_layers"] = 5
    assert architecture_from_hf_config(config)["windowed_layers"] == 3  # layers 0, 2, 4


def test_gpt_oss_without_a_sliding_window_has_no_windowed_layers() -> None:
    config = {**load("openai__gpt-oss-20b.json"), "sliding_window": None}
    d = architecture_from_hf_config(config)
    assert (d["windowed_layers"], d["attention_window_tokens"]) == (0, 0)


def test_gpt_oss_ships_mxfp4() -> None:
    assert native_dtype_from_hf_config(load("openai__gpt-oss-120b.json")) == "mxfp4"


def test_gpt_oss_layer_types_of_the_wrong_length_are_an_error() -> None:
    config = {**load("openai__gpt-oss-20b.json"), "layer_types": ["full_attention"] * 3}
    with pytest.raises(CatalogError, match="'layer_types' lists 3 layers, but num_hidden_layers is 24"):
        architecture_from_hf_config(config)


def llama4_vision_params(config: dict[str, Any]) -> int:
    """Vision encoder, pixel-shuffle adapter and projector of a Llama 4 config (modeling_llama4.py).

    Not part of selfhost's count (text serving does not run them); used to relate the text
    count to Meta's published totals, which include them.
    """
    v = config["vision_config"]
    h, i, layers = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"]
    layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 2 * 2 * h  # attention, MLP, 2 LayerNorms
    patches = (v["image_size"] // v["patch_size"]) ** 2 + 1
    embeddings = v["num_channels"] * v["patch_size"] ** 2 * h + h + patches * h + 2 * 2 * h
    adapter = i * v["projector_input_dim"] + v["projector_output_dim"] ** 2
    projector = v["vision_output_dim"] * config["text_config"]["hidden_size"]
    return layers * layer + embeddings + adapter + projector


def test_llama4_scout_text_count_plus_vision_is_the_published_total() -> None:
    # Meta, meta-llama/llama-models models/llama4/MODEL_CARD.md: Scout 109B total, 17B active
    config = load("meta-llama__Llama-4-Scout-17B-16E-Instruct.json")
    p = params_from_hf_config(config)
    assert p.total / B == pytest.approx(107.77, abs=0.005)  # text model only
    assert (p.total + llama4_vision_params(config)) / B == pytest.approx(109, rel=0.005)
    # 17.17B: the card rounds to "17B" (within 2 %; without the input embedding it would be 16.14B)
    assert p.active / B == pytest.approx(17, rel=0.02)


def test_llama4_maverick_interleaves_dense_and_moe_layers() -> None:
    # Maverick: 400B total, 17B active (MODEL_CARD.md). interleave_moe_layer_step 2: layers
    # 1, 3, ..., 47 are MoE (128 experts + 1 shared, 8,192 wide), the others dense (16,384)
    config = load("meta-llama__Llama-4-Maverick-17B-128E-Instruct.json")
    h = 5120
    p = params_from_hf_config(config)
    assert p.mlp_dense == 24 * 3 * h * 16384
    assert p.mlp_experts_routed == 24 * 128 * 3 * h * 8192
    assert p.mlp_experts_shared == 24 * 3 * h * 8192
    assert p.router == 24 * h * 128  # no router bias
    assert p.total / B == pytest.approx(400, rel=0.005)  # 400.71 text + 0.87 vision (not in the file)
    assert p.active / B == pytest.approx(17, rel=0.02)


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", 10485760),
        ("meta-llama__Llama-4-Maverick-17B-128E-Instruct.json", 1048576),
    ],
)
def test_llama4_reads_text_config(name: str, tokens: int) -> None:
    config = load(name)
    d = architecture_from_hf_config(config)
    assert d["hf_architecture"] == "Llama4ForConditionalGeneration"
    assert (d["hidden_size"], d["num_hidden_layers"], d["vocab_size"]) == (5120, 48, 202048)
    assert d["qk_norm"] is False  # Scout's use_qk_norm is a weightless L2 norm: no parameters
    # RoPE layers (all but every 4th, default no_rope_layer_interval) use 8,192-token chunks
    assert (d["windowed_layers"], d["attention_window_tokens"]) == (36, 8192)
    assert max_context_from_hf_config(config) == tokens
    assert native_dtype_from_hf_config(config) == "bf16"


def test_llama4_explicit_no_rope_layers_and_moe_layers() -> None:
    config = copy.deepcopy(load("meta-llama__Llama-4-Scout-17B-16E-Instruct.json"))
    config["text_config"]["no_rope_layers"] = [1, 0] * 24
    config["text_config"]["moe_layers"] = [0, 1, 2]
    d = architecture_from_hf_config(config)
    assert d["windowed_layers"] == 24
    assert d["moe"]["decoder_sparse_step"] == 1
    assert d["moe"]["mlp_only_layers"] == tuple(range(3, 48))
    assert params_from_hf_config(config).mlp_dense == 45 * 3 * 5120 * 16384


def test_llama4_without_text_config_is_an_error() -> None:
    config = {
        k: v for k, v in load("meta-llama__Llama-4-Scout-17B-16E-Instruct.json").items() if k != "text_config"
    }
    with pytest.raises(CatalogError, match="no 'text_config'"):
        architecture_from_hf_config(config)


def test_deepseek_r1_is_deepseek_v3() -> None:
    r1, v3 = load("deepseek-ai__DeepSeek-R1.json"), load("deepseek-ai__DeepSeek-V3.json")
    assert architecture_from_hf_config(r1) == architecture_from_hf_config(v3)
    assert {k for k in r1.keys() | v3.keys() if r1.get(k) != v3.get(k)} == {"transformers_version"}


def test_qwen3_30b_non_embedding() -> None:
    # Qwen3-30B-A3B card: 29.9B non-embedding parameters (card not in facts.md)
    p = params_from_hf_config(load("Qwen__Qwen3-30B-A3B.json"))
    assert p.non_embedding / B == pytest.approx(29.9, rel=0.01)


# --------------------------------------------------------------------------- mapping


def test_qwen2_has_qkv_bias_without_a_key() -> None:
    config = load("Qwen__Qwen2.5-7B-Instruct.json")
    assert "attention_bias" not in config
    assert architecture_from_hf_config(config)["qkv_bias"] is True


def test_llama_head_dim_derived_when_absent() -> None:
    # Llama-2-70b-hf has no head_dim key: 8192 / 64 = 128
    config = load("meta-llama__Llama-2-70b-hf.json")
    assert "head_dim" not in config
    d = architecture_from_hf_config(config)
    assert d["head_dim"] == 128
    assert d["qkv_bias"] is False
    assert d["moe"] is None
    assert d["mla"] is None


def test_llama_attention_bias_adds_qkv_and_o_bias() -> None:
    config = load("meta-llama__Llama-3.1-8B-Instruct.json")
    biased = {**config, "attention_bias": True}
    assert architecture_from_hf_config(biased)["qkv_bias"] is True
    extra = params_from_hf_config(biased).total - params_from_hf_config(config).total
    assert extra == 32 * (4096 + 2 * 1024 + 4096)  # q, k, v and o biases per layer


def test_mixtral_maps_to_moe_with_full_width_experts() -> None:
    d = architecture_from_hf_config(load("mistralai__Mixtral-8x7B-Instruct-v0.1.json"))
    assert d["moe"] == {
        "n_routed_experts": 8,
        "num_experts_per_tok": 2,
        "n_shared_experts": 0,
        "moe_intermediate_size": 14336,
        "first_k_dense_replace": 0,
        "layer_freq": 1,
        "decoder_sparse_step": 1,
        "mlp_only_layers": (),
        "router_score_bias": False,
        "router_bias": False,
        "expert_bias": False,
    }


def test_qwen3_moe_maps_to_moe() -> None:
    d = architecture_from_hf_config(load("Qwen__Qwen3-30B-A3B.json"))
    assert d["moe"]["n_routed_experts"] == 128
    assert d["moe"]["moe_intermediate_size"] == 768
    assert d["head_dim"] == 128


def test_qwen3_moe_sparse_step_and_mlp_only_layers_reach_the_count() -> None:
    config = load("Qwen__Qwen3-30B-A3B.json")
    every_layer = params_from_hf_config(config)
    every_second = params_from_hf_config({**config, "decoder_sparse_step": 2})
    first_dense = params_from_hf_config({**config, "mlp_only_layers": [0]})
    assert every_second.mlp_experts_routed == every_layer.mlp_experts_routed / 2
    assert every_second.mlp_dense == 24 * 3 * 2048 * 6144  # 24 dense layers of width 6144
    assert first_dense.mlp_experts_routed == every_layer.mlp_experts_routed * 47 / 48


def test_deepseek_v3_maps_to_moe_and_mla() -> None:
    d = architecture_from_hf_config(load("deepseek-ai__DeepSeek-V3.json"))
    assert d["moe"] == {
        "n_routed_experts": 256,
        "num_experts_per_tok": 8,
        "n_shared_experts": 1,
        "moe_intermediate_size": 2048,
        "first_k_dense_replace": 3,
        "layer_freq": 1,
        "decoder_sparse_step": 1,
        "mlp_only_layers": (),
        "router_score_bias": True,  # topk_method noaux_tc: e_score_correction_bias
        "router_bias": False,
        "expert_bias": False,
    }
    assert d["num_nextn_predict_layers"] == 1  # the MTP module, outside the total
    assert d["mla"] == {
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "v_head_dim": 128,
        "q_lora_rank": 1536,
    }
    assert d["head_dim"] == 128 + 64  # MLA query/key head width


def test_deepseek_v2_lite_style_config() -> None:
    # q_lora_rank null and no MTP / noaux_tc (DeepSeek-V2-Lite layout)
    config = {
        **load("deepseek-ai__DeepSeek-V3.json"),
        "architectures": ["DeepseekV2ForCausalLM"],
        "q_lora_rank": None,
        "topk_method": "greedy",
    }
    del config["num_nextn_predict_layers"]
    d = architecture_from_hf_config(config)
    assert d["mla"]["q_lora_rank"] is None
    p = params_from_hf_config(config)
    assert p.mtp == 0
    v3 = params_from_hf_config(load("deepseek-ai__DeepSeek-V3.json"))
    assert v3.router - p.router == 58 * 256  # no e_score_correction_bias in 58 MoE layers


def test_qwen3_dense_head_dim_defaults_to_128() -> None:
    # transformers Qwen3Config default head_dim 128 (Qwen3-0.6B: hidden 1024, 16 heads, 128)
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "num_hidden_layers": 28,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "max_position_embeddings": 40960,
    }
    assert architecture_from_hf_config(config)["head_dim"] == 128
    p = params_from_hf_config(config)
    # Qwen3-0.6B card: 0.6B total, 0.44B non-embedding (card not in facts.md); with
    # head_dim = hidden/heads = 64 the non-embedding count would be 0.35B
    assert p.total / B == pytest.approx(0.6, rel=0.01)
    assert p.non_embedding / B == pytest.approx(0.44, rel=0.01)


@pytest.mark.parametrize("name", sorted(BLOBS))
def test_params_are_the_count_of_the_schema_architecture(name: str) -> None:
    # The Architecture holds every key the count needs: nothing is read from the config twice
    config = load(name)
    arch = Architecture(**architecture_from_hf_config(config))
    assert count_params_for(arch) == params_from_hf_config(config)


def test_llama_schema_fields_reproduce_count_params() -> None:
    # For a dense model the flat schema fields are count_params keywords (bar the MTP count)
    config = load("meta-llama__Llama-3.1-8B-Instruct.json")
    d = architecture_from_hf_config(config)
    fields = {
        k: v
        for k, v in d.items()
        # the window fields shape the KV cache, not the parameter count
        if k
        not in (
            "hf_architecture",
            "moe",
            "mla",
            "num_nextn_predict_layers",
            "windowed_layers",
            "attention_window_tokens",
        )
    }
    assert count_params(**fields) == params_from_hf_config(config)


def test_qwen3_moe_sets_qk_norm_and_sparse_keys() -> None:
    config = {**load("Qwen__Qwen3-30B-A3B.json"), "decoder_sparse_step": 2, "mlp_only_layers": [0, 5]}
    d = architecture_from_hf_config(config)
    assert d["qk_norm"] is True
    assert d["moe"]["decoder_sparse_step"] == 2
    assert d["moe"]["mlp_only_layers"] == (0, 5)


def test_llama_mlp_bias_and_attention_bias_fields() -> None:
    config = {**load("meta-llama__Llama-3.1-8B-Instruct.json"), "attention_bias": True, "mlp_bias": True}
    d = architecture_from_hf_config(config)
    assert (d["qkv_bias"], d["o_bias"], d["mlp_bias"], d["qk_norm"]) == (True, True, True, False)


# --------------------------------------------------------------------------- errors


def test_unsupported_architecture_lists_supported() -> None:
    config = {**load("meta-llama__Llama-2-70b-hf.json"), "architectures": ["GPT2LMHeadModel"]}
    with pytest.raises(CatalogError) as info:
        architecture_from_hf_config(config)
    message = str(info.value)
    assert message.startswith("unsupported architecture 'GPT2LMHeadModel' in config.json; supported: ")
    for name in SUPPORTED_ARCHITECTURES:
        assert name in message


def test_missing_architectures_key() -> None:
    config = load("meta-llama__Llama-2-70b-hf.json")
    del config["architectures"]
    with pytest.raises(CatalogError, match="'architectures'"):
        params_from_hf_config(config)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("meta-llama__Llama-2-70b-hf.json", "hidden_size"),
        ("meta-llama__Llama-2-70b-hf.json", "vocab_size"),
        ("Qwen__Qwen2.5-7B-Instruct.json", "num_key_value_heads"),  # Qwen2 default is not heads
        ("mistralai__Mixtral-8x7B-Instruct-v0.1.json", "num_local_experts"),
        ("Qwen__Qwen3-30B-A3B.json", "moe_intermediate_size"),
        ("deepseek-ai__DeepSeek-V3.json", "kv_lora_rank"),
    ],
)
def test_missing_key_is_named(name: str, key: str) -> None:
    config = copy.deepcopy(load(name))
    del config[key]
    with pytest.raises(CatalogError, match=f"missing required key '{key}'"):
        architecture_from_hf_config(config)


def test_missing_max_position_embeddings() -> None:
    config = load("Qwen__Qwen2.5-7B-Instruct.json")
    del config["max_position_embeddings"]
    with pytest.raises(CatalogError, match="'max_position_embeddings'"):
        max_context_from_hf_config(config)


def test_wrong_type_is_named() -> None:
    config = {**load("meta-llama__Llama-2-70b-hf.json"), "num_hidden_layers": "80"}
    with pytest.raises(CatalogError, match="'num_hidden_layers' must be a non-negative integer"):
        params_from_hf_config(config)


def test_invalid_architecture_becomes_catalog_error() -> None:
    # 64 query heads are not a multiple of 7 KV heads: Architecture rejects it
    config = {**load("meta-llama__Llama-2-70b-hf.json"), "num_key_value_heads": 7}
    with pytest.raises(CatalogError, match="num_key_value_heads"):
        architecture_from_hf_config(config)


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("meta-llama__Llama-3.1-8B-Instruct.json", 131072),  # rope_scaling llama3, factor 8
        ("meta-llama__Llama-2-70b-hf.json", 4096),
        ("Qwen__Qwen2.5-7B-Instruct.json", 32768),  # facts §1.1: YaRN not enabled by default
        ("deepseek-ai__DeepSeek-V3.json", 163840),  # facts §1.2
        ("Qwen__Qwen3-235B-A22B.json", 40960),
        ("openai__gpt-oss-120b.json", 131072),  # YaRN factor 32 over 4,096, in the config
    ],
)
def test_max_context(name: str, tokens: int) -> None:
    assert max_context_from_hf_config(load(name)) == tokens
