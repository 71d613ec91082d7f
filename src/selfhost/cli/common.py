"""Shared CLI plumbing: errors, notes, the catalog, and writing a report in the chosen format.

Every command module imports what it needs from here; nothing imports the entry point
(`selfhost.cli.app`), which only builds the app from the command modules. Heavy modules
(numpy, pydantic, the engine, Rich) are imported inside the functions, so that
`selfhost --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from selfhost.cli import options as o
from selfhost.errors import SelfhostError

if TYPE_CHECKING:
    from rich.console import Console

    from selfhost.analysis import Report
    from selfhost.catalog.schema import Catalog
    from selfhost.render import Column

T = TypeVar("T")

USAGE_EXIT_CODE = 2
PIPED_TABLE_WIDTH = 200  # the console's width when piped; tables are then drawn at their natural width


def note(text: str) -> None:
    """A plain line on stderr: notes never mix with the data on stdout (and need no Rich)."""
    from selfhost.cli.usage import printable

    sys.stderr.write(f"note: {printable(text)}\n")  # notes echo user text: no control characters


def piped() -> bool:
    """Whether stdout is not a terminal and no width is set ($COLUMNS): then tables are drawn
    whole, each column at its natural width, as with --wide (Rich would assume 80 columns)."""
    import os

    return not sys.stdout.isatty() and "COLUMNS" not in os.environ


def stdout_console() -> Console:
    """Console for tables on stdout, as wide as the terminal ($COLUMNS when set)."""
    from rich.console import Console

    # markup/emoji off: table cells hold catalog text, which may contain '[...]' or ':name:'
    return Console(highlight=False, markup=False, emoji=False, width=PIPED_TABLE_WIDTH if piped() else None)


def whole(wide: bool) -> bool:
    """Draw tables at their natural width: asked for (--wide), or stdout is piped."""
    return wide or piped()


def fail(message: str, code: int = USAGE_EXIT_CODE) -> None:
    """Print a one-line error to stderr and exit with ``code`` (the usage-error code by default)."""
    from selfhost.cli.usage import printable

    # plain text: messages echo user input and catalog text, which must not be read as markup
    # nor drive the terminal (control characters shown as escapes)
    typer.secho("Error:", fg="red", bold=True, err=True, nl=False)
    typer.echo(f" {printable(message)}", err=True)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``, turning the core's errors into one-line messages (exit code 2; 1 for `OutputError`)."""
    try:
        return fn()
    except SelfhostError as exc:
        fail(str(exc), exc.exit_code)
        raise AssertionError("unreachable") from exc


def load(catalog_paths: Sequence[Path] | None) -> Catalog:
    """The catalog: built-in files, $SELFHOST_CATALOG, then ``--catalog`` overlays."""
    from selfhost.catalog.loader import load_catalog

    return load_catalog(list(catalog_paths or []))


def emit(
    report: Report,
    fmt: o.OutputFormat,
    columns: Sequence[Column],
    title: str,
    limit: int = 0,
    section_key: Callable[[dict[str, Any]], Any] | None = None,
    wide: bool = False,
    counted: bool = False,
) -> None:
    """Write the report to stdout in the chosen format; notes and warnings go to stderr.

    ``section_key`` draws a rule between groups of table rows and ``wide`` shows every column
    at its natural width (table format only); ``counted`` adds ``total_rows`` and ``limit``
    to the JSON document.
    """
    from selfhost.render import render_table, write_csv, write_json, write_jsonl

    shown = report.results if limit == 0 else report.results[:limit]
    if len(shown) < len(report.results):
        note(f"showing {len(shown)} of {len(report.results)} rows; --limit 0 shows all")
    if fmt is o.OutputFormat.json:
        doc = report.document()
        doc["results"] = shown
        if counted:  # how many rows matched, and the limit that cut them (0: none)
            doc["total_rows"] = len(report.results)
            doc["limit"] = limit
        doc["notes"] = report.notes
        write_json(doc, sys.stdout)
        for text in report.notes:  # also on stderr, as for table and CSV, so a pipe does not hide them
            note(text)
        return
    if fmt is o.OutputFormat.jsonl:
        write_jsonl(shown, sys.stdout)
        for text in report.notes:
            note(text)
        return
    if fmt is o.OutputFormat.csv:
        write_csv(shown, sys.stdout, fallback_header=[c.key for c in columns])
        for text in report.notes:
            note(text)
        return
    console = stdout_console()
    render_table(shown, columns, console, title=title, section_key=section_key, wide=whole(wide))
    print_verdict_and_notes(report, console)


def print_verdict_and_notes(report: Report, console: Console) -> None:
    """Under a table: the report's verdict, if any, on ``console``; then its notes on stderr."""
    if report.verdict:
        console.print(report.verdict)
    for text in report.notes:
        note(text)


def percent_cell(decimals: int, *, signed: bool = False) -> Callable[[object], str]:
    """A table formatter for a share or a relative error as a percentage with ``decimals`` decimals
    ('12%', '12.3%'; '+12%' when ``signed``), '-' where there is no number."""
    spec = f"{'+' if signed else ''}.{decimals}f"
    return lambda value: f"{value * 100:{spec}}%" if isinstance(value, int | float) else "-"


percent0 = percent_cell(0)
percent1 = percent_cell(1)
signed_percent0 = percent_cell(0, signed=True)
signed_percent1 = percent_cell(1, signed=True)


def render_error_summary(
    rows: Sequence[dict[str, Any]],
    first: tuple[str, str],
    console: Console,
    *,
    title: str,
    bias: Callable[[object], str],
    wide: bool = False,
) -> None:
    """The error summary `validate` and `calibrate` print: one row per subset or profile (its key
    and header in ``first``) with its points, median |error|, share within ±30 % and median error
    (bias, formatted by ``bias``); errors are predicted / measured - 1."""
    from selfhost.render import Column, render_table, text

    columns = [
        Column(*first, text, "left"),
        Column("points", "Points", text),
        Column("median_abs_error", "Median |error|", percent1),
        Column("within_30", "Within ±30 %", percent1),
        Column("median_error", "Median error (bias)", bias),
    ]
    render_table(rows, columns, console, title=title, wide=wide)
