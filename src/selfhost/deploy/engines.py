"""The serving engines a kit targets: version, container image, and every flag and metric the kit
uses, each with the source file that defines it in that release.

The kit is written for one release of each engine (`ENGINE_RELEASES`). Every flag the serve
command may emit is listed in `FLAGS` with the file and line that define it in that release's
PyPI wheel; `tests/test_deploy_serve.py` checks that the emitted flags are all in the table and in
the full flag lists extracted from the same wheels (tests/fixtures/engine_cli/, with their sha256).
The Prometheus rules use `METRICS`, cited the same way (vLLM's older names from 0.10.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Engines `selfhost deploy` writes kits for (catalog engine profile ids).
KIT_ENGINES = ("vllm", "sglang")


@dataclass(frozen=True)
class EngineRelease:
    """The release a kit's flags and metrics were checked against.

    version : The release. image : Its container image (pinned to that release).
    source : Where its CLI was read (PyPI wheel and commit).
    """

    engine: str
    version: str
    image: str
    source: str


ENGINE_RELEASES: dict[str, EngineRelease] = {
    "vllm": EngineRelease(
        engine="vllm",
        version="0.33.0",
        # vllm-openai images set ENTRYPOINT ["vllm", "serve"]; the kit sets it explicitly anyway
        image="vllm/vllm-openai:v0.33.0",
        source="PyPI vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl (vllm/_version.py commit g4ba787ec9)",
    ),
    "sglang": EngineRelease(
        engine="sglang",
        version="0.5.23",
        image="lmsysorg/sglang:v0.5.23",
        source="PyPI sglang-0.5.23-cp311-cp311-manylinux_2_34_x86_64.whl (sglang/_version.py 0.5.23)",
    ),
}


@dataclass(frozen=True)
class Citation:
    """Where a flag or metric is defined: ``file:line`` inside the release's wheel."""

    where: str
    note: str = ""


_V = "vllm 0.33.0 "
_S = "sglang 0.5.23 "
#: SGLang turns each field of its argument dataclasses into ``--field-name``
#: (sglang/srt/arg_groups/arg_utils.py:288 ``_field_to_cli_name``).
_SG_FIELD = "field -> flag by sglang/srt/arg_groups/arg_utils.py:288"

