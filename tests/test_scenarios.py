"""Scenario building: the catalog's stated figures agree with the architecture arithmetic."""

import pytest

from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.scenarios import (
    build_arrays,
    compatibility_problem,
    model_param_counts,
    peak_tflops,
    price_options,
    replica_configs,
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(env={})


def test_every_catalog_model_total_matches_its_architecture(catalog):
    # params_total_b is typed from facts.md §1; count_params recomputes it from the config fields
    for model in catalog.models:
        counted = model_param_counts(model).total / 1e9
        assert counted == pytest.approx(model.params_total_b, rel=5e-3), model.id


def test_llama_70b_awq_on_one_h100_arrays(catalog):
    # facts.md §5.2 (AWQ 39.8 GB) and §1.1 (320 KiB KV per token in BF16)
    m, q, g = (
        by_id(catalog.models)["llama-3.3-70b"],
        by_id(catalog.quantizations)["awq-int4"],
        by_id(catalog.gpus)["h100-sxm-80gb"],
    )
    [config] = replica_configs(catalog, models=[m], quants=[q], gpus=[g], gpu_counts=[1], engine=None)
    serving, mem = build_arrays([config])
    assert mem.weight_bytes[0] == pytest.approx(39.8e9, rel=5e-3)
    assert mem.kv_bytes_per_token[0] == 327_680
    assert config.engine.id == "vllm"
    # weight-only int4 computes in BF16: 989 dense TFLOPS (facts.md §2)
    assert serving.peak_flops[0] == pytest.approx(989e12)


def test_mla_cache_is_held_whole_by_every_tensor_parallel_rank(catalog):
    # DeepSeek-V3: 61 x (512 + 64) x 2 B = 70,272 B per token (facts.md §1.2), replicated on 8 GPUs
    m, q, g = (
        by_id(catalog.models)["deepseek-v3"],
        by_id(catalog.quantizations)["fp8"],
        by_id(catalog.gpus)["h200-141gb"],
    )
    tp, dp = replica_configs(catalog, models=[m], quants=[q], gpus=[g], gpu_counts=[8], engine=None)
    assert (tp.layout, dp.layout) == ("TP8", "DP8 attention + EP8")
    serving, mem = build_arrays([tp, dp])
    assert mem.kv_bytes_per_token_model[0] == 70_272
    assert mem.kv_bytes_per_token[0] == 8 * 70_272
    # data-parallel attention: each GPU keeps only its own sequences' latent, so one copy in all,
    # and holds a whole copy of the attention weights (7 more copies than tensor parallelism)
    assert mem.kv_bytes_per_token[1] == 70_272
    attention = serving.attention_weight_bytes[1]
    assert mem.weight_bytes[1] - mem.weight_bytes[0] == pytest.approx(7 * attention)
    assert 10e9 < attention < 13e9  # DeepSeek-V3's MLA projections, ~11.4 B params at FP8


def test_fp8_falls_back_to_bf16_peak_on_a100(catalog):
    q, a100, h100 = (
        by_id(catalog.quantizations)["fp8"],
        by_id(catalog.gpus)["a100-80gb"],
        by_id(catalog.gpus)["h100-sxm-80gb"],
    )
    assert peak_tflops(a100, q) == a100.bf16_tflops
    assert peak_tflops(h100, q) == h100.fp8_tflops


def test_incompatible_combinations_say_why(catalog):
    m = by_id(catalog.models)["qwen2.5-7b"]  # 28 attention heads
    q = by_id(catalog.quantizations)["awq-int4"]
    g = by_id(catalog.gpus)["h100-sxm-80gb"]
    vllm = by_id(catalog.engines)["vllm"]
    assert "28 attention heads" in compatibility_problem(m, q, g, 8, vllm)
    assert "does not run on metal" in compatibility_problem(m, q, by_id(catalog.gpus)["m3-max-64gb"], 1, vllm)


def test_llama_cpp_splits_layers_so_heads_need_not_divide_and_kv_is_not_replicated(catalog):
    # llama.cpp's default --split-mode layer (engines.yaml source): each GPU holds whole layers
    m = by_id(catalog.models)["qwen2.5-1.5b"]  # 12 attention heads, 2 KV heads, 28 layers
    q = by_id(catalog.quantizations)["q4_k_m"]
    g = by_id(catalog.gpus)["rtx-4090-24gb"]
    llama_cpp, vllm = by_id(catalog.engines)["llama.cpp"], by_id(catalog.engines)["vllm"]
    assert llama_cpp.multi_gpu == "layer-split" and vllm.multi_gpu == "tensor-parallel"
    assert compatibility_problem(m, q, g, 8, llama_cpp) is None  # 12 heads, 8 GPUs: fine for layers
    configs = replica_configs(catalog, models=[m], quants=[q], gpus=[g], gpu_counts=[4], engine=llama_cpp)
    serving, mem = build_arrays(configs)
    assert mem.kv_bytes_per_token[0] == mem.kv_bytes_per_token_model[0]  # one copy, not 4 / 2 = 2
    assert serving.layer_split[0] == 1.0
    bf16 = by_id(catalog.quantizations)["bf16"]
    l40s = by_id(catalog.gpus)["l40s-48gb"]  # 8 per node: 4 GPUs are one tensor-parallel group
    [tp] = replica_configs(catalog, models=[m], quants=[bf16], gpus=[l40s], gpu_counts=[4], engine=vllm)
    _, tp_mem = build_arrays([tp])
    assert tp.layout == "TP4"
    assert tp_mem.kv_bytes_per_token[0] == 2 * tp_mem.kv_bytes_per_token_model[0]  # 4 GPUs over 2 KV heads
    # the 4090 box holds 2 GPUs: 4 of them are two pipeline stages of tensor parallel 2, so each
    # stage's 2 GPUs hold one KV head each, no copies
    [pp] = replica_configs(catalog, models=[m], quants=[bf16], gpus=[g], gpu_counts=[4], engine=vllm)
    _, pp_mem = build_arrays([pp])
    assert pp.layout == "TP2 x PP2"
    assert pp_mem.kv_bytes_per_token[0] == pp_mem.kv_bytes_per_token_model[0]


def test_owned_hardware_becomes_an_hourly_rate(catalog):
    g = by_id(catalog.gpus)["h100-sxm-80gb"]
    options = price_options(catalog, g, pricing=["owned"], hours_per_month=730)
    assert options and all(o.provider == "owned" and o.usd_per_gpu_hour > 0 for o in options)
    rentals = price_options(
        catalog, g, pricing=["on-demand"], providers=["DigitalOcean"], hours_per_month=730
    )
    assert {o.usd_per_gpu_hour for o in rentals} >= {3.39}  # facts.md §3.1


def test_the_enumeration_is_every_runnable_combination_in_order(catalog):
    """`replica_configs` hoists the model-independent and quantization-independent checks and makes
    configs with `replica`; the reference is the plain nested loop over every combination, with
    each check made for each config, and the dataclass's own constructor."""
    from selfhost.scenarios import (
        DEFAULT_GPU_COUNTS,
        ReplicaConfig,
        default_engine,
        layouts,
        model_quant_problem,
        parallelism_problem,
        platform_problem,
    )

    expected = [
        ReplicaConfig(model, quant, gpu, n, engine, pipeline_stages=stages, dp_attention=dp)
        for model in catalog.models
        for quant in catalog.quantizations
        for gpu in catalog.gpus
        for engine in [default_engine(catalog, quant, gpu)]
        if engine is not None and platform_problem(quant, gpu, engine) is None
        if model_quant_problem(model, quant) is None
        for n in DEFAULT_GPU_COUNTS
        if n <= gpu.max_gpus_per_node
        for stages, dp in layouts(model, gpu, n, engine)
        if parallelism_problem(model, gpu, n, engine, stages, dp) is None
    ]
    got = replica_configs(
        catalog,
        models=catalog.models,
        quants=catalog.quantizations,
        gpus=catalog.gpus,
        gpu_counts=None,
        engine=None,
    )
    assert len(got) == len(expected) > 10_000
    assert got == expected  # field by field, in order
    assert all(type(c) is ReplicaConfig and vars(c).keys() == vars(expected[0]).keys() for c in got)
    with pytest.raises(AttributeError):  # still frozen
        got[0].n_gpus = 3
