#!/usr/bin/env python3
"""Build data/calibration/measurements.yaml from shared/calibration/throughput*.yaml.

Copies every published measurement with its source, quote and qualifiers, and adds the fields
that map it onto catalog ids and a predictable quantity (model, gpu, quant, engine, n_gpus,
input/output tokens, concurrency or request rate, kv_dtype, scope, value, unit). The mapping
decisions are in the tables below and in each entry's `notes`; run again after changing them:

    python scripts/build_measurements.py [--src ../shared/calibration/throughput.yaml]
                                         [--serving-src ../shared/calibration/throughput-serving.yaml]

The output validates against selfhost.calibration.schema.Measurement.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "calibration" / "throughput.yaml"
OUT = ROOT / "data" / "calibration" / "measurements.yaml"
LATENCY_OUT = ROOT / "data" / "calibration" / "latency.yaml"

MODELS = {
    "Llama-3.1-8B": "llama-3.1-8b",
    "Llama-3.1-70B": "llama-3.1-70b",
    "Llama-3.1-405B": "llama-3.1-405b",
    "Mistral-7B": "mistral-7b",
    "Mixtral-8x7B": "mixtral-8x7b",
    "Mixtral-8x22B": "mixtral-8x22b",
    "Llama-2-7B": "llama-2-7b",
    "Llama-2-70B": "llama-2-70b",
    "Llama-3-8B": "llama-3-8b",
    "Llama-3-70B": "llama-3-70b",
    "llama2-7b": "llama-2-7b",
    "llama2-13b": "llama-2-13b",
    "llama2-70b": "llama-2-70b",
}

# (substring of hardware.accelerator, catalog GPU id, note); first match wins
GPUS: list[tuple[str, str, str]] = [
    ("GH200", "gh200-96gb", ""),
    ("H200", "h200-141gb", ""),
    ("H100 PCIe", "h100-pcie-80gb", ""),
    ("H100", "h100-sxm-80gb", "'H100 80GB HBM3' is the SXM part (HBM3; the PCIe card has HBM2e)"),
    ("A100 PCIe", "a100-pcie-80gb", ""),
    ("A100-SXM4-80GB", "a100-80gb", ""),
    ("A100 SXM", "a100-80gb", ""),
    ("A100", "a100-80gb", "A100 form factor not stated by the source; the 80 GB SXM part is assumed"),
    ("L40S", "l40s-48gb", ""),
    ("RTX 4090", "rtx-4090-24gb", ""),
    ("RTX 3090", "rtx-3090-24gb", ""),
    ("M3 Max (40-core GPU, 64GB)", "m3-max-64gb", ""),
    ("M3 Max (40-core GPU, 48GB)", "m3-max-48gb", ""),
    ("M2 Ultra (76-core GPU, 192GB)", "m2-ultra-192gb", ""),
    ("M1 Max (32-core GPU, 64GB)", "m1-max-64gb", ""),
    ("M1 Max (24-core GPU, 32GB)", "m1-max-24c-32gb", ""),
    ("M3 (10-core GPU, 16GB)", "m3-10c-16gb", ""),
    ("M1 (7-core GPU, 8GB)", "m1-7c-8gb", ""),
]

QUANTS = {"fp8": "fp8", "fp16": "bf16", "bf16": "bf16", "f16": "bf16", "q4_0": "q4_0"}

DATASETS = {
    "trt017": "tensorrt-llm perf-overview v0.17 offline throughput",
    "trt014": "tensorrt-llm perf-overview v0.14 online serving",
    "trt06": "tensorrt-llm performance.md v0.5-v0.6.1 static batch",
    "lmdeploy": "lmdeploy a100_fp16 static batch",
    "llamacpp-2024": "llama.cpp GPU-Benchmarks-on-LLM-Inference llama 3 (May 2024)",
    "llamacpp-2023": "llama.cpp GPU-Benchmarks-on-LLM-Inference llama 2 (Aug/Dec 2023)",
}


#: Measurements the engine-profile fit leaves out, with the reason (they are still validated).
EXCLUDED: dict[str, str] = {}


def release_of(e: dict[str, Any]) -> str:
    """The engine release a row of throughput.yaml names as a version number ('0.17 (GH200 rows:
    ...)' -> '0.17'), or '' where it names none (llama.cpp's unpinned builds, LMDeploy's 'v0.1.0a1',
    a pre-release the version pattern does not order)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?: \(.*\))?", str(e.get("engine_version") or ""))
    return match.group(1) if match else ""


