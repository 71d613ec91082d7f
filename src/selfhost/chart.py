"""Monthly cost against request rate, crossovers marked: the chart as data, and its drawings.

`cost_chart` describes the figure as plain data (`CostChart`): one panel per model, holding
step functions for the model's best self-hosted deployments, lines for the APIs it is compared
with, and the crossover points `selfhost crossover` reports. It needs only NumPy, so the
figure is tested without any plotting library. Drawing it needs an optional extra:

- `terminal_chart` draws text for the terminal with plotext (``pip install 'selfhost-llm[chart]'``);
- `svg_chart` draws SVG with matplotlib (``pip install 'selfhost-llm[report]'``);
- `chart_table` is the fallback that needs neither: the costs at a few rates, as table rows.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from selfhost.analysis import DeploymentGrid, Report, crossover_report, deployment_grid
from selfhost.apis import request_usd
from selfhost.comparisons import grid_rows
from selfhost.engine import cost
from selfhost.errors import SelfhostError

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog
    from selfhost.question import Scenario

FloatArray = NDArray[np.float64]

DEFAULT_OPTIONS_PER_MODEL = 3  # the compared deployment and the cheapest on two other GPU types
DEFAULT_POINTS = 241  # log-spaced rates per curve, besides the exact step edges
RANGE_FACTOR = 3.0  # the rate axis runs from (lowest rate of interest) / 3 to (highest) x 3
FALLBACK_RANGE = (0.1, 10.0)  # [requests/s] when there is no rate of interest at all
MAX_STEP_EDGES = 2000  # per curve; beyond that the grid alone draws the steps
EDGE_OFFSET = 1e-9  # relative: a step is drawn as the points just before and just after its edge
CHART_EXTRA = "pip install 'selfhost-llm[chart]'"
REPORT_EXTRA = "pip install 'selfhost-llm[report]'"


class MissingExtraError(SelfhostError):
    """An optional plotting library is not installed; the message says which extra brings it."""


@dataclass(frozen=True)
class Series:
    """One curve of a panel.

    label : Legend text.
    kind : 'self-hosted' (a step function) or 'api' (a line through the origin).
    rps : Request rates of the drawn points, ascending, shape (n_points,). [requests/s]
    usd_per_month : Monthly cost at each point, shape (n_points,). [USD/month]
    compared : True for the deployment `crossover` compares (the cheapest at the given rate).
    at_table_rps : Monthly cost at `CostChart.table_rps`, exact. [USD/month]
    """

    label: str
    kind: Literal["self-hosted", "api"]
    rps: tuple[float, ...]
    usd_per_month: tuple[float, ...]
    compared: bool
    at_table_rps: tuple[float, ...]


@dataclass(frozen=True)
class CrossoverPoint:
    """Where self-hosting the compared deployment becomes cheaper than one API for good.

    api : API id.
    rps : The crossover rate, as `crossover` reports it; None for 'never'. [requests/s]
    usd_per_month : The API's monthly cost at that rate (the point's height); None for 'never'. [USD/month]
    note : `crossover_note` of the comparison ('crosses' or why never).
    """

    api: str
    rps: float | None
    usd_per_month: float | None
    note: str


@dataclass(frozen=True)
class Panel:
    """One model: its best self-hosted options, the APIs compared and the crossovers."""

    model: str
    series: tuple[Series, ...]
    crossovers: tuple[CrossoverPoint, ...]


@dataclass(frozen=True)
class CostChart:
    """The whole figure, as data.

    title : Figure title.
    rps : The rate `crossover` compares at, drawn as a vertical line. [requests/s]
    rps_low, rps_high : Ends of the (logarithmic) rate axis. [requests/s]
    table_rps : Rates of the fallback table, ascending. [requests/s]
    panels : One per model, in `crossover` order.
    """

    title: str
    rps: float
    rps_low: float
    rps_high: float
    table_rps: tuple[float, ...]
    panels: tuple[Panel, ...]


# --------------------------------------------------------------------------- the data


def rate_range(rps: float, crossovers: Sequence[float | None]) -> tuple[float, float]:
    """Ends of the rate axis: the given rate and every finite crossover, widened by `RANGE_FACTOR`. [requests/s]"""
    rates = [r for r in (rps, *crossovers) if r is not None and math.isfinite(r) and r > 0]
    if not rates:
        return FALLBACK_RANGE
    return min(rates) / RANGE_FACTOR, max(rates) * RANGE_FACTOR


def table_rates(low: float, high: float, rps: float) -> tuple[float, ...]:
    """Round rates inside [low, high] (1, 3, 10, 30, ... per decade) plus ``rps``, ascending. [requests/s]"""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ones = [10.0**k for k in decades]
    threes = [3.0 * 10.0**k for k in decades]
    wanted = ones + threes if len([r for r in ones if low <= r <= high]) < 4 else ones
    rates = {round(r, 12) for r in wanted if low <= r <= high}
    if rps > 0:
        rates.add(rps)
    return tuple(sorted(rates))


def step_rates(grid: FloatArray, unit_rps: float, low: float, high: float) -> FloatArray:
    """``grid`` plus the points just before and after every step edge ``k * unit_rps`` in [low, high]."""
    if not (unit_rps > 0 and math.isfinite(unit_rps)):
        return grid
    first, last = math.ceil(low / unit_rps), math.floor(high / unit_rps)
    if last < first or last - first + 1 > MAX_STEP_EDGES:
        return grid
    edges = unit_rps * np.arange(max(first, 1), last + 1, dtype=float)
    points = np.concatenate([grid, edges * (1.0 - EDGE_OFFSET), edges * (1.0 + EDGE_OFFSET)])
    return np.unique(np.clip(points, low, high))


def _deployment_label(grid: DeploymentGrid, row: int) -> str:
    from selfhost.render import replica_words

    c, p = grid.config(row), grid.price(row)
    one = replica_words(c.n_gpus, c.gpu.id, c.layout)
    return f"replicas of {one}, {c.quant.id}, {c.engine.id}, {p.provider} ${p.usd_per_gpu_hour:.2f}/GPU-h"


def _best_options(
    grid: DeploymentGrid, monthly: FloatArray, model_id: str, compared: int, count: int
) -> list[int]:
    """The compared row, then the cheapest row at the given rate on each other GPU type, cheapest first."""
    best_by_gpu: dict[str, tuple[float, float, int]] = {}
    for i in range(len(grid)):
        c = grid.config(i)
        if c.model.id != model_id or not np.isfinite(monthly[i]):
            continue
        key = (float(monthly[i]), float(grid.unit.gpus[i]), i)
        if c.gpu.id not in best_by_gpu or key < best_by_gpu[c.gpu.id]:
            best_by_gpu[c.gpu.id] = key
    compared_gpu = grid.config(compared).gpu.id
    others = sorted(v for gpu, v in best_by_gpu.items() if gpu != compared_gpu)
    return [compared, *(i for _, _, i in others[: max(0, count - 1)])]


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=float).ravel())


def cost_chart(
    catalog: Catalog,
    scenario: Scenario,
    *,
    report: Report | None = None,
    grid: DeploymentGrid | None = None,
    options_per_model: int = DEFAULT_OPTIONS_PER_MODEL,
    points: int = DEFAULT_POINTS,
) -> CostChart:
    """The cost-against-rate figure of a `crossover` run, as data.

    Parameters
    ----------
    catalog, scenario : As for `analysis.crossover_report`.
    report : That crossover report, when the caller has it (its comparisons are the ones drawn).
    grid : ``deployment_grid(catalog, scenario)``, when the caller has it.
    options_per_model : Self-hosted curves per model: the deployment `crossover` compares, then
        the cheapest at ``rps`` on each other GPU type. [count]
    points : Log-spaced rates per curve; self-hosted curves add the points either side of every
        step edge. [count]

    Notes
    -----
    The rate axis spans ``min(rps, crossovers) / 3`` to ``max(rps, crossovers) x 3``. Costs are
    §3.2 (``F + V * max(m0, ceil(r / q))``) and §3.4 (``a * r``) of docs/method.md, evaluated
    exactly at every point; crossover heights are the API's cost at the crossover rate.
    """
    grid = grid if grid is not None else deployment_grid(catalog, scenario)
    if report is None:
        report = crossover_report(catalog, scenario, grid=grid)
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    records = report.results
    low, high = rate_range(rps, [r["crossover_rps"] for r in records])
    at_table = np.array(table_rates(low, high, rps), dtype=float)
    base = np.geomspace(low, high, max(2, points))
    monthly = cost.self_hosted_usd_per_month(rps, grid.unit, ca.ops_usd_per_month)
    rows = grid_rows(grid, records) if records else np.zeros(0, dtype=int)
    by_id = {a.id: a for a in catalog.apis}
    panels: list[Panel] = []
    for model_id in dict.fromkeys(r["model"] for r in records):
        mine = [k for k, r in enumerate(records) if r["model"] == model_id]
        compared = int(rows[mine[0]])
        series: list[Series] = []
        for row in _best_options(grid, monthly, model_id, compared, options_per_model):
            unit = grid.unit_at(row)
            x = step_rates(base, float(unit.rps), low, high)
            y = cost.self_hosted_usd_per_month(x, unit, ca.ops_usd_per_month)
            series.append(
                Series(
                    label=_deployment_label(grid, row) + (" (compared)" if row == compared else ""),
                    kind="self-hosted",
                    rps=_floats(x),
                    usd_per_month=_floats(y),
                    compared=row == compared,
                    at_table_rps=_floats(
                        cost.self_hosted_usd_per_month(at_table, unit, ca.ops_usd_per_month)
                    ),
                )
            )
        model_apis = [by_id[records[k]["api"]] for k in mine]
        per_request = request_usd(
            model_apis, workload.input_tokens, workload.output_tokens, ca.cached_input_fraction
        )
        crossovers = []
        for j, k in enumerate(mine):
            a = model_apis[j]
            series.append(
                Series(
                    label=a.id,
                    kind="api",
                    rps=_floats(base),
                    usd_per_month=_floats(cost.api_usd_per_month(base, per_request[j], ca.hours_per_month)),
                    compared=True,
                    at_table_rps=_floats(
                        cost.api_usd_per_month(at_table, per_request[j], ca.hours_per_month)
                    ),
                )
            )
            r_star = records[k]["crossover_rps"]
            height = (
                None
                if r_star is None
                else float(cost.api_usd_per_month(r_star, per_request[j], ca.hours_per_month))
            )
            crossovers.append(CrossoverPoint(a.id, r_star, height, records[k]["crossover_note"]))
        panels.append(Panel(model=model_id, series=tuple(series), crossovers=tuple(crossovers)))
    title = (
        f"Monthly cost against request rate ({workload.input_tokens} in + {workload.output_tokens} out "
        f"tokens, ops ${ca.ops_usd_per_month:,.0f}/month)"
    )
    return CostChart(
        title=title,
        rps=rps,
        rps_low=low,
        rps_high=high,
        table_rps=_floats(at_table),
        panels=tuple(panels),
    )


# --------------------------------------------------------------------------- fallback table


def _usd(x: float) -> str:
    return f"${x:,.0f}" if math.isfinite(x) else "-"


def crossover_words(point: CrossoverPoint) -> str:
    """'2.44 req/s' or the reason there is none ('never: ...')."""
    return point.note if point.rps is None else f"{point.rps:.3g} req/s"


def chart_table(chart: CostChart) -> tuple[list[str], list[list[str]]]:
    """The chart without a plotting library: monthly cost of every curve at `table_rps`.

    Returns the header (Model, Option, then one column per rate) and the rows.
    """
    header = ["Model", "Option", *(f"{r:.3g} req/s" for r in chart.table_rps)]
    rows = []
    for panel in chart.panels:
        for s in panel.series:
            kind = "self-hosted" if s.kind == "self-hosted" else "API"
            rows.append([panel.model, f"{kind}: {s.label}", *(_usd(v) for v in s.at_table_rps)])
    return header, rows


# --------------------------------------------------------------------------- terminal (plotext)

SELF_MARKERS = "STU"  # self-hosted curves in the terminal, compared deployment first
API_MARKERS = "abcdefgh"
CROSSOVER_MARKER = "X"
RPS_MARKER = "┊"


def _plotext() -> Any:
    try:
        import plotext  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise MissingExtraError(f"--chart needs the optional plotext package: {CHART_EXTRA}") from None
    return plotext


def require_terminal_charts() -> None:
    """Raise `MissingExtraError` unless plotext is installed."""
    _plotext()


LINEAR_MAX_RATIO = 20.0  # rates of interest spanning at most this factor get linear axes
LINEAR_HEADROOM = 1.5  # a linear rate axis runs from 0 to the highest rate of interest x this


def linear_range(rps: float, crossovers: Sequence[float | None]) -> float | None:
    """The top of a linear rate axis from 0, or None when the rates of interest (``rps`` and the
    finite crossovers) span more than `LINEAR_MAX_RATIO` and need a log axis. [requests/s]

    A linear axis reads as money does (twice the traffic, twice the bill); a log axis is kept
    for a panel whose crossovers lie decades apart, which a linear one would squash to 0.
    """
    rates = [r for r in (rps, *crossovers) if r is not None and math.isfinite(r) and r > 0]
    if not rates or max(rates) / min(rates) > LINEAR_MAX_RATIO:
        return None
    return max(rates) * LINEAR_HEADROOM


def linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 x 10^k apart) covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    t = first
    while t <= high * (1 + 1e-9):
        ticks.append(round(t, 10))
        t += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Round tick values in [low, high] for a log axis: 1, 3, 10, 30, ... or, when that gives
    more than 8, the powers of ten alone."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    both = sorted(m * 10.0**k for k in decades for m in (1.0, 3.0))
    ticks = [t for t in both if low <= t <= high]
    if len(ticks) > 8:
        ticks = [t for t in ticks if math.log10(t).is_integer()]
    return ticks


def usd_short(x: float) -> str:
    """'$300', '$3k', '$1.2M': a compact dollar label for an axis."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"${x / size:g}{suffix}"
    return f"${x:g}"


