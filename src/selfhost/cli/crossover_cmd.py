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


@o.question_options(o.CROSSOVER, rps=(o.OptionalRpsOpt, None))
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

      selfhost crossover --traffic examples/traffic/business-hours-chat.yaml -m llama-3.3-70b --provisioning autoscaled

    With --uncertainty N, N Monte Carlo samples add P10/P50/P90 of the crossover, both monthly
    costs and the saving, and the probability that self-hosting is cheaper at RPS (seed --seed).
    Prices older than --stale-days are flagged.

    With --baseline (an old catalog file or directory, or a saved --format json result), shows
    per comparison how the crossover and both monthly costs moved, and which catalog changes
    caused it. With --chart, draws monthly cost against request rate under the table.

    With --traffic FILE (a profile from `selfhost workload -o`), the self-hosted bill follows the
    profile's hours: replicas for its busiest hour (--provisioning fixed) or each hour's
    replicas paid in --billing-hours blocks (autoscaled); the API is billed on the same
    requests, at the profile's tokens. The crossover is then a mean rate (and a multiple of the
    profile's mean), and Idle is the share of the self-hosted bill paying for unused capacity.
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
    t = scenario.traffic
    if t is not None:
        return (
            f"Self-host vs API, traffic {t.file.name}: mean {scenario.rate:g} req/s, peak {t.peak_rps:.3g}, "
            f"{t.words()} ({scenario.input_tokens} in + {scenario.output_tokens} out tokens, ops "
            f"${scenario.priced.ops_usd_per_month:,.0f}/mo)"
        )
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
    if scenario.traffic is not None:
        columns[-1] = Column("crossover_rps", "Crossover mean req/s", sig3)
        columns += [
            Column("crossover_multiple_of_mean", "x mean", sig3),
            Column("idle_share", "Idle", percent),
        ]
    if scenario.samples:
        columns.append(Column("uncertainty_band", "P10–P90 · P(self)", text))
    if fmt is not o.OutputFormat.table:  # table-only labels: keep them out of an empty CSV's header
        return [c for c in columns if c.key not in ("deployment", "uncertainty_band")]
    for r in report.results:
        label = f"{r['replicas']}x{r['gpus_per_replica']} {r['gpu']} {r['quant']} ({r['provider']})"
        if r.get("provisioning") == "autoscaled":
            label = f"{r['replicas_peak']:g}x{r['gpus_per_replica']} {r['gpu']} {r['quant']} ({r['provider']}), autoscaled"
            if r["replicas_mean"] != r["replicas_peak"]:
                label += f", mean {r['replicas_mean']:.2g}"
        if r["gpus_billed"] != r["replicas"] * r["gpus_per_replica"]:
            label += f", {r['gpus_billed']:g} GPUs billed"  # whole instances or machines
        r["deployment"] = label
        if scenario.samples:
            r["uncertainty_band"] = crossover_band(r)
    return columns


def percent(value: object) -> str:
    """A share as a whole percentage, '-' where there is none."""
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def register(app: typer.Typer) -> None:
    app.command()(crossover)
