"""`selfhost kv-alert`: at what concurrency and request rate KV-cache use crosses a threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.question import Scenario

DEFAULT_THRESHOLD = 0.85  # kv_alert.DEFAULT_THRESHOLD, repeated to keep --help free of NumPy


@o.question_options(o.DEPLOYMENT, model=(o.ModelsOpt, o.REQUIRED), gpu=(o.GpuListOpt, o.REQUIRED))
def kv_alert(
    scenario: Scenario,
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD,
        "--threshold",
        "-t",
        min=0.01,
        max=1.0,
        help="Alert level: share of the KV cache in use. [0-1]",
    ),
    replicas: int = typer.Option(
        1, "--replicas", min=1, help="Replicas sharing the traffic; request rates scale with it. [count]"
    ),
    fmt: o.FormatOpt = o.OutputFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """When does KV-cache use cross --threshold, and is that the first warning?

    For each deployment: the concurrent sequences and the request rate at which the KV
    cache passes the threshold (sequences at their mean length, input + output / 2), next
    to the load at which the latency targets break. 'First limit' says which comes first
    as traffic grows: the KV alert (a useful early warning), the latency target (alert on
    TPOT/queue depth instead), or the engine's batch cap (KV use never gets there).
    Without --quant, the model's native precision; without --gpus, the smallest group
    that fits one request.

    Examples:

      selfhost kv-alert -m llama-3.3-70b -g h100 -q awq-int4 --gpus 1

      selfhost kv-alert -m qwen2.5-32b -g l40s -q awq-int4 --input-tokens 8000 --output-tokens 500

      selfhost kv-alert -m llama-3.3-70b -g a100-80gb -q awq-int4 --gpus 2 --replicas 3 --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, ms, num0, num2, text

        report = questions.kv_alert(
            load(scenario.catalog_overlays), scenario, threshold=threshold, replicas=replicas
        )
        if fmt is o.OutputFormat.table:
            for r in report.results:
                at_capacity = r["kv_utilization_at_capacity"]
                r["kv_at_capacity_pct"] = None if at_capacity is None else 100 * at_capacity
        from selfhost.render import replica_words

        for r in report.results:
            r["replica"] = replica_words(r["gpus_per_replica"], r["gpu"], r.get("layout"))
        columns = [
            Column("model", "Model", text, "left"), Column("quant", "Quant", text, "left", priority=2),
            Column("replica", "One replica", text, "left"),
            Column("kv_capacity_tokens", "KV capacity tokens", num0, priority=3),
            Column("alert_concurrency", f"Seqs at {threshold * 100:g}% KV", num0, priority=1),
            Column("alert_rps", f"Req/s at {threshold * 100:g}% KV", num2),
            Column("alert_tpot_s", "TPOT ms there", ms, priority=2),
            Column("capacity_concurrency", "Seqs within targets", num0, priority=1),
            Column("capacity_rps", "Req/s within targets", num2),
            Column("kv_at_capacity_pct", "KV % there", num0, priority=2),
            Column("first_limit", "First limit", text, "left"),
        ]  # fmt: skip
        if fmt is not o.OutputFormat.table:  # table-only labels
            columns = [c for c in columns if c.key not in ("kv_at_capacity_pct", "replica")]
        title = (
            f"KV-cache alert at {threshold * 100:g}% ({scenario.input_tokens} in + {scenario.output_tokens} "
            f"out, {replicas} replica(s))"
        )
        emit(report, fmt, columns, title, wide=wide)

    guarded(run)


def register(app: typer.Typer) -> None:
    app.command("kv-alert")(kv_alert)
