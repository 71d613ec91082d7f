"""The serve command: every flag derived from the sizing, every flag defined by the engine release
the kit targets (the cited table, and the full flag lists extracted from the same PyPI wheels)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from deploy_cases import AWQ_LLAMA, config, deepseek_fp8_8xh200, llama_awq_2xa100, workload
from selfhost.analysis import estimate
from selfhost.deploy.engines import ENGINE_RELEASES, FLAGS, KV_CACHE_DTYPE
from selfhost.deploy.serve import emitted_flags, serve_argv, serve_line, serve_sh
from selfhost.deploy.spec import KitSettings, KitSpec, kit_spec
from selfhost.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "engine_cli"


def release_flags(engine: str) -> set[str]:
    """Every flag of the release, as scripts/engine_flags.py extracted it from the wheel."""
    return set((FIXTURES / f"{engine}-{ENGINE_RELEASES[engine].version}.txt").read_text().split())


def flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def layouts(engine: str) -> list[KitSpec]:
    """Specs covering every flag the serve command can emit: one node, two nodes, DP, DP attention, EP, FP8 KV."""
    one = llama_awq_2xa100(engine)
    two_nodes = kit_spec(
        config("deepseek-v3", "h100", "fp8", 16, engine), workload(), rps=1, target_utilization=0.7
    )
    dp = dataclasses.replace(
        deepseek_fp8_8xh200(engine), tensor_parallel_size=1, data_parallel_size=8, expert_parallel=True
    )
    dp_attention = dataclasses.replace(dp, data_parallel_attention=True)
    fp8_kv = kit_spec(
        config("llama-3.3-70b", "h200", "fp8", 1, engine), workload(kv="fp8"), rps=1, target_utilization=0.7
    )
    return [one, two_nodes, dp, dp_attention, fp8_kv]


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_every_emitted_flag_is_in_the_cited_table_and_in_the_release(engine: str) -> None:
    table, release = FLAGS[engine], release_flags(engine)
    assert set(table) <= release, set(table) - release  # the table cites flags the release has
    seen: set[str] = set()
    for spec in layouts(engine):
        for rank in range(spec.nodes):
            flags = emitted_flags(serve_argv(spec, KitSettings(), rank))
            assert set(flags) <= set(table), set(flags) - set(table)
            assert len(flags) == len(set(flags)), flags  # no flag twice
            seen |= set(flags)
    assert seen == set(table)  # and the table holds no flag the kit never emits


def test_the_flags_table_cites_a_file_and_line_of_the_release() -> None:
    for engine, table in FLAGS.items():
        for flag, citation in table.items():
            assert citation.where.startswith(f"{engine} {ENGINE_RELEASES[engine].version} "), flag
            assert re.search(r"\.py:\d+$", citation.where), (flag, citation.where)


def test_llama_awq_on_two_a100_serve_line() -> None:
    """The article's deployment: tensor parallel 2, AWQ, max model length 32768."""
    spec = llama_awq_2xa100()
    argv = serve_argv(spec, KitSettings())
    assert argv[:3] == ["vllm", "serve", AWQ_LLAMA]
    assert flag_value(argv, "--tensor-parallel-size") == "2"
    assert "--pipeline-parallel-size" not in argv  # two A100s fit one node
    assert flag_value(argv, "--quantization") == "awq"
    assert flag_value(argv, "--max-model-len") == "32768"
    assert flag_value(argv, "--gpu-memory-utilization") == "0.92"  # the vLLM profile's share
    assert flag_value(argv, "--kv-cache-dtype") == "auto"
    assert flag_value(argv, "--served-model-name") == "llama-3.3-70b"
    assert flag_value(argv, "--host") == "127.0.0.1"


def test_max_num_seqs_is_the_batch_the_capacity_model_found() -> None:
    """--max-num-seqs is the largest batch within KV memory and the latency targets, as `estimate` reports it."""
    c = config("llama-3.3-70b", "a100-80gb", "awq-int4", 2)
    report = estimate([c], workload(), None)
    spec = llama_awq_2xa100()
    assert spec.max_num_seqs == report.results[0]["concurrency_per_replica"]
    assert spec.capacity_rps_per_replica == pytest.approx(report.results[0]["capacity_rps_per_replica"])
    assert flag_value(serve_argv(spec, KitSettings()), "--max-num-seqs") == str(spec.max_num_seqs)
    looser = kit_spec(c, workload(tpot_ms=200.0), rps=5, target_utilization=0.7, weights=AWQ_LLAMA)
    assert looser.max_num_seqs > spec.max_num_seqs  # a looser TPOT target lets more sequences run


