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

from selfhost.escape import csv_text

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


usd = _none_dash(lambda v: f"${v:,.0f}" if v >= 0 else f"-${-v:,.0f}")
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
    records: Sequence[Record],
    columns: Sequence[Column],
    console: Console,
    title: str | None = None,
    section_key: Callable[[Record], Any] | None = None,
) -> None:
    """Print records as a Rich table with the given columns.

    With ``section_key``, a rule separates consecutive records whose keys differ.
    """
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col.header, justify=col.justify, overflow="fold")  # type: ignore[arg-type]
    for i, record in enumerate(records):
        last_of_section = (
            section_key is not None
            and i + 1 < len(records)
            and section_key(records[i + 1]) != section_key(record)
        )
        table.add_row(*(col.fmt(record.get(col.key)) for col in columns), end_section=last_of_section)
    console.print(table)


def never_or(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """A crossover formatter: None (no crossover) reads 'never'."""
    return lambda v: "never" if v is None else fmt(v)


def span(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """Formatter of a ``(low, high)`` pair: ``'low -> high'`` with each end formatted by ``fmt``."""

    def cell(value: Any) -> str:
        if not isinstance(value, tuple):
            return "-"
        low, high = value
        return f"{fmt(low)} → {fmt(high)}"

    return cell


TORNADO_HALF_WIDTH = 12  # characters on each side of the axis
TORNADO_LOW = "░"  # the input at -range
TORNADO_HIGH = "█"  # the input at +range
TORNADO_AXIS = "│"


def tornado_bar(
    low_delta: float | None, high_delta: float | None, scale: float, half: int = TORNADO_HALF_WIDTH
) -> str:
    """One tornado bar: how far the outcome moves below (left) and above (right) its base value.

    ``low_delta`` / ``high_delta`` are the outcome's change with the input at -range / +range
    (None = unbounded, drawn full length); ``scale`` is the change drawn ``half`` characters long.
    Where both ends move the same way, the +range end is drawn over the -range end.
    """

    def cells(delta: float | None) -> int:
        if delta is None or not math.isfinite(delta):
            return half
        return min(half, round(abs(delta) / scale * half)) if scale > 0 else 0

    left = [" "] * half
    right = [" "] * half
    for delta, char in ((low_delta, TORNADO_LOW), (high_delta, TORNADO_HIGH)):
        n = cells(delta)
        below = delta is None or delta < 0  # unbounded: a saving of minus infinity
        side = left if below else right
        for i in range(n):
            side[i] = char if side[i] in (" ", TORNADO_LOW) else side[i]
    return "".join(reversed(left)) + TORNADO_AXIS + "".join(right)


def tornado_bars(
    records: Sequence[Record], base: str, low: str, high: str, group: Callable[[Record], Any]
) -> list[str]:
    """A tornado bar per record, scaled per group so the longest bar in each group fills its side.

    ``base``, ``low`` and ``high`` are the record keys of the outcome at the base case and with
    the input at -range and +range.
    """

    def delta(r: Record, key: str) -> float | None:
        if r.get(key) is None or r.get(base) is None:
            return None
        return float(r[key]) - float(r[base])

    scale: dict[Any, float] = {}
    for r in records:
        for key in (low, high):
            d = delta(r, key)
            if d is not None and math.isfinite(d):
                scale[group(r)] = max(scale.get(group(r), 0.0), abs(d))
    return [tornado_bar(delta(r, low), delta(r, high), scale.get(group(r), 0.0)) for r in records]


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
            elif isinstance(value, str):
                value = csv_text(value)  # catalog text such as '=HYPERLINK(...)' is never a formula
            row[key] = value
        writer.writerow(row)


def probability(p: float | None) -> str:
    """A probability as a whole percentage that never rounds a possibility away (<1 %, >99 %)."""
    if p is None:
        return "-"
    if 0.0 < p < 0.005:
        return "<1%"
    if 0.995 <= p < 1.0:
        return ">99%"
    return f"{p:.0%}"


def crossover_band(record: Record) -> str:
    """Compact uncertainty cell of a crossover record: ``'P10-P90 req/s · P(self cheaper)'``."""
    rps = never_or(sig3)
    return (
        f"{rps(record.get('crossover_rps_p10'))}–{rps(record.get('crossover_rps_p90'))} · "
        f"{probability(record.get('probability_self_hosted_cheaper'))}"
    )