#: Every flag the serve command may emit, per engine, with the line that defines it.
FLAGS: dict[str, dict[str, Citation]] = {
    "vllm": {
        "--tensor-parallel-size": Citation(_V + "vllm/engine/arg_utils.py:1209", "alias -tp"),
        "--pipeline-parallel-size": Citation(_V + "vllm/engine/arg_utils.py:1171", "alias -pp"),
        "--data-parallel-size": Citation(_V + "vllm/engine/arg_utils.py:1241", "alias -dp"),
        "--enable-expert-parallel": Citation(_V + "vllm/engine/arg_utils.py:1305", "alias -ep"),
        "--nnodes": Citation(
            _V + "vllm/engine/arg_utils.py:1177",
            "nnodes > 1 on CUDA selects the multiprocessing backend (vllm/config/parallel.py:1064)",
        ),
        "--node-rank": Citation(_V + "vllm/engine/arg_utils.py:1178"),
        "--master-addr": Citation(_V + "vllm/engine/arg_utils.py:1175"),
        "--headless": Citation(_V + "vllm/entrypoints/common/cli_args.py:445", "worker nodes: no API server"),
        "--quantization": Citation(
            _V + "vllm/engine/arg_utils.py:992",
            "checked against the checkpoint's quantization_config (vllm/config/model.py:1383 _verify_quantization); "
            "'awq' resolves to the auto_awq kernels (model_executor/layers/quantization/auto_awq.py:263)",
        ),
        "--max-model-len": Citation(_V + "vllm/engine/arg_utils.py:991"),
        "--gpu-memory-utilization": Citation(
            _V + "vllm/engine/arg_utils.py:1389", "CacheConfig default 0.92 (vllm/config/cache.py:215)"
        ),
        "--max-num-seqs": Citation(
            _V + "vllm/engine/arg_utils.py:1754", "per data-parallel rank (vllm/config/scheduler.py:99)"
        ),
        "--kv-cache-dtype": Citation(
            _V + "vllm/engine/arg_utils.py:1397", "values: vllm/config/cache.py:44 CacheDType"
        ),
        "--served-model-name": Citation(_V + "vllm/engine/arg_utils.py:1031"),
        "--host": Citation(_V + "vllm/entrypoints/common/cli_args.py:293", "FrontendArgs.host"),
        "--port": Citation(_V + "vllm/entrypoints/common/cli_args.py:295", "FrontendArgs.port, default 8000"),
    },
    "sglang": {
        "--model-path": Citation(_S + "sglang/srt/arg_groups/fields/model.py:51", _SG_FIELD),
        "--tp-size": Citation(
            _S + "sglang/srt/arg_groups/fields/parallel.py:45", "alias --tensor-parallel-size"
        ),
        "--pp-size": Citation(
            _S + "sglang/srt/arg_groups/fields/parallel.py:59", "alias --pipeline-parallel-size"
        ),
        "--dp-size": Citation(_S + "sglang/srt/arg_groups/fields/parallel.py:73", "data-parallel replicas"),
        "--attn-dp-size": Citation(
            _S + "sglang/srt/arg_groups/fields/parallel.py:81",
            "data-parallel attention; replaces the deprecated --dp-size N --enable-dp-attention "
            "(sglang/srt/server_args.py:419)",
        ),
        "--ep-size": Citation(
            _S + "sglang/srt/arg_groups/fields/parallel.py:281", "alias --expert-parallel-size"
        ),
        "--nnodes": Citation(_S + "sglang/srt/arg_groups/fields/parallel.py:43"),
        "--node-rank": Citation(_S + "sglang/srt/arg_groups/fields/parallel.py:44"),
        "--dist-init-addr": Citation(_S + "sglang/srt/arg_groups/fields/parallel.py:32"),
        "--quantization": Citation(_S + "sglang/srt/arg_groups/fields/model.py:177", _SG_FIELD),
        "--context-length": Citation(_S + "sglang/srt/arg_groups/fields/model.py:110", _SG_FIELD),
        "--mem-fraction-static": Citation(_S + "sglang/srt/arg_groups/fields/schedule.py:27", _SG_FIELD),
        "--max-running-requests": Citation(_S + "sglang/srt/arg_groups/fields/schedule.py:31", _SG_FIELD),
        "--kv-cache-dtype": Citation(
            _S + "sglang/srt/arg_groups/fields/model.py:197", "choices include auto, bf16, fp8_e4m3"
        ),
        "--served-model-name": Citation(_S + "sglang/srt/arg_groups/fields/serving.py:168", _SG_FIELD),
        "--host": Citation(_S + "sglang/srt/arg_groups/fields/serving.py:65", _SG_FIELD),
        "--port": Citation(_S + "sglang/srt/arg_groups/fields/serving.py:66", _SG_FIELD),
        "--enable-metrics": Citation(
            _S + "sglang/srt/arg_groups/fields/observability.py:70", "off by default: /metrics needs it"
        ),
    },
}

#: The command that starts the engine's OpenAI-compatible server (the container entrypoint).
LAUNCH: dict[str, tuple[str, ...]] = {
    "vllm": ("vllm", "serve"),  # vllm/entrypoints/cli/serve.py:169 usage "vllm serve [model_tag] [options]"
    "sglang": ("python3", "-m", "sglang.launch_server"),  # sglang/launch_server.py
}

#: Catalog quantization id -> the engine's --quantization value. None: the checkpoint decides and
#: the flag is left out. A format missing here cannot be served by that engine from a kit.
QUANTIZATION: dict[str, dict[str, str | None]] = {
    "vllm": {  # vllm/model_executor/layers/quantization/__init__.py:15 QuantizationMethods
        "bf16": None,
        "fp8": "fp8",
        "awq-int4": "awq",
        "gptq-int4": "gptq",
        "int8": None,  # W8A8 INT8 checkpoints carry their own (compressed-tensors) config
    },
    "sglang": {  # QUANTIZATION_CHOICES of sglang/srt/arg_groups/fields/model.py:177
        "bf16": None,
        "fp8": "fp8",
        "awq-int4": "awq",
        "gptq-int4": "gptq",
        "int8": "w8a8_int8",
    },
}

