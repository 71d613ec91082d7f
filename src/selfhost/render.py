"""Render reports: Rich tables for people, JSON and CSV (standard library) for spreadsheets.

JSON and CSV never pass through a Rich console: it would wrap lines and read ``[...]`` as
markup. Tables carry units in their headers and pretty numbers; JSON/CSV carry raw numbers
with units in the keys.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


Record = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One table column: the record key, a header with units, and a formatter."""

    key: str
    header: str
    fmt: Callable[[Any], str] = str
    justify: str = "right"


def _none_dash(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    def wrapped(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return fmt(value)

    return wrapped


usd = _none_dash(lambda v: f"${v:,.0f}")
usd_cents = _none_dash(lambda v: f"${v:,.2f}")
usd_mtok = _none_dash(lambda v: f"${v:,.3f}")
num0 = _none_dash(lambda v: f"{v:,.0f}")
num1 = _none_dash(lambda v: f"{v:,.1f}")
num2 = _none_dash(lambda v: f"{v:,.2f}")
sig3 = _none_dash(lambda v: f"{v:,.3g}" if v < 1000 else f"{v:,.0f}")
ms = _none_dash(lambda v: f"{v * 1000:,.0f}")
yes_no = _none_dash(lambda v: "yes" if v else "no")
text = _none_dash(str)


def render_table(
    records: Sequence[Record], columns: Sequence[Column], console: Console, title: str | None = None
) -> None:
    """Print records as a Rich table with the given columns."""
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col.header, justify=col.justify, overflow="fold")  # type: ignore[arg-type]
    for record in records:
        table.add_row(*(col.fmt(record.get(col.key)) for col in columns))
    console.print(table)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(document: dict[str, Any], stream: IO[str]) -> None:
    """One JSON document, NaN/inf written as null (JSON has no NaN)."""
    json.dump(_jsonable(document), stream, indent=2, allow_nan=False)
    stream.write("\n")


def write_csv(records: Sequence[Record], stream: IO[str], fallback_header: Sequence[str] = ()) -> None:
    """CSV with a header of every key seen (in first-seen order); nested values as JSON.

    An empty result still writes the header (``fallback_header``) so spreadsheets see columns.
    """
    header: list[str] = []
    for record in records:
        for key in record:
            if key not in header:
                header.append(key)
    if not header:
        header = list(fallback_header)
    writer = csv.DictWriter(stream, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = {}
        for key, value in record.items():
            if isinstance(value, dict | list):
                value = json.dumps(_jsonable(value))
            elif (isinstance(value, float) and not math.isfinite(value)) or value is None:
                value = ""
            row[key] = value
        writer.writerow(row)
