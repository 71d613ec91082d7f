"""The `selfhost` analysis commands, run in-process: output formats, known answers, errors, help.

Expected numbers are computed here from shared/reference/facts.md, independently of the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from selfhost import __version__

Cli = Callable[..., Result]

TERMINAL_COLUMNS = 200  # COLUMNS set by the autouse fixture in conftest.py

# --------------------------------------------------------------------------- helpers


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def json_doc(result: Result) -> dict[str, Any]:
    """The JSON document on stdout, checked to be {"results": [...], "assumptions": {...}}."""
    doc = json.loads(ok(result).stdout)
    assert isinstance(doc["results"], list)
    assert isinstance(doc["assumptions"], dict)
    return doc


def csv_table(result: Result) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of the CSV on stdout."""
    reader = csv.DictReader(io.StringIO(ok(result).stdout))
    rows = list(reader)
    assert reader.fieldnames, "CSV output has no header row"
    return list(reader.fieldnames), rows


def dense_params(
    *,
    layers: int,
    hidden: int,
    intermediate: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    qkv_bias: bool,
    tied: bool,
) -> tuple[int, int]:
    """(embedding + lm_head, everything else) parameter counts of a Llama/Qwen2-style dense model.

    The counting rule of facts.md §1.1 (notes): embed + lm_head (unless tied) + L x (q, k, v, o
    projections + QKV bias + 3*H*I SwiGLU MLP + 2*H norms) + final norm.
    """
    attention = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden
    bias = (heads + 2 * kv_heads) * head_dim if qkv_bias else 0
    per_layer = attention + bias + 3 * hidden * intermediate + 2 * hidden
    embedding = vocab * hidden * (1 if tied else 2)
    return embedding, layers * per_layer + hidden


# Llama-3.3-70B-Instruct config.json (facts.md §1.1): 80 layers, hidden 8192, intermediate 28672,
# 64 heads, 8 KV heads, head_dim 128, vocab 128256, no QKV bias, untied embeddings.
LLAMA_70B = {
    "layers": 80,
    "hidden": 8192,
    "intermediate": 28672,
    "heads": 64,
    "kv_heads": 8,
    "head_dim": 128,
    "vocab": 128256,
    "qkv_bias": False,
    "tied": False,
}
# Qwen2.5-32B-Instruct config.json (facts.md §1.1): 64 layers, hidden 5120, intermediate 27648,
# 40 heads, 8 KV heads, head_dim 128, vocab 152064, QKV bias, untied embeddings.
QWEN_32B = {
    "layers": 64,
    "hidden": 5120,
    "intermediate": 27648,
    "heads": 40,
    "kv_heads": 8,
    "head_dim": 128,
    "vocab": 152064,
    "qkv_bias": True,
    "tied": False,
}

GB = 1e9  # vendor GB (facts.md conventions)
GIB = 2**30
HOURS_PER_MONTH = 730  # DESIGN.md: a month is 730 h unless the user says otherwise
SECONDS_PER_HOUR = 3600


def kv_bytes_per_token(*, layers: int, kv_heads: int, head_dim: int, kv_bytes: int = 2, **_: object) -> int:
    """GQA KV cache per token: 2 (K and V) x layers x kv_heads x head_dim x bytes (facts.md §1.1)."""
    return 2 * layers * kv_heads * head_dim * kv_bytes


# --------------------------------------------------------------------------- every command, every format

