"""`selfhost crossover`: the headline, self-host or API, with the crossover rate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load, note, percent0

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
    wide: o.WideOpt = False,
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

        drawable = check_chart(chart, fmt, baseline, scenario.samples)
        answer = questions.crossover(
            load(scenario.catalog_overlays), scenario, baseline=baseline, chart=chart and drawable
        )
        if answer.changes is not None:
            emit_changes(answer.changes, fmt, wide=wide)
        elif fmt is o.OutputFormat.table:
            print_table(answer.report, scenario, wide)
        else:
            emit(answer.report, fmt, plain_columns(scenario), title(scenario))
        if answer.chart is not None:
            draw_chart(answer.chart)
        elif chart:
            from selfhost.chart import CHART_EXTRA

            note(f"no chart: --chart needs the optional plotext package: {CHART_EXTRA}")

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


def plain_columns(scenario: Scenario) -> list[Column]:
    """The keys of an empty CSV's header (JSON and CSV write the records whole)."""
    from selfhost.render import Column

    keys = [
        "model", "gpu", "quant", "gpus_per_replica", "layout", "replicas", "provider",
        "self_hosted_usd_per_month", "api", "api_kind", "api_usd_per_month", "self_hosted_usd_per_mtok",
        "api_usd_per_mtok", "cheaper", "crossover_rps",
    ]  # fmt: skip
    return [Column(k, k) for k in keys]


BARRED = "†"  # a licence that does not allow production use; the line under the table says so
#: The ways to a model's quality, as a table cell says them (the notation line explains them).
WAY = {"self_hosted": "own GPUs", "same_model": "hosted", "tier": "tier API", "other_model": "other API"}


def verdict_rows(report: Report) -> list[dict[str, Any]]:
    """One table row per model: its verdict (`analysis.model_verdicts`) with table-only labels."""
    from selfhost.render import crossover_band

    rows = []
    for v in report.verdicts or []:
        row = dict(v)
        barred = not v["license_allows_production"]
        row["model_label"] = f"{v['model']} {BARRED}" if barred else v["model"]
        row["way"] = WAY[v["choice_kind"]]
        row["next_way"] = WAY[v["next_kind"]] if v["next_kind"] else None
        cheapest = next(
            (r for r in report.results if r["model"] == v["model"] and r["api"] == v["cheapest_api"]), None
        )
        if cheapest is not None and "probability_self_hosted_cheaper" in v:
            row["band"] = crossover_band(cheapest)
        if cheapest is not None:  # with a traffic profile: what the self-hosted bill rests on
            for key in ("crossover_multiple_of_mean", "idle_share"):
                if key in cheapest:
                    row[key] = cheapest[key]
        rows.append(row)
    return rows


def table_columns(scenario: Scenario) -> list[Column]:
    """One row per model: essential columns first (priority 0), then what a wider terminal adds."""
    from selfhost.render import Column, blank, never_or, sig3, text, usd

    columns = [
        Column("model_label", "Model", text, "left"),
        Column("way", "Cheapest", text, "left"),
        Column("usd_per_month", "$/month", usd),
        Column("next_way", "Next option", blank(text), "left"),
        Column("next_costs_more_usd_per_month", "costs more $/month", blank(lambda v: "+" + usd(v))),
        Column("crossover_rps", "Crossover req/s", never_or(sig3)),
    ]  # fmt: skip
    if scenario.traffic is not None:
        columns[-1] = Column("crossover_rps", "Crossover mean req/s", never_or(sig3))
        columns += [
            Column("crossover_multiple_of_mean", "x mean", blank(sig3), priority=1),
            Column("idle_share", "Idle", blank(percent0), priority=1),
        ]
    if scenario.samples:
        columns.append(Column("band", "Crossover P10–P90 · P(own GPUs cheaper)", text, priority=1))
    columns += [
        Column("self_hosted_usd_per_month", "Own GPUs $/month", usd, priority=2),
        Column("self_hosted", "Own GPUs: deployment", text, "left", priority=3),
        Column("cheapest_api", "Cheapest API", text, "left", priority=4),
        Column("cheapest_api_usd_per_month", "API $/month", usd, priority=4),
    ]  # fmt: skip
    return columns


def print_table(report: Report, scenario: Scenario, wide: bool) -> None:
    """The table (one row per model), the line explaining its words, the verdict; notes on stderr."""
    from selfhost.cli.common import print_verdict_and_notes, stdout_console, whole
    from selfhost.render import NOTATION, render_table

    rows = verdict_rows(report)
    console = stdout_console()
    render_table(rows, table_columns(scenario), console, title=title(scenario), wide=whole(wide))
    if any(not r["license_allows_production"] for r in rows):
        console.print(
            f"{BARRED} The licence does not allow production use without a separate agreement: own GPUs "
            "are left out of Cheapest and Next option."
        )
    if rows:
        console.print(
            "Cheapest: own GPUs (self-hosted), hosted (the same model from an API provider) or tier API "
            "(the cheapest proprietary API of the model's quality tier). Crossover: the rate above which own GPUs cost less than "
            f"the cheapest API ('never': at no rate). {NOTATION}. Every comparison: --format csv."
        )
    print_verdict_and_notes(report, console)


def register(app: typer.Typer) -> None:
    app.command()(crossover)
