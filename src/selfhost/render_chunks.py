"""Write streamed rows (`selfhost.sweep.Chunk`) as CSV, JSON or Parquet, one chunk at a time.

Each writer holds one chunk at a time, so memory does not grow with the rows. CSV and JSON are
byte-for-byte what `render.write_csv` and `render.write_json` write for the same records (the
tests hold them together). CSV is formatted column-wise: a dictionary-coded column's table
once per stream, a float column's digits by NumPy integer arithmetic for all of a chunk's
rows at once, then the rows joined. Parquet needs the optional extra
``pip install 'selfhost-llm[parquet]'`` (pyarrow).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from selfhost.errors import SelfhostError
from selfhost.escape import csv_text
from selfhost.render import (
    _POSITIONAL_MAX,
    _POSITIONAL_MIN,
    MIN_DECIMALS,
    SIGNIFICANT_DIGITS,
    _jsonable,
    tidy_float,
    tidy_float_reprs,
)

if TYPE_CHECKING:
    from selfhost.sweep import Chunk, Column

PARQUET_EXTRA = "pip install 'selfhost-llm[parquet]'"


class MissingParquetError(SelfhostError):
    """pyarrow, which writes Parquet, is not installed."""


# --------------------------------------------------------------------------- CSV


_QUOTED = ',"\r\n'  # what makes csv's QUOTE_MINIMAL quote a field
_NEEDS_QUOTES = re.compile(f"[{_QUOTED}]").search


def csv_cell(value: Any) -> str:
    """One value as `csv` writes it (QUOTE_MINIMAL; None and non-finite floats empty), text with
    a formula-like start escaped as `render.write_csv` escapes it (`escape.csv_text`)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        value = tidy_float(value)
    text = csv_text(value) if isinstance(value, str) else str(value)  # bool: True/False; float: repr
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


# Float cells, vectorized: the text of ``repr(tidy_float(x))`` (`render.tidy_float_reprs`)
# written digit by digit with NumPy integer arithmetic, a column of a chunk at once. Where
# ``1e-4 <= |x| < 1e13`` that text is ``"%.*f" % (d, x)`` without trailing zeros (one kept
# after the point), d the decimals `tidy_float` rounds to, and its digits are round(|x| * 10**d):
# the product in floats is within half a spacing of the exact one, so it rounds the same way
# unless it lies within a spacing of a half (then the value takes the slow way, as do values
# outside that range: `tidy_float_reprs` itself). The product is below 10**15 < 2**53, so every
# integer step after it is exact.
_POW10_FLOAT = 10.0 ** np.arange(19)  # exact (to 10**22)
_DECADE_LOW = -6  # exponent of _DECADES[0]
#: 10.0**k as `render.tidy_float` computes it (Python's pow): the bounds between decades
_DECADES = np.array([10.0**k for k in range(_DECADE_LOW, 16)])
_DIGITS_PER_UINT32 = 9  # 10**9 < 2**32: the digit loops run on uint32, several times faster than int64
_ZERO, _POINT, _MINUS = ord("0"), ord("."), ord("-")


@dataclass
class _FloatCells:
    """Float cells as byte columns (one uint8 per row, 0 where a row has no character there:
    the cells are those columns without the zeros), and the rows written the slow way."""

    columns: list[NDArray[np.uint8]]
    slow_rows: NDArray[np.intp]
    slow_texts: list[bytes]

    @property
    def width(self) -> int:
        return max(len(self.columns), max(map(len, self.slow_texts), default=0))

    def write(self, out: NDArray[np.uint8]) -> None:
        """Put the cells in ``out`` (n rows x `width`, zeros)."""
        for j, column in enumerate(self.columns):
            out[:, j] = column
        if len(self.slow_rows):
            out[self.slow_rows] = 0
            if self.width:
                texts = np.array(self.slow_texts, dtype=f"S{self.width}")
                out[self.slow_rows] = texts.view(np.uint8).reshape(len(texts), self.width)


