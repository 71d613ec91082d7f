"""`selfhost crossover`: the headline, self-host or API, with the crossover rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.question import Scenario
    from selfhost.render import Column


@o.question_options(o.CROSSOVER)
def crossover(
    scenario: Scenario,
    baseline: o.BaselineOpt = None,
    chart: o.ChartOpt = False,
    fmt: o.FormatOpt = o.OutputFormat.table,
) -> None:
    """Self-host or API? Cheapest deployment per model vs comparable APIs, with the crossover rate.

    For each model, finds the cheapest deployment (GPU, count, quantization, provider) that
    serves RPS within the latency targets, compares its monthly cost with the cheapest API
    hosting the same model and the cheapest proprietary API of the same quality tier, and
    solves exactly for the request rate above which self-hosting stays cheaper.

    Examples:

      selfhost crossover --rps 5

      selfhost crossover --rps 20 -m llama-3.3-70b -g h100 --api openai-gpt-4.1 --format json

      selfhost crossover --rps 5 -m llama-3.3-70b --uncertainty 100000

      selfhost crossover --rps 5 --baseline last-review.json --chart

    With --uncertainty N, N Monte Carlo samples add P10/P50/P90 of the crossover, both monthly
    costs and the saving, and the probability that self-hosting is cheaper at RPS (seed --seed).
    Prices older than --stale-days are flagged.

    With --baseline (an old catalog file or directory, or a saved --format json result), shows
    per comparison how the crossover and both monthly costs moved, and which catalog changes
    caused it. With --chart, draws monthly cost against request rate under the table.
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.cli.report_cmd import check_chart, draw_chart, emit_changes

        check_chart(chart, fmt, baseline, scenario.samples)
        answer = questions.crossover(
            load(scenario.catalog_overlays), scenario, baseline=baseline, chart=chart
        )
        if answer.changes is not None:
            emit_changes(answer.changes, fmt)
        else:
            emit(answer.report, fmt, table_columns(answer.report, scenario, fmt), title(scenario))
        if answer.chart is not None:
            draw_chart(answer.chart)

    guarded(run)


def title(scenario: Scenario) -> str:
    return (
        f"Self-host vs API at {scenario.rate:g} req/s ({scenario.input_tokens} in + {scenario.output_tokens} "
        f"out tokens, ops ${scenario.priced.ops_usd_per_month:,.0f}/mo)"
    )


def table_columns(report: Report, scenario: Scenario, fmt: o.OutputFormat) -> list[Column]:
    """The columns of the comparison; in a table, the deployment and band labels they show."""
    from selfhost.render import Column, crossover_band, sig3, text, usd, usd_mtok

    columns = [
        Column("model", "Model", text, "left"), Column("deployment", "Self-hosted on", text, "left"),
        Column("self_hosted_usd_per_month", "Self $/mo", usd), Column("api", "API", text, "left"),
        Column("api_usd_per_month", "API $/mo", usd),
        Column("self_hosted_usd_per_mtok", "Self $/1M", usd_mtok),
        Column("api_usd_per_mtok", "API $/1M", usd_mtok), Column("cheaper", "Cheaper", text, "left"),
        Column("crossover_rps", "Crossover req/s", sig3),
    ]  # fmt: skip
    if scenario.samples:
        columns.append(Column("uncertainty_band", "P10–P90 · P(self)", text))
    if fmt is not o.OutputFormat.table:  # table-only labels: keep them out of an empty CSV's header
        return [c for c in columns if c.key not in ("deployment", "uncertainty_band")]
    for r in report.results:
        label = f"{r['replicas']}x{r['gpus_per_replica']} {r['gpu']} {r['quant']} ({r['provider']})"
        if r["gpus_billed"] != r["replicas"] * r["gpus_per_replica"]:
            label += f", {r['gpus_billed']:g} GPUs billed"  # whole instances or machines
        r["deployment"] = label
        if scenario.samples:
            r["uncertainty_band"] = crossover_band(r)
    return columns


def register(app: typer.Typer) -> None:
    app.command()(crossover)