def dataset_of(e: dict[str, Any]) -> str:
    mid = e["id"]
    if mid.startswith("trt017"):
        return DATASETS["trt017"]
    if mid.startswith("trt014"):
        return DATASETS["trt014"]
    if mid.startswith(("trt061", "trt05")):
        return DATASETS["trt06"]
    if mid.startswith("lmdeploy"):
        return DATASETS["lmdeploy"]
    if "llama3" in mid:
        return DATASETS["llamacpp-2024"]
    return DATASETS["llamacpp-2023"]


def engine_of(text: str) -> str:
    if text.startswith("TensorRT-LLM"):
        return "tensorrt-llm"
    if text.startswith("LMDeploy"):
        return "lmdeploy"
    if text.startswith("llama.cpp"):
        return "llama.cpp"
    raise SystemExit(f"unknown engine {text!r}")


def gpu_of(accelerator: str) -> tuple[str, str]:
    for key, gpu, note in GPUS:
        if key in accelerator:
            return gpu, note
    raise SystemExit(f"unknown accelerator {accelerator!r}")


def quant_of(precision: str) -> str:
    text = precision.lower()
    if "q4_k_m" in text:
        return "q4_k_m"
    for key, quant in QUANTS.items():
        if text.startswith(key):
            return quant
    raise SystemExit(f"unknown precision {precision!r}")


def tokens(value: Any, default: int) -> tuple[int, bool]:
    """An int token count; (default, True) when the source does not state it."""
    if isinstance(value, int):
        return value, False
    match = re.match(r"\s*(\d+)", str(value))
    if match:
        return int(match.group(1)), False
    return default, True


def convert(e: dict[str, Any]) -> dict[str, Any]:
    notes: list[str] = []
    metric = e["metric"]
    gpu, gpu_note = gpu_of(e["hardware"]["accelerator"])
    if gpu_note:
        notes.append(gpu_note)
    quant = quant_of(e["weight_precision"])
    kv_text = str(e.get("kv_cache_dtype", ""))
    kv = "fp8" if kv_text.startswith("fp8") else "auto"
    engine = engine_of(e["engine"])
    inp, inp_guess = tokens(e["input_len"], 0)
    out, out_guess = tokens(e["output_len"], 512)
    if inp_guess or out_guess:
        notes.append(
            "input and output lengths are not stated (llama.cpp ./main runs); a 512-token generation from "
            "an empty context is assumed, as in the May 2024 llama-bench tg512 runs"
        )
    batch = str(e["batch_or_concurrency"])
    rec: dict[str, Any] = {}
    if batch.startswith("offline max throughput"):
        rec["concurrency"] = "max"
    elif batch.startswith("request rate"):
        qps = re.search(r"QPS=(\w+)", batch).group(1)  # type: ignore[union-attr]
        requests = int(re.search(r"\((\d+) requests\)", batch).group(1))  # type: ignore[union-attr]
        if qps == "INF":
            rec["concurrency"] = "max"
            notes.append("QPS=INF: all requests sent at once, modelled as offline max throughput")
        else:
            rec["request_rate"] = float(qps)
        rec["requests"] = requests
    else:
        match = re.search(r"batch(?: size)? (\d+)", batch)
        if not match:
            raise SystemExit(f"{e['id']}: cannot read batch {batch!r}")
        rec["concurrency"] = int(match.group(1))
        if e["id"].startswith(("trt061", "trt05", "lmdeploy")):
            rec["batching"] = "static"
    scope_text = str(metric["scope"])
    unit_text = str(metric["unit"])
    if scope_text.startswith("total over") or scope_text.startswith("TP1 (single GPU)"):
        scope = "total"
    elif scope_text == "per GPU":
        scope = "per_gpu"
    elif scope_text.startswith("ambiguous"):
        scope = "per_gpu"
        notes.append(
            "read as per GPU: the same document's H100 table is per GPU, and as a total 670 tokens/s on 4 "
            "A100s would mean about 15% of the FP16 tensor peak at batch 1,280 (2,680 tokens/s in total "
            "is about 60%, in line with the other static-batch rows)"
        )
    elif scope_text.startswith("per request (TTFT)"):
        scope = "ttft"
    elif scope_text == "single stream":
        scope = "single_stream"
    elif scope_text.startswith("prompt processing"):
        scope = "prefill"
    else:
        raise SystemExit(f"{e['id']}: unknown scope {scope_text!r}")
    unit = "ms" if unit_text == "ms" else "tokens/s"
    if e["hardware"]["count"] > 1 and engine == "llama.cpp":
        notes.append(
            "llama.cpp splits a model across GPUs by layers by default (--split-mode layer: the GPUs take "
            "turns, no tensor parallelism); the llama.cpp profile models it so (multi_gpu: layer-split)"
        )
    as_published = {
        k: e[k]
        for k in (
            "hardware",
            "tensor_parallel",
            "other_parallelism",
            "engine",
            "engine_version",
            "model",
            "weight_precision",
            "kv_cache_dtype",
            "input_len",
            "output_len",
            "batch_or_concurrency",
            "metric",
        )
        if k in e
    }
    out_rec: dict[str, Any] = {
        "id": e["id"],
        "dataset": dataset_of(e),
        "model": MODELS[e["model"]],
        "gpu": gpu,
        "quant": quant,
        "engine": engine,
        **({"engine_version": version} if (version := release_of(e)) else {}),
        "n_gpus": int(e["hardware"]["count"]),
        "input_tokens": inp,
        "output_tokens": out,
        **rec,
        "kv_dtype": kv,
        "scope": scope,
        "value": float(metric["value"]),
        "unit": unit,
        "source": e["source"],
        "date": str(e.get("date", "")),
        "quote": e.get("quote", ""),
    }
    if e.get("quote_context"):
        out_rec["quote_context"] = e["quote_context"]
    out_rec["qualifiers"] = list(e.get("qualifiers") or [])
    if e.get("extra_metrics"):
        out_rec["extra_metrics"] = {k: float(v) for k, v in e["extra_metrics"].items()}
    out_rec["as_published"] = as_published
    if notes:
        out_rec["notes"] = "; ".join(notes)
    if e["id"] in EXCLUDED:
        out_rec["exclude_from_fit"] = EXCLUDED[e["id"]]
    return out_rec