#: Small selections keep each run fast; each still returns at least one row.
DATA_COMMANDS: dict[str, list[str]] = {
    "crossover": ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--api", "openai-gpt-4.1"],
    "fit": ["fit", "llama-3.3-70b", "-g", "h100"],
    "estimate": ["estimate", "-m", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4", "--concurrency", "8"],
    "cost": ["cost", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100"],
    "sweep": [
        "sweep",
        "-m",
        "qwen2.5-32b",
        "-g",
        "l40s",
        "--rps",
        "1",
        "--rps",
        "10",
        "--api",
        "openai-gpt-4o-mini",
    ],
}

#: Keys each command's records must carry (units in the names), in JSON and CSV alike.
REQUIRED_KEYS: dict[str, set[str]] = {
    "crossover": {
        "model",
        "api",
        "crossover_rps",
        "self_hosted_usd_per_month",
        "api_usd_per_month",
        "self_hosted_usd_per_mtok",
        "api_usd_per_mtok",
    },
    "fit": {
        "model",
        "gpu",
        "quant",
        "gpus_per_replica",
        "fits",
        "weights_gb",
        "kv_bytes_per_token",
        "kv_capacity_tokens",
        "max_concurrent_sequences",
    },
    "estimate": {
        "model",
        "gpu",
        "quant",
        "concurrency",
        "output_tokens_per_s",
        "ttft_s",
        "tpot_s",
        "requests_per_s",
    },
    "cost": {
        "model",
        "gpu",
        "provider",
        "usd_per_gpu_hour",
        "replicas",
        "gpus_billed",
        "self_hosted_usd_per_month",
        "self_hosted_usd_per_mtok",
    },
    "sweep": {
        "option_kind",
        "option",
        "rps",
        "input_tokens",
        "output_tokens",
        "usd_per_month",
        "usd_per_mtok",
    },
}

#: Commands whose reports carry notes (caveats) for stderr.
WITH_NOTES = {"crossover", "estimate", "cost", "sweep"}


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_table_output(cli: Cli, command: str) -> None:
    result = ok(cli(*DATA_COMMANDS[command], "--format", "table"))
    assert "┃" in result.stdout  # a Rich table (sweep defaults to CSV, hence the explicit --format)
    assert "note:" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= TERMINAL_COLUMNS
    if command in WITH_NOTES:
        assert result.stderr.startswith("note: ")


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_json_output(cli: Cli, command: str) -> None:
    result = cli(*DATA_COMMANDS[command], "--format", "json")
    doc = json_doc(result)
    assert doc["results"], "this selection should give at least one row"
    for record in doc["results"]:
        assert REQUIRED_KEYS[command] <= record.keys()
    # Notes may be echoed in the document, but they are also shown on stderr, never as loose text.
    for note in doc.get("notes", []):
        assert f"note: {note}" in result.stderr
    if command in WITH_NOTES:
        assert "note: " in result.stderr


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_csv_output(cli: Cli, command: str) -> None:
    result = cli(*DATA_COMMANDS[command], "--format", "csv")
    header, rows = csv_table(result)
    assert REQUIRED_KEYS[command] <= set(header)
    assert rows
    assert "note:" not in result.stdout
    if command in WITH_NOTES:
        assert result.stderr.startswith("note: ")


def test_json_numbers_are_raw_and_per_key_units(cli: Cli) -> None:
    doc = json_doc(cli(*DATA_COMMANDS["estimate"], "--format", "json"))
    record = doc["results"][0]
    for key in ("output_tokens_per_s", "ttft_s", "tpot_s", "requests_per_s"):
        assert isinstance(record[key], float) and record[key] > 0, key
    # seconds, not milliseconds: a time per output token under the 100 ms default target
    assert record["tpot_s"] < 0.1


def test_sweep_lists_self_hosted_and_api_rows(cli: Cli) -> None:
    doc = json_doc(cli(*DATA_COMMANDS["sweep"], "--format", "json"))
    assert {r["option_kind"] for r in doc["results"]} == {"self-hosted", "api"}
    assert {r["rps"] for r in doc["results"]} == {1.0, 10.0}


# --------------------------------------------------------------------------- assumptions


def check_provenance(assumptions: dict[str, Any], expected_ids: set[str]) -> None:
    entries = assumptions["catalog_entries"]
    assert expected_ids <= entries.keys()
    for entry in entries.values():
        dt.date.fromisoformat(entry["as_of"])
        assert entry["source"]


@pytest.mark.parametrize("command", ["crossover", "cost"])
def test_assumptions_echo_the_inputs(cli: Cli, command: str) -> None:
    args = [
        command,
        "--rps",
        "3",
        "-m",
        "llama-3.3-70b",
        "-g",
        "h100",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--ops-usd-per-month",
        "1234",
        "--hours-per-month",
        "500",
        "--target-utilization",
        "0.5",
        "--format",
        "json",
    ]
    if command == "crossover":
        args += ["--api", "openai-gpt-4.1"]
    assumptions = json_doc(cli(*args))["assumptions"]
    assert assumptions["input_tokens"] == 2000
    assert assumptions["output_tokens"] == 500
    assert assumptions["rps"] == 3.0
    assert assumptions["ops_usd_per_month"] == 1234.0
    assert assumptions["hours_per_month"] == 500.0
    assert assumptions["target_utilization"] == 0.5
    assert assumptions["pricing"] == ["on-demand"]
    check_provenance(assumptions, {"model:llama-3.3-70b", "gpu:h100-sxm-80gb"})
    if command == "crossover":
        assert assumptions["apis"].keys() == {"openai-gpt-4.1"}
        dt.date.fromisoformat(assumptions["apis"]["openai-gpt-4.1"]["as_of"])


def test_fit_and_estimate_echo_their_inputs(cli: Cli) -> None:
    fit_assumptions = json_doc(
        cli(
            "fit", "llama-3.3-70b", "-g", "h100", "--context", "8192", "--kv-dtype", "fp8", "--format", "json"
        )
    )["assumptions"]
    assert fit_assumptions["context_tokens"] == 8192
    assert fit_assumptions["kv_dtype"] == "fp8"
    check_provenance(fit_assumptions, {"model:llama-3.3-70b", "gpu:h100-sxm-80gb"})
    est = json_doc(cli(*DATA_COMMANDS["estimate"], "--input-tokens", "4000", "--format", "json"))[
        "assumptions"
    ]
    assert (est["input_tokens"], est["output_tokens"], est["concurrency"]) == (4000, 300, 8)
    check_provenance(est, {"model:llama-3.3-70b", "quant:awq-int4", "engine:vllm"})


# --------------------------------------------------------------------------- fit: known answers

FIT_CASES = [
    # (fit arguments, fits?, why we know)
    pytest.param(
        ["llama-3.3-70b", "--gpu", "h100", "--quant", "awq-int4", "--gpus", "1", "--context", "32768"],
        True,
        id="70b-awq-1xh100-32k",
    ),  # facts.md §6: holds, ~3 x 32K sequences
    pytest.param(
        ["qwen2.5-32b", "--gpu", "l40s", "--gpus", "1", "--quant", "bf16"], False, id="32b-bf16-1xl40s"
    ),  # facts.md §6: 65.5 GB of weights > 48 GB
    pytest.param(
        ["llama-3.3-70b", "--gpu", "h100", "--gpus", "2", "--quant", "bf16", "--context", "8192"],
        True,
        id="70b-bf16-2xh100-8k",
    ),  # facts.md §6: ~19K KV tokens in total, short contexts only
    pytest.param(
        ["llama-3.3-70b", "--gpu", "h100", "--gpus", "2", "--quant", "bf16", "--context", "32768"],
        False,
        id="70b-bf16-2xh100-32k",
    ),  # ... so one 32K sequence does not fit
    pytest.param(
        ["deepseek-v3", "--gpu", "h100", "--gpus", "2", "--quant", "fp8"], False, id="dsv3-fp8-2xh100"
    ),  # facts.md §6: ~671-690 GB of FP8 weights
    pytest.param(
        ["deepseek-v3", "--gpu", "h200", "--gpus", "8", "--quant", "fp8"], True, id="dsv3-fp8-8xh200"
    ),  # facts.md §6: SGLang/vLLM minimum config
    pytest.param(
        ["llama-3.3-70b", "--gpu", "m3-max-64gb", "--quant", "q4_k_m", "--context", "8192"],
        True,
        id="70b-q4km-m3max-8k",
    ),  # facts.md §6: 42.1 GiB under the 48 GiB Metal cap
    pytest.param(
        ["llama-3.3-70b", "--gpu", "m3-max-64gb", "--quant", "q4_k_m", "--context", "32768"],
        False,
        id="70b-q4km-m3max-32k",
    ),  # facts.md §6: 49.6 GiB over the cap
]


def fit_records(cli: Cli, *args: str) -> dict[str, dict[str, Any]]:
    """`selfhost fit ARGS` as JSON, one record per layout ('TP8', 'DP8 attention + EP8', ...)."""
    results = json_doc(cli("fit", *args, "--format", "json"))["results"]
    by_layout = {r["layout"]: r for r in results}
    assert len(by_layout) == len(results), results
    return by_layout


def fit_record(cli: Cli, *args: str) -> dict[str, Any]:
    """The tensor-parallel (or single-GPU) record: a MoE model on vLLM also gets a record for
    data-parallel attention with expert parallelism, which holds different weights and KV."""
    records = [r for r in fit_records(cli, *args).values() if "attention" not in r["layout"]]
    assert len(records) == 1, records
    return records[0]


@pytest.mark.parametrize(("args", "fits"), FIT_CASES)
def test_fit_verdicts(cli: Cli, args: list[str], fits: bool) -> None:
    for record in fit_records(cli, *args).values():  # every layout: the weights alone decide these
        assert record["fits"] is fits, (record["layout"], record["reason"])
        assert (record["max_concurrent_sequences"] >= 1) is fits


def test_fit_70b_awq_on_one_h100(cli: Cli) -> None:
    record = fit_record(
        cli, "llama-3.3-70b", "--gpu", "h100", "--quant", "awq-int4", "--gpus", "1", "--context", "32768"
    )
    embedding, other = dense_params(**LLAMA_70B)  # type: ignore[arg-type]
    assert embedding + other == pytest.approx(70.55e9, rel=1e-3)  # llama.cpp prints 70.55 B
    # AWQ g128 with zero points: 4 + 16/128 + 4/128 bits on linear layers, embeddings and
    # lm_head kept in FP16 (facts.md §5.2, which gives ~39.8 GB for the whole model)
    expected_gb = (other * (4 + 16 / 128 + 4 / 128) / 8 + embedding * 2) / GB
    assert record["weights_gb"] == pytest.approx(39.8, rel=0.01)
    assert record["weights_gb"] == pytest.approx(expected_gb, rel=0.01)
    assert (
        record["kv_bytes_per_token"] == kv_bytes_per_token(**LLAMA_70B) == 327_680
    )  # 320 KiB, facts.md §1.1
    assert record["max_concurrent_sequences"] >= 2  # facts.md §6: "~3 concurrent 32K-token sequences"


def test_fit_32b_bf16_on_one_l40s(cli: Cli) -> None:
    record = fit_record(cli, "qwen2.5-32b", "--gpu", "l40s", "--gpus", "1", "--quant", "bf16")
    embedding, other = dense_params(**QWEN_32B)  # type: ignore[arg-type]
    expected_gb = (embedding + other) * 2 / GB  # BF16: 2 bytes per weight
    assert expected_gb == pytest.approx(65.5, rel=0.01)  # facts.md §6
    assert record["weights_gb"] == pytest.approx(expected_gb, rel=0.01)
    assert record["weights_gb"] > 48  # the L40S has 48 GB (facts.md §2)
    assert not record["fits"]
    assert record["kv_capacity_tokens"] == 0


def test_fit_70b_bf16_on_two_h100_has_little_kv(cli: Cli) -> None:
    record = fit_record(
        cli, "llama-3.3-70b", "--gpu", "h100", "--gpus", "2", "--quant", "bf16", "--context", "8192"
    )
    embedding, other = dense_params(**LLAMA_70B)  # type: ignore[arg-type]
    assert record["weights_gb"] == pytest.approx(
        (embedding + other) * 2 / GB, rel=0.01
    )  # 141.1 GB, facts.md §6
    assert record["fits"]
    assert 8192 <= record["kv_capacity_tokens"] < 40_000  # facts.md §6: "≈6 GiB KV ≈ 19K tokens total"


def test_fit_deepseek_v3_fp8_weights(cli: Cli) -> None:
    record = fit_record(cli, "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--quant", "fp8")
    # facts.md §6: 671B params (685B with MTP) at FP8 is ≈671-690 GB of weights
    assert 671 * 0.99 <= record["weights_gb"] <= 690 * 1.01
    # MLA latent KV: 61 layers x (512 + 64) x 2 bytes per token (facts.md §1.2)
    assert record["kv_bytes_per_token"] == 61 * (512 + 64) * 2


def test_fit_deepseek_v3_with_data_parallel_attention_replicates_attention_not_kv(cli: Cli) -> None:
    records = fit_records(cli, "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--quant", "fp8")
    tp, dp = records["TP8"], records["DP8 attention + EP8"]
    # each of the 8 ranks holds all of MLA's attention weights; the experts are split by expert
    # parallelism. MLA attention per layer (config.json: hidden 7168, 128 heads, q_lora_rank 1536,
    # kv_lora_rank 512, qk_nope 128 + qk_rope 64, v_head 128): q_a, q_b, kv_a (latent + rope), kv_b, o
    hidden, heads = 7168, 128
    attention = (
        hidden * 1536
        + 1536 * heads * (128 + 64)
        + hidden * (512 + 64)
        + 512 * heads * (128 + 128)
        + heads * 128 * hidden
    )
    assert attention == 187_105_280
    fp8_gb = 61 * attention * 1 / GB  # 1 byte per FP8 weight
    assert dp["weights_gb"] - tp["weights_gb"] == pytest.approx(7 * fp8_gb, rel=1e-3)
    # the latent KV is not replicated across ranks: each rank caches its own sequences, so the
    # replica holds more tokens than tensor parallelism, which keeps the one latent head on every rank
    assert dp["kv_bytes_per_token"] == tp["kv_bytes_per_token"]
    tp_free = tp["usable_memory_gb"] - tp["weights_gb"]
    dp_free = dp["usable_memory_gb"] - dp["weights_gb"]
    per_token_gb = tp["kv_bytes_per_token"] / GB
    assert tp["kv_capacity_tokens"] == pytest.approx(tp_free / 8 / per_token_gb, rel=0.01)
    assert dp["kv_capacity_tokens"] == pytest.approx(dp_free / per_token_gb, rel=0.01)


@pytest.mark.parametrize("context", [8192, 32768])
def test_fit_70b_q4km_on_m3_max_64gb(cli: Cli, context: int) -> None:
    record = fit_record(
        cli, "llama-3.3-70b", "--gpu", "m3-max-64gb", "--quant", "q4_k_m", "--context", str(context)
    )
    weights = 42.5 * GB  # Llama-3.3-70B Q4_K_M GGUF file size (facts.md §5.1)
    metal_cap = 48 * GIB  # default recommendedMaxWorkingSetSize on a 64 GB Mac (facts.md §2)
    needed = weights + kv_bytes_per_token(**LLAMA_70B) * context  # type: ignore[arg-type]
    assert record["weights_gb"] == pytest.approx(42.5, rel=0.01)
    assert record["fits"] is (needed < metal_cap)
    assert record["fits"] is (context == 8192)  # facts.md §6: 42.1 GiB at 8K, 49.6 GiB at 32K


# --------------------------------------------------------------------------- crossover: known answers


def crossover_record(cli: Cli, *args: str) -> dict[str, Any]:
    results = json_doc(cli("crossover", *args, "--format", "json"))["results"]
    assert len(results) == 1, results
    record: dict[str, Any] = results[0]
    return record


@pytest.mark.parametrize("rps", [0.5, 5, 37.25])
def test_api_bill_is_tokens_times_list_price(cli: Cli, rps: float) -> None:
    record = crossover_record(
        cli, "--rps", str(rps), "--model", "llama-3.3-70b", "-g", "h100", "--api", "openai-gpt-4.1"
    )
    # openai-gpt-4.1: 2.00 USD per 1M input, 8.00 per 1M output tokens (facts.md §4, LiteLLM 2026);
    # default workload 1000 input + 300 output tokens per request; 730 h per month
    usd_per_request = (1000 * 2.00 + 300 * 8.00) / 1e6
    expected = rps * HOURS_PER_MONTH * SECONDS_PER_HOUR * usd_per_request
    # JSON carries 10 significant digits, cents at least (render.tidy_float)
    assert record["api_usd_per_month"] == pytest.approx(expected, rel=1e-9)
    assert record["api_usd_per_mtok"] == pytest.approx((1000 * 2.00 + 300 * 8.00) / 1300, rel=1e-9)


def test_higher_ops_cost_never_lowers_the_crossover(cli: Cli) -> None:
    crossovers = []
    for ops in ["0", "1000", "4000", "20000", "100000"]:
        record = crossover_record(
            cli,
            "--rps",
            "5",
            "-m",
            "llama-3.3-70b",
            "-g",
            "h100",
            "--api",
            "openai-gpt-4.1",
            "--ops-usd-per-month",
            ops,
        )
        crossovers.append(math.inf if record["crossover_rps"] is None else record["crossover_rps"])
    assert crossovers == sorted(crossovers)
    assert crossovers[0] < crossovers[-1]


CROSSOVER_CASES = [
    # (selection, API, whether the API is cheaper just below the crossover)
    # One fixed deployment that serves the rate with its one (minimum) replica: the self-hosted
    # bill is flat there and the API bill linear, so the crossover is a true crossing.
    pytest.param(
        ["-m", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4", "--gpus", "1"],
        "openai-gpt-4.1",
        True,
        id="70b-awq-h100-vs-gpt-4.1",
    ),
    # The cheapest deployment of all, many replicas: just below the crossover self-hosting may
    # already win between two replica steps, and a different deployment may be cheapest there.
    pytest.param(["-m", "llama-3.3-70b"], "deepinfra-llama-3.3-70b-turbo-fp8", None, id="70b-vs-deepinfra"),
    pytest.param(["-m", "qwen2.5-7b"], "google-gemini-2.5-flash-lite", None, id="7b-vs-flash-lite"),
]


@pytest.mark.parametrize(("selection", "api", "api_cheaper_below"), CROSSOVER_CASES)
def test_self_hosting_is_cheaper_just_above_the_crossover(
    cli: Cli, selection: list[str], api: str, api_cheaper_below: bool | None
) -> None:
    crossover = crossover_record(cli, "--rps", "5", *selection, "--api", api)["crossover_rps"]
    assert crossover is not None and crossover > 0
    above = crossover_record(cli, "--rps", repr(crossover * 1.01), *selection, "--api", api)
    assert above["self_hosted_usd_per_month"] < above["api_usd_per_month"], above
    assert above["cheaper"] == "self-hosted"
    if api_cheaper_below:
        below = crossover_record(cli, "--rps", repr(crossover * 0.99), *selection, "--api", api)
        assert below["self_hosted_usd_per_month"] > below["api_usd_per_month"], below
        assert below["cheaper"] == "api"
        assert below["crossover_rps"] == pytest.approx(crossover, rel=1e-9)


# --------------------------------------------------------------------------- empty results

NOTHING_FITS = ["-m", "llama-3.3-70b", "-g", "l4", "--gpus", "1"]  # 141 GB of BF16 weights on a 24 GB L4


@pytest.mark.parametrize("command", ["cost", "crossover"])
def test_empty_result_csv_is_a_header_row(cli: Cli, command: str) -> None:
    result = cli(command, "--rps", "5", *NOTHING_FITS, "--format", "csv")
    header, rows = csv_table(result)
    assert rows == []
    assert len(result.stdout.splitlines()) == 1
    assert "self_hosted_usd_per_month" in header
    # the empty header uses the same column names as a non-empty result
    full_header, _ = csv_table(
        cli(command, "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--format", "csv")
    )
    assert set(header) <= set(full_header)
    assert "note: " in result.stderr


@pytest.mark.parametrize("command", ["cost", "crossover"])
def test_empty_result_json_has_no_rows(cli: Cli, command: str) -> None:
    doc = json_doc(cli(command, "--rps", "5", *NOTHING_FITS, "--format", "json"))
    assert doc["results"] == []
    assert doc["assumptions"]["rps"] == 5.0


def test_empty_result_table(cli: Cli) -> None:
    result = ok(cli("cost", "--rps", "5", *NOTHING_FITS))
    assert "$/month" in result.stdout  # the header is still drawn
    assert "left out" in result.stderr


# --------------------------------------------------------------------------- errors

SEE_MODELS = "selfhost catalog list models"

ERROR_CASES = [
    # (arguments, fragments the one-line stderr message must contain)
    pytest.param(
        ["fit", "llama-3.3-70x"],
        ["unknown model 'llama-3.3-70x'", "did you mean 'llama-3.3-70b'", SEE_MODELS],
        id="fit-unknown-model",
    ),
    pytest.param(
        ["crossover", "--rps", "5", "-m", "lama-3.3-70b"],
        ["did you mean 'llama-3.3-70b'", SEE_MODELS],
        id="crossover-unknown-model",
    ),
    pytest.param(
        ["estimate", "-m", "qwen-2.5-32b", "-g", "h100"],
        ["did you mean 'qwen2.5-32b'", SEE_MODELS],
        id="estimate-unknown-model",
    ),
    pytest.param(
        ["cost", "--rps", "5", "-g", "h1000"],
        ["unknown GPU 'h1000'", "did you mean 'h100-sxm-80gb'", "selfhost catalog list gpus"],
        id="unknown-gpu",
    ),
    pytest.param(
        ["sweep", "--rps", "1", "--api", "opneai-gpt-4.1"],
        ["unknown API", "selfhost catalog list apis"],
        id="unknown-api",
    ),
    pytest.param(["crossover", "--rps", "-1"], ["--rps -1", "non-negative"], id="negative-rps"),
    pytest.param(["cost", "--rps", "-0.5"], ["--rps -0.5", "non-negative"], id="cost-negative-rps"),
    pytest.param(["sweep", "--rps", "-5"], ["--rps -5", "non-negative"], id="sweep-negative-rps"),
    pytest.param(["crossover", "--rps", "inf"], ["--rps inf", "finite"], id="infinite-rps"),
    pytest.param(["crossover", "--rps", "nan"], ["--rps nan"], id="nan-rps"),
    pytest.param(
        ["estimate", "-m", "llama-3.3-70b", "-g", "h100", "--concurrency", "abc"],
        ["--concurrency 'abc'", "'max'"],
        id="concurrency-abc",
    ),
    pytest.param(
        ["fit", "llama-3.3-70b", "--kv-dtype", "int3"],
        ["--kv-dtype 'int3'", "bf16", "fp8"],
        id="kv-dtype-int3",
    ),
    pytest.param(
        ["crossover", "--rps", "5", "--pricing", "weird"],
        ["--pricing 'weird'", "on-demand", "spot"],
        id="pricing-weird",
    ),
    pytest.param(
        ["sweep", "--rps", "5", "--mix", "10"], ["--mix '10'", "INPUT:OUTPUT", "1000:300"], id="mix-10"
    ),
    # Rich used to read ':100:' as an emoji code and print a 💯 in the echoed value
    pytest.param(
        ["sweep", "--rps-range", "0.1:100:abc"],
        ["--rps-range '0.1:100:abc'", "START:STOP:COUNT"],
        id="rps-range-not-emoji",
    ),
    # Rich used to read the user's '[/]' as markup and crash with a traceback
    pytest.param(["fit", "[/]llama"], ["unknown model '[/]llama'"], id="markup-in-input"),
    pytest.param(["fit", "llama-3.3-70b", "--gpus", "0"], ["--gpus 0", "at least 1"], id="zero-gpus"),
    pytest.param(
        ["crossover", "--rps", "5", "--context", "100"],
        ["--context 100", "1000 input + 300 output"],
        id="context-too-short",
    ),
    pytest.param(
        ["fit", "llama-3.3-70b", "-g", "m3-max-64gb", "-q", "awq-int4"],
        ["awq-int4", "m3-max-64gb"],
        id="no-engine-for-quant",
    ),
]


@pytest.mark.parametrize(("args", "fragments"), ERROR_CASES)
def test_input_errors(cli: Cli, args: list[str], fragments: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr


USAGE_ERROR_CASES = [
    # (arguments, the option the parser names, the value it echoes or None): rejected by
    # Typer/Click before any command runs
    pytest.param(["crossover"], "--rps", None, id="missing-rps"),
    pytest.param(["crossover", "--rps", "abc"], "--rps", "'abc'", id="rps-abc"),
    pytest.param(["crossover", "--rps=abc"], "--rps", "'abc'", id="rps=abc"),
    pytest.param(["crossover", "-rabc"], "--rps", "'abc'", id="r-abc"),
    pytest.param(["fit", "llama-3.3-70b", "--gpus", "two"], "--gpus", "'two'", id="gpus-two"),
    pytest.param(["cost", "--rps", "5", "--format", "xml"], "--format", "'xml'", id="format-xml"),
    pytest.param(
        ["catalog", "list", "gpus", "--format", "xml"], "--format", "'xml'", id="catalog-format-xml"
    ),
    pytest.param(
        ["crossover", "--rps", "5", "--target-utilization", "2"], "--target-utilization", "'2'", id="util-2"
    ),
    pytest.param(["crossover", "--rps", "5", "-n", "2", "-n", "x"], "--gpus", "'x'", id="repeated-gpus"),
]


@pytest.mark.parametrize(("args", "option", "value"), USAGE_ERROR_CASES)
def test_usage_errors_name_the_option_and_the_value_given(
    cli: Cli, args: list[str], option: str, value: str | None
) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: ")
    assert option in error
    if value is not None:
        assert value in error
    assert "Value error" not in error  # pydantic's prefix is dropped
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "opts", "expected"),
    [
        (["--rps", "5"], ["--rps", "-r"], ["5"]),
        (["--rps=5"], ["--rps", "-r"], ["5"]),
        (["-r5"], ["--rps", "-r"], ["5"]),
        (["-r", "5", "--rps", "6"], ["--rps", "-r"], ["5", "6"]),
        (["--rpsx", "5", "--rps"], ["--rps", "-r"], []),  # another option; a trailing flag with no value
        (["--", "--rps", "5"], ["--rps", "-r"], []),  # after "--" nothing is an option
        (["-m", "x", "--max-tpot-ms", "5"], ["-m"], ["x"]),
    ],
)
def test_given_values_reads_every_spelling_of_an_option(
    args: list[str], opts: list[str], expected: list[str]
) -> None:
    from selfhost.cli.usage import given_values

    assert given_values(args, opts) == expected


# --------------------------------------------------------------------------- help and version

COMMANDS = [
    ["crossover"],
    ["fit"],
    ["estimate"],
    ["cost"],
    ["sweep"],
    ["catalog", "list"],
    ["catalog", "show"],
    ["catalog", "validate"],
]


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example(cli: Cli, command: list[str], flag: str) -> None:
    result = ok(cli(*command, flag))
    assert "Example" in result.stdout
    assert f"selfhost {' '.join(command)}" in result.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(cli: Cli, flag: str) -> None:
    result = ok(cli(flag))
    assert result.stdout == f"selfhost {__version__}\n"


def test_python_dash_m_version() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "selfhost", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"selfhost {__version__}\n"


# --------------------------------------------------------------------------- entry point
# `selfhost` builds only the command named first (see cli.app.app_for); the `cli` fixture runs
# that path, so these pin it to the whole app's behaviour.

ENTRY_ARGS = [
    ["crossover", "--rps", "5", "--format", "json"],
    ["fit", "llama-3.3-70b", "--gpu", "h100", "--quant", "awq-int4", "--format", "csv"],
    ["catalog", "list", "gpus", "--format", "csv"],
    ["catalog", "show", "h100"],
    ["crossover", "--rps", "-1"],
    ["crossover", "--rpss", "5"],
    ["fit", "--help"],
]


@pytest.mark.parametrize("args", ENTRY_ARGS, ids=" ".join)
def test_running_only_the_named_command_changes_nothing_the_user_sees(args: list[str]) -> None:
    from typer.testing import CliRunner

    from selfhost.cli.app import app, app_for

    whole = CliRunner().invoke(app, args)
    single = CliRunner().invoke(app_for(args), args)
    assert app_for(args) is not app
    assert (single.exit_code, single.stdout, single.stderr) == (whole.exit_code, whole.stdout, whole.stderr)


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["crosover", "--rps", "5"], ["-h", "fit"]])
def test_anything_but_a_command_name_first_gets_the_whole_app(args: list[str]) -> None:
    from selfhost.cli.app import app, app_for

    assert app_for(args) is app


