"""The headline comparisons of `crossover` as arrays, for re-running them under changed inputs.

`crossover` picks, for each model, the cheapest deployment at the given rate and compares it
with one or more APIs. Sensitivity and uncertainty keep those deployments fixed and vary the
inputs around them; this module recovers the comparisons as grid rows and API price arrays,
and recomputes replica capacity at scaled engine efficiencies and changed token mixes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.analysis import DeploymentGrid, Record, Report, crossover_report, deployment_grid
from selfhost.engine import cost, memory
from selfhost.errors import SelfhostError
from selfhost.scenarios import ReplicaConfig, Workload, build_arrays, capacity_within_targets

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering, Catalog
    from selfhost.question import Scenario

IntArray = NDArray[np.int_]
FloatArray = NDArray[np.float64]


DeploymentKey = tuple[str, str, str, int, str, str, str]


def deployment_key(record: Record) -> DeploymentKey:
    """What identifies a deployment in a result record: config (its layout too: one GPU count can
    run as 'TP4' or 'DP4 attention + EP4', at different capacities) and price option."""
    return (
        record["model"],
        record["quant"],
        record["gpu"],
        int(record["gpus_per_replica"]),
        record["layout"],
        record["engine"],
        record["price_option"],
    )


def grid_rows(grid: DeploymentGrid, records: Sequence[Record]) -> IntArray:
    """The grid row of each record's deployment, shape (n_records,)."""
    index: dict[DeploymentKey, int] = {}
    for i in range(len(grid)):
        c, p = grid.config(i), grid.price(i)
        index.setdefault((c.model.id, c.quant.id, c.gpu.id, c.n_gpus, c.layout, c.engine.id, p.id), i)
    try:
        return np.array([index[deployment_key(r)] for r in records], dtype=int)
    except KeyError as exc:  # records and grid come from the same inputs; a miss is a bug
        raise SelfhostError(f"deployment {exc.args[0]} of a result is not in the deployment grid") from None


@dataclass(frozen=True)
class Comparisons:
    """The base-case comparisons of `crossover`, one per result record, shape (n_pairs,).

    report : The `crossover` report of the base case (its records are the pairs, in order).
    grid : Every deployment that serves the workload.
    rows : Grid row of each pair's deployment (the cheapest for its model at the base rate).
    apis : Each pair's API.
    """

    report: Report
    grid: DeploymentGrid
    rows: IntArray
    apis: list[ApiOffering]

    def __len__(self) -> int:
        return len(self.apis)


def headline_comparisons(
    catalog: Catalog, scenario: Scenario, *, grid: DeploymentGrid | None = None, report: Report | None = None
) -> Comparisons:
    """Run `crossover` for the base case and recover its pairs as grid rows and APIs.

    ``grid`` and ``report`` are the base case's, when the caller has them already.
    """
    grid = grid if grid is not None else deployment_grid(catalog, scenario)
    report = report if report is not None else crossover_report(catalog, scenario, grid=grid)
    by_id = {a.id: a for a in catalog.apis}
    return Comparisons(
        report=report,
        grid=grid,
        rows=grid_rows(grid, report.results),
        apis=[by_id[r["api"]] for r in report.results],
    )


def capacity_rps(
    configs: Sequence[ReplicaConfig],
    workload: Workload,
    efficiency_multiplier: ArrayLike,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
) -> FloatArray:
    """Requests/s one replica of each config sustains, with changed efficiency and token mix.

    Parameters
    ----------
    configs : Replica configs, n_configs of them.
    workload : Latency targets, KV dtype and context of the base case.
    efficiency_multiplier : Factor on the engine's MBU and MFU together (each capped at 1),
        array, shape (n_cases,). [unitless]
    input_tokens, output_tokens : Mean prompt and completion length, shape (n_cases,). [tokens]

    Returns
    -------
    array, shape (n_cases, n_configs). [requests/s]

    Notes
    -----
    A config serves a case only if its KV cache holds one sequence of
    ``max(context_tokens, P + D)`` tokens within the model's maximum context; otherwise 0.
    """
    eff = np.asarray(efficiency_multiplier, dtype=float)
    p = np.asarray(input_tokens, dtype=float)
    d = np.asarray(output_tokens, dtype=float)
    if eff.ndim != 1 or p.shape != eff.shape or d.shape != eff.shape:
        raise ValueError(
            "efficiency_multiplier, input_tokens and output_tokens must be 1-D arrays of one shape "
            f"(n_cases,); got {eff.shape}, {p.shape}, {d.shape}"
        )
    serving, mem = build_arrays(configs, workload.kv_dtype)
    scaled = dataclasses.replace(
        serving,
        memory_bandwidth_utilization=np.minimum(
            1.0, serving.memory_bandwidth_utilization[None, :] * eff[:, None]
        ),
        compute_utilization=np.minimum(1.0, serving.compute_utilization[None, :] * eff[:, None]),
    )
    cap = capacity_within_targets(scaled, workload, p[:, None], d[:, None])
    context = np.maximum(float(workload.context_tokens), p + d)[:, None]
    max_context = np.array([c.model.max_context_tokens for c in configs], dtype=float)[None, :]
    fits = memory.fit_verdict(
        mem.usable_bytes, mem.weight_bytes, mem.kv_capacity_tokens, mem.sequence_kv_tokens(context)
    )
    serves = (fits == memory.FITS) & (context <= max_context)
    return np.asarray(np.where(serves, cap.point.requests_per_s, 0.0), dtype=float)


def take_unit(unit: cost.BillingUnit, index: ArrayLike, axis: int) -> cost.BillingUnit:
    """The billing units at ``index`` along the deployment ``axis`` (e.g. deployments -> pairs).

    Fields that do not vary along the other axis keep their smaller shape.
    """
    i = np.asarray(index, dtype=int)

    def pick(field: FloatArray) -> FloatArray:
        return np.asarray(np.take(field, i, axis=axis if np.ndim(field) > 1 else -1), dtype=float)

    return cost.BillingUnit(
        gpus=pick(unit.gpus),
        replicas=pick(unit.replicas),
        usd_per_month=pick(unit.usd_per_month),
        rps=pick(unit.rps),
        min_units=pick(unit.min_units),
    )