def _positive(values: Sequence[float]) -> list[float]:
    return [v for v in values if v > 0 and math.isfinite(v)]


def terminal_chart(chart: CostChart, *, width: int = 100, height: int = 24, color: bool = False) -> str:
    """The chart as terminal text: one plot per model, with a legend under each; linear axes from 0
    where the panel's rates of interest allow (`linear_range`), else log-log.

    Markers: ``S``, ``T``, ``U`` self-hosted (``S`` the deployment `crossover` compares),
    ``a``, ``b``, ... APIs, ``X`` crossovers, ``┊`` the given rate. ``color`` adds ANSI colours.

    Raises
    ------
    MissingExtraError
        plotext is not installed.
    """
    plotext = _plotext()
    blocks = [chart.title]
    for panel in chart.panels:
        fig = plotext.figure
        fig.clear()
        fig.plot_size(width, height)
        legend = []
        heights: list[float] = []
        selfs = [s for s in panel.series if s.kind == "self-hosted"]
        api_series = [s for s in panel.series if s.kind == "api"]
        for s, marker in [
            *zip(selfs, SELF_MARKERS, strict=False),
            *zip(api_series, API_MARKERS, strict=False),
        ]:
            signal = fig.signal(list(s.rps), list(s.usd_per_month), marker=marker)
            signal.lines()
            fig.draw(signal)
            heights += _positive(s.usd_per_month)
            kind = "self-hosted" if s.kind == "self-hosted" else "API"
            legend.append(f"  {marker}  {kind}: {s.label}")
        crossing = [c for c in panel.crossovers if c.rps is not None and c.usd_per_month is not None]
        if crossing:
            xs = [float(c.rps) for c in crossing if c.rps is not None]
            ys = [float(c.usd_per_month) for c in crossing if c.usd_per_month is not None]
            fig.draw(fig.signal(xs, ys, marker=CROSSOVER_MARKER))
        legend.append(
            f"  {CROSSOVER_MARKER}  crossover: "
            + "; ".join(f"{c.api} {crossover_words(c)}" for c in panel.crossovers)
        )
        if chart.rps > 0 and heights:
            line = fig.signal([chart.rps, chart.rps], [min(heights), max(heights)], marker=RPS_MARKER)
            line.lines()
            fig.draw(line)
            legend.append(f"  {RPS_MARKER}  --rps {chart.rps:g}")
        top = linear_range(chart.rps, [c.rps for c in panel.crossovers])
        if top is not None:  # linear axes from 0: the costs up to the top of the rate axis
            shown = [
                v
                for s in panel.series
                for r, v in zip(s.rps, s.usd_per_month, strict=True)
                if r <= top and v > 0
            ]
            x_ticks = linear_ticks(0.0, top)
            fig.ruler("x").lim(0.0, top)
            fig.ruler("x").ticks(x_ticks, [f"{t:g}" for t in x_ticks])
            if shown:
                y_ticks = linear_ticks(0.0, max(shown))
                fig.ruler("y").lim(0.0, max(shown))
                fig.ruler("y").ticks(y_ticks, [usd_short(t) for t in y_ticks])
        else:
            fig.ruler("x").scale("log")
            fig.ruler("y").scale("log")
            # plotext 6 on a log axis: limits in log10 units, tick positions in data units
            x_ticks = log_ticks(chart.rps_low, chart.rps_high)
            fig.ruler("x").lim(math.log10(chart.rps_low), math.log10(chart.rps_high))
            fig.ruler("x").ticks(x_ticks, [f"{t:g}" for t in x_ticks])
            if heights:
                y_ticks = log_ticks(min(heights), max(heights))
                fig.ruler("y").lim(math.log10(min(heights)), math.log10(max(heights)))
                fig.ruler("y").ticks(y_ticks, [usd_short(t) for t in y_ticks])
        scale = "linear axes" if top is not None else "log-log axes"
        fig.title(f"{panel.model}: monthly cost [USD] against requests/s, {scale}")
        fig.label("requests/s", "x")
        fig.legend(False)
        blocks.append(fig.build().string(colorless=not color).rstrip("\n"))
        blocks.append("\n".join(legend))
        fig.clear()
    return "\n".join(blocks) + "\n"