#: Catalog KV dtype (``--kv-dtype``) -> the engine's --kv-cache-dtype value.
KV_CACHE_DTYPE: dict[str, dict[str, str]] = {
    "vllm": {"auto": "auto", "bf16": "bfloat16", "fp8": "fp8"},  # vllm/config/cache.py:44
    "sglang": {"auto": "auto", "bf16": "bf16", "fp8": "fp8_e4m3"},  # sglang .../fields/model.py:197
}

#: Formats whose weights must come from a checkpoint quantized ahead of time (a repository other
#: than the model's own): the engine cannot make them from the BF16 weights at load time.
PREQUANTIZED = frozenset({"awq-int4", "gptq-int4", "int8"})

#: Where each engine serves its liveness probe and Prometheus metrics.
HEALTH_PATH = (
    "/health"  # vllm/entrypoints/serve/instrumentator/health.py:22; sglang/srt/entrypoints/http_server.py:721
)
METRICS_PATH = "/metrics"  # vllm/entrypoints/serve/instrumentator/metrics.py:66; sglang with --enable-metrics


@dataclass(frozen=True)
class EngineMetrics:
    """Prometheus series an engine exports, as the alert rules use them.

    kv_usage : KV-cache use, 1 = full (current name first, then older names). [unitless]
    waiting : Requests queued, not yet scheduled. [requests]
    ttft_histogram, tpot_histogram : Histogram base names (``_bucket`` is appended). [s]
    requests_counter : Finished requests (with ``_total``). [requests]
    """

    kv_usage: tuple[str, ...]
    waiting: str
    ttft_histogram: str
    tpot_histogram: tuple[str, ...]
    requests_counter: str
    citations: tuple[str, ...]


METRICS: dict[str, EngineMetrics] = {
    "vllm": EngineMetrics(
        kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        waiting="vllm:num_requests_waiting",
        ttft_histogram="vllm:time_to_first_token_seconds",
        # per request: its mean time per output token, as the workload's --max-tpot-ms means it
        tpot_histogram=("vllm:request_time_per_output_token_seconds", "vllm:time_per_output_token_seconds"),
        requests_counter="vllm:request_success_total",
        citations=(
            "vllm 0.33.0 vllm/v1/metrics/loggers.py:620 vllm:kv_cache_usage_perc",
            "vllm 0.10.1.1 vllm/v1/metrics/loggers.py:212 vllm:gpu_cache_usage_perc "
            "('Deprecated in 0.9 - Renamed as vllm:kv_cache_usage_perc'); vllm/engine/metrics.py:82 (V0 engine)",
            "vllm 0.33.0 vllm/v1/metrics/loggers.py:538 vllm:num_requests_waiting",
            "vllm 0.33.0 vllm/v1/metrics/loggers.py:931 vllm:time_to_first_token_seconds",
            "vllm 0.33.0 vllm/v1/metrics/loggers.py:951 vllm:request_time_per_output_token_seconds",
            "vllm 0.10.1.1 vllm/v1/metrics/loggers.py:381 vllm:time_per_output_token_seconds",
            "vllm 0.33.0 vllm/v1/metrics/loggers.py:809 vllm:request_success (counter, exported with _total)",
        ),
    ),
    "sglang": EngineMetrics(
        kv_usage=("sglang:token_usage",),
        waiting="sglang:num_queue_reqs",
        ttft_histogram="sglang:time_to_first_token_seconds",
        tpot_histogram=("sglang:request_time_per_output_token_seconds",),
        requests_counter="sglang:num_requests_total",
        citations=(
            "sglang 0.5.23 sglang/srt/observability/metrics_collector.py:405 sglang:token_usage",
            "sglang 0.5.23 sglang/srt/observability/metrics_collector.py:371 sglang:num_queue_reqs",
            "sglang 0.5.23 sglang/srt/observability/metrics_collector.py:2041 sglang:time_to_first_token_seconds",
            "sglang 0.5.23 sglang/srt/observability/metrics_collector.py:2058 "
            "sglang:request_time_per_output_token_seconds",
            "sglang 0.5.23 sglang/srt/observability/metrics_collector.py:1941 sglang:num_requests_total",
        ),
    ),
}
