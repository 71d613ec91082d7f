"""The 2026 catalog (issue 8): FP4 formats, Blackwell / MI3x5X / RTX PRO GPUs, and windowed models.

Hand arithmetic from the cited documents: NVFP4 is 4 bits + one FP8 scale per 16 values, MXFP4
4 bits + one E8M0 scale per 32; gpt-oss-120b's experts hold 114.70e9 of its 116.83e9 weights and
18 of its 36 layers keep a 128-token sliding window.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cases import builtin_catalog
from selfhost.analysis import fit
from selfhost.catalog.lookup import by_id
from selfhost.scenarios import (
    ReplicaConfig,
    Workload,
    build_arrays,
    compatibility_problem,
    model_quant_problem,
    peak_tflops,
    replica_configs,
)

CAT = builtin_catalog()
GPUS = by_id(CAT.gpus)
MODELS = by_id(CAT.models)
QUANTS = by_id(CAT.quantizations)
ENGINES = by_id(CAT.engines)
OFFERS = by_id(CAT.rental_offers)

GPT_OSS_120B_EXPERTS = 36 * 128 * (3 * 2880 * 2880 + 2 * 2880 + 2880)  # with their biases
GPT_OSS_120B_TOTAL = 116_829_156_672
GPT_OSS_VOCAB_X_H = 201_088 * 2880


def config(model: str, quant: str, gpu: str, n: int = 1, engine: str = "vllm") -> ReplicaConfig:
    return ReplicaConfig(MODELS[model], QUANTS[quant], GPUS[gpu], n, ENGINES[engine])


def workload(context: int, p: int = 1000, d: int = 300) -> Workload:
    return Workload(
        input_tokens=p, output_tokens=d, context_tokens=context, max_tpot_ms=100, max_ttft_ms=3000
    )


# --------------------------------------------------------------------------- formats


def test_fp4_formats_carry_their_scales():
    assert QUANTS["nvfp4"].linear_bits_per_weight == 4 + 8 / 16  # FP8 E4M3 scale per 16
    assert QUANTS["mxfp4"].expert_bits_per_weight == 4 + 8 / 32  # E8M0 scale per 32
    assert QUANTS["mxfp4"].linear_bits_per_weight == 16  # attention, router stay BF16 (gpt-oss)
    assert (QUANTS["nvfp4"].compute_dtype, QUANTS["mxfp4"].compute_dtype) == ("fp4", "fp4")
    assert QUANTS["nvfp4"].platforms == ("cuda",)
    assert set(QUANTS["mxfp4"].platforms) == {"cuda", "rocm"}


@pytest.mark.parametrize(
    ("gpu", "quant", "expected"),
    [
        ("b200-180gb", "nvfp4", 9000),  # FP4 tensor cores
        ("gb200-186gb", "mxfp4", 10000),
        ("mi355x-288gb", "mxfp4", 10100),  # CDNA 4 MXFP4
        ("h100-sxm-80gb", "nvfp4", 989),  # no FP4: weight-only, BF16 peak
        ("mi325x-256gb", "mxfp4", 1307.4),
        ("b200-180gb", "fp8", 4500),
        ("b200-180gb", "awq-int4", 2250),
    ],
)
def test_fp4_computes_in_fp4_only_where_the_gpu_has_it(gpu: str, quant: str, expected: float):
    assert peak_tflops(GPUS[gpu], QUANTS[quant]) == expected


def test_nvfp4_does_not_run_on_rocm():
    problem = compatibility_problem(
        MODELS["llama-3.3-70b"], QUANTS["nvfp4"], GPUS["mi355x-288gb"], 1, ENGINES["vllm"]
    )
    assert problem == "nvfp4 does not run on rocm (mi355x-288gb); it runs on cuda"


def test_experts_only_mxfp4_is_refused_for_dense_models():
    assert model_quant_problem(MODELS["llama-3.3-70b"], QUANTS["mxfp4"]) == (
        "mxfp4 quantizes MoE experts only; llama-3.3-70b is a dense model"
    )
    assert model_quant_problem(MODELS["gpt-oss-120b"], QUANTS["mxfp4"]) is None
    configs = replica_configs(
        CAT,
        models=[MODELS["qwen3-8b"], MODELS["qwen3-30b-a3b"]],
        quants=[QUANTS["mxfp4"]],
        gpus=[GPUS["b200-180gb"]],
        gpu_counts=[1],
        engine=None,
    )
    assert [c.model.id for c in configs] == ["qwen3-30b-a3b"]


def test_gpt_oss_120b_as_released_weighs_65_gb():
    _, mem = build_arrays([config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb")])
    by_hand = (
        (GPT_OSS_120B_TOTAL - 2 * GPT_OSS_VOCAB_X_H - GPT_OSS_120B_EXPERTS) * 16
        + GPT_OSS_120B_EXPERTS * 4.25
        + 2 * GPT_OSS_VOCAB_X_H * 16
    ) / 8
    # params_total_b is rounded to 4 digits (116.8e9, 29M fewer BF16 weights): 0.09 % lighter
    assert mem.weight_bytes[0] == pytest.approx(by_hand, rel=1.5e-3)
    assert mem.weight_bytes[0] / 1e9 == pytest.approx(65.2, abs=0.1)


def test_nvfp4_on_a_moe_model_quantizes_experts_and_attention_alike():
    _, mem = build_arrays(
        [config("qwen3-30b-a3b", "nvfp4", "b200-180gb"), config("qwen3-30b-a3b", "bf16", "b200-180gb")]
    )
    emb = 151_936 * 2048  # embedding and lm_head stay BF16 in both
    linear = MODELS["qwen3-30b-a3b"].params_total_b * 1e9 - 2 * emb
    assert mem.weight_bytes[0] == pytest.approx((linear * 4.5 + 2 * emb * 16) / 8, rel=1e-9)
    assert mem.weight_bytes[1] == pytest.approx((linear * 16 + 2 * emb * 16) / 8, rel=1e-9)


# --------------------------------------------------------------------------- windowed KV in the engine's arrays


def test_windowed_kv_fields_reach_the_engine():
    serving, mem = build_arrays(
        [
            config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb", 2),
            config("llama-3.3-70b", "fp8", "h100-sxm-80gb", 2),
        ]
    )
    # gpt-oss: 73,728 B/token of BF16 KV, half in 128-token windows; 8 KV heads split over TP 2
    assert mem.kv_bytes_per_token_model[0] == 73_728
    assert serving.kv_bytes_per_token[0] == 73_728
    assert np.asarray(serving.windowed_kv_bytes_per_token)[0] == 36_864
    assert np.asarray(serving.attention_window_tokens).tolist() == [128, 0]
    # Llama: no windowed layers, so a sequence holds exactly its length
    assert mem.sequence_kv_tokens(32_768)[1] == 32_768
    assert mem.sequence_kv_tokens(32_768)[0] == 32_768 - 0.5 * (32_768 - 128)


def test_fp8_kv_halves_the_windowed_part_too():
    _, mem = build_arrays([config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb")], kv_dtype="fp8")
    assert mem.kv_bytes_per_token[0] == 36_864
    assert np.asarray(mem.windowed_kv_bytes_per_token)[0] == 18_432


def test_fit_counts_sequences_with_the_window():
    context = 131_072
    report = fit([config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb")], workload(context))
    (row,) = report.results
    _, mem = build_arrays([config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb")])
    all_layer_tokens = mem.kv_capacity_tokens[0]
    held = context - 0.5 * (context - 128)  # 65,600 all-layer tokens per 131,072-token sequence
    assert row["max_concurrent_sequences"] == math.floor(all_layer_tokens / held)
    assert row["max_concurrent_sequences"] >= 2  # without the window only half as many would fit
    assert math.floor(all_layer_tokens / context) == row["max_concurrent_sequences"] // 2
    # KV capacity is reported at the requested context, as vLLM's "GPU KV cache size" is
    assert row["kv_capacity_tokens"] == math.floor(all_layer_tokens * context / held)
    assert row["fits"] is True
    assert row["weights_gb"] == pytest.approx(65.2, abs=0.1)


def test_fit_of_a_model_without_windows_is_unchanged():
    report = fit([config("llama-3.3-70b", "awq-int4", "h100-sxm-80gb")], workload(32_768))
    (row,) = report.results
    _, mem = build_arrays([config("llama-3.3-70b", "awq-int4", "h100-sxm-80gb")])
    assert row["kv_capacity_tokens"] == int(mem.kv_capacity_tokens[0])
    assert row["max_concurrent_sequences"] == math.floor(mem.kv_capacity_tokens[0] / 32_768)


def test_llama4_scout_chunked_layers_hold_8192_tokens():
    _, mem = build_arrays([config("llama-4-scout", "bf16", "b200-180gb", 2)])
    # 48 layers x 2 x 8 x 128 x 2 B = 196,608 B/token; 36 chunked layers keep at most 8,192 tokens
    assert mem.kv_bytes_per_token_model[0] == 196_608
    held = mem.sequence_kv_tokens(1_000_000)[0]
    assert held == pytest.approx((12 * 1_000_000 + 36 * 8192) / 48)


# --------------------------------------------------------------------------- entries


@pytest.mark.parametrize(
    "gpu",
    [
        "b200-180gb",
        "gb200-186gb",
        "b300-288gb",
        "h200-nvl-141gb",
        "mi325x-256gb",
        "mi355x-288gb",
        "rtx-pro-6000-96gb",
    ],
)
def test_new_gpus_have_dense_figures_in_order(gpu: str):
    g = GPUS[gpu]
    assert g.bf16_tflops < (g.fp8_tflops or 0) <= (g.fp4_tflops or g.fp8_tflops or 0) + 1e-9
    assert g.device_memory_gb >= g.memory_gb * 0.99
    assert g.as_of.isoformat() == "2026-12-06"


@pytest.mark.parametrize(
    ("offer", "instance_usd_per_hour", "gpus"),
    [
        ("coreweave-b200-180gb-x8", 68.80, 8),
        ("coreweave-gb200-186gb-x4", 42.00, 4),
        ("coreweave-rtx-pro-6000-96gb-x8", 20.00, 8),
        ("coreweave-b200-180gb-x8-spot", 34.11, 8),
        ("lambda-b200-180gb-x8", 6.69 * 8, 8),
    ],
)
def test_offers_are_priced_per_gpu(offer: str, instance_usd_per_hour: float, gpus: int):
    o = OFFERS[offer]
    assert o.instance_gpus == gpus
    assert o.usd_per_gpu_hour * gpus == pytest.approx(instance_usd_per_hour, abs=1e-9)


@pytest.mark.parametrize(
    ("model", "licence", "production"),
    [
        ("qwen3-8b", "Apache-2.0", True),
        ("qwen3-235b-a22b", "Apache-2.0", True),
        ("gpt-oss-120b", "Apache-2.0", True),
        ("llama-4-maverick", "Llama 4 Community License Agreement", True),
        ("deepseek-r1", "MIT (code and weights)", True),
    ],
)
def test_licences_are_flagged(model: str, licence: str, production: bool):
    m = MODELS[model]
    assert (m.license, m.license_allows_production) == (licence, production)
    if m.license.startswith("Llama"):
        assert "700 million monthly active users" in m.notes


def test_every_new_model_has_hosted_api_prices():
    new = [
        "qwen3-8b",
        "qwen3-32b",
        "qwen3-30b-a3b",
        "qwen3-235b-a22b",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "llama-4-scout",
        "llama-4-maverick",
        "deepseek-r1",
    ]
    served = {a.equivalent_model for a in CAT.apis if not a.deprecated}
    assert set(new) <= served
    for a in CAT.apis:
        if a.equivalent_model in new:
            assert a.context_tokens and a.source.startswith("PyPI litellm==1.110.2")


def test_fit_says_when_layers_are_windowed():
    report = fit(
        [config("gpt-oss-120b", "mxfp4", "h100-sxm-80gb"), config("qwen3-8b", "bf16", "h100-sxm-80gb")],
        workload(32_768),
    )
    assert report.notes == [
        "gpt-oss-120b: 18 of 36 layers keep at most 128 tokens of KV per sequence (sliding window or chunked "
        "attention); KV capacity is counted at the requested context, as vLLM reports its KV cache size"
    ]
