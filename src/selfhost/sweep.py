"""The sweep: every deployment and API at every rate and token mix, streamed in chunks of columns.

A sweep's rows are the product of the deployment grid (one per token mix), the request rates
and, for the API rows, the comparable APIs: 1,000 rates over every model is some ten million
rows. `sweep` computes what the rows are made of (each mix's deployment grid and API prices,
all of size n_deployments or n_apis, never n_rows) and `Sweep.chunks` makes the rows on demand,
a chunk at a time, as columns: memory stays constant whatever the grid size, and a writer
formats each chunk (`selfhost.render`) before the next one exists.

Rows come in the order the long format always had: per token mix, each deployment at every
rate (cheapest-capacity order of the grid), then each API at every rate. Columns that repeat
(a deployment's ids, a rate) are dictionary-coded: an index per row into a short table.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from selfhost.analysis import (
    THROUGHPUT_NOTE,
    DeploymentGrid,
    Record,
    _with_evidence,
    comparable_apis,
    config_record,
    deployment_grid,
    entry_provenance,
)
from selfhost.apis import request_usd
from selfhost.engine import cost
from selfhost.errors import InputError
from selfhost.selection import select_configs, selected_apis

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering, Catalog
    from selfhost.question import Scenario
    from selfhost.scenarios import ReplicaConfig, Workload

IntArray: TypeAlias = NDArray[np.intp]
FloatArray: TypeAlias = NDArray[np.float64]

SELF_HOSTED_KEYS = (
    "option_kind", "option", "model", "quant", "gpu", "gpus_per_replica", "layout", "engine",
    "engine_confirmed", "gpu_measured", "layout_measured", "price_option", "input_tokens", "output_tokens",
    "rps", "gpus_billed", "capacity_rps_per_replica", "usd_per_month", "usd_per_mtok",
)  # fmt: skip
#: The keys made per deployment and price (`deployment_columns`), in SELF_HOSTED_KEYS order.
DEPLOYMENT_KEYS = SELF_HOSTED_KEYS[1:12]
API_KEYS = (
    "option_kind",
    "option",
    "model",
    "engine_confirmed",  # True on an API row: its bill is a list price, no throughput estimate
    "gpu_measured",  # (so the columns keep one type: true/false, never blank)
    "layout_measured",
    "input_tokens",
    "output_tokens",
    "rps",
    "usd_per_month",
    "usd_per_mtok",
)
NOTHING_ESTIMATED = (True,)  # the evidence flags of an API row: nothing in its cost is extrapolated
DEFAULT_CHUNK_ROWS = 16_384  # rows made and written at once: about 4 MB of text, cache-friendly
DEFAULT_MAX_ROWS = 1_000_000  # about a spreadsheet's limit (1,048,576 rows); 0 = no limit
#: Most token mixes (--mix) in one sweep: each is a whole deployment grid (every model at every
#: GPU count and price, ~5 MB and ~0.3 s each for the whole catalog). [count]
MAX_MIXES = 100


@dataclass(frozen=True)
class Coded:
    """A dictionary-coded column: row r holds ``table[index[r]]``."""

    index: IntArray
    table: Sequence[Any]


Column = Coded | FloatArray  # a float array: one value per row; NaN (usd_per_mtok) is "none"


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of one kind ('self-hosted' or 'api'), as columns in ``keys`` order."""

    kind: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]

    def __len__(self) -> int:
        first = self.columns[0]
        return len(first.index) if isinstance(first, Coded) else len(first)

    def head(self, n: int) -> Chunk:
        """The first ``n`` rows."""
        shared: dict[int, IntArray] = {}
        cut = tuple(
            Coded(_cut(shared, c.index, 0, n), c.table) if isinstance(c, Coded) else c[:n]
            for c in self.columns
        )
        return Chunk(self.kind, self.keys, cut)

    def records(self) -> Iterator[Record]:
        """The rows as records, values as the long format always had them (None for NaN)."""
        decoded = [
            [c.table[i] for i in c.index.tolist()]
            if isinstance(c, Coded)
            else [None if v != v else v for v in c.tolist()]  # NaN -> None
            for c in self.columns
        ]
        for values in zip(*decoded, strict=True):
            yield dict(zip(self.keys, values, strict=True))


@dataclass(frozen=True)
class _MixPart:
    """One token mix: its deployment grid and API prices (the per-row tables of its coded
    columns are made while its rows stream, then dropped: they are Python objects per row)."""

    workload: Workload
    grid: DeploymentGrid
    api_usd_per_request: FloatArray


