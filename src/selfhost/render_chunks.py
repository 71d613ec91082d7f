"""Write streamed rows (`selfhost.sweep.Chunk`) as CSV, JSON or Parquet, one chunk at a time.

Each writer holds one chunk at a time, so memory does not grow with the rows. CSV and JSON are
byte-for-byte what `render.write_csv` and `render.write_json` write for the same records (the
tests hold them together); CSV is formatted column-wise: a dictionary-coded column's table
once, a float column once per run of equal values, then the rows joined. Parquet needs the
optional extra ``pip install 'selfhost-llm[parquet]'`` (pyarrow).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from selfhost.errors import SelfhostError
from selfhost.render import _jsonable, tidy_float, tidy_float_reprs

if TYPE_CHECKING:
    import numpy as np

    from selfhost.sweep import Chunk, Column

PARQUET_EXTRA = "pip install 'selfhost-llm[parquet]'"


class MissingParquetError(SelfhostError):
    """pyarrow, which writes Parquet, is not installed."""


# --------------------------------------------------------------------------- CSV


_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search  # what makes csv's QUOTE_MINIMAL quote a field


def csv_cell(value: Any) -> str:
    """One value as `csv` writes it (QUOTE_MINIMAL; None and non-finite floats empty)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        value = tidy_float(value)
    text = str(value)  # bool: True/False; float: repr, as csv does
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _float_cells(values: np.ndarray) -> list[str]:
    """Float cells (tidied, then repr as csv writes a float; empty for NaN), each distinct value
    formatted once: a sweep's cost columns take far fewer values than rows (a cost is a step
    function of the rate, and deployments share prices), and formatting is the slow part."""
    import numpy as np

    if not len(values):
        return []
    # distinct bit patterns, so -0.0 stays apart from 0.0 (their cells differ)
    bits, where = np.unique(np.ascontiguousarray(values, dtype=np.float64).view(np.int64), return_inverse=True)
    cells = tidy_float_reprs(bits.view(np.float64))  # non-finite: empty
    return np.asarray(cells, dtype=object)[where.reshape(-1)].tolist()  # type: ignore[no-any-return]


class CsvFormatter:
    """Formats chunks of one stream; a coded column's table is formatted once per stream, and
    neighbouring coded columns that share rows are joined once into one table."""

    def __init__(self, header: Sequence[str]) -> None:
        self.header = list(header)
        # id()s of the tables -> (the tables, kept alive so the id()s stay theirs; joined cells)
        self._joined: dict[tuple[int, ...], tuple[list[Sequence[Any]], Any]] = {}

    def _table(self, key: tuple[int, ...], tables: list[Sequence[Any]], make: Any) -> Any:
        found = self._joined.get(key)
        if found is None:
            import numpy as np

            if len(self._joined) >= MAX_JOINED_TABLES:  # a stream of ever-new tables: start over
                self._joined.clear()
            found = self._joined[key] = (tables, np.asarray(make(), dtype=object))
        return found[1]

    def lines(self, chunk: Chunk) -> str:
        """The chunk's rows as CSV lines, each ending in a newline."""
        from selfhost.sweep import Coded

        if not len(chunk):
            return ""
        by_key = dict(zip(chunk.keys, chunk.columns, strict=True))
        # segments of a row: a run of coded columns (index or None for constants, tables), or a float column
        segments: list[tuple[Any, list[Sequence[Any]]] | Any] = []
        for name in self.header:
            column = by_key.get(name)
            if column is None or isinstance(column, Coded):
                table = column.table if column is not None else _NO_VALUE
                index = column.index if column is not None and len(table) > 1 else None  # None: a constant
                last = segments[-1] if segments else None
                if isinstance(last, tuple) and (index is None or last[0] is None or index is last[0]):
                    segments[-1] = (last[0] if index is None else index, [*last[1], table])
                else:
                    segments.append((index, [table]))
            else:
                segments.append(column)
        # the row text as slots: a coded run's cells carry the separator after them, a float
        # column's cells are followed by a separator slot; one join makes the chunk
        n = len(chunk)
        slots: list[list[str]] = []
        for i, segment in enumerate(segments):
            sep = "\n" if i == len(segments) - 1 else ","
            if isinstance(segment, tuple):
                slots.append(self._gather(segment[0], segment[1], sep, n))
            else:
                slots += [_float_cells(segment), [sep] * n]
        text: list[str] = [""] * (len(slots) * n)
        for s, cells in enumerate(slots):
            text[s :: len(slots)] = cells
        return "".join(text)

    def _gather(self, index: Any, tables: list[Sequence[Any]], sep: str, n: int) -> list[str]:
        """Per row, the joined cells of a run of coded columns (constants folded in), then ``sep``."""

        def make() -> list[str]:
            width = max(len(t) for t in tables)
            cells = [_table_cells(t) if len(t) > 1 else [csv_cell(t[0])] * width for t in tables]
            return [row + sep for row in map(",".join, zip(*cells, strict=True))]

        joined = self._table((*map(id, tables), hash(sep)), tables, make)
        if index is None:
            return [joined[0]] * n
        return joined[index].tolist()  # type: ignore[no-any-return]


def _table_cells(table: Sequence[Any]) -> list[str]:
    """`csv_cell` of each value of a coded column's table, each distinct value formatted once (a
    sweep's per-deployment tables repeat their models, GPUs and engines tens of thousands of
    times). Only for a table of one type, so that True, 1 and 1.0 never share a cell, and not for
    floats, whose 0.0 and -0.0 are one key but two cells."""
    kinds = set(map(type, table))
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
_BOOLS = {"engine_confirmed", "gpu_measured"}
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
