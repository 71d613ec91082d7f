#!/usr/bin/env python3
"""Build data/calibration/measurements.yaml from shared/calibration/throughput.yaml.

Copies every published measurement with its source, quote and qualifiers, and adds the fields
that map it onto catalog ids and a predictable quantity (model, gpu, quant, engine, n_gpus,
input/output tokens, concurrency or request rate, kv_dtype, scope, value, unit). The mapping
decisions are in the tables below and in each entry's `notes`; run again after changing them:

    python scripts/build_measurements.py [--src ../shared/calibration/throughput.yaml]

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


_OLD_GQA = (
    "TensorRT-LLM v0.6.1 predates the XQA generation kernel for grouped-query attention; its decode "
    "attention appears to read each KV head once per query head (Llama 2 70B: 8 times the KV bytes), "
    "which the roofline of current engines does not model and which would bias the fit of the "
    "tensorrt-llm profile used for current versions. With 8x the KV bytes the fitted roofline comes within "
    "25% of these rows (without: up to +100%)"
)
#: Measurements the engine-profile fit leaves out, with the reason (they are still validated).
EXCLUDED: dict[str, str] = {
    "trt061-llama2-70b-h100-tp2-bs1024-128-128": _OLD_GQA,
    "trt061-llama2-70b-h100-tp4-bs480-128-2048": _OLD_GQA,
    "trt061-llama2-70b-h100-tp2-bs64-2048-2048": _OLD_GQA,
    "trt061-llama2-70b-a100-tp4-bs1280-128-128": _OLD_GQA,
}


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


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a shared source mapping out in full each time (no YAML anchors): entries read alone."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


LATENCY_HEADER = """\
# Latencies published beside the throughput figures of data/calibration/measurements.yaml (the runs'
# `extra_metrics`: TensorRT-LLM v0.14 serving TTFT and inter-token latency, LMDeploy first-token and median
# per-token latency), as measurements of their own. GENERATED by scripts/build_measurements.py; edit the
# script. The engine-profile fit uses them beside the throughput points: low-batch latency pins down the
# fixed per-step overhead that throughput at large batch cannot. Bursts (QPS=INF) and batches of more than one
# prompt have no TTFT point: the model has no request queue, and the mean first-token latency of a batch
# depends on the order in which the engine prefills its prompts. Check with: selfhost validate data/calibration/latency.yaml
"""

HEADER = """\
# Published throughput and latency measurements, mapped onto catalog ids, for `selfhost validate` and the
# engine-profile fit (scripts/calibrate.py). GENERATED by scripts/build_measurements.py from
# shared/calibration/throughput.yaml (97 entries, all kept); edit the script, not this file.
#
# Each entry keeps the source, the quoted row, the qualifiers and the source's own description of the run
# (`as_published`), and adds: model, gpu, quant, engine (catalog ids), n_gpus, input_tokens, output_tokens,
# concurrency (sequences in flight, or 'max' = offline maximum throughput) or request_rate (requests/s),
# kv_dtype, scope (total | per_gpu | single_stream | tpot | ttft | prefill), value and unit. `notes` records
# every mapping decision that is not a plain copy. Schema: selfhost.calibration.schema.Measurement.
# `dataset` groups the entries by table for leave-one-source-out checks.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--latency-out", type=Path, default=LATENCY_OUT)
    args = parser.parse_args(argv)
    entries = yaml.safe_load(args.src.read_text(encoding="utf-8"))
    records = [convert(e) for e in entries]
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
    latency = [p for r in records for p in latency_points(r)]
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
