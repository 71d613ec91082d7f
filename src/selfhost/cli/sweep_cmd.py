"""`selfhost sweep`: the whole grid (deployments x rps x token mixes), streamed for spreadsheets."""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from selfhost.cli import options as o
from selfhost.cli.common import emit, guarded, load, note

if TYPE_CHECKING:
    from selfhost.question import Scenario
    from selfhost.sweep import Sweep

DEFAULT_MAX_ROWS = 1_000_000  # sweep.DEFAULT_MAX_ROWS, repeated to keep --help free of NumPy


SweepFormat = Enum(
    "SweepFormat", {"table": "table", "json": "json", "csv": "csv", "parquet": "parquet"}, type=str
)


SweepFormatOpt = Annotated[
    SweepFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output: CSV for spreadsheets, Parquet for grids too large for one (needs: pip install "
        "'selfhost-llm[parquet]'), JSON, or a Rich table.",
    ),
]
MaxRowsOpt = Annotated[
    int,
    typer.Option(
        "--max-rows",
        min=0,
        help="Refuse a grid of more rows than this (0 = no limit); rows are streamed, so memory does "
        "not grow with them, but a spreadsheet stops at 1,048,576. [rows]",
    ),
]


@o.question_options(o.SWEEP, rates=(o.RatesOpt, None))
def sweep(
    scenario: Scenario,
    fmt: SweepFormatOpt = SweepFormat.csv,
    limit: o.LimitOpt = 0,
    max_rows: MaxRowsOpt = DEFAULT_MAX_ROWS,
    wide: o.WideOpt = False,
) -> None:
    """Every deployment and API at every rate and token mix, one row each (CSV by default).

    Rows with option_kind 'self-hosted' are deployments (their monthly cost, replicas,
    GPUs billed); rows with 'api' are API bills for the same traffic. Deployments that
    cannot serve a rate within the latency targets are left out. Rows are written as they
    are computed, in chunks: memory stays the same whatever the grid size.

    Examples:

      selfhost sweep -m llama-3.3-70b --rps-range 0.1:100:13 --mix 1000:300 --mix 4000:500 > grid.csv

      selfhost sweep -m qwen2.5-32b -g l40s --rps 1 --rps 10 --api openai-gpt-4o-mini --format json

      selfhost sweep --rps-range 0.1:100:1000 --max-rows 0 --format parquet > grid.parquet
    """

    def run() -> None:
        from selfhost import questions

        if fmt is SweepFormat.parquet:
            from selfhost.render_chunks import require_parquet

            require_parquet()
            check_binary_stdout()
        grid = questions.sweep(load(scenario.catalog_overlays), scenario, max_rows=max_rows)
        grid.check_rows(max_rows)
        write_sweep(grid, fmt, limit, wide)

    guarded(run)


def check_binary_stdout() -> None:
    from selfhost.errors import InputError

    if sys.stdout.isatty():
        raise InputError("--format parquet writes a binary file: redirect it, e.g. > grid.parquet")


def write_sweep(grid: Sweep, fmt: SweepFormat, limit: int, wide: bool = False) -> None:
    """The rows in the chosen format, chunk by chunk (a table holds the rows it shows)."""
    from selfhost.render_chunks import limited, write_csv_chunks, write_json_stream, write_parquet

    shown = grid.rows if not limit else min(limit, grid.rows)
    if shown < grid.rows:
        note(f"showing {shown} of {grid.rows} rows; --limit 0 shows all")
    chunks = limited(grid.chunks(), limit)
    if fmt is SweepFormat.table:
        from selfhost.analysis import Report
        from selfhost.render import Column, num0, sig3, text, usd, usd_mtok

        columns = [
            Column("option_kind", "Kind", text, "left", priority=2),
            Column("option", "Option", lambda v: text(v).replace("/", " / "), "left", hyphens=True),
            Column("input_tokens", "In", num0, priority=1), Column("output_tokens", "Out", num0, priority=1),
            Column("rps", "Req/s", sig3), Column("gpus_billed", "GPUs billed", num0, priority=3),
            Column("usd_per_month", "$/month", usd), Column("usd_per_mtok", "$/1M tok", usd_mtok, priority=2),
        ]  # fmt: skip
        records = [r for chunk in chunks for r in chunk.records()]
        emit(
            Report(results=records, assumptions=grid.assumptions, notes=grid.notes),
            o.OutputFormat.table,
            columns,
            "Sweep",
            wide=wide,
        )
        return
    if fmt is SweepFormat.csv:
        fallback = ["option_kind", "option", "input_tokens", "output_tokens", "rps", "gpus_billed", "usd_per_month", "usd_per_mtok"]  # fmt: skip
        write_csv_chunks(grid.header, chunks, sys.stdout, fallback_header=fallback)
    elif fmt is SweepFormat.json:
        write_json_stream(chunks, {"assumptions": grid.assumptions, "notes": grid.notes}, sys.stdout)
    else:
        sys.stdout.flush()
        write_parquet(grid.header, chunks, sys.stdout.buffer)
    for line in grid.notes:
        note(line)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
