"""`selfhost cost`: every deployment that serves a rate, cheapest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.question import Scenario
    from selfhost.render import Column


@o.question_options(o.COST, rps=(o.OptionalRpsOpt, None))
def cost(
    scenario: Scenario,
    fmt: o.FormatOpt = o.OutputFormat.table,
    limit: o.LimitOpt = 20,
) -> None:
    """Monthly and per-token cost of every deployment that serves RPS, cheapest first.

    Examples:

      selfhost cost --rps 5 -m llama-3.3-70b

      selfhost cost --rps 50 -m qwen2.5-32b --pricing all --limit 0 --format csv > costs.csv

      selfhost cost --rps 5 -m llama-3.3-70b --uncertainty 100000 --limit 5

      selfhost cost --traffic examples/traffic/spiky-consumer-app.yaml -m llama-3.3-70b --provisioning autoscaled

    With --uncertainty N, the rows shown get P10/P50/P90 of the monthly cost from N Monte Carlo
    samples of GPU price and engine efficiency (seed --seed). Prices older than --stale-days
    are flagged. With --traffic FILE, each deployment is priced on the profile's hours, fixed
    for the busiest hour or autoscaled (--provisioning), with the idle share of its bill.
    """

    def run() -> None:
        from selfhost import questions

        report = questions.costs(load(scenario.catalog_overlays), scenario, rows=limit)
        from selfhost.analysis import load_words

        title = (
            f"Self-hosted cost at {load_words(scenario)} ({scenario.input_tokens} in + "
            f"{scenario.output_tokens} out)"
        )
        emit(report, fmt, table_columns(report, scenario, fmt), title, limit)

    guarded(run)


def table_columns(report: Report, scenario: Scenario, fmt: o.OutputFormat) -> list[Column]:
    """The columns of the cost table; with --uncertainty in a table, the band they show."""
    from selfhost.render import Column, num0, num1, span, text, usd, usd_cents, usd_mtok

    columns = [
        Column("model", "Model", text, "left"), Column("quant", "Quant", text, "left"),
        Column("gpu", "GPU", text, "left"), Column("gpus_per_replica", "GPUs/replica", num0),
        Column("provider", "Provider", text, "left"), Column("usd_per_gpu_hour", "$/GPU-h", usd_cents),
        Column("capacity_rps_per_replica", "Req/s per replica (est.)", num1),
        Column("replicas", "Replicas", num0), Column("gpus_billed", "GPUs billed", num0),
        Column("self_hosted_usd_per_month", "$/month", usd),
        Column("self_hosted_usd_per_mtok", "$/1M tok", usd_mtok),
    ]  # fmt: skip
    if scenario.traffic is not None:
        from selfhost.cli.crossover_cmd import percent

        columns[7] = Column("replicas_peak", "Replicas at peak", num0)
        columns.append(Column("idle_share", "Idle", percent))
        if scenario.traffic.autoscaled:
            columns.insert(8, Column("replicas_mean", "Mean replicas", num1))
    if not scenario.samples or fmt is not o.OutputFormat.table:  # the band is a table-only label
        return columns
    for r in report.results:
        if "self_hosted_usd_per_month_p10" in r:
            r["usd_per_month_band"] = (r["self_hosted_usd_per_month_p10"], r["self_hosted_usd_per_month_p90"])
    return [*columns, Column("usd_per_month_band", "P10 → P90 $/month", span(usd))]


def register(app: typer.Typer) -> None:
    app.command()(cost)
