"""`selfhost cost`: every deployment that serves a rate, cheapest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load, percent0

TABLE_ROWS = 20  # the rows a table shows without --limit (JSON, JSONL and CSV: all)

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.question import Scenario
    from selfhost.render import Column


@o.question_options(o.COST, rps=(o.OptionalRpsOpt, None))
def cost(
    scenario: Scenario,
    fmt: o.FormatOpt = o.OutputFormat.table,
    limit: o.CostLimitOpt = None,
    wide: o.WideOpt = False,
) -> None:
    """Monthly and per-token cost of every deployment that serves RPS, cheapest first.

    Examples:

      selfhost cost --rps 5 -m llama-3.3-70b

      selfhost cost --rps 50 -m qwen2.5-32b --pricing all --format csv > costs.csv

      selfhost cost --rps 5 -m llama-3.3-70b --uncertainty 100000 --limit 5

      selfhost cost --traffic examples/traffic/spiky-consumer-app.yaml -m llama-3.3-70b --provisioning autoscaled

    A table shows the 20 cheapest rows unless --limit says otherwise; JSON, JSONL and CSV
    hold every row (JSON also says total_rows and limit). With --uncertainty N, the rows
    shown get P10/P50/P90 of the monthly cost from N Monte Carlo samples of GPU price and
    engine efficiency (seed --seed). Prices older than --stale-days are flagged. With
    --traffic FILE, each deployment is priced on the profile's hours, fixed for the busiest
    hour or autoscaled (--provisioning), with the idle share of its bill.
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.analysis import load_words

        rows = (TABLE_ROWS if fmt is o.OutputFormat.table else 0) if limit is None else limit
        report = questions.costs(load(scenario.catalog_overlays), scenario, rows=rows)
        title = (
            f"Self-hosted cost at {load_words(scenario)} ({scenario.input_tokens} in + "
            f"{scenario.output_tokens} out)"
        )
        emit(report, fmt, table_columns(report, scenario, fmt), title, rows, wide=wide, counted=True)

    guarded(run)


def table_columns(report: Report, scenario: Scenario, fmt: o.OutputFormat) -> list[Column]:
    """The columns of the cost table (essential first, then by priority); in a table, the
    deployment and band labels they show."""
    from selfhost.render import Column, deployment_words, num0, num1, span, text, usd, usd_cents, usd_mtok

    # JSON and CSV write the records whole; these name an empty CSV's columns
    if fmt is not o.OutputFormat.table:
        keys = ["model", "quant", "gpu", "gpus_per_replica", "layout", "provider", "usd_per_gpu_hour",
                "capacity_rps_per_replica", "replicas", "gpus_billed", "self_hosted_usd_per_month", "self_hosted_usd_per_mtok"]  # fmt: skip
        return [Column(k, k) for k in keys]
    for r in report.results:
        r["deployment"] = deployment_words(r)
        if "self_hosted_usd_per_month_p10" in r:
            r["usd_per_month_band"] = (r["self_hosted_usd_per_month_p10"], r["self_hosted_usd_per_month_p90"])
    columns = [
        Column("model", "Model", text, "left"), Column("deployment", "Deployment", text, "left"),
        Column("self_hosted_usd_per_month", "$/month", usd),
        Column("self_hosted_usd_per_mtok", "$/1M tokens", usd_mtok, priority=1),
        Column("usd_per_gpu_hour", "$/GPU-h", usd_cents, priority=2),
        Column("capacity_rps_per_replica", "Req/s per replica (est.)", num1, priority=2),
        Column("gpus_billed", "GPUs billed", num0, priority=3),
        Column("pricing", "Pricing", text, "left", priority=3),
        Column("price_as_of", "Price as of", text, "left", priority=4),
    ]  # fmt: skip
    if scenario.samples:
        columns.insert(3, Column("usd_per_month_band", "P10 → P90 $/month", span(usd), priority=1))
    if scenario.traffic is not None:  # what the profile's bill rests on
        columns.insert(3, Column("idle_share", "Idle", percent0, priority=1))
        columns.append(Column("replicas_peak", "Replicas at peak", num0, priority=2))
        if scenario.traffic.autoscaled:
            columns.append(Column("replicas_mean", "Mean replicas", num1, priority=2))
    return columns


def register(app: typer.Typer) -> None:
    app.command()(cost)
