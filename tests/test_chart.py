"""The cost-against-rate chart: its data (no plotting library), the terminal drawing, the fallbacks."""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Callable

import numpy as np
import pytest
from typer.testing import Result

from cases import builtin_catalog, default_scenario
from selfhost.analysis import Report, crossover_report
from selfhost.chart import (
    CHART_EXTRA,
    FALLBACK_RANGE,
    RANGE_FACTOR,
    REPORT_EXTRA,
    MissingExtraError,
    chart_table,
    cost_chart,
    inline_svg,
    linear_range,
    linear_ticks,
    log_ticks,
    rate_range,
    step_rates,
    svg_available,
    svg_chart,
    table_rates,
    terminal_chart,
    usd_short,
)

Cli = Callable[..., Result]
ANSI = re.compile(r"\x1b\[")


@functools.cache
def llama_chart():
    catalog, scenario = builtin_catalog(), default_scenario(("llama-3.3-70b", "deepseek-v3"))
    report = crossover_report(catalog, scenario)
    return report, cost_chart(catalog, scenario, report=report)


# --------------------------------------------------------------------------- axis helpers


def test_rate_range_spans_the_rate_and_every_finite_crossover():
    assert rate_range(5.0, [2.0, None, 50.0]) == pytest.approx((2.0 / RANGE_FACTOR, 50.0 * RANGE_FACTOR))
    assert rate_range(5.0, []) == pytest.approx((5.0 / RANGE_FACTOR, 5.0 * RANGE_FACTOR))
    assert rate_range(0.0, [None, math.inf]) == FALLBACK_RANGE


def test_table_rates_are_round_rates_in_range_plus_the_given_rate():
    assert table_rates(0.8, 74.0, 5.0) == (1.0, 3.0, 5.0, 10.0, 30.0)
    wide = table_rates(0.1, 1e4, 7.0)
    assert 7.0 in wide and all(0.1 <= r <= 1e4 for r in wide)
    assert all(math.log10(r).is_integer() for r in wide if r != 7.0)  # many decades: powers of ten only


def test_log_ticks_and_dollar_labels():
    assert log_ticks(0.8, 74.0) == [1.0, 3.0, 10.0, 30.0]
    assert log_ticks(1.0, 1e6) == [1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6]
    assert [usd_short(x) for x in (300, 3000, 1.5e6)] == ["$300", "$3k", "$1.5M"]


def test_step_rates_add_points_either_side_of_each_edge():
    grid = np.geomspace(0.5, 10.0, 5)
    x = step_rates(grid, 2.0, 0.5, 10.0)
    assert np.all(np.diff(x) > 0) and x[0] == 0.5 and x[-1] == 10.0
    for edge in (2.0, 4.0, 6.0, 8.0):
        assert np.any((x < edge) & (x > edge * 0.999)) and np.any((x > edge) & (x < edge * 1.001))
    assert np.array_equal(step_rates(grid, 0.0, 0.5, 10.0), grid)  # no capacity: nothing to add


# --------------------------------------------------------------------------- the data


def test_one_panel_per_model_with_the_compared_deployment_first():
    report, chart = llama_chart()
    assert [p.model for p in chart.panels] == ["llama-3.3-70b", "deepseek-v3"]
    for panel in chart.panels:
        selfs = [s for s in panel.series if s.kind == "self-hosted"]
        apis = [s.label for s in panel.series if s.kind == "api"]
        assert selfs[0].compared and not any(s.compared for s in selfs[1:])
        assert 1 <= len(selfs) <= 3
        assert apis == [r["api"] for r in report.results if r["model"] == panel.model]


def test_crossovers_are_the_crossover_results_and_lie_in_the_range():
    report, chart = llama_chart()
    points = {(p.model, c.api): c for p in chart.panels for c in p.crossovers}
    for r in report.results:
        c = points[(r["model"], r["api"])]
        assert c.rps == r["crossover_rps"] and c.note == r["crossover_note"]
        if c.rps is not None:
            assert chart.rps_low < c.rps < chart.rps_high
    assert chart.rps_low < chart.rps < chart.rps_high


def test_curves_at_the_given_rate_equal_the_crossover_costs():
    report, chart = llama_chart()
    i = chart.table_rps.index(5.0)
    for panel in chart.panels:
        mine = [r for r in report.results if r["model"] == panel.model]
        compared = next(s for s in panel.series if s.compared and s.kind == "self-hosted")
        assert compared.at_table_rps[i] == pytest.approx(mine[0]["self_hosted_usd_per_month"], rel=1e-12)
        for r in mine:
            api = next(s for s in panel.series if s.kind == "api" and s.label == r["api"])
            assert api.at_table_rps[i] == pytest.approx(r["api_usd_per_month"], rel=1e-12)


def test_api_lines_are_straight_and_self_hosted_curves_are_rising_steps():
    _, chart = llama_chart()
    for panel in chart.panels:
        for s in panel.series:
            x, y = np.array(s.rps), np.array(s.usd_per_month)
            assert np.all(np.diff(x) >= 0)
            if s.kind == "api":
                assert np.allclose(y / x, y[0] / x[0], rtol=1e-12)
            else:
                steps = np.diff(y)
                assert np.all(steps >= 0)
                jumps = steps[steps > 0]
                assert np.allclose(jumps, jumps[0])  # every step adds one billing unit