def test_deepseek_v3_on_eight_h200_serve_line() -> None:
    spec = deepseek_fp8_8xh200()
    argv = serve_argv(spec, KitSettings())
    assert argv[:3] == ["vllm", "serve", "deepseek-ai/DeepSeek-V3"]  # the model's own FP8 checkpoint
    assert flag_value(argv, "--tensor-parallel-size") == "8"
    assert flag_value(argv, "--quantization") == "fp8"
    assert spec.nodes == 1


def test_a_replica_larger_than_a_node_is_pipeline_parallel_across_nodes() -> None:
    spec = kit_spec(config("deepseek-v3", "h100", "fp8", 16), workload(), rps=1, target_utilization=0.7)
    assert (spec.nodes, spec.tensor_parallel_size, spec.pipeline_parallel_size) == (2, 8, 2)
    head, worker = serve_argv(spec, KitSettings(), 0), serve_argv(spec, KitSettings(), 1)
    assert flag_value(head, "--nnodes") == "2" and flag_value(worker, "--node-rank") == "1"
    assert "--headless" in worker and "--headless" not in head
    script = serve_sh(spec, KitSettings())
    assert 'case "$NODE_RANK" in' in script and "--master-addr ${HEAD_ADDR}" in script


def test_data_and_expert_parallel_flags_where_the_layout_asks() -> None:
    spec = dataclasses.replace(
        deepseek_fp8_8xh200(), tensor_parallel_size=1, data_parallel_size=8, expert_parallel=True
    )
    argv = serve_argv(spec, KitSettings())
    assert flag_value(argv, "--data-parallel-size") == "8"
    assert "--enable-expert-parallel" in argv
    assert flag_value(argv, "--max-num-seqs") == str(-(-spec.max_num_seqs // 8))  # vLLM: per DP rank
    sg = dataclasses.replace(spec, engine="sglang", data_parallel_attention=True)
    sargv = serve_argv(sg, KitSettings())
    assert flag_value(sargv, "--tp-size") == "8" and flag_value(sargv, "--attn-dp-size") == "8"
    assert flag_value(sargv, "--ep-size") == "8"
    assert "--enable-dp-attention" not in sargv  # deprecated in SGLang 0.5.23


def test_sglang_equivalents() -> None:
    spec = llama_awq_2xa100("sglang")
    argv = serve_argv(spec, KitSettings())
    assert argv[:4] == ["python3", "-m", "sglang.launch_server", "--model-path"]
    assert flag_value(argv, "--tp-size") == "2"
    assert flag_value(argv, "--context-length") == "32768"
    assert flag_value(argv, "--mem-fraction-static") == "0.88"  # the SGLang profile's share
    assert flag_value(argv, "--max-running-requests") == str(spec.max_num_seqs)
    assert "--enable-metrics" in argv


@pytest.mark.parametrize(
    ("kv", "engine"), [("fp8", "vllm"), ("fp8", "sglang"), ("bf16", "vllm"), ("bf16", "sglang")]
)
def test_kv_cache_dtype_per_engine(kv: str, engine: str) -> None:
    spec = kit_spec(
        config("llama-3.3-70b", "h200", "fp8", 1, engine), workload(kv=kv), rps=1, target_utilization=0.7
    )
    assert flag_value(serve_argv(spec, KitSettings()), "--kv-cache-dtype") == KV_CACHE_DTYPE[engine][kv]


def test_fp8_kv_cache_holds_twice_the_tokens() -> None:
    c = config("llama-3.3-70b", "h200", "fp8", 1)
    bf16 = kit_spec(c, workload(), rps=1, target_utilization=0.7)
    fp8 = kit_spec(c, workload(kv="fp8"), rps=1, target_utilization=0.7)
    assert abs(fp8.kv_capacity_tokens - 2 * bf16.kv_capacity_tokens) <= 1  # whole tokens, rounded down


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((("llama-3.3-70b", "a100-80gb", "awq-int4", 2), {}), "pass --weights"),
        ((("llama-3.3-70b", "h100", "bf16", 1), {"weights": "x"}), "exceed the usable memory"),
        ((("llama-3.3-70b", "h100", "q4_k_m", 1, "llama.cpp"), {}), "writes kits for vllm, sglang"),
        ((("llama-3.3-70b", "mi300x", "fp8", 1), {}), "NVIDIA (CUDA) GPUs"),
    ],
)
def test_deployments_a_kit_cannot_serve_say_why(
    args: tuple[tuple[str, ...], dict[str, str]], message: str
) -> None:
    positional, kw = args
    with pytest.raises(InputError, match=re.escape(message)):
        kit_spec(config(*positional), workload(), rps=1, target_utilization=0.7, **kw)


