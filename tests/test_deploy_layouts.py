"""The kit serves the layout the sizing chose: data-parallel attention with expert parallelism for a
MoE replica that runs so, and the layout a saved plan recorded."""

from __future__ import annotations

from deploy_cases import catalog, workload
from selfhost.catalog.lookup import by_id
from selfhost.deploy.from_plan import replica_of
from selfhost.deploy.serve import serve_argv
from selfhost.deploy.spec import KitSettings, kit_spec
from selfhost.scenarios import replica_configs


def deepseek_8x_h200(layout: str):
    cat = catalog()
    m, q, g = by_id(cat.models)["deepseek-v3"], by_id(cat.quantizations)["fp8"], by_id(cat.gpus)["h200-141gb"]
    configs = replica_configs(cat, models=[m], quants=[q], gpus=[g], gpu_counts=[8], engine=None)
    return next(c for c in configs if c.layout == layout)


def test_a_data_parallel_attention_replica_is_served_dp_with_expert_parallel_moe():
    spec = kit_spec(deepseek_8x_h200("DP8 attention + EP8"), workload(), rps=5.0, target_utilization=0.7)
    argv = serve_argv(spec, KitSettings())
    assert (spec.tensor_parallel_size, spec.data_parallel_size) == (1, 8)
    assert spec.data_parallel_attention and spec.expert_parallel
    assert "--data-parallel-size" in argv and argv[argv.index("--data-parallel-size") + 1] == "8"
    assert "--enable-expert-parallel" in argv


def test_a_tensor_parallel_replica_stays_tensor_parallel():
    spec = kit_spec(deepseek_8x_h200("TP8"), workload(), rps=5.0, target_utilization=0.7)
    argv = serve_argv(spec, KitSettings())
    assert spec.tensor_parallel_size == 8 and spec.data_parallel_size == 1
    assert "--enable-expert-parallel" not in argv


def test_a_plan_record_keeps_its_layout_and_an_old_one_gets_the_first():
    cat = catalog()
    m, q, g = by_id(cat.models)["deepseek-v3"], by_id(cat.quantizations)["fp8"], by_id(cat.gpus)["h200-141gb"]
    vllm = by_id(cat.engines)["vllm"]
    assert replica_of(m, q, g, 8, vllm, "DP8 attention + EP8").dp_attention
    assert not replica_of(m, q, g, 8, vllm, "").dp_attention  # a plan saved before layouts were recorded


def test_the_kit_readme_says_a_layout_without_measurements_is_extrapolated():
    from selfhost.deploy.readme import readme_md

    dp = kit_spec(deepseek_8x_h200("DP8 attention + EP8"), workload(), rps=5.0, target_utilization=0.7)
    tp = kit_spec(deepseek_8x_h200("TP8"), workload(), rps=5.0, target_utilization=0.7)
    assert (dp.layout, dp.layout_measured) == ("DP8 attention + EP8", False)
    assert (tp.layout, tp.layout_measured) == ("TP8", True)
    flagged = "no published measurement in a DP8 attention + EP8 layout is behind it (extrapolated)"
    assert flagged in readme_md(dp, KitSettings(), self_signed=True)
    assert "layout is behind it" not in readme_md(tp, KitSettings(), self_signed=True)