@dataclass
class Sweep:
    """What a sweep's rows are made of, and its assumptions and notes; `chunks` makes the rows.

    rows : How many rows the sweep has. [count]
    header : Every key, in first-seen order of the rows (the CSV header).
    """

    assumptions: dict[str, Any]
    notes: list[str]
    header: list[str]
    rows: int
    rates: tuple[float, ...]
    apis: list[ApiOffering]
    parts: list[_MixPart]
    ops_usd_per_month: float
    hours_per_month: float

    def check_rows(self, max_rows: int) -> None:
        """Refuse a grid of more than ``max_rows`` rows (0: no limit), naming how to narrow it."""
        _check_rows(self.rows, max_rows)

    def price_records(self) -> list[Record]:
        """One small record per price the rows use (deployment price options, APIs), for stale flags."""
        ids: dict[str, None] = {}  # each price once, in first-use order (a grid has a row per config)
        for part in self.parts:
            grid = part.grid
            for i in dict.fromkeys(grid.price_index.tolist()):
                ids.setdefault(grid.prices[i].id)
        used = [{"price_option": price_id} for price_id in ids]
        return used + [{"option_kind": "api", "option": a.id} for a in self.apis]

    def chunks(self, rows_per_chunk: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """The rows, in order, in chunks of at most ``rows_per_chunk`` rows (never an empty chunk)."""
        n_rates = len(self.rates)
        block = max(1, rows_per_chunk // max(1, n_rates))  # deployments or APIs per chunk
        rate_column = np.asarray(self.rates, dtype=float)[None, :]
        for part in self.parts:
            w, grid = part.workload, part.grid
            tables = _tables(grid, w, self.apis)  # this mix's only: freed before the next one
            tokens = w.input_tokens + w.output_tokens
            for start in range(0, len(grid), block):
                stop = min(len(grid), start + block)
                unit = _unit_rows(grid.unit, start, stop)
                monthly = cost.self_hosted_usd_per_month(rate_column, unit, self.ops_usd_per_month)
                gpus_billed = cost.units_needed(rate_column, unit) * unit.gpus
                per_mtok = cost.usd_per_mtok(monthly, rate_column, tokens, self.hours_per_month)
                keep = np.isfinite(monthly).ravel()
                rows = np.repeat(np.arange(start, stop), n_rates)[keep]
                rate = np.tile(np.arange(n_rates), stop - start)[keep]
                yield from _split(
                    self._self_hosted(tables, rows, rate, gpus_billed, monthly, per_mtok, keep),
                    rows_per_chunk,
                )
            if not self.apis:
                continue
            for start in range(0, len(self.apis), block):
                stop = min(len(self.apis), start + block)
                per_request = part.api_usd_per_request[start:stop, None]
                api_monthly = cost.api_usd_per_month(rate_column, per_request, self.hours_per_month)
                api_mtok = cost.usd_per_mtok(api_monthly, rate_column, tokens, self.hours_per_month)
                api = np.repeat(np.arange(start, stop), n_rates)
                rate = np.tile(np.arange(n_rates), stop - start)
                yield from _split(self._api(tables, api, rate, api_monthly, api_mtok), rows_per_chunk)

    def _self_hosted(
        self,
        t: dict[str, Any],
        rows: IntArray,
        rate: IntArray,
        gpus_billed: FloatArray,
        monthly: FloatArray,
        per_mtok: FloatArray,
        keep: NDArray[np.bool_],
    ) -> Chunk:
        one = np.zeros(len(rows), dtype=np.intp)
        columns: tuple[Column, ...] = (
            Coded(one, t["self-hosted"]),
            *(Coded(rows, t[key]) for key in DEPLOYMENT_KEYS),
            Coded(one, t["input_tokens"]),
            Coded(one, t["output_tokens"]),
            Coded(rate, self.rates),
            np.broadcast_to(gpus_billed, monthly.shape).ravel()[keep],
            Coded(rows, t["capacity_rps_per_replica"]),
            monthly.ravel()[keep],
            _nan_if_not_finite(per_mtok.ravel()[keep]),
        )
        return Chunk("self-hosted", SELF_HOSTED_KEYS, columns)

    def _api(
        self, t: dict[str, Any], api: IntArray, rate: IntArray, monthly: FloatArray, per_mtok: FloatArray
    ) -> Chunk:
        one = np.zeros(len(api), dtype=np.intp)
        columns: tuple[Column, ...] = (
            Coded(one, t["api"]),
            Coded(api, t["api_option"]),
            Coded(api, t["api_model"]),
            Coded(one, NOTHING_ESTIMATED),
            Coded(one, NOTHING_ESTIMATED),
            Coded(one, NOTHING_ESTIMATED),
            Coded(one, t["input_tokens"]),
            Coded(one, t["output_tokens"]),
            Coded(rate, self.rates),
            monthly.ravel(),
            _nan_if_not_finite(per_mtok.ravel()),
        )
        return Chunk("api", API_KEYS, columns)

    def records(self, limit: int = 0) -> list[Record]:
        """The first ``limit`` rows (0: all) as records: for a table, or a small sweep."""
        out: list[Record] = []
        for chunk in self.chunks():
            wanted = len(chunk) if not limit else min(len(chunk), limit - len(out))
            out.extend(chunk.head(wanted).records())
            if limit and len(out) >= limit:
                break
        return out


def _check_rows(rows: int, max_rows: int, *, partial: str = "") -> None:
    """Refuse ``rows`` above ``max_rows`` (0: no limit); ``partial``: the rows are a lower bound."""
    if max_rows and rows > max_rows:
        has = f"has at least {rows:,} rows ({partial})" if partial else f"has {rows:,} rows"
        raise InputError(
            f"the sweep {has}, more than --max-rows {max_rows:,}; narrow it "
            "(--model, --gpu, --quant, --gpus, fewer --rps-range points or --mix) or raise --max-rows "
            "(0 = no limit; --format parquet suits grids too large for a spreadsheet)"
        )


def _unit_rows(unit: cost.BillingUnit, start: int, stop: int) -> cost.BillingUnit:
    """Grid rows start:stop of the billing units as a column, shape (k, 1), against rates (1, m)."""
    return cost.BillingUnit(
        gpus=unit.gpus[start:stop, None],
        replicas=unit.replicas[start:stop, None],
        usd_per_month=unit.usd_per_month[start:stop, None],
        rps=unit.rps[start:stop, None],
        min_units=unit.min_units[start:stop, None],
    )


def _nan_if_not_finite(values: FloatArray) -> FloatArray:
    return np.where(np.isfinite(values), values, np.nan)


def _split(chunk: Chunk, rows_per_chunk: int) -> Iterator[Chunk]:
    """``chunk`` in pieces of at most ``rows_per_chunk`` rows; nothing for an empty chunk."""
    n = len(chunk)
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        shared: dict[int, IntArray] = {}
        yield Chunk(
            chunk.kind,
            chunk.keys,
            tuple(
                Coded(_cut(shared, c.index, start, stop), c.table) if isinstance(c, Coded) else c[start:stop]
                for c in chunk.columns
            ),
        )


def _cut(shared: dict[int, IntArray], index: IntArray, start: int, stop: int) -> IntArray:
    """``index[start:stop]``, cut once per index: columns that share rows keep sharing them (a
    writer joins the cells of such neighbours once per stream, not once per chunk)."""
    found = shared.get(id(index))
    if found is None:
        found = shared[id(index)] = index[start:stop]
    return found


def _tables(grid: DeploymentGrid, workload: Workload, apis: Sequence[ApiOffering]) -> dict[str, Any]:
    """The tables of the coded columns: per grid row or API, the values that do not change with
    the rate, and the mix's constants (made once, so a writer can format each table once)."""
    tables: dict[str, Any] = deployment_columns(grid)
    tables["capacity_rps_per_replica"] = grid.capacity.point.requests_per_s.tolist()
    tables |= {
        "self-hosted": ("self-hosted",),
        "api": ("api",),
        "input_tokens": (workload.input_tokens,),
        "output_tokens": (workload.output_tokens,),
        "api_option": [a.id for a in apis],
        "api_model": [a.equivalent_model or "" for a in apis],
    }
    return tables


def option_id(c: ReplicaConfig, price_id: str) -> str:
    """A deployment's id in a sweep: ``model/quant/NxGPU/engine/price``, the engine followed by
    ``-pp<stages>`` or ``-dp-attention`` for those layouts, so that every row's id is its own."""
    suffix = {"pipeline-parallel": f"-pp{c.pipeline_stages}", "dp-attention": "-dp-attention"}.get(
        c.layout_kind, ""
    )
    return f"{c.model.id}/{c.quant.id}/{c.n_gpus}x{c.gpu.id}/{c.engine.id}{suffix}/{price_id}"


def deployment_columns(grid: DeploymentGrid) -> dict[str, list[Any]]:
    """Per grid row, which deployment it is: the fields of `analysis.config_record`, the price
    option and the option id (`option_id`).

    Made once per config and price the grid uses and spread to the rows by index: the grid of
    every model has some 40,000 rows over 10,000 configs and 60 prices, and a record per row
    was most of the time to the first rows of a sweep. A test holds the columns to
    `analysis.config_record` row by row.
    """
    used, row_config = np.unique(grid.config_index, return_inverse=True)
    configs = [grid.configs[i] for i in used.tolist()]
    per_config: dict[str, list[Any]] = {
        "model": [c.model.id for c in configs],
        "quant": [c.quant.id for c in configs],
        "gpu": [c.gpu.id for c in configs],
        "gpus_per_replica": [c.n_gpus for c in configs],
        "layout": [c.layout for c in configs],
        "engine": [c.engine.id for c in configs],
        "engine_confirmed": [c.engine.confirmed for c in configs],
        "gpu_measured": [c.gpu_measured for c in configs],
        "layout_measured": [c.layout_measured for c in configs],
    }
    option = [option_id(c, "") for c in configs]
    rows = row_config.reshape(-1)
    price_option = _spread([price.id for price in grid.prices], grid.price_index)
    return {
        "option": list(map(operator.add, _spread(option, rows), price_option)),
        **{key: _spread(values, rows) for key, values in per_config.items()},
        "price_option": price_option,
    }


def _spread(values: list[Any], index: IntArray) -> list[Any]:
    """``[values[i] for i in index]``, by NumPy (the values stay the Python objects they are)."""
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table[index].tolist()  # type: ignore[no-any-return]


def _header(parts: Sequence[_MixPart], apis: Sequence[ApiOffering]) -> list[str]:
    """Every key in first-seen order over the rows (self-hosted rows of a mix come before its API rows)."""
    header: list[str] = []
    for part in parts:
        for keys in ([SELF_HOSTED_KEYS] if len(part.grid) else []) + ([API_KEYS] if apis else []):
            header += [k for k in keys if k not in header]
    return header


def sweep(catalog: Catalog, scenario: Scenario, *, max_rows: int = 0) -> Sweep:
    """Every deployment and API at every rate and token mix, as a `Sweep` that streams its rows.

    Costs for a block of deployments x all rates are one broadcast (n_block, n_rates) computation.
    ``max_rows`` (0: no limit) is checked as each mix's grid is built, so a sweep far over the
    limit is refused after the first mixes that pass it, not after building every grid.

    Raises:
        InputError: no rate given, more than `MAX_MIXES` mixes, more than ``max_rows`` rows, or
            the selection cannot be resolved.
    """
    if not scenario.rates:
        raise InputError("give at least one --rps or an --rps-range")
    if len(scenario.mixes) > MAX_MIXES:
        raise InputError(
            f"{len(scenario.mixes):,} --mix values: a sweep takes at most {MAX_MIXES} token mixes "
            "(each is a whole deployment grid); split it into several sweeps"
        )
    configs = select_configs(catalog, scenario)
    workloads = scenario.workloads()
    ca, rates = scenario.priced, scenario.rates
    apis = selected_apis(catalog, scenario)
    if apis is None:
        chosen: dict[str, ApiOffering] = {}
        context = max(w.context_tokens for w in workloads)
        for c in configs:
            for a in comparable_apis(catalog, c.model, context):
                chosen.setdefault(a.id, a)
        apis = list(chosen.values())
    parts = []
    rows = 0
    for i, w in enumerate(workloads):
        grid = deployment_grid(catalog, scenario, configs=configs, workload=w)
        per_request = request_usd(apis, w.input_tokens, w.output_tokens, ca.cached_input_fraction)
        parts.append(_MixPart(w, grid, per_request))
        rows += (len(grid) + len(apis)) * len(rates)
        if i + 1 < len(workloads):
            _check_rows(rows, max_rows, partial=f"in the first {i + 1} of {len(workloads)} token mixes")
    assumptions = {
        **scenario.assumptions(),
        "models": sorted({c.model.id for c in configs}),
        "catalog_entries": entry_provenance(configs),
    }
    # each config once, in first-row order: the note names deployments in the order first seen
    deployments = (
        config_record(part.grid.configs[i])
        for part in parts
        for i in dict.fromkeys(part.grid.config_index.tolist())
    )
    return Sweep(
        assumptions=assumptions,
        notes=_with_evidence([THROUGHPUT_NOTE], deployments),
        header=_header(parts, apis),
        rows=rows,
        rates=tuple(rates),
        apis=apis,
        parts=parts,
        ops_usd_per_month=ca.ops_usd_per_month,
        hours_per_month=ca.hours_per_month,
    )
