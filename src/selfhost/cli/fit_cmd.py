"""`selfhost fit` and `selfhost estimate`: does a model fit, and how fast does it run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.question import Scenario


@o.question_options(o.FIT, model=(o.ModelArg, o.REQUIRED), context=(o.FitContextOpt, o.DEFAULT_FIT_CONTEXT))
def fit(
    scenario: Scenario,
    all_counts: bool = typer.Option(
        False, "--all-counts", help="Show every GPU count, not just the smallest that fits."
    ),
    fmt: o.FormatOpt = o.OutputFormat.table,
    limit: o.LimitOpt = 0,
) -> None:
    """Does MODEL fit? Weights, KV cache per token, KV capacity and concurrent sequences.

    Without --gpus, shows for each GPU and quantization the smallest tensor-parallel group
    that holds the weights plus one sequence of --context tokens.

    Examples:

      selfhost fit llama-3.3-70b --gpu h100 --quant awq-int4 --context 32768

      selfhost fit deepseek-v3 --gpu h200 --gpus 8 --quant fp8 --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, num0, num1, text, yes_no

        report = questions.fit(load(scenario.catalog_overlays), scenario, all_counts=all_counts)
        context = scenario.context_tokens or 0
        columns = [
            Column("gpu", "GPU", text, "left"), Column("gpus_per_replica", "GPUs", num0),
            Column("quant", "Quant", text, "left"), Column("engine", "Engine", text, "left"),
            Column("fits", "Fits", yes_no, "left"), Column("weights_gb", "Weights GB", num1),
            Column("usable_memory_gb", "Usable GB", num1),
            Column("kv_bytes_per_token", "KV bytes/token", num0),
            Column("kv_capacity_tokens", "KV capacity tokens", num0),
            Column("max_concurrent_sequences", f"Seqs at {context:,}", num0),
            Column("reason", "Why", text, "left"),
        ]  # fmt: skip
        model = report.results[0]["model"] if report.results else scenario.selection.models[0]
        emit(report, fmt, columns, f"Does {model} fit? (context {context:,} tokens)", limit)

    guarded(run)


@o.question_options(o.DEPLOYMENT, model=(o.OneModelOpt, o.REQUIRED), gpu=(o.OneGpuOpt, o.REQUIRED))
def estimate(
    scenario: Scenario,
    concurrency: str = typer.Option(
        "1",
        "--concurrency",
        "-b",
        help="Concurrent sequences, or 'max' (largest batch memory and the engine allow).",
    ),
    fmt: o.FormatOpt = o.OutputFormat.table,
) -> None:
    """Throughput and latency of MODEL on GPU: tokens/s, TTFT, time per output token, requests/s.

    These are roofline estimates (docs/method.md). Without --quant, the model's native
    precision; without --gpus, the smallest group that fits one request.

    Examples:

      selfhost estimate -m llama-3.3-70b -g h100 --quant awq-int4 --concurrency 32

      selfhost estimate -m qwen2.5-32b -g l40s -q awq-int4 --concurrency max --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, ms, num0, num1, num2, text

        batch = parse_concurrency(concurrency)
        report = questions.estimate(load(scenario.catalog_overlays), scenario, concurrency=batch)
        columns = [
            Column("quant", "Quant", text, "left"), Column("gpus_per_replica", "GPUs", num0),
            Column("engine", "Engine", text, "left"), Column("concurrency", "Concurrency", num0),
            Column("output_tokens_per_s", "Output tok/s", num0),
            Column("output_tokens_per_s_per_sequence", "Tok/s per seq", num1),
            Column("ttft_s", "TTFT ms", ms), Column("tpot_s", "TPOT ms", ms),
            Column("requests_per_s", "Req/s", num2),
            Column("capacity_rps_per_replica", "Req/s within targets", num2),
        ]  # fmt: skip
        model = report.results[0]["model"] if report.results else scenario.selection.models[0]
        title = (
            f"Estimated throughput: {model} on {scenario.selection.gpus[0]} "
            f"({scenario.input_tokens} in + {scenario.output_tokens} out)"
        )
        emit(report, fmt, columns, title)

    guarded(run)


def parse_concurrency(text: str) -> int | None:
    """'max' -> None (the largest batch), else a whole number >= 1."""
    from selfhost.errors import InputError

    if text == "max":
        return None
    try:
        batch = int(text)
    except ValueError:
        batch = 0
    if batch < 1:
        raise InputError(f"--concurrency '{text}' must be a whole number >= 1 or 'max'")
    return batch


def register(app: typer.Typer) -> None:
    app.command()(fit)
    app.command()(estimate)
