"""`selfhost sweep`: the whole grid (deployments x rps x token mixes) for spreadsheets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load

if TYPE_CHECKING:
    from selfhost.question import Scenario


@o.question_options(o.SWEEP, rates=(o.RatesOpt, None))
def sweep(
    scenario: Scenario,
    fmt: o.FormatOpt = o.OutputFormat.csv,
    limit: o.LimitOpt = 0,
) -> None:
    """Every deployment and API at every rate and token mix, one row each (CSV by default).

    Rows with option_kind 'self-hosted' are deployments (their monthly cost, replicas,
    GPUs billed); rows with 'api' are API bills for the same traffic. Deployments that
    cannot serve a rate within the latency targets are left out.

    Examples:

      selfhost sweep -m llama-3.3-70b --rps-range 0.1:100:13 --mix 1000:300 --mix 4000:500 > grid.csv

      selfhost sweep -m qwen2.5-32b -g l40s --rps 1 --rps 10 --api openai-gpt-4o-mini --format json
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.render import Column, num0, sig3, text, usd, usd_mtok

        report = questions.sweep(load(scenario.catalog_overlays), scenario)
        columns = [
            Column("option_kind", "Kind", text, "left"), Column("option", "Option", text, "left"),
            Column("input_tokens", "In", num0), Column("output_tokens", "Out", num0),
            Column("rps", "Req/s", sig3), Column("gpus_billed", "GPUs", num0),
            Column("usd_per_month", "$/month", usd), Column("usd_per_mtok", "$/1M tok", usd_mtok),
        ]  # fmt: skip
        emit(report, fmt, columns, "Sweep", limit)

    guarded(run)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