# --------------------------------------------------------------------------- SVG (matplotlib)

SVG_HASH_SALT = "selfhost"  # fixed ids in the SVG: the same chart gives the same bytes


def svg_available() -> bool:
    """Whether matplotlib is installed (the report then inlines an SVG chart)."""
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def _matplotlib() -> Any:
    try:
        import matplotlib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise MissingExtraError(
            f"the report's chart needs the optional matplotlib package: {REPORT_EXTRA}"
        ) from None
    return matplotlib


def chart_figure(chart: CostChart) -> Any:
    """The chart as a matplotlib ``Figure`` (no pyplot, no global state): one panel per model, linear
    axes from 0 where its rates of interest allow (`linear_range`), else log-log.

    Raises
    ------
    MissingExtraError
        matplotlib is not installed.
    """
    _matplotlib()
    from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
    from matplotlib.ticker import FuncFormatter  # type: ignore[import-not-found,unused-ignore]

    n = max(1, len(chart.panels))
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, chart.panels, strict=False):
        selfs = [s for s in panel.series if s.kind == "self-hosted"]
        api_series = [s for s in panel.series if s.kind == "api"]
        for i, s in enumerate(selfs):
            ax.plot(
                s.rps,
                s.usd_per_month,
                color=f"C{i}",
                linewidth=2.2 if s.compared else 1.2,
                linestyle="-" if s.compared else "--",
                label=f"self-hosted: {s.label}",
            )
        for j, s in enumerate(api_series):
            ax.plot(
                s.rps, s.usd_per_month, color=f"C{len(selfs) + j}", linewidth=1.6, label=f"API: {s.label}"
            )
        for c in panel.crossovers:
            if c.rps is None or c.usd_per_month is None:
                continue
            ax.plot(
                [c.rps],
                [c.usd_per_month],
                marker="o",
                markersize=7,
                markerfacecolor="none",
                markeredgecolor="black",
                linestyle="none",
                zorder=5,
            )
            ax.annotate(
                f"{c.rps:.3g} req/s",
                (c.rps, c.usd_per_month),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
            )
        if chart.rps > 0:
            ax.axvline(chart.rps, color="0.4", linestyle=":", linewidth=1, label=f"--rps {chart.rps:g}")
        top = linear_range(chart.rps, [c.rps for c in panel.crossovers])
        if top is None:  # crossovers decades apart: log-log, else linear from 0
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(chart.rps_low, chart.rps_high)
        else:
            shown = [v for s in panel.series for r, v in zip(s.rps, s.usd_per_month, strict=True) if r <= top]
            ax.set_xlim(0.0, top)
            ax.set_ylim(0.0, max(shown) * 1.05 if shown else None)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
        ax.set_xlabel("request rate [requests/s]")
        ax.set_ylabel("monthly cost [USD/month]")
        ax.set_title(f"{panel.model} (o = crossover)")
        ax.grid(True, which="major", linewidth=0.4, alpha=0.6)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[len(chart.panels) :]:
        ax.set_visible(False)
    fig.suptitle("\n".join(textwrap.wrap(chart.title, 60 * cols)))
    return fig


def svg_chart(chart: CostChart) -> str:
    """The chart as an SVG document (text), with text kept as text and fixed element ids.

    Raises
    ------
    MissingExtraError
        matplotlib is not installed.
    """
    matplotlib = _matplotlib()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "none", "font.size": 9}):
        fig = chart_figure(chart)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def inline_svg(svg: str) -> str:
    """An SVG document without its XML declaration and DOCTYPE, for inlining in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
