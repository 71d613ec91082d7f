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
    wide: o.WideOpt = False,
) -> None:
    """Does MODEL fit? Weights, KV cache per token, KV capacity and concurrent sequences.

    Without --gpus, shows for each GPU and quantization the smallest tensor-parallel group
    that holds the weights plus one sequence of --context tokens, then names the smallest
    and the cheapest deployment that fits (on-demand prices). Where nothing fits, says what
    would: another quantization or GPU count, or another GPU.

    Examples:

      selfhost fit llama-3.3-70b --gpu h100 --quant awq-int4 --context 32768

      selfhost fit deepseek-v3 --gpu h200 --gpus 8 --quant fp8 --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, num0, num1, replica_words, text, yes_no

        report = questions.fit(load(scenario.catalog_overlays), scenario, all_counts=all_counts)
        context = scenario.context_tokens or 0
        if fmt is o.OutputFormat.table:
            for r in report.results:
                r["replica"] = replica_words(r["gpus_per_replica"], r["gpu"], r.get("layout"))
            columns = [
                Column("replica", "One replica", text, "left"), Column("quant", "Quant", text, "left"),
                Column("fits", "Fits", yes_no, "left"),
                Column("max_concurrent_sequences", f"Seqs at {context:,}", num0),
                Column("weights_gb", "Weights GB", num1, priority=1),
                Column("usable_memory_gb", "Usable GB", num1, priority=1),
                Column("reason", "Why", text, "left", priority=2),
                Column("engine", "Engine", text, "left", priority=3),
                Column("kv_capacity_tokens", "KV capacity tokens", num0, priority=3),
                Column("kv_bytes_per_token", "KV bytes/token", num0, priority=4),
            ]  # fmt: skip
        else:
            keys = ["gpu", "gpus_per_replica", "quant", "engine", "fits", "weights_gb", "usable_memory_gb",
                    "kv_bytes_per_token", "kv_capacity_tokens", "max_concurrent_sequences", "reason"]  # fmt: skip
            columns = [Column(k, k) for k in keys]
        model = report.results[0]["model"] if report.results else scenario.selection.models[0]
        emit(report, fmt, columns, f"Does {model} fit? (context {context:,} tokens)", limit, wide=wide)

    guarded(run)


@o.question_options(o.DEPLOYMENT, model=(o.OneModelOpt, o.REQUIRED), gpu=(o.OneGpuOpt, o.REQUIRED))
def estimate(
    scenario: Scenario,
    concurrency: str = typer.Option(
        "auto",
        "--concurrency",
        "-b",
        metavar="N",
        help="Concurrent sequences: a number, 'max' (the largest batch memory and the engine allow) or "
        "'auto': one request alone and the largest batch within the latency targets.",
    ),
    fmt: o.FormatOpt = o.OutputFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """Throughput and latency of MODEL on GPU: tokens/s, TTFT, time per output token, requests/s.

    These are roofline estimates (docs/method.md). By default two rows per deployment: one
    request alone, and the largest concurrency within --max-tpot-ms and --max-ttft-ms (the
    load a deployment is sized for). Without --quant, the model's native precision; without
    --gpus, the smallest group that fits one request. The title names the GPU an alias
    resolved to. Where nothing fits, says what would.

    Examples:

      selfhost estimate -m llama-3.3-70b -g h100 --quant awq-int4

      selfhost estimate -m llama-3.3-70b -g h100 -q awq-int4 --concurrency 32

      selfhost estimate -m qwen2.5-32b -g l40s -q awq-int4 -b max --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, ms, num0, num1, num2, replica_words, text

        batch = parse_concurrency(concurrency)
        report = questions.estimate(load(scenario.catalog_overlays), scenario, concurrency=batch)
        if fmt is o.OutputFormat.table:
            for r in report.results:
                r["replica"] = replica_words(r["gpus_per_replica"], r["gpu"], r.get("layout"))
            columns = [
                Column("replica", "One replica", text, "left"), Column("quant", "Quant", text, "left"),
                Column("load", "Load", text, "left"), Column("concurrency", "Seqs", num0),
                Column("output_tokens_per_s", "Output tok/s", num0),
                Column("ttft_s", "TTFT ms", ms), Column("tpot_s", "TPOT ms", ms),
                Column("requests_per_s", "Req/s", num2),
                Column("output_tokens_per_s_per_sequence", "Tok/s per seq", num1, priority=1),
                Column("engine", "Engine", text, "left", priority=2),
                Column("capacity_rps_per_replica", "Req/s within targets", num2, priority=2),
            ]  # fmt: skip
        else:
            keys = ["quant", "gpus_per_replica", "engine", "load", "concurrency", "output_tokens_per_s",
                    "output_tokens_per_s_per_sequence", "ttft_s", "tpot_s", "requests_per_s",
                    "capacity_rps_per_replica"]  # fmt: skip
            columns = [Column(k, k) for k in keys]
        model = report.results[0]["model"] if report.results else scenario.selection.models[0]
        typed = scenario.selection.gpus[0]
        gpu = report.results[0]["gpu"] if report.results else typed
        resolved = gpu if gpu == typed else f"{gpu} (from '{typed}')"
        title = f"Estimated throughput: {model} on {resolved} ({scenario.input_tokens} in + {scenario.output_tokens} out)"
        emit(report, fmt, columns, title, wide=wide)

    guarded(run)


def parse_concurrency(text: str) -> int | str | None:
    """'max' -> None (the largest batch), 'auto' -> 'auto', else a whole number >= 1."""
    from selfhost.errors import InputError

    if text == "max":
        return None
    if text == "auto":
        return "auto"
    try:
        batch = int(text)
    except ValueError:
        batch = 0
    if batch < 1:
        raise InputError(f"--concurrency '{text}' must be a whole number >= 1, 'max' or 'auto'")
    return batch


def register(app: typer.Typer) -> None:
    app.command()(fit)
    app.command()(estimate)
