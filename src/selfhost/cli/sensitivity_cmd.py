"""`selfhost sensitivity`: the tornado, how each input moves the crossover and the saving."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.question import Scenario
    from selfhost.render import Column

DEFAULT_RANGE = 0.3  # +-30 %; the library's sensitivity.DEFAULT_RANGE, repeated to keep --help free of NumPy


RangeOpt = Annotated[
    float,
    typer.Option(
        "--range",
        min=0.0,
        max=0.99,
        help="Relative move of each input, down and up (0.3 = -30 % and +30 %). [unitless]",
    ),
]


@o.question_options(o.SENSITIVITY)
def sensitivity(
    scenario: Scenario,
    spread: RangeOpt = DEFAULT_RANGE,
    fmt: o.FormatOpt = o.OutputFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """Which input matters most? Each input -/+ --range, one at a time: crossover and saving.

    For each comparison `selfhost crossover` makes (same options), moves the GPU price, the
    API prices (input and output together), the target utilization, the engine efficiency
    (MBU and MFU together), the operations cost, the input and output tokens per request
    and the request rate down and up by --range, one at a time, and shows where the
    crossover rate and the monthly saving (API minus self-hosted) go. Rows are sorted by
    the saving's swing, largest first; the bar is the tornado (░ input -range, █ +range,
    left of the axis a smaller saving). The deployment stays the base case's cheapest,
    so each bar isolates its input.

    Examples:

      selfhost sensitivity --rps 5 -m llama-3.3-70b

      selfhost sensitivity --rps 20 -m qwen2.5-32b --range 0.5 --format csv > tornado.csv
    """

    def run() -> None:
        from selfhost import questions

        report = questions.sensitivity(load(scenario.catalog_overlays), scenario, spread=spread)
        title = (
            f"Sensitivity at {scenario.rate:g} req/s ({scenario.input_tokens} in + {scenario.output_tokens} "
            f"out tokens, ops ${scenario.priced.ops_usd_per_month:,.0f}/mo): each input -/+{spread:.0%}, "
            "deployment fixed"
        )
        emit(report, fmt, table_columns(report, spread, fmt), title, section_key=pair, wide=wide)

    guarded(run)


def pair(r: dict[str, Any]) -> tuple[Any, Any]:
    """The comparison a tornado row belongs to."""
    return (r["model"], r["api"])


def table_columns(report: Report, spread: float, fmt: o.OutputFormat) -> list[Column]:
    """The tornado's columns; in a table, the stacked comparison labels and bars they show."""
    from selfhost.render import Column, never_or, replica_words, sig3, span, text, tornado_bars, usd
    from selfhost.sensitivity import INPUTS

    if fmt is not o.OutputFormat.table:  # table-only labels, not record keys
        return [Column(key, key) for key in PLAIN_KEYS]
    labels = {inp.key: inp.short for inp in INPUTS}
    bars = tornado_bars(
        report.results,
        "saving_usd_per_month_base",
        "saving_usd_per_month_low",
        "saving_usd_per_month_high",
        pair,
    )
    previous, line = None, 0
    for r, bar in zip(report.results, bars, strict=True):
        line = line + 1 if pair(r) == previous else 0
        previous = pair(r)
        # the first column stacks the comparison's description down its rows
        stacked = [
            r["model"],
            f"vs {r['api']}",
            f"on replicas of {replica_words(r['gpus_per_replica'], r['gpu'], r.get('layout'))}, {r['quant']}, "
            f"{r['provider']}",
            f"base crossover {never_or(sig3)(r['crossover_rps_base'])} req/s",
            f"base saving {usd(r['saving_usd_per_month_base'])}/mo",
        ]
        r["comparison"] = stacked[line] if line < len(stacked) else ""
        r["input_label"] = labels[r["input"]]
        r["values"] = (r["low_value"], r["high_value"])
        r["crossover"] = (r["crossover_rps_low"], r["crossover_rps_high"])
        r["saving"] = (r["saving_usd_per_month_low"], r["saving_usd_per_month_high"])
        r["tornado"] = bar
    return [
        Column("comparison", "Comparison (base case)", text, "left"),
        Column("input_label", "Input", text, "left"),
        Column("values", f"-{spread:.0%} → +{spread:.0%}", span(sig3), priority=3),
        Column("crossover", "Crossover req/s", span(never_or(sig3)), priority=2),
        Column("saving", "Saving $/mo", span(usd)),
        Column("swing_usd_per_month", "Swing $/mo", usd, priority=4),
        Column("tornado", "Saving: ░ -range █ +range", text, "left", wrap=False, priority=1),
    ]  # fmt: skip


#: The columns of JSON-less formats (CSV): record keys only.
PLAIN_KEYS = (
    "model",
    "api",
    "input",
    "low_value",
    "high_value",
    "crossover_rps_low",
    "crossover_rps_high",
    "saving_usd_per_month_low",
    "saving_usd_per_month_high",
    "swing_usd_per_month",
)


def register(app: typer.Typer) -> None:
    app.command()(sensitivity)