def test_every_command_can_be_run_alone() -> None:
    from selfhost.cli.app import app, command_names, only_command

    names = command_names(app)
    assert {"crossover", "fit", "estimate", "cost", "sweep", "plan", "report", "catalog"} <= set(names)
    for name in names:
        single = only_command(app, name)
        assert single is not None
        assert command_names(single) == [name]


def test_the_table_of_command_modules_names_every_command_in_help_order() -> None:
    from selfhost.cli.app import COMMAND_MODULES, app, build, command_names

    assert list(COMMAND_MODULES) == command_names(app)
    for name in COMMAND_MODULES:
        assert name in command_names(build([name])), name


def test_a_run_imports_the_module_of_its_command_and_no_other() -> None:
    script = (
        "import sys\n"
        "from selfhost.cli.app import COMMAND_MODULES, app_for\n"
        "assert app_for(sys.argv[1:]).registered_commands[0].name is None\n"
        "print(sorted({m for m in COMMAND_MODULES.values() if 'selfhost.cli.' + m in sys.modules}))\n"
    )
    for command, expected in [("crossover", ["crossover_cmd"]), ("estimate", ["fit_cmd"])]:
        done = subprocess.run(
            [sys.executable, "-c", script, command], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[0] == repr(expected), command


ENTRY_POINT = "from selfhost.cli.console import main; main()"  # what the `selfhost` script runs


def test_the_console_script_pauses_the_collector_only_while_the_app_is_imported() -> None:
    """The command runs with the collector on and the import's objects frozen out of its sight;
    importing the library leaves the collector as it was."""
    script = (
        "import gc, sys\n"
        "import selfhost.analysis\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0, 'the library import touched the collector'\n"
        "import selfhost.cli.app as app\n"
        "seen = []\n"
        "app.main = lambda: seen.append((gc.isenabled(), gc.get_freeze_count()))\n"
        "from selfhost.cli.console import main\n"
        "main()\n"
        "import json; print(json.dumps(seen))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    [[enabled, frozen]] = json.loads(done.stdout)
    assert enabled and frozen > 10_000


def test_console_script_runs_the_headline() -> None:
    """The installed entry point, as a user runs it (a subprocess: real argv, real exit code)."""
    completed = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, "crossover", "--rps", "5", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["results"]


def test_console_script_usage_error_exits_2() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, "crossover", "--rps", "abc"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "Invalid value for '--rps'" in completed.stderr
    assert "'abc' is not a valid float" in completed.stderr  # Click's wording (Typer < 0.29)
    assert "Traceback" not in completed.stderr


# --------------------------------------------------------------------------- comparable APIs

CACHING_HOST = """
apis:
  - id: cachey-llama-3.3-70b
    provider: Cachey
    api_model: cachey/llama-3.3-70b
    usd_per_mtok_input: 0.20
    usd_per_mtok_output: 0.32
    usd_per_mtok_cached_input: 0.01
    quality_tier: strong
    equivalent_model: llama-3.3-70b
    context_tokens: 131072
    source: test fixture
    as_of: 2026-11-01
"""


@pytest.mark.parametrize(
    ("cached_fraction", "expected_api"),
    [
        # 1000 in + 300 out, USD per 1M tokens. Uncached: Cachey 1000*0.20 + 300*0.32 = 296 vs the
        # DeepInfra turbo endpoint 1000*0.10 + 300*0.32 = 196, which has no cached price.
        ("0", "deepinfra-llama-3.3-70b-turbo-fp8"),
        # 90 % cached: Cachey 100*0.20 + 900*0.01 + 96 = 125 vs DeepInfra still 196.
        ("0.9", "cachey-llama-3.3-70b"),
    ],
)
def test_the_hosted_api_compared_is_the_cheapest_as_billed_with_cached_input(
    cli: Cli, tmp_path: Any, cached_fraction: str, expected_api: str
) -> None:
    overlay = tmp_path / "apis.yaml"
    overlay.write_text(CACHING_HOST)
    doc = json_doc(
        cli(
            "crossover",
            "--rps",
            "5",
            "-m",
            "llama-3.3-70b",
            "--catalog",
            str(overlay),
            "--cached-input-fraction",
            cached_fraction,
            "--format",
            "json",
        )
    )
    compared = {r["api"] for r in doc["results"]}
    hosts = {"deepinfra-llama-3.3-70b-turbo-fp8", "cachey-llama-3.3-70b"}
    assert compared & hosts == {expected_api}


SHORT_CONTEXT_HOST = """
apis:
  - id: shorty-llama-3.3-70b
    provider: Shorty
    api_model: shorty/llama-3.3-70b
    usd_per_mtok_input: 0.01
    usd_per_mtok_output: 0.01
    quality_tier: strong
    equivalent_model: llama-3.3-70b
    context_tokens: 8192
    source: test fixture
    as_of: 2026-11-01
"""


def test_an_api_that_cannot_take_the_context_is_not_compared(cli: Cli, tmp_path: Any) -> None:
    overlay = tmp_path / "apis.yaml"
    overlay.write_text(SHORT_CONTEXT_HOST)
    base = ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "--catalog", str(overlay), "--format", "json"]
    short = {
        r["api"] for r in json_doc(cli(*base))["results"]
    }  # 1,300-token requests: it is the cheapest host
    assert "shorty-llama-3.3-70b" in short
    long = {r["api"] for r in json_doc(cli(*base, "--context", "16384"))["results"]}
    assert "shorty-llama-3.3-70b" not in long
    assert "deepinfra-llama-3.3-70b-turbo-fp8" in long  # the next cheapest host takes its place
    named = cli(*base, "--context", "16384", "--api", "shorty-llama-3.3-70b")
    assert "shorty-llama-3.3-70b accepts at most 8,192 tokens, this workload needs 16,384" in named.stderr


def test_a_context_beyond_the_models_maximum_is_named(cli: Cli) -> None:
    result = cli("crossover", "--rps", "1", "-m", "qwen2.5-72b", "--context", "65536")
    assert result.exit_code == 0, result.output
    assert "qwen2.5-72b: context 65,536 exceeds the model's maximum 32,768" in result.stderr


def test_plan_candidates_are_apis_that_take_the_workloads_context() -> None:
    from selfhost.catalog.loader import load_catalog
    from selfhost.workloads import WorkloadSpec, candidate_apis

    catalog = load_catalog(env={})
    model = next(m for m in catalog.models if m.id == "qwen2.5-72b")

    def hosts(context: int | None) -> set[str]:
        spec = WorkloadSpec(
            name="w",
            requests_per_s=1,
            input_tokens=1000,
            output_tokens=300,
            context_tokens=context,
            model="qwen2.5-72b",
        )
        return {a.id for a in candidate_apis(catalog, spec, model) if a.equivalent_model == "qwen2.5-72b"}

    assert "deepinfra-qwen2.5-72b" in hosts(None)  # 32,768-token limit, 1,300 needed
    assert "deepinfra-qwen2.5-72b" not in hosts(40_000)


# --------------------------------------------------------------------------- measurement evidence


def test_a_deployment_inside_the_calibration_says_so_and_adds_no_note(cli: Cli) -> None:
    # TensorRT-LLM's profile is fitted to its own H100 measurements (data/calibration/)
    result = cli(
        "estimate",
        "-m",
        "llama-3.3-70b",
        "-g",
        "h100",
        "-q",
        "fp8",
        "--engine",
        "tensorrt-llm",
        "--concurrency",
        "1",
        "--format",
        "json",
    )
    (record,) = json_doc(result)["results"]
    assert (record["engine_confirmed"], record["gpu_measured"]) == (True, True)
    assert "extrapolated" not in result.stderr
    assert "pooled" not in result.stderr


def test_a_deployment_outside_the_calibration_is_flagged_in_fields_and_notes(cli: Cli) -> None:
    # SGLang is fitted to its own serving runs, none of them on ROCm: MI300X is extrapolated
    result = cli(
        "estimate",
        "-m",
        "llama-3.3-70b",
        "-g",
        "mi300x",
        "-q",
        "fp8",
        "--engine",
        "sglang",
        "-b",
        "1",
        "--format",
        "json",
    )
    (record,) = json_doc(result)["results"]
    assert (record["engine"], record["engine_confirmed"], record["gpu_measured"]) == ("sglang", True, False)
    assert "no published measurement behind the engine profile: sglang on mi300x-192gb" in result.stderr
    assert "profile pooled" not in result.stderr
    # MLX has no measurement of its own: its profile is the pooled fit of the engines measured on Metal
    result = cli(
        "estimate",
        "-m",
        "llama-3.1-8b",
        "-g",
        "m3-max-64gb",
        "--engine",
        "mlx",
        "-b",
        "1",
        "--format",
        "json",
    )
    (record,) = json_doc(result)["results"]
    assert (record["engine"], record["engine_confirmed"], record["gpu_measured"]) == ("mlx", False, True)
    assert "mlx: profile pooled from the measured engines" in result.stderr
    # vLLM on MI300X, the headline's deployment, is now measured (its own ROCm serving runs)
    result = cli(
        "estimate", "-m", "llama-3.3-70b", "-g", "mi300x", "-q", "fp8", "-b", "1", "--format", "json"
    )
    (record,) = json_doc(result)["results"]
    assert (record["engine"], record["engine_confirmed"], record["gpu_measured"]) == ("vllm", True, True)
    assert "no published measurement" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["crossover", "--rps", "5"],
        ["cost", "--rps", "2", "-m", "qwen2.5-7b", "--limit", "3"],
        ["cost", "--rps", "2", "-m", "qwen2.5-7b", "--limit", "40"],
    ],
    ids=" ".join,
)
def test_the_evidence_note_speaks_of_the_rows_shown(cli: Cli, args: list[str]) -> None:
    result = cli(*args, "--format", "json")
    shown = json_doc(result)["results"]
    unmeasured = list(dict.fromkeys(f"{r['engine']} on {r['gpu']}" for r in shown if not r["gpu_measured"]))
    flagged = [line for line in result.stderr.splitlines() if "no published measurement" in line]
    assert len(flagged) == (1 if unmeasured else 0)
    for pair in unmeasured[:4]:  # the note names four, then "and N more"
        assert pair in flagged[0]
    if len(unmeasured) > 4:
        assert f"and {len(unmeasured) - 4} more" in flagged[0]