def _decimal_digits(values: NDArray[Any], count: int, into: list[NDArray[np.uint8]]) -> NDArray[Any]:
    """Append the last ``count`` decimal digits of non-negative ``values`` to ``into`` (last digit
    first, as numbers 0-9); return what is left of the values (``values // 10**count``)."""
    for _ in range(count):
        quotient = values // 10
        into.append((values - quotient * 10).astype(np.uint8))
        values = quotient
    return values


def float_cells(values: NDArray[np.float64]) -> _FloatCells:
    """The CSV cells of a float column, ``tidy_float_reprs(values)`` byte for byte."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    ax = np.abs(x)
    fast = (ax >= _POSITIONAL_MIN) & (ax < _POSITIONAL_MAX)
    ax = np.where(fast, ax, 1.0)
    # decimals: as `tidy_float` finds them (the log's digit count, corrected at the decade bounds)
    decade = np.floor(np.log10(ax)).astype(np.intp) + (1 - _DECADE_LOW)  # _DECADES[decade] = 10**digits
    decade += ax >= _DECADES[decade]
    decade -= ax < _DECADES[decade - 1]
    decimals = np.maximum(MIN_DECIMALS, SIGNIFICANT_DIGITS - (decade + _DECADE_LOW))
    scaled = ax * _POW10_FLOAT[decimals]
    rounded = np.rint(scaled)  # the digits of the cell, below 10**15 < 2**53
    # rounded as the exact product would be unless within the product's rounding error (half a
    # spacing, a spacing at most scaled * 2**-52) of a half
    fast &= 0.5 - np.abs(scaled - rounded) > scaled * 2.0**-52
    slow_rows = np.flatnonzero(~fast)
    slow_texts = [t.encode() for t in tidy_float_reprs(x[slow_rows])] if len(slow_rows) else []
    decimals[slow_rows] = MIN_DECIMALS
    rounded[slow_rows] = 0.0
    unit = _POW10_FLOAT[decimals]
    whole = np.floor(rounded / unit)  # exact: the integer quotient of integers below 2**53
    frac_digits = int(decimals.max()) if n else MIN_DECIMALS
    # the fraction's digits left-aligned to the most decimals of the column (exact: integers below 10**13)
    fraction = (rounded - whole * unit) * _POW10_FLOAT[frac_digits - decimals]
    columns: list[NDArray[np.uint8]] = []
    negative = x < 0
    if negative.any():
        columns.append(np.where(negative, np.uint8(_MINUS), np.uint8(0)))
    # the whole part, right-aligned: no leading zeros but one "0"
    int_digits = len(str(int(whole.max()))) if n else 1
    digits: list[NDArray[np.uint8]] = []
    integers = whole.astype(np.uint32 if int_digits <= _DIGITS_PER_UINT32 else np.int64)
    rest = _decimal_digits(integers, 1, digits)
    for _ in range(1, int_digits):
        more = rest != 0
        rest = _decimal_digits(rest, 1, digits)
        digits[-1] = (digits[-1] + _ZERO) * more
    digits[0] += _ZERO
    columns += reversed(digits)
    columns.append(np.full(n, _POINT, np.uint8))
    # the fraction, trailing zeros cut but one
    digits = []
    if frac_digits > _DIGITS_PER_UINT32:
        high = np.floor(fraction / 10.0**_DIGITS_PER_UINT32)
        low = fraction - high * 10.0**_DIGITS_PER_UINT32
        _decimal_digits(low.astype(np.uint32), _DIGITS_PER_UINT32, digits)
        _decimal_digits(high.astype(np.uint32), frac_digits - _DIGITS_PER_UINT32, digits)
    else:
        _decimal_digits(fraction.astype(np.uint32), frac_digits, digits)
    seen = np.zeros(n, dtype=bool)  # a non-zero digit at or after this one
    kept: list[NDArray[np.uint8]] = []
    for digit in digits[:-1]:  # last first; the first decimal is always kept
        seen |= digit != 0
        if kept or seen.any():  # a column of zeros cut in every row is left out
            kept.append((digit + _ZERO) * seen)
    kept.append(digits[-1] + _ZERO)
    columns += reversed(kept)
    return _FloatCells(columns, slow_rows, slow_texts)


def _cells_text(cells: _FloatCells, n: int) -> list[str]:
    """The cells as strings (for a coded column's table of floats)."""
    block = np.zeros((n, cells.width + 1), np.uint8)
    cells.write(block[:, :-1])
    block[:, -1] = ord(_END_OF_PIECE)
    return _packed_text(block).split(_END_OF_PIECE)[:-1]


def _packed_text(block: NDArray[np.uint8]) -> str:
    """The rows of ``block`` one after the other, without their zeros."""
    flat = block.reshape(-1)
    return str(flat[flat != 0].tobytes().decode())


class CsvFormatter:
    """Formats chunks of one stream.

    A row is a few pieces joined. A run of neighbouring coded columns that share rows is one
    piece, its table of joined cells formatted once per stream. Wide runs (a deployment's ids)
    are gathered as strings, which costs the same whatever their length; the narrow rest of
    the row (rates, costs) is written as bytes, a column of all the chunk's rows at a time:
    each cell in a fixed-width slot, zero bytes where it is shorter, the zeros then dropped.
    """

    def __init__(self, header: Sequence[str]) -> None:
        self.header = list(header)
        # id()s of the tables and the separator -> (the tables, kept alive so the id()s stay
        # theirs; their joined cells)
        self._runs: dict[tuple[int, ...], tuple[list[Sequence[Any]], _RunCells]] = {}

    def lines(self, chunk: Chunk) -> str:
        """The chunk's rows as CSV lines, each ending in a newline."""
        n = len(chunk)
        if not n:
            return ""
        pieces: list[list[str]] = []  # per piece, its text in every row
        narrow: list[_Narrow] = []  # the parts of the next piece written as bytes
        segments = self._segments(chunk)
        for i, (index, segment) in enumerate(segments):
            sep = "\n" if i == len(segments) - 1 else ","
            if isinstance(segment, list):
                cells = self._run_cells(segment, sep)
                if cells.packed is None:
                    if narrow:
                        pieces.append(_pack(narrow, n).split(_END_OF_PIECE)[:-1])
                        narrow = []
                    pieces.append([cells.text[0]] * n if index is None else cells.text[index].tolist())
                else:
                    narrow.append((cells.packed, index))
            else:
                narrow.append((float_cells(segment), sep))
        if narrow:
            if not pieces:  # the whole row is narrow: the packed rows are the chunk
                return _pack(narrow, n, whole_rows=True)
            pieces.append(_pack(narrow, n).split(_END_OF_PIECE)[:-1])
        text: list[str] = [""] * (len(pieces) * n)
        for s, cells_text in enumerate(pieces):
            text[s :: len(pieces)] = cells_text
        return "".join(text)

    def _segments(self, chunk: Chunk) -> list[tuple[Any, Any]]:
        """The row as (index, tables) of a run of coded columns (index None: constants only),
        or (None, values) of a float column, in header order."""
        from selfhost.sweep import Coded

        by_key = dict(zip(chunk.keys, chunk.columns, strict=True))
        segments: list[tuple[Any, Any]] = []
        for name in self.header:
            column = by_key.get(name)
            if column is None or isinstance(column, Coded):
                table = column.table if column is not None else _NO_VALUE
                index = column.index if column is not None and len(table) > 1 else None  # None: a constant
                last = segments[-1] if segments else None
                if (
                    last is not None
                    and isinstance(last[1], list)
                    and (index is None or last[0] is None or index is last[0])
                ):
                    segments[-1] = (last[0] if index is None else index, [*last[1], table])
                else:
                    segments.append((index, [table]))
            else:
                segments.append((None, column))
        return segments

    def _run_cells(self, tables: list[Sequence[Any]], sep: str) -> _RunCells:
        """The joined cells of a run of coded columns (constants folded in), each then ``sep``."""
        key = (*map(id, tables), hash(sep))
        found = self._runs.get(key)
        if found is None:
            if len(self._runs) >= MAX_JOINED_TABLES:  # a stream of ever-new tables: start over
                self._runs.clear()
            width = max(len(t) for t in tables)
            cells = [_table_cells(t) if len(t) > 1 else [csv_cell(t[0])] * width for t in tables]
            if sep == ",":  # the separator as the cell after the last: one join per row
                text = list(map(",".join, zip(*cells, [""] * len(cells[0]), strict=True)))
            else:
                text = [row + sep for row in map(",".join, zip(*cells, strict=True))]
            found = self._runs[key] = (tables, _RunCells(np.asarray(text, dtype=object), _packed_cells(text)))
        return found[1]


@dataclass(frozen=True)
class _RunCells:
    """A run's joined cells: as strings, and as zero-padded bytes (table rows x width) when
    narrow enough to be written with the floats (else None)."""

    text: NDArray[np.object_]
    packed: NDArray[np.uint8] | None


#: A narrow part of a row: (packed cells, index into them or None for a constant), or (floats, separator)
_Narrow = tuple[NDArray[np.uint8] | _FloatCells, Any]
#: A run's cells at most this wide (bytes) are written as bytes with the floats around them;
#: wider ones (a deployment's ids) are gathered as strings, whose cost does not grow with them.
PACKED_CELL_BYTES = 32
_END_OF_PIECE = "\x01"  # ends each row's part of a packed piece; never in a packed cell


def _packed_cells(text: list[str]) -> NDArray[np.uint8] | None:
    """``text`` as zero-padded UTF-8 rows, or None when too wide or holding a zero or
    `_END_OF_PIECE` byte (which the packing would drop or split at)."""
    if not text or max(map(len, text)) > PACKED_CELL_BYTES:
        return None
    encoded = [t.encode() for t in text]
    width = max(map(len, encoded))
    joined = b"".join(encoded)
    if width > PACKED_CELL_BYTES or b"\x00" in joined or _END_OF_PIECE.encode() in joined:
        return None
    return np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(len(encoded), width)


def _pack(parts: list[_Narrow], n: int, *, whole_rows: bool = False) -> str:
    """The narrow parts of ``n`` rows as text, each row's part then `_END_OF_PIECE` (none when
    ``whole_rows``: the parts are whole lines)."""
    widths = [part.shape[1] if isinstance(part, np.ndarray) else part.width + 1 for part, _ in parts]
    block = np.zeros((n, sum(widths) + (not whole_rows)), np.uint8)
    at = 0
    for (part, how), width in zip(parts, widths, strict=True):
        if isinstance(part, np.ndarray):
            block[:, at : at + width] = part[0] if how is None else part[how]
        else:
            part.write(block[:, at : at + width - 1])
            block[:, at + width - 1] = ord(how)
        at += width
    if not whole_rows:
        block[:, -1] = ord(_END_OF_PIECE)
    return _packed_text(block)


def _table_cells(table: Sequence[Any]) -> list[str]:
    """`csv_cell` of each value of a coded column's table, each distinct value formatted once (a
    sweep's per-deployment tables repeat their models, GPUs and engines tens of thousands of
    times). Only for a table of one type, so that True, 1 and 1.0 never share a cell; a table
    of floats (whose 0.0 and -0.0 are one key but two cells) is formatted as a float column,
    and a table of text none of which needs quotes is its own cells."""
    kinds = set(map(type, table))
    if kinds == {float}:
        return _cells_text(float_cells(np.asarray(table, dtype=np.float64)), len(table))
    if kinds == {str}:
        table = [csv_text(value) for value in table]  # (idempotent: csv_cell escapes it the same)
        text = "".join(table)
        if not any(char in text for char in _QUOTED):  # four substring scans: faster than a regex
            return table
    if len(kinds) != 1 or not kinds <= {str, int, bool, type(None)}:
        return list(map(csv_cell, table))
    cells = {value: csv_cell(value) for value in set(table)}
    return list(map(cells.__getitem__, table))


_NO_VALUE = (None,)  # the table of a header key the chunk's kind lacks: an empty cell
MAX_JOINED_TABLES = 64  # joined tables one stream keeps (a sweep needs a few per token mix)


def write_csv_chunks(
    header: Sequence[str], chunks: Iterable[Chunk], stream: IO[str], fallback_header: Sequence[str] = ()
) -> int:
    """Header, then every chunk's rows; returns the rows written. No rows: the fallback header alone."""
    names = list(header) or list(fallback_header)
    stream.write(",".join(csv_cell(k) for k in names) + "\n")
    formatter = CsvFormatter(names)
    written = 0
    for chunk in chunks:
        stream.write(formatter.lines(chunk))
        written += len(chunk)
    return written


# --------------------------------------------------------------------------- JSON


def write_json_stream(rows: Iterable[Chunk], tail: dict[str, Any], stream: IO[str]) -> int:
    """``{"results": [rows...], **tail}`` as `render.write_json` writes it, a chunk at a time."""
    stream.write('{\n  "results": [')
    written = 0
    for chunk in rows:
        for record in chunk.records():
            text = json.dumps(_jsonable(record), indent=2, allow_nan=False)
            stream.write(("\n" if not written else ",\n") + "    " + text.replace("\n", "\n    "))
            written += 1
    stream.write("\n  ]" if written else "]")
    rest = json.dumps(_jsonable(tail), indent=2, allow_nan=False)
    body = rest[1:-1].rstrip("\n")  # the tail's members, without its braces
    stream.write(("," + body if body.strip() else "") + "\n}\n")
    return written


# --------------------------------------------------------------------------- Parquet


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        raise MissingParquetError(f"--format parquet needs pyarrow: {PARQUET_EXTRA}") from None
    return pa, pq


def require_parquet() -> None:
    """Raise `MissingParquetError` (naming the extra) unless Parquet can be written."""
    _pyarrow()


#: Arrow types of the sweep's columns; strings are dictionary-encoded, as the rows repeat them.
_INTS = {"gpus_per_replica", "input_tokens", "output_tokens"}
_BOOLS = {"engine_confirmed", "gpu_measured", "layout_measured"}
_FLOATS = {"rps", "gpus_billed", "capacity_rps_per_replica", "usd_per_month", "usd_per_mtok"}


def _arrow_type(pa: Any, key: str) -> Any:
    if key in _INTS:
        return pa.int64()
    if key in _BOOLS:
        return pa.bool_()
    if key in _FLOATS:
        return pa.float64()
    return pa.dictionary(pa.int32(), pa.string())


def _arrow_column(pa: Any, column: Column | None, key: str, n: int) -> Any:
    from selfhost.sweep import Coded

    kind = _arrow_type(pa, key)
    if column is None:
        return pa.nulls(n, kind)
    if isinstance(column, Coded):
        if pa.types.is_dictionary(kind):
            return pa.DictionaryArray.from_arrays(
                pa.array(column.index, pa.int32()), pa.array(list(column.table), pa.string())
            )
        return pa.array(list(column.table), kind).take(pa.array(column.index))
    return pa.array(column, kind, from_pandas=True)  # NaN (no value) -> null


def write_parquet(header: Sequence[str], chunks: Iterable[Chunk], stream: BinaryIO) -> int:
    """The rows as one Parquet file (a row group per chunk); returns the rows written."""
    pa, pq = _pyarrow()
    schema = pa.schema([(key, _arrow_type(pa, key)) for key in header])
    written = 0
    with pq.ParquetWriter(stream, schema) as writer:
        for chunk in chunks:
            by_key = dict(zip(chunk.keys, chunk.columns, strict=True))
            arrays = [_arrow_column(pa, by_key.get(key), key, len(chunk)) for key in header]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            written += len(chunk)
    return written


def limited(chunks: Iterable[Chunk], limit: int) -> Iterator[Chunk]:
    """The first ``limit`` rows of ``chunks`` (0: all); no chunk is made after the last one needed."""
    shown = 0
    for chunk in chunks:
        if limit and shown >= limit:
            return
        part = chunk if not limit else chunk.head(min(len(chunk), limit - shown))
        shown += len(part)
        yield part
