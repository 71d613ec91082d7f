"""The article's claims (docs/claims.md), checked by running the commands the doc lists.

docs/claims.md has, per claim, one ```bash block of `selfhost ... --format json` commands and
one `**Verdict: ...**` line. These tests run every listed command in-process, derive each
verdict from the JSON with the rule written beside the claim below, and fail when the doc's
commands, its verdicts or the figures it quotes disagree with the tool. When a catalog or
calibration change moves a figure past its tolerance, update the doc; when it flips a verdict,
rewrite that claim's reasoning.

The kv-alert command (claim 8) is tested at the bottom: its array functions against hand
arithmetic, and its edge cases through the CLI.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from selfhost.cli.app import app
from selfhost.kv_alert import concurrency_at_utilization, kv_utilization

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_MD = ROOT / "docs" / "claims.md"
VERDICTS = ("holds with conditions", "holds", "wrong")  # longest first, for the regexes

Doc = dict[str, Any]
Cli = Callable[..., Result]

# --------------------------------------------------------------------------- the doc


@dataclass(frozen=True)
class Section:
    """One claim of docs/claims.md: its text, the commands it lists and its verdict."""

    claim: str
    text: str
    commands: list[str]
    verdict: str


def parse_claims(text: str) -> dict[str, Section]:
    """Split docs/claims.md at its `## Claim N: ...` headings."""
    verdict_re = re.compile(r"^\*\*Verdict: (" + "|".join(VERDICTS) + r")\.\*\*", re.M)
    sections: dict[str, Section] = {}
    parts = re.split(r"^## Claim (\d+): .*$", text, flags=re.M)
    for claim, body in zip(parts[1::2], parts[2::2], strict=True):
        body = body.split("\n## ", 1)[0]
        blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.S)
        assert len(blocks) == 1, f"claim {claim}: expected one ```bash block of commands, found {len(blocks)}"
        commands = [line.strip() for line in blocks[0].splitlines() if line.strip()]
        verdicts = verdict_re.findall(body)
        assert len(verdicts) == 1, f"claim {claim}: expected one '**Verdict: ...**' line, found {verdicts}"
        sections[claim] = Section(claim=claim, text=body, commands=commands, verdict=verdicts[0])
    return sections


SECTIONS = parse_claims(CLAIMS_MD.read_text(encoding="utf-8"))


def summary_verdicts(text: str) -> dict[str, str]:
    """The verdict column of the summary table at the top: `| N | claim | verdict | why |`."""
    row = re.compile(r"^\| (\d+) \| [^|]+ \| \*\*(" + "|".join(VERDICTS) + r")\*\* \|", re.M)
    return dict(row.findall(text))


# --------------------------------------------------------------------------- running commands

_OUTPUTS: dict[str, Doc] = {}  # each command runs once per test session


def run(command: str) -> Doc:
    """Run one documented `selfhost ... --format json` command in-process; its JSON document."""
    if command not in _OUTPUTS:
        args = shlex.split(command)
        assert args[0] == "selfhost", command
        assert args[-2:] == ["--format", "json"], f"documented commands end in --format json: {command}"
        result = CliRunner().invoke(app, args[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
        _OUTPUTS[command] = json.loads(result.stdout)
    return _OUTPUTS[command]


def outputs(claim: str) -> list[Doc]:
    return [run(c) for c in CLAIMS[claim].commands]


def one(doc: Doc, **match: Any) -> dict[str, Any]:
    """The single record of ``doc`` whose fields equal ``match``."""
    found = [r for r in doc["results"] if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one record with {match}, found {len(found)}"
    return found[0]


def crossover(doc: Doc, model: str, api: str) -> float:
    """Crossover rate of one comparison; infinite when the API stays cheaper. [requests/s]"""
    value = one(doc, model=model, api=api)["crossover_rps"]
    return math.inf if value is None else float(value)


def cheapest_per_model(doc: Doc) -> dict[str, dict[str, Any]]:
    """First (cheapest) `cost` record per model."""
    best: dict[str, dict[str, Any]] = {}
    for r in doc["results"]:
        best.setdefault(r["model"], r)
    return best


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Judgement:
    verdict: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """The commands a claim is checked with (same order as in the doc) and the rule that
    turns their output into a verdict."""

    commands: tuple[str, ...]
    judge: Callable[[Sequence[Doc]], Judgement]


ABOUT_FIVE_RPS = (3.5, 7.0)  # "about 5 req/s": within -30 % / +40 %
FRONTIER_APIS = ("openai-gpt-5", "anthropic-claude-sonnet-4.5")


def judge_crossover(docs: Sequence[Doc]) -> Judgement:
    """Claim 1. Holds if the default crossovers against frontier APIs are about 5 req/s;
    holds with conditions if only changed prices, request sizes or operations cost put them
    there; wrong if nothing does."""
    default_any, default_do, ops_high, short, aws, own = docs
    f = {
        "mi300x_gpt5": crossover(default_any, "deepseek-v3", "openai-gpt-5"),
        "mi300x_sonnet": crossover(default_any, "deepseek-v3", "anthropic-claude-sonnet-4.5"),
        "do_h100_gpt5": crossover(default_do, "deepseek-v3", "openai-gpt-5"),
        "do_h100_sonnet": crossover(default_do, "deepseek-v3", "anthropic-claude-sonnet-4.5"),
        "do_h100_usd_per_month": one(default_do, model="deepseek-v3", api="openai-gpt-5")[
            "self_hosted_usd_per_month"
        ],
        "llama_do_gpt5": crossover(default_do, "llama-3.3-70b", "openai-gpt-5"),
        "ops_high_gpt5": crossover(ops_high, "deepseek-v3", "openai-gpt-5"),
        "ops_high_sonnet": crossover(ops_high, "deepseek-v3", "anthropic-claude-sonnet-4.5"),
        "short_gpt5": crossover(short, "deepseek-v3", "openai-gpt-5"),
        "aws_gpt5": crossover(aws, "deepseek-v3", "openai-gpt-5"),
        "own_api": crossover(own, "deepseek-v3", "deepseek-api-deepseek-chat"),
        "deepinfra": crossover(own, "deepseek-v3", "deepinfra-deepseek-v3"),
    }
    lo, hi = ABOUT_FIVE_RPS
    base = [f["mi300x_gpt5"], f["mi300x_sonnet"], f["do_h100_gpt5"], f["do_h100_sonnet"]]
    conditional = [f["ops_high_gpt5"], f["short_gpt5"], f["aws_gpt5"]]
    if all(lo <= x <= hi for x in base):
        return Judgement("holds", f)
    if any(lo <= x <= hi for x in conditional):
        return Judgement("holds with conditions", f)
    return Judgement("wrong", f)


def judge_h100_10rps(docs: Sequence[Doc]) -> Judgement:
    """Claim 2. Wrong unless one H100 holds a 32K sequence; then holds if one replica serves
    10 req/s of the default chat mix at the planning utilization, holds with conditions if
    two do, wrong beyond."""
    fit32, est_max, cost10, est_short, est_long = docs
    fit = fit32["results"][0]
    f = {
        "fits_32k": fit["fits"],
        "weights_gb": fit["weights_gb"],
        "kv_capacity_tokens": fit["kv_capacity_tokens"],
        "seqs_32k": fit["max_concurrent_sequences"],
        "capacity_rps": est_max["results"][0]["capacity_rps_per_replica"],
        "max_concurrency": est_max["results"][0]["concurrency"],
        "max_concurrency_tok_s": est_max["results"][0]["output_tokens_per_s"],
        "replicas_at_10": min(r["replicas"] for r in cost10["results"]),
        "usd_per_month_at_10": cost10["results"][0]["self_hosted_usd_per_month"],
        "short_capacity_rps": est_short["results"][0]["capacity_rps_per_replica"],
        "long_capacity_rps": est_long["results"][0]["capacity_rps_per_replica"],
    }
    if not f["fits_32k"] or f["replicas_at_10"] > 2:
        return Judgement("wrong", f)
    return Judgement("holds" if f["replicas_at_10"] == 1 else "holds with conditions", f)


def judge_l40s_32b(docs: Sequence[Doc]) -> Judgement:
    """Claim 3. Holds if both models fit one L40S at BF16 with a 32K sequence; holds with
    conditions if each fits at some quantization; wrong otherwise."""
    qwen, qwen_fp8_kv, codestral, qwen_est = docs
    fits = {(r["model"], r["quant"]): r for d in (qwen, codestral) for r in d["results"]}
    f = {
        "qwen_bf16_fits": fits["qwen2.5-32b", "bf16"]["fits"],
        "qwen_bf16_weights_gb": fits["qwen2.5-32b", "bf16"]["weights_gb"],
        "usable_gb": fits["qwen2.5-32b", "bf16"]["usable_memory_gb"],
        "qwen_fp8_fits": fits["qwen2.5-32b", "fp8"]["fits"],
        "qwen_fp8_kv_tokens": fits["qwen2.5-32b", "fp8"]["kv_capacity_tokens"],
        "qwen_fp8_fp8kv_seqs": qwen_fp8_kv["results"][0]["max_concurrent_sequences"],
        "qwen_awq_fits": fits["qwen2.5-32b", "awq-int4"]["fits"],
        "qwen_awq_seqs": fits["qwen2.5-32b", "awq-int4"]["max_concurrent_sequences"],
        "codestral_bf16_fits": fits["codestral-22b", "bf16"]["fits"],
        "codestral_bf16_weights_gb": fits["codestral-22b", "bf16"]["weights_gb"],
        "codestral_fp8_seqs": fits["codestral-22b", "fp8"]["max_concurrent_sequences"],
        "codestral_awq_seqs": fits["codestral-22b", "awq-int4"]["max_concurrent_sequences"],
        "qwen_awq_capacity_rps": qwen_est["results"][0]["capacity_rps_per_replica"],
    }
    if f["qwen_bf16_fits"] and f["codestral_bf16_fits"]:
        return Judgement("holds", f)
    by_model: dict[str, bool] = {}
    for (model, _), r in fits.items():
        by_model[model] = by_model.get(model, False) or r["fits"]
    return Judgement("holds with conditions" if all(by_model.values()) else "wrong", f)


def judge_two_h100(docs: Sequence[Doc]) -> Judgement:
    """Claim 4. Wrong if DeepSeek-V3 does not fit two H100 at any quantization; otherwise holds
    if BF16 70B fits two (and not one) with a 32K sequence, holds with conditions if only
    its weights do."""
    llama_counts, llama_2x_8k, llama_h200, ds_2x, ds_smallest = docs
    counts = {r["gpus_per_replica"]: r for r in llama_counts["results"]}
    f = {
        "llama_1x_fits": counts[1]["fits"],
        "llama_1x_reason": counts[1]["reason"],
        "llama_weights_gb": counts[2]["weights_gb"],
        "llama_2x_fits_32k": counts[2]["fits"],
        "llama_2x_kv_tokens": counts[2]["kv_capacity_tokens"],
        "llama_4x_fits": counts[4]["fits"],
        "llama_4x_seqs": counts[4]["max_concurrent_sequences"],
        "llama_2x_8k_seqs": llama_2x_8k["results"][0]["max_concurrent_sequences"],
        "llama_2x_h200_seqs": llama_h200["results"][0]["max_concurrent_sequences"],
        # `fit` lists DeepSeek-V3 (MoE) in two layouts per GPU count: tensor parallel, and data-parallel
        # attention with expert parallelism (attention weights on every GPU, so more memory); the
        # weights quoted are tensor parallel's, the smallest; a verdict counts a fit in either layout
        "ds_2x_fits": any(r["fits"] for r in ds_2x["results"]),
        "ds_fp8_weights_gb": one(ds_2x, quant="fp8", layout="TP2")["weights_gb"],
        "ds_awq_weights_gb": one(ds_2x, quant="awq-int4", layout="TP2")["weights_gb"],
        "ds_2x_usable_gb": one(ds_2x, quant="fp8", layout="TP2")["usable_memory_gb"],
        "ds_smallest": sorted(
            {(r["gpu"], r["gpus_per_replica"], r["quant"]) for r in ds_smallest["results"] if r["fits"]}
        ),
        "ds_h100_fp8_fits_8x": any(
            r["fits"] for r in ds_smallest["results"] if (r["gpu"], r["quant"]) == ("h100-sxm-80gb", "fp8")
        ),
    }
    llama_needs_two = not f["llama_1x_fits"] and f["llama_2x_kv_tokens"] > 0
    if not f["ds_2x_fits"] or not llama_needs_two:
        return Judgement("wrong", f)
    return Judgement("holds" if f["llama_2x_fits_32k"] else "holds with conditions", f)


CLAIMED_TOKENS_PER_S = 400.0  # "about 400 tokens/s aggregate"
HUNDREDS = 200  # "hundreds of concurrent users": at least two hundred


def judge_a100_400(docs: Sequence[Doc]) -> Judgement:
    """Claim 5. Wrong if the aggregate rate stays 30 % below 400 tokens/s; holds if hundreds of
    sequences run within the latency targets; holds with conditions otherwise."""
    c32, c200, cmax = (d["results"][0] for d in docs)
    f = {
        "tok_s_32": c32["output_tokens_per_s"],
        "tpot_32_ms": c32["tpot_s"] * 1000,
        "tok_s_200": c200["output_tokens_per_s"],
        "tpot_200_ms": c200["tpot_s"] * 1000,
        "tok_s_max": cmax["output_tokens_per_s"],
        "max_concurrency": cmax["concurrency"],
        "concurrency_within_targets": cmax["concurrency_per_replica"],
        "capacity_rps": cmax["capacity_rps_per_replica"],
    }
    peak = max(f["tok_s_32"], f["tok_s_200"], f["tok_s_max"])
    if peak < 0.7 * CLAIMED_TOKENS_PER_S:
        return Judgement("wrong", f)
    if f["concurrency_within_targets"] >= HUNDREDS:
        return Judgement("holds", f)
    return Judgement("holds with conditions", f)


READING_SPEED_TOKENS_PER_S = 5.0  # faster than a person reads: usable for interactive development
MEASURED_M3_MAX_TG1024 = 7.53  # facts.md §6: llama.cpp, Llama 3 70B Q4_K_M, M3 Max 40-core 64 GB, tg 1024


def judge_m3_max(docs: Sequence[Doc]) -> Judgement:
    """Claim 6. Wrong if a Q4_K_M 70B does not fit with an 8K context or decodes slower than
    reading speed; holds if it also fits at 32K and cannot serve production traffic within the
    latency targets; holds with conditions if only the 32K context fails."""
    fit8k, fit32k, decode, chat = docs
    f = {
        "q4_fits_8k": one(fit8k, quant="q4_k_m")["fits"],
        "q4_seqs_8k": one(fit8k, quant="q4_k_m")["max_concurrent_sequences"],
        "q4_weights_gb": one(fit8k, quant="q4_k_m")["weights_gb"],
        "usable_gb": one(fit8k, quant="q4_k_m")["usable_memory_gb"],
        "q4_fits_32k": one(fit32k, quant="q4_k_m")["fits"],
        "q4_kv_tokens": one(fit32k, quant="q4_k_m")["kv_capacity_tokens"],
        "mlx_fits_32k": one(fit32k, quant="mlx-4bit")["fits"],
        "decode_tok_s": decode["results"][0]["output_tokens_per_s_per_sequence"],
        "chat_ttft_s": chat["results"][0]["ttft_s"],
        "chat_capacity_rps": chat["results"][0]["capacity_rps_per_replica"],
    }
    dev_usable = f["q4_fits_8k"] and f["decode_tok_s"] >= READING_SPEED_TOKENS_PER_S
    production = f["chat_capacity_rps"] > 0
    if not dev_usable or production:
        return Judgement("wrong", f)
    return Judgement("holds" if f["q4_fits_32k"] else "holds with conditions", f)


def judge_qwen_codestral(docs: Sequence[Doc]) -> Judgement:
    """Claim 7. Wrong unless Qwen 2.5 32B out-runs both 70B-class models on the same GPU
    (per sequence and in capacity); holds if Codestral is also the cheapest code model per
    token everywhere checked and licensed for production; holds with conditions otherwise."""
    q32, l70, q72, cost_any, cost_l40s = docs
    r32, r70, r72 = (d["results"][0] for d in (q32, l70, q72))
    best_any, best_l40s = cheapest_per_model(cost_any), cheapest_per_model(cost_l40s)
    f = {
        "q32_tok_s": r32["output_tokens_per_s_per_sequence"],
        "l70_tok_s": r70["output_tokens_per_s_per_sequence"],
        "q72_tok_s": r72["output_tokens_per_s_per_sequence"],
        "q32_capacity_rps": r32["capacity_rps_per_replica"],
        "l70_capacity_rps": r70["capacity_rps_per_replica"],
        "q72_capacity_rps": r72["capacity_rps_per_replica"],
        "cheapest_any": min(best_any, key=lambda m: best_any[m]["self_hosted_usd_per_mtok"]),
        "cheapest_l40s": min(best_l40s, key=lambda m: best_l40s[m]["self_hosted_usd_per_mtok"]),
        "codestral_usd_per_mtok": best_any["codestral-22b"]["self_hosted_usd_per_mtok"],
        "qwen32_usd_per_mtok": best_any["qwen2.5-32b"]["self_hosted_usd_per_mtok"],
        "codestral_l40s_usd_per_mtok": best_l40s["codestral-22b"]["self_hosted_usd_per_mtok"],
        "qwen32_l40s_usd_per_mtok": best_l40s["qwen2.5-32b"]["self_hosted_usd_per_mtok"],
        "codestral_production": best_any["codestral-22b"]["license_allows_production"],
    }
    faster = all(f[f"q32_{k}"] > max(f[f"l70_{k}"], f[f"q72_{k}"]) for k in ("tok_s", "capacity_rps"))
    cheapest = f["cheapest_any"] == f["cheapest_l40s"] == "codestral-22b"
    if not faster:
        return Judgement("wrong", f)
    return Judgement("holds" if cheapest and f["codestral_production"] else "holds with conditions", f)


def judge_kv_alert(docs: Sequence[Doc]) -> Judgement:
    """Claim 8. Holds if the 85 % KV alert fires within the latency targets on every
    deployment and workload checked; holds with conditions if on some; wrong if on none."""
    h100, a100x2, h100_long, h100_fp8, l40s_fp8 = (d["results"][0] for d in docs)
    f = {
        "h100_alert_seqs": h100["alert_concurrency"],
        "h100_alert_rps": h100["alert_rps"],
        "h100_capacity_seqs": h100["capacity_concurrency"],
        "h100_first": h100["first_limit"],
        "a100_alert_seqs": a100x2["alert_concurrency"],
        "a100_alert_tpot_ms": a100x2["alert_tpot_s"] * 1000,
        "a100_capacity_seqs": a100x2["capacity_concurrency"],
        "a100_kv_at_capacity_pct": a100x2["kv_utilization_at_capacity"] * 100,
        "a100_first": a100x2["first_limit"],
        "long_alert_seqs": h100_long["alert_concurrency"],
        "long_alert_rps": h100_long["alert_rps"],
        "long_first": h100_long["first_limit"],
        "long_capacity_seqs": h100_long["capacity_concurrency"],
        "fp8_kv_tokens": h100_fp8["kv_capacity_tokens"],
        "fp8_alert_seqs": h100_fp8["alert_concurrency"],
        "fp8_alert_rps": h100_fp8["alert_rps"],
        "fp8_first": h100_fp8["first_limit"],
        "fp8_capacity_seqs": h100_fp8["capacity_concurrency"],
        "fp8_capacity_rps": h100_fp8["capacity_rps"],
        "l40s_alert_seqs": l40s_fp8["alert_concurrency"],
        "l40s_alert_rps": l40s_fp8["alert_rps"],
        "l40s_first": l40s_fp8["first_limit"],
        "l40s_capacity_seqs": l40s_fp8["capacity_concurrency"],
        "l40s_capacity_rps": l40s_fp8["capacity_rps"],
    }
    early = [r["alert_within_latency_targets"] for r in (h100, a100x2, h100_long, h100_fp8, l40s_fp8)]
    if all(early):
        return Judgement("holds", f)
    return Judgement("holds with conditions" if any(early) else "wrong", f)


L70_H100_AWQ = "-m llama-3.3-70b -g h100 -q awq-int4 --gpus 1"
DS_DO = "-m deepseek-v3 -g h100 --provider DigitalOcean"
VS_FRONTIER = "--api openai-gpt-5 --api anthropic-claude-sonnet-4.5"
CODE_MODELS = "-m codestral-22b -m qwen2.5-32b -m qwen2.5-72b -m deepseek-v3 -m mistral-large-2"

CLAIMS: dict[str, Claim] = {
    "1": Claim(
        (
            f"selfhost crossover --rps 5 -m deepseek-v3 -m llama-3.3-70b {VS_FRONTIER} --format json",
            f"selfhost crossover --rps 5 -m deepseek-v3 -m llama-3.3-70b -g h100 --provider DigitalOcean {VS_FRONTIER} --format json",
            f"selfhost crossover --rps 5 {DS_DO} {VS_FRONTIER} --ops-usd-per-month 38000 --format json",
            f"selfhost crossover --rps 5 {DS_DO} {VS_FRONTIER} --input-tokens 500 --output-tokens 100 --format json",
            f"selfhost crossover --rps 5 -m deepseek-v3 -g h100 --provider AWS {VS_FRONTIER} --ops-usd-per-month 16000 --format json",
            "selfhost crossover --rps 5 -m deepseek-v3 --api deepseek-api-deepseek-chat --api deepinfra-deepseek-v3 --format json",
        ),
        judge_crossover,
    ),
    "2": Claim(
        (
            "selfhost fit llama-3.3-70b -g h100 -q awq-int4 --gpus 1 --context 32768 --format json",
            f"selfhost estimate {L70_H100_AWQ} --concurrency max --format json",
            f"selfhost cost --rps 10 {L70_H100_AWQ} --provider DigitalOcean --format json",
            f"selfhost estimate {L70_H100_AWQ} --concurrency max --input-tokens 200 --output-tokens 100 --format json",
            f"selfhost estimate {L70_H100_AWQ} --concurrency max --input-tokens 8000 --output-tokens 500 --format json",
        ),
        judge_h100_10rps,
    ),
    "3": Claim(
        (
            "selfhost fit qwen2.5-32b -g l40s -q bf16 -q fp8 -q awq-int4 --gpus 1 --format json",
            "selfhost fit qwen2.5-32b -g l40s -q fp8 --gpus 1 --kv-dtype fp8 --format json",
            "selfhost fit codestral-22b -g l40s -q bf16 -q fp8 -q awq-int4 --gpus 1 --format json",
            "selfhost estimate -m qwen2.5-32b -g l40s -q awq-int4 --gpus 1 --concurrency max --format json",
        ),
        judge_l40s_32b,
    ),
    "4": Claim(
        (
            "selfhost fit llama-3.3-70b -g h100 -q bf16 --all-counts --format json",
            "selfhost fit llama-3.3-70b -g h100 -q bf16 --gpus 2 --context 8192 --format json",
            "selfhost fit llama-3.3-70b -g h200 -q bf16 --gpus 2 --format json",
            "selfhost fit deepseek-v3 -g h100 -q fp8 -q awq-int4 --gpus 2 --format json",
            "selfhost fit deepseek-v3 -g h100 -g h200 -q fp8 -q awq-int4 --format json",
        ),
        judge_two_h100,
    ),
    "5": Claim(
        tuple(
            f"selfhost estimate -m llama-3.3-70b -g a100-80gb -q awq-int4 --gpus 2 --concurrency {b} --format json"
            for b in ("32", "200", "max")
        ),
        judge_a100_400,
    ),
    "6": Claim(
        (
            "selfhost fit llama-3.3-70b -g m3-max-64gb -q q4_k_m -q mlx-4bit --gpus 1 --context 8192 --format json",
            "selfhost fit llama-3.3-70b -g m3-max-64gb -q q4_k_m -q mlx-4bit --gpus 1 --format json",
            "selfhost estimate -m llama-3.3-70b -g m3-max-64gb -q q4_k_m --input-tokens 1 --output-tokens 1024 --format json",
            "selfhost estimate -m llama-3.3-70b -g m3-max-64gb -q q4_k_m --input-tokens 1024 --output-tokens 300 --format json",
        ),
        judge_m3_max,
    ),
    "7": Claim(
        (
            "selfhost estimate -m qwen2.5-32b -g h100 -q awq-int4 --gpus 1 --format json",
            "selfhost estimate -m llama-3.3-70b -g h100 -q awq-int4 --gpus 1 --format json",
            "selfhost estimate -m qwen2.5-72b -g h100 -q awq-int4 --gpus 1 --format json",
            f"selfhost cost --rps 50 {CODE_MODELS} --ops-usd-per-month 0 --limit 0 --format json",
            f"selfhost cost --rps 50 -g l40s {CODE_MODELS} --ops-usd-per-month 0 --limit 0 --format json",
        ),
        judge_qwen_codestral,
    ),
    "8": Claim(
        (
            f"selfhost kv-alert {L70_H100_AWQ} --format json",
            "selfhost kv-alert -m llama-3.3-70b -g a100-80gb -q awq-int4 --gpus 2 --format json",
            f"selfhost kv-alert {L70_H100_AWQ} --input-tokens 8000 --output-tokens 500 --format json",
            "selfhost kv-alert -m llama-3.3-70b -g h100 -q fp8 --gpus 1 --format json",
            "selfhost kv-alert -m qwen2.5-32b -g l40s -q fp8 --gpus 1 --format json",
        ),
        judge_kv_alert,
    ),
}

#: Figures docs/claims.md quotes: (fact, the figure's place in its sentence or table row, relative
#: tolerance). The place is a regular expression over the section's text (whitespace collapsed) with
#: {N} where the figure stands and {n} for other numbers around it; it must match exactly once, so a
#: figure is compared where the doc states it, not wherever the same digits happen to occur.
#: Memory arithmetic is exact (0.5 %); throughput and cost figures depend on the calibrated engine
#: profiles, so they may move a little with a refit before the doc is stale.
EXACT, ESTIMATE = 0.005, 0.02  # estimates: a recalibration that moves one by > 2 % must update the doc
MI300X_ROW = (
    r"\| 2x B300 NVFP4 \(TP2\), Hyperstack \(\${n}/month\) \| defaults \| "  # the cheapest deployment
)
H100_ROW = r"\| 8x H100 AWQ-int4, DigitalOcean \(\${n}/month\) \| defaults \| "
QWEN_ROW = r"\| Qwen 2\.5 32B \| weights {n} GB: no \| weights {n} GB, {n} KV tokens: not one 32K sequence \({n} with an FP8 KV cache\) \| "
CODESTRAL_ROW = r"\| Codestral 22B \| weights {n} GB: no \| weights {n} GB: {n} sequences \| "
H100_AWQ_ROW = r"\| Llama 3\.3 70B AWQ, 1x H100 \| 1,000 \+ 300 \| "
A100_ROW = r"\| Llama 3\.3 70B AWQ, 2x A100 \| 1,000 \+ 300 \| "
LONG_ROW = r"\| Llama 3\.3 70B AWQ, 1x H100 \| 8,000 \+ 500 \| "
FP8_ROW = r"\| Llama 3\.3 70B FP8, 1x H100 \({n} KV tokens\) \| 1,000 \+ 300 \| "
L40S_ROW = r"\| Qwen 2\.5 32B FP8, 1x L40S \| 1,000 \+ 300 \| "
FIGURES: dict[str, list[tuple[str, str, float]]] = {
    "1": [
        ("mi300x_gpt5", MI300X_ROW + r"{N} \|", ESTIMATE),
        ("mi300x_sonnet", MI300X_ROW + r"{n} \| {N} \|", ESTIMATE),
        ("do_h100_gpt5", H100_ROW + r"{N} \|", ESTIMATE),
        ("do_h100_sonnet", H100_ROW + r"{n} \| {N} \|", ESTIMATE),
        ("do_h100_usd_per_month", r"\| 8x H100 AWQ-int4, DigitalOcean \(\${N}/month\) \|", EXACT),
        (
            "llama_do_gpt5",
            r"Llama 3\.3 70B on one DigitalOcean H100 \(AWQ-int4\) crosses GPT-5 at {N} req/s",
            ESTIMATE,
        ),
        ("ops_high_gpt5", r"\| 8x H100, DigitalOcean \| operations \$38,000/month \| {N} \|", ESTIMATE),
        (
            "ops_high_sonnet",
            r"\| 8x H100, DigitalOcean \| operations \$38,000/month \| {n} \| {N} \|",
            ESTIMATE,
        ),
        (
            "short_gpt5",
            r"\| 8x H100, DigitalOcean \| requests of 500 in \+ 100 out tokens \| {N} \|",
            ESTIMATE,
        ),
        (
            "aws_gpt5",
            r"\| 8x H100, AWS p5 \(\${n}/GPU-hour\) \| operations \$16,000/month \| {N} \|",
            ESTIMATE,
        ),
    ],
    "2": [
        ("weights_gb", r"Fit: weights {N} GB of {n} GB usable", EXACT),
        ("kv_capacity_tokens", r"GB usable leave {N} KV tokens at 320 KiB per token", EXACT),
        ("seqs_32k", r"KV tokens at 320 KiB per token: {N} concurrent sequences of 32K tokens", EXACT),
        ("capacity_rps", r"within the 100 ms TPOT target one H100 serves {N} req/s", ESTIMATE),
        ("max_concurrency", r"the KV cache holds {N} sequences \({n} output tokens/s\)", EXACT),
        ("replicas_at_10", r"10 req/s: {N} replicas \({n} H100s at 70 % of capacity\)", EXACT),
        ("usd_per_month_at_10", r"of capacity\), \${N} a month on DigitalOcean", EXACT),
        (
            "short_capacity_rps",
            r"Short requests \(200 \+ 100 tokens\): {N} req/s within the targets",
            ESTIMATE,
        ),
        ("long_capacity_rps", r"\(8,000 \+ 500 tokens\): {N} req/s, {n}x short of 10", ESTIMATE),
    ],
    "3": [
        ("qwen_bf16_weights_gb", r"\| Qwen 2\.5 32B \| weights {N} GB: no \|", EXACT),
        ("usable_gb", r"An L40S under vLLM has {N} GB usable", EXACT),
        ("qwen_fp8_kv_tokens", r"\| weights {n} GB, {N} KV tokens: not one 32K sequence", EXACT),
        ("qwen_awq_seqs", QWEN_ROW + r"weights {n} GB: {N} sequences \|", EXACT),
        ("codestral_bf16_weights_gb", r"\| Codestral 22B \| weights {N} GB: no \|", EXACT),
        (
            "codestral_fp8_seqs",
            r"\| Codestral 22B \| weights {n} GB: no \| weights {n} GB: {N} sequences \|",
            EXACT,
        ),
        ("codestral_awq_seqs", CODESTRAL_ROW + r"weights {n} GB: {N} sequences \|", EXACT),
        (
            "qwen_awq_capacity_rps",
            r"Qwen 2\.5 32B at AWQ-int4 serves {N} req/s of 1,000 \+ 300-token requests",
            ESTIMATE,
        ),
    ],
    "4": [
        ("llama_weights_gb", r"Llama 3\.3 70B at BF16 is {N} GB of weights", EXACT),
        ("llama_2x_kv_tokens", r"with {N} KV tokens left for all sequences together", EXACT),
        ("llama_2x_8k_seqs", r"not one 32K sequence, {N} sequences of 8K", EXACT),
        ("llama_4x_seqs", r"Four H100s hold {N} sequences of 32K", EXACT),
        ("llama_2x_h200_seqs", r"sequences of 32K; two H200s hold {N}\.", EXACT),
        ("ds_fp8_weights_gb", r"DeepSeek-V3 is {N} GB at its native FP8", EXACT),
        ("ds_awq_weights_gb", r"at its native FP8 and {N} GB at AWQ-int4", EXACT),
        ("ds_2x_usable_gb", r"against {N} GB usable on two H100s", EXACT),
    ],
    "5": [
        ("tok_s_32", r"\| 32 \| {N} \| {n} ms \|", ESTIMATE),
        ("tok_s_200", r"\| 200 \| {N} \| {n} ms \|", ESTIMATE),
        ("tpot_200_ms", r"\| 200 \| {n} \| {N} ms \|", ESTIMATE),
        ("tok_s_max", r"\| {n} \(vLLM's sequence cap\) \| {N} \| {n} ms \|", ESTIMATE),
        (
            "concurrency_within_targets",
            r"Within the 100 ms TPOT target the pair serves {N} concurrent sequences",
            ESTIMATE,
        ),
        ("capacity_rps", r"the pair serves {n} concurrent sequences, {N} req/s of", ESTIMATE),
    ],
    "6": [
        ("q4_weights_gb", r"the Q4_K_M file is {N} GB", EXACT),
        ("usable_gb", r"Metal lets the GPU use 75 % of 64 GB, {N} GB under llama\.cpp", EXACT),
        ("q4_kv_tokens", r"under llama\.cpp, which leaves {N} KV tokens", EXACT),
        ("decode_tok_s", r"Decode: {N} tokens/s for one stream", ESTIMATE),
        ("chat_ttft_s", r"a 1,024-token prompt waits {N} s for its first token", ESTIMATE),
    ],
    "7": [
        ("q32_tok_s", r"one sequence decodes at {N} tokens/s on Qwen 2\.5 32B", ESTIMATE),
        ("l70_tok_s", r"tokens/s on Qwen 2\.5 32B, {N} on Llama 3\.3 70B", ESTIMATE),
        ("q72_tok_s", r"on Llama 3\.3 70B and {N} on Qwen 2\.5 72B", ESTIMATE),
        ("q32_capacity_rps", r"the GPU serves {N}, {n} and {n} req/s", ESTIMATE),
        ("l70_capacity_rps", r"the GPU serves {n}, {N} and {n} req/s", ESTIMATE),
        ("codestral_usd_per_mtok", r"Codestral 22B \${N} \(FP8 on MI300X\)", ESTIMATE),
        ("qwen32_usd_per_mtok", r"\(FP8 on MI300X\), Qwen 2\.5 32B \${N}, Qwen 2\.5 72B", ESTIMATE),
        ("codestral_l40s_usd_per_mtok", r"On L40S only: Codestral \${N}, Qwen", ESTIMATE),
        ("qwen32_l40s_usd_per_mtok", r"On L40S only: Codestral \${n}, Qwen 2\.5 32B \${N}\.", ESTIMATE),
    ],
    "8": [
        ("h100_alert_seqs", H100_AWQ_ROW + r"{N} sequences, {n} req/s \|", ESTIMATE),
        ("h100_alert_rps", H100_AWQ_ROW + r"{n} sequences, {N} req/s \|", ESTIMATE),
        ("h100_capacity_seqs", H100_AWQ_ROW + r"{n} sequences, {n} req/s \| {N} sequences \|", ESTIMATE),
        ("a100_alert_seqs", A100_ROW + r"{N} sequences, at {n} ms per token \|", EXACT),
        ("a100_alert_tpot_ms", A100_ROW + r"{n} sequences, at {N} ms per token \|", ESTIMATE),
        (
            "a100_capacity_seqs",
            A100_ROW + r"{n} sequences, at {n} ms per token \| {N} sequences, KV at {n} % \|",
            ESTIMATE,
        ),
        (
            "a100_kv_at_capacity_pct",
            A100_ROW + r"{n} sequences, at {n} ms per token \| {n} sequences, KV at {N} % \|",
            ESTIMATE,
        ),
        ("long_alert_seqs", LONG_ROW + r"{N} sequences, {n} req/s \|", EXACT),
        ("long_alert_rps", LONG_ROW + r"{n} sequences, {N} req/s \|", ESTIMATE),
        ("long_capacity_seqs", LONG_ROW + r"{n} sequences, {n} req/s \| {N} sequences \|", ESTIMATE),
        ("fp8_kv_tokens", r"\| Llama 3\.3 70B FP8, 1x H100 \({N} KV tokens\) \|", EXACT),
        ("fp8_alert_seqs", FP8_ROW + r"{N} sequences, {n} req/s \|", EXACT),
        ("fp8_alert_rps", FP8_ROW + r"{n} sequences, {N} req/s \|", ESTIMATE),
        ("fp8_capacity_seqs", FP8_ROW + r"{n} sequences, {n} req/s \| {N} sequences, {n} req/s \|", ESTIMATE),
        ("fp8_capacity_rps", FP8_ROW + r"{n} sequences, {n} req/s \| {n} sequences, {N} req/s \|", ESTIMATE),
        ("l40s_alert_seqs", L40S_ROW + r"{N} sequences, {n} req/s \|", EXACT),
        ("l40s_alert_rps", L40S_ROW + r"{n} sequences, {N} req/s \|", ESTIMATE),
        (
            "l40s_capacity_seqs",
            L40S_ROW + r"{n} sequences, {n} req/s \| {N} sequences, {n} req/s \|",
            ESTIMATE,
        ),
        (
            "l40s_capacity_rps",
            L40S_ROW + r"{n} sequences, {n} req/s \| {n} sequences, {N} req/s \|",
            ESTIMATE,
        ),
    ],
}

NUMBER = r"\d[\d,]*(?:\.\d+)?"


def figure_at_its_place(text: str, place: str) -> list[str]:
    """Every figure standing at ``place`` ({N}) in ``text`` (whitespace collapsed)."""
    assert place.count("{N}") == 1, place
    before, after = (part.replace("{n}", NUMBER) for part in place.split("{N}", 1))
    return re.findall(before + f"({NUMBER})" + after, " ".join(text.split()))


# --------------------------------------------------------------------------- doc <-> tool


def test_the_doc_checks_all_eight_claims() -> None:
    assert sorted(SECTIONS, key=int) == [str(n) for n in range(1, 9)]
    assert set(CLAIMS) == set(SECTIONS) == set(FIGURES)


def test_summary_table_agrees_with_each_claims_verdict() -> None:
    summary = summary_verdicts(CLAIMS_MD.read_text(encoding="utf-8"))
    assert summary == {claim: s.verdict for claim, s in SECTIONS.items()}


@pytest.mark.parametrize("claim", sorted(CLAIMS, key=int))
def test_doc_lists_exactly_the_commands_the_rule_reads(claim: str) -> None:
    assert SECTIONS[claim].commands == list(CLAIMS[claim].commands), (
        f"docs/claims.md claim {claim}: the ```bash block and CLAIMS[{claim!r}].commands in "
        "tests/test_claims.py must list the same commands in the same order"
    )


@pytest.mark.parametrize("claim", sorted(CLAIMS, key=int))
def test_verdict_in_doc_is_what_the_tool_gives(claim: str) -> None:
    judgement = CLAIMS[claim].judge(outputs(claim))
    assert judgement.verdict == SECTIONS[claim].verdict, (
        f"claim {claim}: the tool now says '{judgement.verdict}', docs/claims.md says "
        f"'{SECTIONS[claim].verdict}'. Facts: {judgement.facts}"
    )


@pytest.mark.parametrize("claim", sorted(CLAIMS, key=int))
def test_figures_quoted_in_doc_match_the_tool(claim: str) -> None:
    facts = CLAIMS[claim].judge(outputs(claim)).facts
    text = SECTIONS[claim].text
    for name, place, tolerance in FIGURES[claim]:
        found = figure_at_its_place(text, place)
        assert len(found) == 1, (
            f"claim {claim}: {name} must stand once at its place in docs/claims.md ({place!r}); "
            f"found {len(found)}: {found}"
        )
        written = found[0]
        quoted = float(written.replace(",", ""))
        actual = float(facts[name])
        decimals = len(written.partition(".")[2])
        rounding = 0.5 * 10.0**-decimals  # "19" stands for anything in [18.5, 19.5)
        assert abs(actual - quoted) <= max(tolerance * abs(quoted), rounding), (
            f"claim {claim}: docs/claims.md quotes {name} = {written}, the tool now gives {actual:.4g}"
        )


def test_a_figure_is_read_at_its_place_not_wherever_its_digits_occur() -> None:
    # the old check passed when "39.8" appeared anywhere in the section; now the figure is the one
    # in its sentence, so a stale figure is caught even if its old value is quoted elsewhere
    place = r"Fit: weights {N} GB of {n} GB usable"
    stale = "Fit: weights 41.0 GB of 75.7 GB usable. (Earlier: weights 39.8 GB.)"
    assert figure_at_its_place(stale, place) == ["41.0"]
    assert figure_at_its_place("Fit: weights\n  39.8 GB of 75.7 GB usable", place) == ["39.8"]
    assert figure_at_its_place("weights 39.8 GB of 75.7 GB usable", place) == []


# --------------------------------------------------------------------------- verdict-setting facts


def facts(claim: str) -> dict[str, Any]:
    return CLAIMS[claim].judge(outputs(claim)).facts


def test_claim_1_self_hosting_beats_frontier_apis_below_5_rps_at_default_costs() -> None:
    f = facts("1")
    # default: 1000 in + 300 out tokens, $4,000/month operations, on-demand prices
    assert max(f["mi300x_gpt5"], f["mi300x_sonnet"], f["do_h100_gpt5"], f["do_h100_sonnet"]) < 2.5
    # ~5 req/s needs short requests or ~10x the operations cost
    for key in ("ops_high_gpt5", "short_gpt5"):
        assert ABOUT_FIVE_RPS[0] <= f[key] <= ABOUT_FIVE_RPS[1], key
    # hyperscaler GPUs plus a bigger team: cheaper from ~5 req/s on one replica (fixed bill / API
    # cost per req/s), but one 8x H100 replica plans 5.36 req/s and the replicas it needs above that
    # put the crossover at 12.2
    aws = one(outputs("1")[4], model="deepseek-v3", api="openai-gpt-5")  # at 5 req/s: one replica
    api_usd_per_rps_month = aws["api_usd_per_month"] / 5
    assert aws["self_hosted_usd_per_month"] / api_usd_per_rps_month == pytest.approx(5.03, abs=0.01)
    assert f["aws_gpt5"] > ABOUT_FIVE_RPS[1]
    # against DeepSeek's own (frontier-tier, cheap) API and DeepInfra's, self-hosting DeepSeek-V3
    # never wins (crossover 'never'), and the doc says so
    assert math.isinf(f["own_api"]) and math.isinf(f["deepinfra"])
    assert "self-hosting DeepSeek-V3 never wins" in " ".join(SECTIONS["1"].text.split())


def test_claim_2_one_h100_fits_32k_but_serves_about_a_third_of_10_rps() -> None:
    f = facts("2")
    assert f["fits_32k"] and f["seqs_32k"] == 3
    # 2.22 req/s with the vLLM profile refitted to the drain's TPOT (3.67 before it)
    assert f["capacity_rps"] < 0.4 * 10
    assert f["replicas_at_10"] >= 4


def test_claim_3_l40s_holds_32b_only_quantized() -> None:
    f = facts("3")
    assert not f["qwen_bf16_fits"] and not f["codestral_bf16_fits"]
    assert not f["qwen_fp8_fits"] and f["qwen_fp8_kv_tokens"] < 32768
    assert f["qwen_awq_fits"] and f["qwen_awq_seqs"] >= 2


def test_claim_4_deepseek_v3_does_not_fit_two_h100() -> None:
    f = facts("4")
    assert f["ds_2x_fits"] is False
    assert f["ds_fp8_weights_gb"] > 4 * f["ds_2x_usable_gb"]
    assert not f["ds_h100_fp8_fits_8x"]  # FP8 does not fit even eight H100
    assert ("h100-sxm-80gb", 8, "awq-int4") in f["ds_smallest"]
    assert ("h200-141gb", 8, "fp8") in f["ds_smallest"]
    # BF16 70B: one H100 cannot hold the weights; two hold them but not one 32K sequence
    assert not f["llama_1x_fits"] and f["llama_1x_reason"] == "weights exceed usable memory"
    assert not f["llama_2x_fits_32k"] and 0 < f["llama_2x_kv_tokens"] < 32768
    assert f["llama_4x_fits"]


def test_claim_5_about_400_tokens_per_s_but_tens_of_users_within_targets() -> None:
    f = facts("5")
    assert f["tok_s_32"] >= 0.7 * CLAIMED_TOKENS_PER_S
    assert f["concurrency_within_targets"] < 100
    # 200 streams at almost 3x the 100 ms TPOT target (289 ms; 374 ms before the refit)
    assert f["tpot_200_ms"] > 2.5 * 100


def test_claim_6_m3_max_decode_matches_the_measurement_and_serves_no_production_load() -> None:
    f = facts("6")
    assert f["decode_tok_s"] == pytest.approx(MEASURED_M3_MAX_TG1024, rel=0.15)
    assert f["q4_fits_8k"] and not f["q4_fits_32k"] and f["mlx_fits_32k"]
    assert f["chat_capacity_rps"] == 0
    assert f["chat_ttft_s"] > 10  # facts.md: ~63 tokens/s prompt processing


def test_claim_7_qwen_32b_faster_codestral_cheapest_but_not_licensed() -> None:
    f = facts("7")
    assert f["q32_tok_s"] > 1.5 * max(f["l70_tok_s"], f["q72_tok_s"])
    assert f["cheapest_any"] == f["cheapest_l40s"] == "codestral-22b"
    assert f["codestral_production"] is False  # MNPL-0.1


def test_claim_8_the_85_percent_alert_is_first_only_where_kv_binds() -> None:
    f = facts("8")
    assert f["a100_first"] == "latency target" and f["a100_kv_at_capacity_pct"] < 50
    assert f["fp8_first"] == "kv alert"
    assert f["long_first"] == "kv alert"
    assert f["l40s_first"] == "kv alert"


# --------------------------------------------------------------------------- kv-alert


def test_kv_utilization_and_alert_concurrency_by_hand() -> None:
    # Llama-3.3-70B AWQ on one H100 (docs/method.md §1.5): 109,602 KV tokens; 1000 + 300/2 tokens
    assert kv_utilization(82, 1150, 109_602) == pytest.approx(82 * 1150 / 109_602)
    # 0.85 x 109,602 / 1,150 = 81.01 -> 82 sequences
    assert concurrency_at_utilization(0.85, 1150, 109_602) == 82
    # exact products do not round up: 0.85 x 100 tokens of capacity at 1 token per sequence
    assert concurrency_at_utilization(0.85, 1, 100) == 85
    # at least one sequence; none when nothing fits
    assert concurrency_at_utilization(0.5, 1000, 100) == 1
    assert concurrency_at_utilization(0.85, 1000, 0) == 0
    assert kv_utilization(1, 1000, 0) == math.inf
    # broadcasting: thresholds (3, 1) against capacities (1, 2)
    got = concurrency_at_utilization(np.array([[0.5], [0.85], [1.0]]), 100, np.array([[1000, 10_000]]))
    assert got.shape == (3, 2)
    assert got.tolist() == [[5, 50], [9, 85], [10, 100]]


def test_kv_alert_monotone_in_threshold(cli: Cli) -> None:
    seqs = []
    for threshold in ("0.5", "0.85", "1.0"):
        result = cli(*shlex.split(f"kv-alert {L70_H100_AWQ} --threshold {threshold} --format json"))
        assert result.exit_code == 0, result.output
        seqs.append(json.loads(result.stdout)["results"][0]["alert_concurrency"])
    assert seqs == sorted(seqs) and seqs[0] < seqs[-1]


def test_kv_alert_replicas_scale_request_rates(cli: Cli) -> None:
    docs = []
    for n in ("1", "3"):
        result = cli(*shlex.split(f"kv-alert {L70_H100_AWQ} --replicas {n} --format json"))
        assert result.exit_code == 0, result.output
        docs.append(json.loads(result.stdout)["results"][0])
    assert docs[1]["alert_rps"] == pytest.approx(3 * docs[0]["alert_rps"])
    assert docs[1]["alert_concurrency"] == docs[0]["alert_concurrency"]  # per replica


def test_kv_alert_engine_cap_keeps_kv_below_threshold(cli: Cli) -> None:
    # llama.cpp's profile runs at most 4 sequences; a 7B model on an M3 Max has room for far more
    result = cli(*shlex.split("kv-alert -m qwen2.5-7b -g m3-max-64gb -q q4_k_m --format json"))
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)["results"][0]
    assert r["first_limit"] == "engine batch cap"
    assert r["alert_concurrency"] is None and r["alert_rps"] is None
    assert r["kv_utilization_at_engine_cap"] < 0.85


def test_kv_alert_table_and_bad_threshold(cli: Cli) -> None:
    result = cli(*shlex.split(f"kv-alert {L70_H100_AWQ}"))
    assert result.exit_code == 0, result.output
    assert "Seqs at 85% KV" in result.stdout and "First limit" in result.stdout
    assert result.stderr.startswith("note: ")
    bad = cli(*shlex.split(f"kv-alert {L70_H100_AWQ} --threshold 1.5"))
    assert bad.exit_code == 2
    assert "--threshold" in bad.stderr
