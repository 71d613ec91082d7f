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
    """One table column: the record key, a header with units, and a formatter.

    ``priority`` says which columns a narrow terminal keeps: 0 always, then 1, 2, ... as the
    width allows (the highest number is dropped first). ``wrap``: whether a cell may break
    across lines at its spaces; right-justified columns (numbers) never do, and no cell ever
    breaks inside a word.
    """

    key: str
    header: str
    fmt: Callable[[Any], str] = str
    justify: str = "right"
    priority: int = 0
    wrap: bool | None = None  # None: text (left) wraps at spaces, numbers (right) never
    hyphens: bool = False  # long ids may also break after a hyphen ('trt017-llama31-' / '8b-h200')

    @property
    def wraps(self) -> bool:
        return self.justify == "left" if self.wrap is None else self.wrap


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


def blank(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fmt``, but an empty cell for a missing value (rows that have nothing to say there)."""
    return lambda v: "" if v is None else fmt(v)


#: The hint under a table that lost columns to the terminal's width.
HIDDEN_HINT = "{n} column(s) hidden at {width} columns ({names}): --wide shows them, --format csv every field"
BLOCK_HINT = "one block per row at {width} columns: --wide shows the table, --format csv every field"


@dataclass(frozen=True)
class Layout:
    """How a table fits a width: the columns kept (indices), each one's width in characters, and
    whether even the essential columns do not fit (then each row is printed as a block)."""

    kept: tuple[int, ...]
    widths: tuple[int, ...]
    blocks: bool = False


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(text: str, hyphens: bool = False) -> int:
    from rich.cells import cell_len

    words = text.split()
    if hyphens:
        words = [part for word in words for part in _hyphen_parts(word)]
    return max((cell_len(word) for word in words), default=0)


def _hyphen_parts(word: str) -> list[str]:
    """'a-b-c' -> ['a-', 'b-', 'c']: where a hyphenated id may break."""
    parts = word.split("-")
    return [part + "-" for part in parts[:-1]] + [parts[-1]]


def _wrapped_lines(text: str, width: int, hyphens: bool = False) -> int:
    """Lines ``text`` takes at ``width`` when wrapped greedily at spaces (a word longer than
    ``width`` broken after its hyphens with ``hyphens``, as `hyphen_wrap` does, else on a line
    of its own)."""
    from rich.cells import cell_len

    pieces = hyphen_wrap(text, width).split("\n") if hyphens else [text]
    lines = 0
    for piece in pieces:
        used = -1  # characters on the current line; -1: no line started
        for word in piece.split():
            n = cell_len(word)
            if used < 0 or used + 1 + n > width:
                lines += 1
                used = n
            else:
                used += 1 + n
        lines += used < 0  # an empty piece still takes a line
    return max(1, lines)


def _width_for_lines(cells: Sequence[str], least: int, most: int, lines: int, hyphens: bool) -> int:
    """The narrowest width in [least, most] at which every line of every cell wraps into at most
    ``lines`` lines (``most`` if none is narrower); a cell's own line breaks are kept."""
    rows = [row for c in cells for row in c.split("\n")]
    for w in range(max(1, least), most):
        if all(_wrapped_lines(row, w, hyphens) <= lines for row in rows):
            return w
    return most


def hyphen_wrap(text: str, width: int) -> str:
    """``text`` with each word longer than ``width`` broken after hyphens onto lines of at most
    ``width`` (where it can be); Rich then wraps the rest at spaces."""
    out = []
    for word in text.split(" "):
        if len(word) <= width or "-" not in word:
            out.append(word)
            continue
        lines, line = [], ""
        for part in _hyphen_parts(word):
            if line and len(line) + len(part) > width:
                lines.append(line)
                line = ""
            line += part
        out.append("\n".join([*lines, line]))
    return " ".join(out)


def table_overhead(n_columns: int) -> int:
    """Characters a Rich table with edges and one space of padding spends outside its cells."""
    return 3 * n_columns + 1


COMFORTABLE_TEXT = (
    24  # [characters] a text column added for a wider terminal gets at least this (or its longest cell)
)
MAX_TEXT_LINES = 2  # ... and enough that its longest cell takes at most this many lines


def fit_layout(
    headers: Sequence[str], cells: Sequence[Sequence[str]], columns: Sequence[Column], width: int | None
) -> Layout:
    """Choose the columns and their widths so that the table fits ``width`` characters.

    A column needs at least its longest word (a number column: its longest cell) and its
    header's longest word. Priority 0 columns are always kept (if they do not fit even so,
    ``blocks`` is set); columns of priority 1, 2, ... are added in that order while every
    column kept, the new one too, gets its longest cell (a text column: enough for it in
    `MAX_TEXT_LINES` lines, `COMFORTABLE_TEXT` at least); the first that does not fit ends the
    adding, so a
    narrow terminal loses the highest priorities first. The spare width unfolds whole
    columns, least short first, then headers. ``width`` None: every column at its natural
    width (``--wide``, or a pipe).

    ``cells[j]`` are the formatted cells of column j.
    """
    need, body, natural = [], [], []
    for header, col_cells, col in zip(headers, cells, columns, strict=True):
        words = [(_longest_word(c, col.hyphens) if col.wraps else _cell_len(c)) for c in col_cells]
        need.append(max([_longest_word(header), 1, *words]))
        body.append(max([need[-1], *(_cell_len(c) for c in col_cells)]))
        natural.append(max(body[-1], _cell_len(header)))
    every = tuple(range(len(columns)))
    if width is None:
        return Layout(every, tuple(natural))
    kept = [j for j in every if columns[j].priority == 0]
    if sum(need[j] for j in kept) + table_overhead(len(kept)) > width:
        return Layout(every, tuple(natural), blocks=True)
    # a column's width to count on: its longest cell; a text column's, enough for its longest cell
    # in MAX_TEXT_LINES lines and COMFORTABLE_TEXT at least (or its longest cell, if shorter)
    comfy = [
        min(
            body[j],
            max(
                need[j],
                COMFORTABLE_TEXT,
                _width_for_lines(
                    cells[j], -(-body[j] // MAX_TEXT_LINES), body[j], MAX_TEXT_LINES, columns[j].hyphens
                ),
            ),
        )
        if columns[j].wraps
        else body[j]
        for j in every
    ]
    for j in sorted((j for j in every if columns[j].priority > 0), key=lambda j: (columns[j].priority, j)):
        if sum(comfy[i] for i in kept) + comfy[j] + table_overhead(len(kept) + 1) > width:
            break
        kept.append(j)
    kept.sort()
    widths = {j: need[j] for j in kept}
    spare = width - sum(widths.values()) - table_overhead(len(kept))
    for target in (
        comfy,
        body,
        natural,
    ):  # comfortable widths, then whole cells, then headers; least short first
        for j in sorted(kept, key=lambda j: target[j] - widths[j]):
            if 0 < target[j] - widths[j] <= spare:
                spare -= target[j] - widths[j]
                widths[j] = target[j]
    while spare > 0:  # what is left goes to the columns still folded, evenly
        wanting = [j for j in kept if widths[j] < natural[j]]
        if not wanting:
            break
        share = max(1, spare // len(wanting))
        for j in wanting:
            give = min(share, natural[j] - widths[j], spare)
            widths[j] += give
            spare -= give
            if spare <= 0:
                break
    return Layout(tuple(kept), tuple(widths[j] for j in kept))


def table_width(console: Console, wide: bool) -> int | None:
    """The width a table must fit: the console's, or None (natural widths) with ``wide``."""
    return None if wide else console.width


def render_table(
    records: Sequence[Record],
    columns: Sequence[Column],
    console: Console,
    title: str | None = None,
    section_key: Callable[[Record], Any] | None = None,
    wide: bool = False,
) -> Layout:
    """Print records as a Rich table with the given columns, fitted to the console's width.

    Numbers never wrap or truncate and no word is broken: at a narrow width the columns of
    the highest ``priority`` are left out and a line under the table names them and how to see
    them (``--wide``, ``--format csv``); if the essential columns alone do not fit, each row is
    printed as a block of ``header: value`` lines. ``wide``: every column at its natural width,
    however wide the terminal. With ``section_key``, a rule separates consecutive records whose
    keys differ.
    """
    from rich.table import Table

    cells = [[col.fmt(record.get(col.key)) for record in records] for col in columns]
    headers = [col.header for col in columns]
    limit = table_width(console, wide)
    layout = fit_layout(headers, cells, columns, limit)
    if layout.blocks:
        _render_blocks(records, columns, cells, console, title, limit or console.width)
        console.print(BLOCK_HINT.format(width=limit))
        return layout
    if limit is None:  # wide: the table may be wider than the terminal; it scrolls, it does not fold
        console.width = max(console.width, sum(layout.widths) + table_overhead(len(layout.kept)))
    table = Table(title=title, show_lines=False, header_style="bold")
    for j, w in zip(layout.kept, layout.widths, strict=True):
        col = columns[j]
        # every width holds its column's longest word (and a number column's longest cell), so
        # cells wrap only at spaces; headers of number columns may wrap at theirs
        table.add_column(col.header, justify=col.justify, width=w, overflow="fold")  # type: ignore[arg-type]
    for i, record in enumerate(records):
        last_of_section = (
            section_key is not None
            and i + 1 < len(records)
            and section_key(records[i + 1]) != section_key(record)
        )
        row = [
            hyphen_wrap(cells[j][i], w) if columns[j].hyphens else cells[j][i]
            for j, w in zip(layout.kept, layout.widths, strict=True)
        ]
        table.add_row(*row, end_section=last_of_section)
    console.print(table)
    hidden = [columns[j].header for j in range(len(columns)) if j not in layout.kept]
    if hidden:
        console.print(HIDDEN_HINT.format(n=len(hidden), width=limit, names=", ".join(hidden)))
    return layout


def _render_blocks(
    records: Sequence[Record],
    columns: Sequence[Column],
    cells: Sequence[Sequence[str]],
    console: Console,
    title: str | None,
    width: int,
) -> None:
    """Each record as a block of ``header  value`` lines (a terminal too narrow for any table)."""
    from rich.table import Table

    if title:
        console.print(title)
    label = max((_cell_len(c.header) for c in columns), default=0)
    for i in range(len(records)):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=label, no_wrap=True)
        grid.add_column(max_width=max(1, width - label - 2), overflow="fold")
        for j, col in enumerate(columns):
            grid.add_row(col.header, hyphen_wrap(cells[j][i], max(1, width - label - 2)))
        console.rule(style="dim")
        console.print(grid)


def replica_words(gpus_per_replica: Any, gpu: str, layout: str | None = None) -> str:
    """One replica: '1 mi300x-192gb', '4 h100-sxm-80gb (TP4)', '16 h100-sxm-80gb (TP8 x PP2)'.

    The count is the GPUs of one replica; the layout (how the engine splits the model across
    them: TP tensor parallel, PP pipeline stages, DP attention + EP experts) follows when it
    says more than the count.
    """
    n = int(gpus_per_replica)
    split = "" if n == 1 or not layout or layout == "1 GPU" else f" ({layout})"
    return f"{n} {gpu}{split}"


def deployment_words(r: Record, *, provider: bool = True) -> str:
    """A deployment in the one form every table uses: '2 replicas × 1 mi300x-192gb, fp8, DigitalOcean'.

    Replicas × the GPUs of each (with their layout), the quantization, the provider; GPUs
    billed are named when whole instances bill more than replicas × GPUs. Autoscaled on a
    traffic profile: 'up to' the busiest hour's replicas, and the mean.
    """
    autoscaled = r.get("provisioning") == "autoscaled"
    replicas = int((r.get("replicas_peak") if autoscaled else r.get("replicas")) or 1)
    words = (
        f"{'up to ' if autoscaled else ''}{replicas} replica{'' if replicas == 1 else 's'} × "
        f"{replica_words(r['gpus_per_replica'], r['gpu'], r.get('layout'))}, {r['quant']}"
    )
    if provider and r.get("provider"):
        words += f", {r['provider']}"
    billed = r.get("gpus_billed")
    if billed is not None and billed != replicas * int(r["gpus_per_replica"]):
        words += f", {billed:g} GPUs billed"  # whole instances or machines
    if autoscaled and r.get("replicas_mean") is not None:
        words += f", autoscaled (mean {r['replicas_mean']:.2g} replicas)"
    return words


NOTATION = (
    "'2 replicas × 4 h100 (TP4)': 2 copies of the model, each on 4 GPUs (TP tensor parallel, "
    "PP pipeline stages, DP attention + EP expert parallel)"
)


def never_or(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """A crossover formatter: None or NaN (no crossover) reads 'never'."""
    return lambda v: "never" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt(v)


def span(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """Formatter of a ``(low, high)`` pair: ``'low -> high'`` with each end formatted by ``fmt``."""

    def cell(value: Any) -> str:
        if not isinstance(value, tuple):
            return "-"
        low, high = value
        return f"{fmt(low)} → {fmt(high)}"

    return cell


TORNADO_HALF_WIDTH = 10  # characters on each side of the axis (the tornado then fits 100 columns)
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


SIGNIFICANT_DIGITS = 10  # of a float in JSON and CSV
MIN_DECIMALS = 2  # cents: a dollar amount is never rounded to whole dollars


def tidy_float(x: float) -> float:
    """``x`` rounded to `SIGNIFICANT_DIGITS` significant digits, but never to fewer than
    `MIN_DECIMALS` decimals: 8949.400000000001 -> 8949.4, 0.1 + 0.2 -> 0.3,
    0.40425008781173166 -> 0.4042500878.

    The last digits of binary arithmetic are noise a spreadsheet shows as 8949.400000000001;
    ten digits drop it while keeping every figure within 1e-10 of itself, so sums, ratios and
    capacity boundaries recomputed from the JSON agree with the tool's own. Tables show the
    meaningful precision of each quantity (money in dollars, rates in 3 digits)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, max(MIN_DECIMALS, SIGNIFICANT_DIGITS - _digits(abs(x))))


MAX_DECIMAL_EXPONENT = 308  # 10.0**309 is beyond the largest float


def _digits(ax: float) -> int:
    """Digits before the point of ``ax`` > 0 (its decimal exponent + 1): 999.9 -> 3, 1000 -> 4,
    0.05 -> -1. Exact at powers of ten, where log10 may be off by one ulp."""
    digits = math.floor(math.log10(ax)) + 1
    if digits <= MAX_DECIMAL_EXPONENT and ax >= 10.0**digits:
        return digits + 1
    if ax < 10.0 ** (digits - 1):
        return digits - 1
    return digits


def _tidy_decimals(x: Any) -> tuple[Any, Any]:
    """Per value of a float array: the decimals `tidy_float` rounds it to, and whether it is
    zero or not finite (left as it is)."""
    import numpy as np

    ax = np.abs(x)
    plain = (ax == 0) | ~np.isfinite(ax)
    safe = np.where(plain, 1.0, ax)
    with np.errstate(over="ignore"):  # 10.0**309 is inf, which no float reaches
        digits = np.floor(np.log10(safe)) + 1
        digits = digits + (safe >= 10.0**digits) - (safe < 10.0 ** (digits - 1))
    return np.maximum(MIN_DECIMALS, SIGNIFICANT_DIGITS - digits).astype(np.int64), plain


def tidy_floats(values: Any) -> list[float]:
    """`tidy_float` of every value of a 1-D float array, the same floats, with the digit
    counts found by NumPy (a sweep's CSV formats millions of floats)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    decimals, plain = _tidy_decimals(x)
    out = list(map(round, x.tolist(), decimals.tolist()))
    if plain.any():
        for i in np.flatnonzero(plain).tolist():
            out[i] = float(x[i])
    return out


# where repr is positional and a tidied value has at most 15 significant digits (10, or 13
# before the point and 2 after), so its shortest repr is the rounded decimal itself
_POSITIONAL_MIN, _POSITIONAL_MAX = 1e-4, 1e13


def tidy_float_reprs(values: Any) -> list[str]:
    """``repr(tidy_float(x))`` of every finite value of a 1-D float array (non-finite ones: "").

    Twice as fast as rounding and then repr: ``round(x, d)`` and ``"%.*f" % (d, x)`` take
    the same correctly rounded digits from the same routine (CPython's dtoa, mode 3), and a
    decimal of at most 15 significant digits is the shortest repr of the float nearest to it,
    so within `_POSITIONAL_MIN` <= |x| < `_POSITIONAL_MAX` the repr is those digits without
    trailing zeros (one kept after the point). Other values take the slow way. A test holds
    the two equal value by value.
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    decimals, _ = _tidy_decimals(x)
    ax = np.abs(x)
    fast = (ax >= _POSITIONAL_MIN) & (ax < _POSITIONAL_MAX)
    # printf-style: a quarter faster here than an f-string with a nested width
    texts = [("%.*f" % dv).rstrip("0") for dv in zip(decimals.tolist(), x.tolist(), strict=True)]  # noqa: UP031
    texts = [t + "0" if t[-1] == "." else t for t in texts]
    if not fast.all():
        for i in np.flatnonzero(~fast).tolist():
            v = float(x[i])
            texts[i] = repr(tidy_float(v)) if math.isfinite(v) else ""
    return texts


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return tidy_float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(document: dict[str, Any], stream: IO[str]) -> None:
    """One JSON document, NaN/inf written as null (JSON has no NaN), floats tidied (`tidy_float`)."""
    json.dump(_jsonable(document), stream, indent=2, allow_nan=False)
    stream.write("\n")


def write_jsonl(records: Sequence[Record], stream: IO[str]) -> None:
    """One JSON object per line (JSON Lines): the records only, as ``pandas.read_json(path,
    lines=True)`` and ``jq -c`` read them; floats tidied, NaN/inf as null."""
    for record in records:
        stream.write(json.dumps(_jsonable(record), allow_nan=False, separators=(",", ":")) + "\n")


def write_csv(records: Sequence[Record], stream: IO[str], fallback_header: Sequence[str] = ()) -> None:
    """CSV with a header of every key seen (in first-seen order); nested values as JSON.

    Floats are tidied (`tidy_float`); a missing or None value is an empty cell. An empty result
    still writes the header (``fallback_header``) so spreadsheets see columns.
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
            elif isinstance(value, float):
                value = tidy_float(value)
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