def test_the_evidence_note_names_four_pairs_then_counts_the_rest() -> None:
    from selfhost.analysis import evidence_note

    records = [
        {"engine": "vllm", "gpu": f"gpu-{k}", "engine_confirmed": False, "gpu_measured": False}
        for k in range(6)
    ] + [
        {"engine": "sglang", "gpu": "gpu-0", "engine_confirmed": False, "gpu_measured": True},
        {"engine": "tensorrt-llm", "gpu": "h100", "engine_confirmed": True, "gpu_measured": True},
        {"api": "openai-gpt-5"},  # an API row has no deployment: skipped
    ]
    note = evidence_note(records)
    assert note is not None
    assert "vllm on gpu-0, vllm on gpu-1, vllm on gpu-2, vllm on gpu-3 and 2 more" in note
    assert "vllm, sglang: profile pooled from the measured engines, not fitted to these engines" in note
    assert "tensorrt-llm" not in note
    assert evidence_note(records[-2:]) is None


@pytest.mark.parametrize(
    "args",
    [
        ["crossover", "--rps", "5"],
        ["cost", "--rps", "5", "-m", "qwen2.5-7b", "--limit", "0"],
        ["sweep", "-m", "qwen2.5-7b", "--rps", "1", "--rps", "5"],
        ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b"],
    ],
    ids=" ".join,
)
def test_measured_only_keeps_deployments_whose_gpu_was_measured(cli: Cli, args: list[str]) -> None:
    result = cli(*args, "--measured-only", "--format", "json")
    rows = [r for r in json_doc(result)["results"] if "gpu_measured" in r]
    assert rows
    assert all(r["gpu_measured"] and r["layout_measured"] for r in rows)
    assert "no published measurement" not in result.stderr
    assert json_doc(result)["assumptions"]["measured_only"] is True
    # without the option the default selection does include extrapolated deployments
    everything_doc = json_doc(cli(*args, "--format", "json"))
    assert everything_doc["assumptions"]["measured_only"] is False
    everything = everything_doc["results"]
    if args[0] in ("crossover", "cost", "sweep"):
        assert any(not r["gpu_measured"] for r in everything if "gpu_measured" in r)


def test_measured_only_on_an_unmeasured_gpu_is_a_usage_error(cli: Cli) -> None:
    # no engine profile was fitted to a Blackwell measurement (MI300X, used here before, now is:
    # vLLM's ROCm serving runs)
    result = cli("crossover", "--rps", "5", "--gpu", "b200", "--measured-only")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --measured-only: no GPU in this selection")
    assert len(result.stderr.strip().splitlines()) == 1
