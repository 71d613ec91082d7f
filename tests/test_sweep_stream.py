"""`sweep` streams: rows made and written in chunks, byte for byte what the whole list would give,
in memory that does not grow with the rows, refused above --max-rows, and as Parquet."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import Result

from cases import builtin_catalog
from selfhost import questions
from selfhost.question import Scenario
from selfhost.render import tidy_float, tidy_float_reprs, write_csv, write_json
from selfhost.render_chunks import PARQUET_EXTRA, write_csv_chunks, write_json_stream
from selfhost.sweep import DEFAULT_CHUNK_ROWS, Sweep

Cli = Callable[..., Result]


def grid(rates: str = "0.1:100:7", mixes: tuple[str, ...] = ("1000:300", "4000:500"), **options) -> Sweep:
    scenario = Scenario.from_options(
        rates=None, rps_range=rates, mix=list(mixes), ops_usd_per_month=4000.0, max_tpot_ms=100.0,
        max_ttft_ms=3000.0, stale_days=90, **options,
    )  # fmt: skip
    return questions.sweep(builtin_catalog(), scenario)


class Sink(io.TextIOBase):
    """A text stream that keeps nothing, only counts."""

    written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)


# --------------------------------------------------------------------------- the same bytes


@pytest.mark.parametrize(
    "options",
    [
        {"model": ["llama-3.3-70b", "qwen2.5-7b"]},
        {"model": ["qwen2.5-7b"], "gpu": ["rtx-4090"], "api": ["openai-gpt-4o-mini"]},
        {"model": ["qwen2.5-7b"], "gpu": ["rtx-4090"], "mix": ["200000:10", "100:10"]},  # API rows first
    ],
)
def test_streamed_csv_is_what_the_csv_module_writes_for_the_records(options):
    mixes = tuple(options.pop("mix", ("1000:300", "4000:500")))
    sweep = grid(mixes=mixes, **options)
    records = sweep.records()
    assert len(records) == sweep.rows > 0
    expected = io.StringIO()
    write_csv(records, expected)
    for rows_per_chunk in (1, 7, 1000, DEFAULT_CHUNK_ROWS):
        got = io.StringIO()
        assert write_csv_chunks(sweep.header, sweep.chunks(rows_per_chunk), got) == sweep.rows
        assert got.getvalue() == expected.getvalue(), rows_per_chunk


@pytest.mark.parametrize(
    "table",
    [
        ["vllm", "a,b", 'say "x"', "vllm", "", "a,b"],  # repeated text, some needing quotes
        [True, False, True, True],
        [1, 2, 1, 10**30],
        [None, None],
        [0.0, -0.0, 1.5, 0.0, float("nan"), -0.0],  # floats: 0.0 and -0.0 are two cells
        [True, 1, 1.0, "1", None, 0, False, 0.0],  # mixed types never share a cell
        ["=HYPERLINK(x)", "+1", "-4.5", "@a", "vllm"],  # formula-like text, and a number as text
        ["=a,b", "vllm"],  # formula-like and needing quotes
    ],
    ids=["text", "bools", "ints", "nones", "floats", "mixed", "formulas", "formula-quoted"],
)
def test_a_coded_tables_cells_are_csv_cell_of_each_value(table: list[object]):
    from selfhost.render_chunks import _table_cells, csv_cell

    assert _table_cells(table) == [csv_cell(v) for v in table]


def test_a_chunk_cell_that_looks_like_a_formula_stays_text_as_in_write_csv():
    """`csv_cell` escapes what `render.write_csv` escapes (`escape.csv_text`), so a streamed sweep
    and a table written whole never differ; a number written as text is left as it is."""
    from selfhost.render_chunks import csv_cell

    assert [csv_cell(v) for v in ("=HYPERLINK(x)", "+cmd", "@a", "-4.5", "vllm")] == [
        "'=HYPERLINK(x)",
        "'+cmd",
        "'@a",
        "-4.5",
        "vllm",
    ]
    assert csv_cell("=a,b") == '"\'=a,b"'


def float_cell_texts(values) -> list[str]:
    from selfhost.render_chunks import _cells_text, float_cells

    return _cells_text(float_cells(np.asarray(values, dtype=float)), len(values))


def test_float_cells_are_tidy_float_reprs_value_by_value():
    """The vectorized float cells write what `tidy_float_reprs` (``repr(tidy_float(x))``)
    writes: across the whole range, at every decade edge (the decimals change there), at halves
    of the last kept digit (where the product by 10**d is too close to call), for integral,
    negative, tiny, huge and non-finite values, and with small and large values in one column
    (the column's width is its widest cell)."""
    rng = np.random.default_rng(7)
    powers = 10.0 ** np.arange(-300, 301)
    decades = 10.0 ** np.arange(-6, 16)
    halves = (rng.integers(1, 10**9, 3_000) + 0.5) / 10.0 ** rng.integers(0, 12, 3_000)
    values = np.concatenate(
        [
            np.exp(rng.normal(0.0, 12.0, 20_000)) * rng.choice([-1.0, 1.0], 20_000),
            np.exp(rng.uniform(np.log(1e-4), np.log(1e13), 50_000)),  # the fast range, evenly
            rng.integers(1, 10**15, 20_000) / 10.0 ** rng.integers(2, 14, 20_000),  # 15 digits
            rng.integers(-10**6, 10**6, 2_000).astype(float), halves, -halves,
            powers, np.nextafter(powers, 0.0), np.nextafter(powers, np.inf),
            decades, np.nextafter(decades, 0.0), np.nextafter(decades, np.inf), 9.9999999999 * decades,
            [1e-4, 1e13, 9.9999999995, 99.999999995, 0.00099999999995, 9999999999999.995, 5e-5],
            [0.0, -0.0, 5e-324, 1.7976931348623157e308, -1e308, np.nan, np.inf, -np.inf],
        ]
    )  # fmt: skip
    expected = [repr(tidy_float(v)) if math.isfinite(v) else "" for v in values.tolist()]
    assert tidy_float_reprs(values) == expected
    assert float_cell_texts(values) == expected
    for part in np.array_split(rng.permutation(len(values)), 97):  # columns of other mixes
        assert float_cell_texts(values[part]) == [expected[i] for i in part.tolist()]


@pytest.mark.parametrize(
    "column",
    [[], [np.nan], [np.nan, np.inf], [0.0], [-0.0, 2.5], [2.0] * 5, [1e20, 3.25], [-1.5, 1.5], [123456789012.5]],
)  # fmt: skip
def test_float_cells_of_a_column_with_few_or_no_ordinary_values(column: list[float]):
    assert float_cell_texts(column) == tidy_float_reprs(np.asarray(column, dtype=float))


def test_a_chunk_of_odd_cells_is_what_the_csv_module_writes():
    """Cells the packed bytes must not mangle: text needing quotes, wider than a packed cell,
    non-ASCII, holding a zero or the end-of-piece byte; a constant column, a key the chunk
    lacks (an empty cell), and floats around them."""
    from selfhost.sweep import Chunk, Coded

    index = np.array([0, 1, 2, 3, 0, 3])
    tables = {
        "text": ["a,b", 'say "x"', "x" * 40, "é"],  # a cell too wide to pack: gathered as text
        "odd": ["\x01", "a\x00b", "plain", "ü,"],  # bytes the packing would split at or drop
        "short": ["é", "ü", "ß", ""],  # packed, non-ASCII
        "count": [1, 2, 3, 10**20],
    }
    keys = ("kind", "cost", "text", "odd", "short", "count", "rate", "share")
    columns = (
        Coded(np.zeros(6, dtype=np.intp), ("k",)),
        np.array([1.5, np.nan, 1e-7, 2.0, -3.25, 1e15]),
        *(Coded(index.copy(), tables[k]) for k in ("text", "odd", "short", "count")),  # not one run
        Coded(np.array([0, 0, 1, 1, 2, 2]), (0.1, 1.0, 1e-5)),
        np.array([0.25, 0.5, np.inf, 0.125, 1 / 3, 2 / 3]),
    )
    chunk = Chunk("test", keys, columns)
    header = ["kind", "missing", *keys[1:]]
    got = io.StringIO()
    write_csv_chunks(header, [chunk], got)
    expected = io.StringIO()
    write_csv([{k: r.get(k) for k in header} for r in chunk.records()], expected)
    assert got.getvalue() == expected.getvalue()
    parsed = list(csv.reader(io.StringIO(got.getvalue())))
    assert [row[header.index("odd")] for row in parsed[1:]] == ["\x01", "a\x00b", "plain", "ü,", "\x01", "ü,"]


def test_streamed_json_is_what_write_json_writes_for_the_document():
    sweep = grid(model=["qwen2.5-32b"], gpu=["l40s"])
    tail = {"assumptions": sweep.assumptions, "notes": sweep.notes}
    expected = io.StringIO()
    write_json({"results": sweep.records(), **tail}, expected)
    got = io.StringIO()
    write_json_stream(sweep.chunks(5), tail, got)
    assert got.getvalue() == expected.getvalue()
    empty = io.StringIO()
    write_json_stream([], tail, empty)
    assert json.loads(empty.getvalue())["results"] == []
    reference = io.StringIO()
    write_json({"results": [], **tail}, reference)
    assert empty.getvalue() == reference.getvalue()


def test_chunks_hold_at_most_their_size_and_every_row_once_in_order():
    sweep = grid(model=["llama-3.3-70b"])
    whole = [r for c in sweep.chunks(10**9) for r in c.records()]
    sizes = [len(c) for c in sweep.chunks(13)]
    assert max(sizes) <= 13 and min(sizes) >= 1
    assert sum(sizes) == sweep.rows == len(whole)
    assert [r for c in sweep.chunks(13) for r in c.records()] == whole


def test_a_deployments_columns_share_one_index_in_every_chunk_and_head():
    """The writer joins the cells of neighbouring columns that share an index once per stream:
    cutting a chunk (or its head) must keep the deployment's columns on one index object."""
    from selfhost.sweep import SELF_HOSTED_KEYS, Coded

    sweep = grid(model=["llama-3.3-70b"])
    per_deployment = {"option", "model", "quant", "gpu", "gpus_per_replica", "engine", "engine_confirmed"}
    per_deployment |= {"gpu_measured", "price_option", "capacity_rps_per_replica"}
    for chunk in [*sweep.chunks(13), next(iter(sweep.chunks(1000))).head(5)]:
        if chunk.kind != "self-hosted":
            continue
        by_key = dict(zip(SELF_HOSTED_KEYS, chunk.columns, strict=True))
        indexes = {id(c.index) for k, c in by_key.items() if k in per_deployment and isinstance(c, Coded)}
        assert len(indexes) == 1


def test_deployment_columns_are_config_record_row_by_row_over_the_default_selection():
    """`sweep.deployment_columns` (made per config and price, spread to the rows) holds, for
    every deployment of the default selection, what `analysis.config_record` says of it (its
    layout and evidence included), its price option and its option id, which no other row shares."""
    from selfhost.analysis import config_record
    from selfhost.sweep import DEPLOYMENT_KEYS, deployment_columns

    deployments = grid("0.1:100:2", ("1000:300",)).parts[0].grid
    columns = deployment_columns(deployments)
    assert len(deployments) > 10_000
    assert all(len(values) == len(deployments) for values in columns.values())
    for i in range(len(deployments)):
        c, price = deployments.config(i), deployments.price(i)
        record = config_record(c)
        assert {key: values[i] for key, values in columns.items() if key in record} == record, i
        assert [type(columns[key][i]) for key in record] == [type(value) for value in record.values()]
        assert columns["price_option"][i] == price.id
        suffix = {"pipeline-parallel": f"-pp{c.pipeline_stages}", "dp-attention": "-dp-attention"}
        engine = c.engine.id + suffix.get(c.layout_kind, "")
        assert columns["option"][i] == f"{c.model.id}/{c.quant.id}/{c.n_gpus}x{c.gpu.id}/{engine}/{price.id}"
    assert set(config_record(deployments.config(0))) <= set(columns)
    assert set(columns) == set(DEPLOYMENT_KEYS)
    # one id per row: the layouts of one model, GPU count and engine are told apart
    assert len(set(columns["option"])) == len(deployments)
    kinds = {deployments.config(i).layout_kind for i in range(len(deployments))}
    assert {"single-gpu", "tensor-parallel", "dp-attention"} <= kinds


def test_the_evidence_note_names_what_the_records_of_every_row_would_name():
    """The note is made from each config once (in first-row order), as from every row."""
    from selfhost.analysis import THROUGHPUT_NOTE, _with_evidence, config_record

    sweep = grid("0.1:100:2", ("1000:300", "200000:10"), pricing=["all"])
    every_row = (config_record(p.grid.config(i)) for p in sweep.parts for i in range(len(p.grid)))
    expected = _with_evidence([THROUGHPUT_NOTE], every_row)
    assert sweep.notes[: len(expected)] == expected  # (stale-price notes follow)
    assert len(expected) == 2 and " more" in expected[1]  # names some deployments, counts the rest


# --------------------------------------------------------------------------- constant memory


def peak_write_bytes(sweep: Sweep, rows_per_chunk: int) -> int:
    """Peak memory traced while the rows are made and written (the sweep's own arrays excluded)."""
    sink = Sink()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        write_csv_chunks(sweep.header, sweep.chunks(rows_per_chunk), sink)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert sink.written > 0
    return peak


def test_memory_does_not_grow_with_the_rows():
    """Forty times the rows, the same chunk size: the peak stays that of a few chunks."""
    selection = {"model": ["llama-3.3-70b"]}
    small, large = (
        grid("0.1:100:5", ("1000:300",), **selection),
        grid("0.1:100:200", ("1000:300",), **selection),
    )
    assert large.rows >= 35 * small.rows
    rows_per_chunk = 256
    small_peak, large_peak = peak_write_bytes(small, rows_per_chunk), peak_write_bytes(large, rows_per_chunk)
    assert large_peak < 2 * small_peak + 256 * 1024, (small_peak, large_peak)
    # and a chunk costs about its rows: ten times the chunk, a clearly higher peak (the fixed part,
    # the grid's deployment arrays, grows with the catalog)
    assert peak_write_bytes(large, 10 * rows_per_chunk) > 1.3 * large_peak


# --------------------------------------------------------------------------- the CLI


SWEEP = ["sweep", "-m", "llama-3.3-70b", "--rps-range", "0.1:100:9", "--mix", "1000:300", "--mix", "4000:500"]


def test_a_grid_larger_than_max_rows_is_refused_naming_how_to_narrow_it(cli: Cli):
    rows = grid("0.1:100:9", model=["llama-3.3-70b"]).rows
    result = cli(*SWEEP, "--max-rows", str(rows - 1))
    assert result.exit_code == 2 and result.stdout == ""
    (error,) = result.stderr.strip().splitlines()
    assert f"the sweep has {rows:,} rows, more than --max-rows {rows - 1:,}" in error
    assert "--model" in error and "--rps-range" in error and "--max-rows" in error
    assert cli(*SWEEP, "--max-rows", str(rows)).exit_code == 0
    assert cli(*SWEEP, "--max-rows", "0").exit_code == 0


def test_limit_writes_the_first_rows_and_says_how_many_there_are(cli: Cli):
    rows = grid("0.1:100:9", model=["llama-3.3-70b"]).rows
    result = cli(*SWEEP, "--limit", "25")
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 25
    assert f"note: showing 25 of {rows} rows; --limit 0 shows all" in result.stderr


def test_parquet_holds_the_same_rows(cli: Cli, tmp_path: Path):
    result = cli(*SWEEP, "--format", "parquet")
    try:
        import pyarrow.parquet as pq
    except ImportError:  # without the extra: one line naming it
        assert result.exit_code == 2
        assert PARQUET_EXTRA in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "grid.parquet"
    path.write_bytes(result.stdout_bytes)
    table = pq.read_table(path)
    assert table.column_names == grid("0.1:100:9", model=["llama-3.3-70b"]).header
    records = grid("0.1:100:9", model=["llama-3.3-70b"]).records()
    assert table.to_pylist() == [{k: r.get(k) for k in table.column_names} for r in records]


def test_parquet_without_pyarrow_names_the_extra(cli: Cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    result = cli(*SWEEP, "--format", "parquet")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: --format parquet needs pyarrow: {PARQUET_EXTRA}"]