def test_self_hosting_is_cheaper_at_every_drawn_rate_above_the_crossover():
    # the chart's curves must tell the same story as the closed-form crossover (docs/method.md §4)
    _, chart = llama_chart()
    for panel in chart.panels:
        compared = next(s for s in panel.series if s.compared and s.kind == "self-hosted")
        x, y = np.array(compared.rps), np.array(compared.usd_per_month)
        for c in panel.crossovers:
            api = next(s for s in panel.series if s.kind == "api" and s.label == c.api)
            a = api.usd_per_month[0] / api.rps[0]  # [USD/month per request/s]
            if c.rps is None:
                assert np.all(y >= a * x * (1 - 1e-12))
                continue
            assert c.usd_per_month == pytest.approx(a * c.rps)
            above = x > c.rps * (1 + 1e-9)
            assert np.all(y[above] < a * x[above])
            # the last drawn rate at or below the crossover lies on its (losing) step: not cheaper there
            j = np.flatnonzero(x <= c.rps)[-1]
            assert y[j] >= a * x[j] * (1 - 1e-12)


def test_chart_with_no_comparison_is_empty_but_valid():
    no_comparison = Report(results=[], assumptions={})
    chart = cost_chart(builtin_catalog(), default_scenario(), report=no_comparison)
    assert chart.panels == () and chart.rps_low < 5.0 < chart.rps_high
    assert chart_table(chart)[1] == []


def test_fallback_table_lists_every_curve_at_round_rates():
    _, chart = llama_chart()
    header, rows = chart_table(chart)
    assert header[:2] == ["Model", "Option"] and "5 req/s" in header
    assert len(rows) == sum(len(p.series) for p in chart.panels)
    first = chart.panels[0].series[0]
    assert rows[0][2:] == [f"${v:,.0f}" for v in first.at_table_rps]


# --------------------------------------------------------------------------- drawings


def test_terminal_chart_draws_each_model_with_a_legend():
    _, chart = llama_chart()
    text = terminal_chart(chart, width=100, height=20)
    assert not ANSI.search(text)
    for panel in chart.panels:
        assert f"{panel.model}: monthly cost" in text
        for c in panel.crossovers:
            assert c.api in text
    assert "S  self-hosted:" in text and "(compared)" in text and "a  API:" in text
    assert "X  crossover:" in text and "2.44 req/s" in text and "--rps 5" in text
    assert re.search(r"\$\d+k", text)  # dollar ticks on the cost axis
    for panel in chart.panels:  # linear where the panel's rates of interest allow it, else log-log
        linear = linear_range(chart.rps, [c.rps for c in panel.crossovers]) is not None
        scale = "linear axes" if linear else "log-log axes"
        assert f"{panel.model}: monthly cost [USD] against requests/s, {scale}" in text
    assert ANSI.search(terminal_chart(chart, width=100, height=20, color=True))


def test_axes_are_linear_when_the_rates_of_interest_are_close():
    # Llama 3.3 70B at 5 req/s: crossovers at 2.44 and 30.3 req/s lie within 20x of each other
    assert linear_range(5.0, [2.44, 30.3]) == pytest.approx(30.3 * 1.5)
    assert linear_range(5.0, [0.1, None]) is None  # 50x apart: a linear axis would squash 0.1 to 0
    assert linear_range(5.0, [None]) == pytest.approx(7.5)
    assert linear_ticks(0.0, 45.45) == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert linear_ticks(0.0, 106_000.0) == [0.0, 50_000.0, 100_000.0]


def test_terminal_chart_without_plotext_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotext", None)  # import plotext now raises ImportError
    _, chart = llama_chart()
    with pytest.raises(MissingExtraError, match=re.escape(CHART_EXTRA)):
        terminal_chart(chart)


def test_svg_chart_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not svg_available()
    _, chart = llama_chart()
    with pytest.raises(MissingExtraError, match=re.escape(REPORT_EXTRA)):
        svg_chart(chart)


def test_svg_chart_with_whatever_is_installed():
    # CI installs only `.[test]` (no matplotlib): there the chart must name its extra; with
    # `.[report]` it must be an SVG that marks every crossover, identical run to run.
    _, chart = llama_chart()
    if not svg_available():
        with pytest.raises(MissingExtraError):
            svg_chart(chart)
        return
    svg = svg_chart(chart)
    assert svg == svg_chart(chart)
    assert inline_svg(svg).startswith("<svg")
    for panel in chart.panels:
        assert panel.model in svg
        for c in panel.crossovers:
            if c.rps is not None:
                assert f"{c.rps:.3g} req/s" in svg


# --------------------------------------------------------------------------- crossover --chart

ARGS = ("crossover", "--rps", "5", "-m", "llama-3.3-70b")


def test_cli_chart_follows_the_table(cli: Cli):
    result = cli(*ARGS, "--chart")
    assert result.exit_code == 0, result.output
    table_end = result.stdout.index("Monthly cost against request rate")
    assert "Self-host vs API at 5 req/s" in result.stdout[:table_end]
    assert "llama-3.3-70b: monthly cost" in result.stdout[table_end:]
    assert "X  crossover: deepinfra-llama-3.3-70b-turbo-fp8" in result.stdout


def test_cli_chart_without_plotext_prints_the_table_then_the_hint(cli: Cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotext", None)
    result = cli(*ARGS, "--chart")
    assert result.exit_code == 0
    assert "Crossover" in result.stdout  # the table, as without --chart
    assert result.stderr.strip().splitlines()[-1] == (
        f"note: no chart: --chart needs the optional plotext package: {CHART_EXTRA}"
    )


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_cli_chart_needs_the_table_format(cli: Cli, fmt):
    result = cli(*ARGS, "--chart", "--format", fmt)
    assert result.exit_code == 2
    assert "--chart draws in the terminal" in result.stderr and result.stdout == ""