#: extra_metrics key -> (id suffix, scope, unit, description)
LATENCY_METRICS: dict[str, tuple[str, str, str, str]] = {
    "mean_ttft_ms": ("ttft", "ttft", "ms", "mean time to first token"),
    "mean_itl_ms": ("itl", "tpot", "ms", "mean inter-token latency"),
    "first_token_latency_avg_s": ("ttft", "ttft", "s", "average first-token latency"),
    "per_token_latency_p50_s": ("itl", "tpot", "s", "median per-token latency"),
}


def latency_points(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The latencies a source reports beside a throughput figure, as measurements of their own."""
    points = []
    for key, value in (record.get("extra_metrics") or {}).items():
        if key not in LATENCY_METRICS:
            continue
        suffix, scope, unit, what = LATENCY_METRICS[key]
        if scope == "ttft" and record.get("concurrency") == "max":
            continue  # a burst of requests queues for prefill; the model has no queue
        if scope == "ttft" and record.get("batching") == "static" and record.get("concurrency", 1) > 1:
            continue  # the mean first-token latency of a batch depends on the order prompts are prefilled
        point = {k: v for k, v in record.items() if k not in ("extra_metrics", "exclude_from_fit", "notes")}
        point.update(id=f"{record['id']}-{suffix}", scope=scope, value=float(value), unit=unit)
        note = f"the {what} ({key}) the source reports for the run of {record['id']}"
        point["notes"] = note + ("; " + record["notes"] if record.get("notes") else "")
        if record.get("exclude_from_fit"):
            point["exclude_from_fit"] = record["exclude_from_fit"]
        points.append(point)
    return points


# =========================================================================== serving runs
# shared/calibration/throughput-serving.yaml: vLLM and SGLang serving runs (53 entries).

DEFAULT_SERVING_SRC = ROOT.parent / "shared" / "calibration" / "throughput-serving.yaml"

SERVING_MODELS: list[tuple[str, str, str]] = [
    # (substring of the published model, catalog id, note); first match wins
    ("Llama-3.2-11B-Vision", "llama-3.1-8b",
     "Llama 3.2 11B Vision on text-only prompts runs its 32 self-attention decoder layers, which have "
     "Llama 3.1 8B's shapes (vLLM's mllama skips the cross-attention layers when a request has no image); "
     "its other ~2.6B resident parameters (cross-attention layers, vision encoder) are not counted, so the "
     "KV capacity on the 24 GB L4 is overestimated by about 2.6 GB at FP8"),
    ("Meta-Llama-3-8B", "llama-3-8b", ""),
    ("Llama-3.1-8B", "llama-3.1-8b", ""),
    ("Llama 3.1 8B", "llama-3.1-8b", ""),
    ("Llama-3.1-70B", "llama-3.1-70b", ""),
    ("Llama 3.1 70B", "llama-3.1-70b", ""),
    ("Llama-3.3-70B", "llama-3.3-70b", ""),
    ("Llama-3.1-405B", "llama-3.1-405b", ""),
    ("Llama 3.1 405B", "llama-3.1-405b", ""),
    ("Mistral-7B-Instruct-v0.3", "mistral-7b",
     "Mistral 7B v0.3 is catalogued as mistral-7b (v0.1 shapes; v0.3 has a 32,768-token vocabulary, "
     "0.003 B parameters more, and no sliding window)"),
    ("Mixtral-8x7B", "mixtral-8x7b", ""),
    ("DeepSeek-R1", "deepseek-r1", ""),
    ("DeepSeek-V3", "deepseek-v3", ""),
]

SERVING_GPUS: list[tuple[str, str, str]] = [
    ("H200", "h200-141gb", ""),
    ("H100-80GB-SXM (inferred", "h100-sxm-80gb", "the GPU is inferred by the source's compiler (see qualifiers)"),
    ("H100-80GB-SXM", "h100-sxm-80gb", ""),
    ("H100 80GB HBM3", "h100-sxm-80gb", "'H100 80GB HBM3' is the SXM part"),
    ("H100 (variant not stated)", "h100-sxm-80gb", "H100 variant not stated; the SXM part is assumed"),
    ("A100-80GB-SXM", "a100-80gb", ""),
    ("L4", "l4-24gb", ""),
    ("MI300X", "mi300x-192gb", ""),
]

SERVING_DATASETS: list[tuple[str, str]] = [
    ("lambda-v054", "vllm lambda v0.5.4 sharegpt bursts"),
    ("lambda-v060", "vllm lambda v0.6.0 multi-step"),
    ("vllmblog-fp8kv", "vllm blog fp8 kv cache (v0.19)"),
    ("vllm-pr7117", "vllm pr 7117 offline"),
    ("kubeai", "vllm kubeai l4 sharegpt"),
    ("dstack-vllm06", "vllm dstack llama 3.1 405b h100/mi300x"),
    ("dstack-dsr1", "dstack deepseek-r1 h200/mi300x"),
    ("rocm-vllm0100", "vllm rocm dev-docker v0.10.0 mi300x"),
    ("vllmblog-amd", "vllm blog embedded llm mi300x"),
    ("oci-vllm", "vllm oci blog mi300x"),
    ("llmie", "llm-ie-benchmarks deepseek-r1 h200"),
    ("datacrunch", "sglang datacrunch h200"),
    ("sglang-attnbench", "sglang attention-backend bench h200"),
]

#: ShareGPT means the source does not state, borrowed from a run of the same script and tokenizer family.
LAMBDA_SHAREGPT = (73671 / 320, 71810 / 320)  # the Mistral-7B 1xH100 result JSON the qualifiers quote
DSTACK_405B_SHAREGPT = (215196 / 1000, (120689 + 122195 + 122774) / 3000)  # dstack's three 405B runs


def _first(table: list[tuple[str, str, str]], text: str, what: str) -> tuple[str, str]:
    for key, value, note in table:
        if key in text:
            return value, note
    raise SystemExit(f"unknown {what} {text!r}")


def _counted(text: str, word: str) -> float | None:
    """Mean tokens per request from '(... 230969 input tokens over 1000 requests)'."""
    match = re.search(rf"(\d+) {word} tokens over (\d+) requests", text)
    return int(match.group(1)) / int(match.group(2)) if match else None


def serving_lengths(e: dict[str, Any], notes: list[str]) -> tuple[int, int, str]:
    """Mean input and output tokens and how output lengths were drawn (fixed, variable, uniform)."""
    inp, out = str(e["input_len"]), str(e["output_len"])
    if inp.startswith("ShareGPT"):
        mean_in = _counted(inp, "input")
        mean_out = _counted(out, "output") or _counted(out, "generated")
        if mean_in is None or mean_out is None:
            if e["id"].startswith("lambda"):
                mean_in, mean_out = LAMBDA_SHAREGPT
                borrowed = "the Lambda repo's Mistral-7B 1xH100 result JSON (73,671 / 71,810 tokens over 320 requests)"
            else:
                mean_in, mean_out = DSTACK_405B_SHAREGPT
                borrowed = "dstack's three Llama 3.1 405B ShareGPT runs (215 input / 122 output tokens per request)"
            notes.append(f"ShareGPT mean lengths not stated for this run: taken from {borrowed}")
        notes.append(
            "ShareGPT lengths vary per request and output lengths are long-tailed: predicted at the mean "
            "lengths with exponentially distributed output lengths (lengths: variable)"
        )
        return round(mean_in), round(mean_out), "variable"
    if inp.startswith("random"):
        mean_in, mean_out = _counted(inp, "input"), _counted(out, "output")
        if mean_in is None or mean_out is None:
            mean_in = mean_out = (1 + 1024) / 2
            notes.append(
                "random dataset with SGLang's default --random-range-ratio (0.0, as in the datacrunch runs of the "
                "same tool): lengths drawn uniformly from 1 to 1,024 tokens, mean 512.5 [assumed]"
            )
        notes.append("random lengths drawn uniformly below the nominal length (range ratio 0): lengths: uniform")
        return round(mean_in), round(mean_out), "uniform"
    if inp.startswith("~"):
        notes.append("lengths vary by +-15 % around the stated means, predicted as fixed at the means")
    tok_in = int(re.match(r"~?(\d+)", inp).group(1))  # type: ignore[union-attr]
    tok_out = int(re.match(r"~?(\d+)", out).group(1))  # type: ignore[union-attr]
    return tok_in, tok_out, "fixed"


#: The engine release of each serving dataset (or row-id prefix), where the source states it; picks the
#: engine generation (data/engines.yaml `generations`). (prefix, version, note)
SERVING_VERSIONS: list[tuple[str, str, str]] = [
    ("lambda-v054", "0.5.4", ""),
    ("lambda-v060", "0.6.0", ""),
    ("vllmblog-fp8kv", "0.19.1", ""),
    ("vllm-pr7117", "0.5.4", "a pull-request branch on vLLM's main of 2024-08 (after 0.5.4, before 0.6.0): 0.5.4's generation"),
    ("kubeai", "0.6.2", ""),
    ("dstack-vllm063", "0.6.3", ""),
    ("dstack-vllm064", "0.6.4", ""),
    ("dstack-dsr1-vllm-mi300x", "0.7.3", ""),
    ("dstack-dsr1-vllm-h200", "0.7.4", ""),
    ("dstack-dsr1-sglang-mi300x", "0.4.2", ""),
    ("dstack-dsr1-sglang-h200", "0.4.3", ""),
    ("rocm-vllm0100", "0.10.0", ""),
    ("vllmblog-amd", "0.6.2", ""),
    ("oci-vllm", "0.6.0", "vLLM release not stated (a ROCm build of October 2024): a 0.6 release is assumed"),
    ("llmie-vllm", "0.8.4", ""),
    ("llmie-sglang", "0.4.5", ""),
]


def serving_version(e: dict[str, Any], notes: list[str]) -> str:
    for prefix, version, note in SERVING_VERSIONS:
        if e["id"].startswith(prefix):
            if note:
                notes.append(note)
            return version
    return ""


BURST_RATE = 100.0  # req/s: a 'rate' this high sends every request at once


#: Engine batch caps a serving row's own text does not state, taken from the deployment the source's
#: repository ships for that run: row id -> (max_num_seqs, note citing where it is set).
SERVING_BATCH_CAPS: dict[str, tuple[int, str]] = {
    "kubeai-vllm062-llama32-11b-vision-fp8-l4-sharegpt1000": (
        16,
        "batch cap from the deployment KubeAI ships for this checkpoint on one L4: substratusai/kubeai "
        "charts/models/values.yaml@9c3f4a6ef32815858fd5aab32a57ba66b47d73f0, catalog entry "
        "'llama-3.2-11b-vision-instruct-l4' (url hf://neuralmagic/Llama-3.2-11B-Vision-Instruct-FP8-dynamic, "
        "resourceProfile nvidia-gpu-l4:1) with args '--max-model-len=8192', '--max-num-seqs=16', "
        "'--enforce-eager' and the FP8 KV cache commented out ('Setting this is broken in vllm 0.6.2'); the "
        "run's mean TPOT (54.8 ms) and throughput (285 tokens/s) imply about 16 sequences in flight, as that "
        "cap gives; --enforce-eager (no CUDA graphs) is not modelled",
    ),
}


def serving_load(e: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """concurrency / request_rate / requests / max_num_seqs / batching of a serving row."""
    text = str(e["batch_or_concurrency"])
    rec: dict[str, Any] = {}
    seqs = re.search(r"max-num-seqs? (\d+)", text)
    if seqs:
        rec["max_num_seqs"] = int(seqs.group(1))
    elif e["id"] in SERVING_BATCH_CAPS:
        rec["max_num_seqs"], note = SERVING_BATCH_CAPS[e["id"]]
        notes.append(note)
    prompts = re.search(r"(\d+) prompts", text) or re.search(r"\((\d+) requests\)", text)
    if text.startswith("static batch"):
        rec["concurrency"] = int(text.split()[-1])
        rec["batching"] = "static"
        return rec
    if text.startswith("max concurrency"):
        rec["concurrency"] = int(re.search(r"max concurrency (\d+)", text).group(1))  # type: ignore[union-attr]
        if prompts:
            rec["requests"] = int(prompts.group(1))
        return rec
    rate = re.search(r"request rate ([\d.]+)(?: req/s| QPS)", text)
    if rate and float(rate.group(1)) < BURST_RATE:
        rec["request_rate"] = float(rate.group(1))
        rec["requests"] = int(prompts.group(1)) if prompts else 1000
        if not prompts:
            notes.append("number of prompts not stated: benchmark_serving.py's default of 1,000 is assumed")
        return rec
    rec["concurrency"] = "max"
    if rate:
        notes.append(f"request rate {rate.group(1)}: every request arrives within about a second, modelled as a burst")
    if prompts:
        rec["requests"] = int(prompts.group(1))
    elif "default 1000" in text or "request rate 1000 QPS" in text:
        rec["requests"] = 1000
        if "QPS" in text:
            notes.append("number of prompts not stated: benchmark_serving.py's default of 1,000 is assumed")
    return rec


def serving_metric(e: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    unit_text, scope_text = str(e["metric"]["unit"]), str(e["metric"]["scope"])
    if unit_text == "requests/s":
        return {"scope": "requests", "unit": "requests/s"}
    if unit_text.startswith("s (end-to-end latency"):
        return {"scope": "batch_latency", "unit": "s"}
    rec: dict[str, Any] = {"scope": "total", "unit": "tokens/s"}
    if scope_text == "single stream":
        notes.append(
            "'TPS' of a batch-1 latency run is 128 output tokens over the batch's end-to-end latency: "
            "predicted as a static batch of one"
        )
    if unit_text.startswith("total tokens/s"):
        rec["tokens"] = "input+output"
    elif unit_text.startswith("tokens/s (not stated"):
        notes.append(
            "read as output tokens/s: as input+output the 405B 2048/2048 figure would mean 1,087 output tokens/s, "
            "below dstack's 1,567 from an older vLLM built without graphs (--enforce-eager) on the same 8x MI300X "
            "and model, while this v0.10.0 docker is the tuned one"
        )
    return rec


def serving_kv(e: dict[str, Any]) -> str:
    text = str(e.get("kv_cache_dtype", ""))
    return "fp8" if text.startswith("fp8 (e4m3") or text.startswith("fp8 (--kv-cache-dtype fp8") else "auto"


def serving_quant(e: dict[str, Any], model_text: str, notes: list[str]) -> str:
    text = str(e["weight_precision"]).lower()
    if text.startswith("fp8") or "FP8" in model_text:
        if "fbgemm" in text:
            notes.append(
                "Meta's FBGEMM FP8 checkpoint keeps some layers in BF16 (per its config's modules_to_not_convert); "
                "modelled as FP8 throughout"
            )
        return "fp8"
    if text.startswith("bf16"):
        return "bf16"
    if text == "not stated":
        notes.append("precision not stated: FP8, as in the source's other runs (neuralmagic FP8 checkpoints)")
        return "fp8"
    raise SystemExit(f"{e['id']}: unknown precision {text!r}")


_EARLY_DEEPSEEK = (
    "DeepSeek-R1 with the MoE and MLA kernels of February-March 2025 (vLLM 0.7.3/0.7.4, SGLang 0.4.2/0.4.3, "
    "before DeepGEMM and FlashMLA were in both engines): per GPU 2-3x slower than the same engines six weeks "
    "later on the same model (llm-ie-benchmarks: vLLM 0.8.4 and SGLang 0.4.5 on 8x H200 reach 55-68 ms TPOT at "
    "~180 sequences where these runs take 65-136 ms at 16-128), a kernel generation the profile of current "
    "releases should not average in"
)
#: Serving runs the engine-profile fit leaves out, with the reason (they are still validated).
SERVING_EXCLUDED: dict[str, str] = {
    "kubeai-vllm062-llama32-11b-vision-fp8-l4-sharegpt1000": (
        "the served model is Llama 3.2 11B Vision, whose memory on the 24 GB L4 the text-only stand-in does "
        "not represent, run with --enforce-eager (no CUDA graphs, a slower step than the profile's) by the "
        "deployment whose batch cap (16) the entry takes from KubeAI's catalog, not from the run itself"
    ),
    "dstack-vllm063rocm-llama31-405b-fp8-mi300x8-sharegpt-qps16": (
        "Meta's FBGEMM FP8 checkpoint on MI300X, which the source calls 'not at all optimized for Mi300x' "
        "(mean TPOT 1,569 ms against a 418 ms median); the AMD-quantized checkpoint of the same report runs "
        "normally"
    ),
}


def serving_exclusion(record_id: str) -> str:
    if record_id.startswith("dstack-dsr1-"):
        return _EARLY_DEEPSEEK
    return SERVING_EXCLUDED.get(record_id, "")


def convert_serving(e: dict[str, Any]) -> dict[str, Any]:
    """One serving row of throughput-serving.yaml as a measurement entry."""
    notes: list[str] = []
    model, model_note = _first(SERVING_MODELS, str(e["model"]), "model")
    gpu, gpu_note = _first(SERVING_GPUS, str(e["hardware"]["accelerator"]), "accelerator")
    notes += [n for n in (model_note, gpu_note) if n]
    engine = "sglang" if str(e["engine"]).startswith("SGLang") else "vllm"
    version = serving_version(e, notes)
    quant = serving_quant(e, str(e["model"]), notes)
    inp, out, lengths = serving_lengths(e, notes)
    load = serving_load(e, notes)
    metric = serving_metric(e, notes)
    layout: dict[str, Any] = {}
    if "enable-dp-attention" in str(e.get("other_parallelism") or ""):
        layout["dp_attention"] = True
    if int(e["hardware"]["count"]) != int(e.get("tensor_parallel") or e["hardware"]["count"]):
        raise SystemExit(f"{e['id']}: GPU count and tensor parallel differ")
    dataset = next(name for prefix, name in SERVING_DATASETS if e["id"].startswith(prefix))
    as_published = {
        k: e[k]
        for k in (
            "hardware", "tensor_parallel", "other_parallelism", "engine", "engine_version", "model",
            "weight_precision", "kv_cache_dtype", "input_len", "output_len", "batch_or_concurrency", "metric",
        )
        if k in e and e[k] is not None
    }
    rec: dict[str, Any] = {
        "id": e["id"],
        "dataset": dataset,
        "model": model,
        "gpu": gpu,
        "quant": quant,
        "engine": engine,
        **({"engine_version": version} if version else {}),
        "n_gpus": int(e["hardware"]["count"]),
        **layout,
        "input_tokens": inp,
        "output_tokens": out,
        **{k: v for k, v in load.items() if k in ("concurrency", "request_rate", "requests")},
        **({"max_num_seqs": load["max_num_seqs"]} if "max_num_seqs" in load else {}),
        "lengths": lengths,
        "kv_dtype": serving_kv(e),
        **({"batching": load["batching"]} if "batching" in load else {}),
        **metric,
        "value": float(e["metric"]["value"]),
        "source": e["source"],
        "date": str(e.get("date", "")),
        "quote": e.get("quote", ""),
    }
    if e.get("quote_context"):
        rec["quote_context"] = e["quote_context"]
    rec["qualifiers"] = list(e.get("qualifiers") or [])
    if e.get("extra_metrics"):
        rec["extra_metrics"] = {k: float(v) for k, v in e["extra_metrics"].items()}
    rec["as_published"] = as_published
    if notes:
        rec["notes"] = "; ".join(notes)
    if serving_exclusion(e["id"]):
        rec["exclude_from_fit"] = serving_exclusion(e["id"])
    return rec


#: serving extra_metrics key -> (id suffix, scope, unit, statistic, description); TPOT only: a TTFT
#: under load includes the time a prompt waits for its prefill, which the model has no queue for.
SERVING_LATENCY_METRICS: dict[str, tuple[str, str, str, str, str]] = {
    "mean_tpot_ms": ("tpot", "tpot", "ms", "mean", "mean time per output token"),
    "median_tpot_ms": ("tpot-median", "tpot", "ms", "median", "median time per output token"),
    "mean_itl_ms": ("itl", "tpot", "ms", "mean", "mean inter-token latency"),
    "median_itl_ms": ("itl-median", "tpot", "ms", "median", "median inter-token latency"),
}


def serving_latency_points(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One TPOT point per serving run: the mean TPOT, else the mean ITL, else a median (in that order)."""
    extra = record.get("extra_metrics") or {}
    if "multi-step scheduling" in " ".join(record.get("qualifiers", [])):
        extra = {k: v for k, v in extra.items() if "itl" not in k}  # ITL counts bursts of 10 tokens
    for key in ("mean_tpot_ms", "mean_itl_ms", "median_tpot_ms", "median_itl_ms"):
        if key in extra:
            suffix, scope, unit, statistic, what = SERVING_LATENCY_METRICS[key]
            break
    else:
        return []
    point = {k: v for k, v in record.items() if k not in ("extra_metrics", "notes", "tokens")}
    point.update(id=f"{record['id']}-{suffix}", scope=scope, value=float(extra[key]), unit=unit)
    if statistic != "mean":
        point["statistic"] = statistic
    note = f"the {what} ({key}) the source reports for the run of {record['id']}"
    point["notes"] = note + ("; " + record["notes"] if record.get("notes") else "")
    return [point]


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a shared source mapping out in full each time (no YAML anchors): entries read alone."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


LATENCY_HEADER = """\
# Latencies published beside the throughput figures of data/calibration/measurements.yaml (the runs'
# `extra_metrics`: TensorRT-LLM v0.14 serving TTFT and inter-token latency, LMDeploy first-token and median
# per-token latency, and the time per output token of the vLLM and SGLang serving runs), as measurements of
# their own. GENERATED by scripts/build_measurements.py; edit the
# script. The engine-profile fit uses them beside the throughput points: low-batch latency pins down the
# fixed per-step overhead that throughput at large batch cannot. Bursts (QPS=INF) and batches of more than one
# prompt have no TTFT point: the model has no request queue, and the mean first-token latency of a batch
# depends on the order in which the engine prefills its prompts; the serving runs have TPOT points only (their
# TTFT under load includes the wait for a prefill slot, which the model has no queue for). Check with: selfhost validate data/calibration/latency.yaml
"""

HEADER = """\
# Published throughput and latency measurements, mapped onto catalog ids, for `selfhost validate` and the
# engine-profile fit (scripts/calibrate.py). GENERATED by scripts/build_measurements.py from
# shared/calibration/throughput.yaml (97 entries) and shared/calibration/throughput-serving.yaml (53 vLLM and
# SGLang serving runs), all kept; edit the script, not this file.
#
# Each entry keeps the source, the quoted row, the qualifiers and the source's own description of the run
# (`as_published`), and adds: model, gpu, quant, engine (catalog ids), n_gpus, input_tokens, output_tokens,
# concurrency (sequences in flight, or 'max' = offline maximum throughput) or request_rate (requests/s),
# requests, max_num_seqs, lengths, kv_dtype, layout (dp_attention), scope (total | per_gpu | single_stream |
# requests | tpot | ttft | batch_latency | prefill), tokens (output | input+output), value and unit. `notes` records
# every mapping decision that is not a plain copy. Schema: selfhost.calibration.schema.Measurement.
# `dataset` groups the entries by table for leave-one-source-out checks.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--serving-src", type=Path, default=DEFAULT_SERVING_SRC)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--latency-out", type=Path, default=LATENCY_OUT)
    args = parser.parse_args(argv)
    entries = yaml.safe_load(args.src.read_text(encoding="utf-8"))
    serving = yaml.safe_load(args.serving_src.read_text(encoding="utf-8"))
    serving_records = [convert_serving(e) for e in serving]
    records = [convert(e) for e in entries] + serving_records
    text = yaml.dump(
        {"measurements": records},
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
        default_flow_style=False,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(HEADER + "\n" + text, encoding="utf-8")
    print(f"wrote {len(records)} measurements to {args.out}", file=sys.stderr)
    latency = [p for r in records[: len(entries)] for p in latency_points(r)]
    latency += [p for r in serving_records for p in serving_latency_points(r)]
    text = yaml.dump(
        {"measurements": latency},
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
        default_flow_style=False,
    )
    args.latency_out.write_text(LATENCY_HEADER + "\n" + text, encoding="utf-8")
    print(f"wrote {len(latency)} latency measurements to {args.latency_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
