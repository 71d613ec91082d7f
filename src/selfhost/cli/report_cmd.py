"""`selfhost report`, and the CLI side of `crossover --baseline` and `crossover --chart`.

`report` writes the budget-review document (Markdown or HTML); `emit_changes` prints the
what-changed comparison in the chosen format; `draw_chart` prints the terminal chart.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load, note
from selfhost.cli.sensitivity_cmd import DEFAULT_RANGE

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.chart import CostChart
    from selfhost.question import Scenario

MAX_CHART_WIDTH = 140  # [characters]; wider terminal charts get no more legible
CHART_HEIGHT = 24  # [lines] per model
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
CHART_FILE_SUFFIX = "-cost-vs-rps.svg"


# --------------------------------------------------------------------------- crossover --chart / --baseline


def check_chart(chart: bool, fmt: o.OutputFormat, baseline: Path | None, uncertainty: int) -> bool:
    """Reject option combinations of `crossover` before any work; whether the chart can be drawn
    (False without --chart or without plotext: the table is printed, then the install hint)."""
    from selfhost.errors import InputError

    if baseline is not None and uncertainty:
        raise InputError("--baseline compares the deterministic results; run --uncertainty without it")
    if not chart:
        return False
    if fmt is not o.OutputFormat.table:
        raise InputError(
            "--chart draws in the terminal: use it with --format table (the default); "
            "`selfhost report -o review.html` puts the chart in a file"
        )
    from selfhost.chart import MissingExtraError, require_terminal_charts

    try:
        require_terminal_charts()
    except MissingExtraError:
        return False
    return True


def draw_chart(chart: CostChart) -> None:
    """Print the cost-against-rate chart of a crossover run to stdout, below its table."""
    import shutil

    from selfhost.chart import terminal_chart

    width = min(MAX_CHART_WIDTH, shutil.get_terminal_size((100, 24)).columns)
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(terminal_chart(chart, width=width, height=CHART_HEIGHT, color=color))


def emit_changes(report: Report, fmt: o.OutputFormat, wide: bool = False) -> None:
    """Print the `crossover --baseline` comparison: a table, or JSON/CSV with units in the keys."""
    from selfhost.baseline import cause_text
    from selfhost.render import Column, never_or, sig3, span, text, usd

    if fmt is o.OutputFormat.table:
        for r in report.results:
            switched = r["api_old"] is not None and r["api_new"] is not None and r["api_old"] != r["api_new"]
            r["api_label"] = f"{r['api_old']} → {r['api_new']}" if switched else r["api"]
            r["crossover"] = (r["crossover_rps_old"], r["crossover_rps_new"])
            r["self_hosted"] = (r["self_hosted_usd_per_month_old"], r["self_hosted_usd_per_month_new"])
            r["api_cost"] = (r["api_usd_per_month_old"], r["api_usd_per_month_new"])
            r["cheaper"] = f"{r['cheaper_old'] or '-'} → {r['cheaper_new'] or '-'}"
            r["what"] = "\n".join(cause_text(c) for c in r["causes"]) or "-"
        columns = [
            Column("model", "Model", text, "left"), Column("api_label", "API", text, "left", hyphens=True),
            Column("status", "Status", text, "left", priority=3),
            Column("crossover", "Crossover req/s", span(never_or(sig3))),
            Column("self_hosted", "Self $/mo", span(usd), priority=2),
            Column("api_cost", "API $/mo", span(usd), priority=2),
            Column("saving_usd_per_month_change", "Saving Δ $/mo", usd),
            Column("cheaper", "Cheaper", text, "left", priority=1),
            Column("what", "What changed (old -> new)", text, "left", priority=1),
        ]  # fmt: skip
    else:
        columns = [
            Column(key, key)
            for key in (
                "model",
                "api",
                "status",
                "crossover_rps_old",
                "crossover_rps_new",
                "self_hosted_usd_per_month_old",
                "self_hosted_usd_per_month_new",
                "api_usd_per_month_old",
                "api_usd_per_month_new",
                "causes",
            )
        ]
    baseline = report.assumptions.get("baseline", {})
    emit(report, fmt, columns, f"What changed since {baseline.get('path', 'the baseline')}", wide=wide)


# --------------------------------------------------------------------------- selfhost report

#: Options of `report` that `crossover` and `sensitivity` take too (the shared selection and workload).
SHARED = (*(name for name in o.SENSITIVITY if name != "catalog"), "catalog")


def given_options(ctx: typer.Context, names: Sequence[str]) -> list[str]:
    """The options among ``names`` that the user set (not defaults), as command-line words."""
    words: list[str] = []
    params = {p.name: p for p in ctx.command.params if getattr(p, "opts", None)}
    for name in names:
        param = params.get(name)
        source = ctx.get_parameter_source(name)
        if param is None or source is None or source.name == "DEFAULT":
            continue
        flag = max(param.opts, key=len)
        value = ctx.params[name]
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if getattr(param, "is_flag", False):
                if v:
                    words.append(flag)
                continue
            shown = v.value if hasattr(v, "value") else v
            words += [flag, shlex.quote(f"{shown:g}" if isinstance(shown, float) else str(shown))]
    return words


def reproduce_commands(
    ctx: typer.Context,
    samples: int,
    seed: int,
    spread: float,
    baseline: Path | None,
    *,
    traffic: bool = False,
) -> list[str]:
    """The commands whose output the report's figures equal (with a traffic profile: `crossover`
    on it, and its baseline comparison)."""
    shared = " ".join(given_options(ctx, SHARED))
    if traffic:
        shared = " ".join([shared, *given_options(ctx, o.TRAFFIC)])
        commands = [f"selfhost crossover {shared} --format json"]
        if baseline is not None:
            commands.append(
                f"selfhost crossover {shared} --baseline {shlex.quote(str(baseline))} --format json"
            )
        return [" ".join(c.split()) for c in commands]
    commands = [f"selfhost crossover {shared} --format json"]
    if samples:
        commands.append(f"selfhost crossover {shared} --uncertainty {samples} --seed {seed} --format json")
    commands.append(f"selfhost sensitivity {shared} --range {spread:g} --format json")
    commands.append(f"selfhost crossover {shared} --chart")
    if baseline is not None:
        commands.append(f"selfhost crossover {shared} --baseline {shlex.quote(str(baseline))} --format json")
    return [" ".join(c.split()) for c in commands]


def output_kind(path: Path) -> str:
    """'markdown' or 'html' from the file name."""
    from selfhost.errors import InputError

    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in HTML_SUFFIXES:
        return "html"
    raise InputError(f"-o {path}: name a .md or .html file (the suffix picks Markdown or HTML)")


def check_writable(paths: Sequence[Path], force: bool) -> None:
    """Refuse, before any work, what `selfhost.files.write_file` would refuse: an existing file
    without --force, a dangling link, a directory or device, a missing directory."""
    from selfhost.files import refuse_existing

    for path in paths:
        refuse_existing(path, "-o", force=force)


@o.question_options(
    o.REPORT, uncertainty=(o.ReportSamplesOpt, o.DEFAULT_REPORT_SAMPLES), rps=(o.OptionalRpsOpt, None)
)
def report(
    scenario: Scenario,
    ctx: typer.Context,
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="File to write: review.md (Markdown, chart as an SVG beside it) or review.html.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite the output file (and its chart) if they exist."
    ),
    spread: float = typer.Option(
        DEFAULT_RANGE,
        "--range",
        min=0.0,
        max=0.99,
        help="Sensitivity: relative move of each input, down and up. [unitless]",
    ),
    baseline: o.BaselineOpt = None,
) -> None:
    """Write the budget review: one Markdown or HTML document for the meeting.

    The question and the workload, the recommendation in one paragraph, costs at RPS, the
    chart of monthly cost against request rate with the crossovers marked, the fit of each
    chosen deployment, the sensitivity tornado, the P10/P50/P90 band, stale-price warnings,
    what changed since --baseline, and every catalog entry used with its source and date.
    Its figures equal those of `selfhost crossover`, `sensitivity` and `crossover
    --uncertainty` with the same options (listed in the document).

    The chart needs matplotlib (pip install 'selfhost-llm[report]'): HTML inlines it as SVG,
    Markdown links an SVG written beside the .md (review-cost-vs-rps.svg). Without
    matplotlib the chart is a table of costs at round rates. Existing files are not
    overwritten without --force.

    Examples:

      selfhost report --rps 5 -o review.md

      selfhost report --rps 20 -m llama-3.3-70b -m qwen2.5-72b --baseline last-review.json -o review.html

      selfhost report --traffic examples/traffic/business-hours-chat.yaml --provisioning autoscaled -o review.md

    With --traffic FILE the costs follow the profile's hours (as `crossover --traffic`), and the
    document says how the replicas are provisioned and how much of the bill is idle capacity;
    the chart, the tornado and the uncertainty band model a sustained rate and are left out.
    """

    def run() -> None:
        from selfhost.chart import REPORT_EXTRA, svg_available, svg_chart
        from selfhost.confirmation import unconfirmed_note
        from selfhost.report import document, review_data, to_html, to_markdown
        from selfhost.staleness import stale_note

        kind = output_kind(output)
        drawn = svg_available()
        chart_file = (
            output.with_name(output.stem + CHART_FILE_SUFFIX) if kind == "markdown" and drawn else None
        )
        targets = [output, *([chart_file] if chart_file else [])]
        check_writable(targets, force)
        commands = reproduce_commands(
            ctx, scenario.samples, scenario.seed, spread, baseline, traffic=scenario.traffic is not None
        )
        data = review_data(
            load(scenario.catalog_overlays), scenario, spread=spread, baseline=baseline, commands=commands
        )
        svg = svg_chart(data.chart) if drawn and data.chart is not None else None
        fallback = (
            ""
            if drawn or data.chart is None
            else f"No chart drawn: matplotlib is not installed ({REPORT_EXTRA}); the table gives "
            "the same curves at round rates."
        )
        blocks = document(data, chart_svg=svg, chart_note=fallback)
        if kind == "html":
            text = to_html(blocks, title=f"selfhost budget review, {data.generated.isoformat()}")
        else:
            text = to_markdown(blocks, chart_file=chart_file.name if chart_file else None)
        from selfhost.files import write_file

        if chart_file is not None and svg is not None:
            write_file(chart_file, svg, what="chart file", force=force)
        write_file(output, text, what="-o", force=force)
        stale = stale_note(data.crossover.assumptions.get("stale_prices") or [], data.stale_days)
        if stale:
            note(stale)
        if unconfirmed := unconfirmed_note(data.crossover.assumptions.get("unconfirmed_entries") or []):
            note(unconfirmed)
        if fallback:
            note(fallback)
        note(f"wrote {output}" + (f" and {chart_file}" if chart_file else ""))

    guarded(run)


def register(app: typer.Typer) -> None:
    app.command()(report)