def test_context_beyond_the_model_or_the_cache_is_refused() -> None:
    c = config("llama-3.3-70b", "a100-80gb", "awq-int4", 2)
    with pytest.raises(InputError, match=re.escape("exceeds llama-3.3-70b's maximum")):
        kit_spec(c, workload(context=200_000), rps=1, target_utilization=0.7, weights=AWQ_LLAMA)
    small = config("llama-3.3-70b", "h100", "fp8", 1)
    with pytest.raises(InputError, match="does not fit the KV cache"):
        kit_spec(small, workload(context=131072), rps=1, target_utilization=0.7)


def test_serve_line_is_the_argv_quoted_for_a_shell() -> None:
    spec = dataclasses.replace(llama_awq_2xa100(), served_model_name="my model")
    line = serve_line(spec, KitSettings())
    assert "--served-model-name 'my model'" in line
    import shlex

    assert shlex.split(line) == serve_argv(spec, KitSettings())


def test_readme_serve_lines_are_what_the_generator_writes() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- serve lines:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    expected = [serve_line(s, KitSettings()) for s in (llama_awq_2xa100(), deepseek_fp8_8xh200())]
    assert block.strip().splitlines() == expected


def test_readme_says_what_the_two_kits_were_sized_to() -> None:
    """The sentence under the serve lines quotes each kit's sequence cap, capacity and replicas;
    they move with every refit, so they are read from the sizing, not remembered."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    prose = " ".join(readme.split("<!-- serve lines:", 1)[1].split("```", 2)[2].split("\n\n", 2)[1].split())
    llama, deepseek = llama_awq_2xa100(), deepseek_fp8_8xh200()
    assert f"Llama's cap of {llama.max_num_seqs} sequences" in prose
    assert f"({llama.capacity_rps_per_replica:.3g} req/s per replica" in prose
    assert f"{llama.replicas} replicas for 5 req/s at 70 % utilization" in prose
    assert f"DeepSeek-V3's {deepseek.max_num_seqs}" in prose
    assert f"({deepseek.capacity_rps_per_replica:.3g} req/s per replica)" in prose


def test_docs_cite_every_flag_of_the_table() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "deploy.md").read_text(encoding="utf-8")
    for table in FLAGS.values():
        for flag, citation in table.items():
            assert f"`{flag}`" in doc, flag
            assert ":" + citation.where.rsplit(":", 1)[1] in doc, (flag, citation.where)


def test_engine_flags_script_reads_add_argument_calls_and_dataclass_fields(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "engine_flags", Path(__file__).parents[1] / "scripts" / "engine_flags.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "vllm/engine").mkdir(parents=True)
    (tmp_path / "vllm/entrypoints/common").mkdir(parents=True)
    (tmp_path / "vllm/engine/arg_utils.py").write_text('p.add_argument("--max-num-seqs", "-x", type=int)\n')
    (tmp_path / "vllm/entrypoints/common/cli_args.py").write_text(
        "class FrontendArgs:\n    api_key: str = ''\n"
    )
    assert module.vllm_flags(tmp_path) == {"--max-num-seqs", "-x", "--api-key"}
    (tmp_path / "sglang/srt/arg_groups/fields").mkdir(parents=True)
    (tmp_path / "sglang/srt/server_args.py").write_text('p.add_argument("--config")\n')
    (tmp_path / "sglang/srt/arg_groups/fields/p.py").write_text(
        "class P:\n    tp_size: A[int, Arg(aliases=['--tensor-parallel-size'])] = 1\n"
        "    hidden: A[bool, Arg(no_cli=True)] = False\n"
    )
    assert module.sglang_flags(tmp_path) == {"--config", "--tp-size", "--tensor-parallel-size"}
