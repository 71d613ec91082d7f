"""The questions the commands ask, each answered in full from a catalog and a `Scenario`.

Each function runs its question's steps in one fixed order, an optional step being a named
no-op when the scenario or the caller does not ask for it (pvlib's ModelChain runs its
models the same way), so no command orders them itself:

    crossover:  base comparisons -> uncertainty bands -> stale prices and estimates -> baseline changes -> chart data
    cost:       costs -> uncertainty bands -> stale prices and estimates (of the rows shown)

The other questions have no optional steps; they flag the stale prices and the unconfirmed
catalog entries (estimates) they use. The CLI
parses, calls one of these and renders what it returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from selfhost.analysis import (
    Report,
    crossover_report,
    deployment_grid,
    smallest_fitting,
)
from selfhost.analysis import costs as costs_report
from selfhost.analysis import estimate as estimate_report
from selfhost.analysis import fit as fit_report
from selfhost.selection import select_configs
from selfhost.confirmation import flag_unconfirmed
from selfhost.staleness import flag_stale

if TYPE_CHECKING:
    from selfhost.analysis import DeploymentGrid, Record
    from selfhost.baseline import Baseline
    from selfhost.catalog.schema import Catalog
    from selfhost.chart import CostChart
    from selfhost.plan import PlanReport
    from selfhost.question import Scenario
    from selfhost.scenarios import ReplicaConfig
    from selfhost.sweep import Sweep


def echoed(report: Report, scenario: Scenario) -> Report:
    """``report`` with the whole scenario at the head of its assumptions (its own keys kept)."""
    report.assumptions = {**scenario.assumptions(), **report.assumptions}
    return report


def flagged(
    report: Report,
    catalog: Catalog,
    scenario: Scenario,
    records: list[Record] | None = None,
    today: dt.date | None = None,
) -> Report:
    """Flag what ``records`` (default: all of the report's) rest on that a reader should check:
    stale prices (a no-op without stale days) and unconfirmed catalog entries (estimates)."""
    if scenario.stale_days is not None:
        flag_stale(report, catalog, scenario.stale_days, today=today, records=records)
    flag_unconfirmed(report, catalog, records=records)
    return report


# --------------------------------------------------------------------------- crossover


@dataclass
class CrossoverAnswer:
    """`crossover` with its optional parts.

    report : The comparisons, with P10/P50/P90 keys when the scenario has samples, stale prices flagged.
    base : The comparisons without bands (``report`` itself without samples).
    grid : Every deployment that serves the workload (the rows ``base`` chose from).
    changes : What changed since the baseline, or None without one.
    chart : The cost-against-rate chart as data, or None when not asked for.
    """

    report: Report
    base: Report
    grid: DeploymentGrid
    changes: Report | None = None
    chart: CostChart | None = None


def crossover(
    catalog: Catalog,
    scenario: Scenario,
    *,
    baseline: Path | Callable[[], Baseline] | None = None,
    chart: bool = False,
    today: dt.date | None = None,
) -> CrossoverAnswer:
    """Self-host or API: the comparisons, then each optional part in order.

    ``baseline`` is an old catalog or saved result (a path), or a function that reads one;
    the old catalog runs the same scenario, judged by today's measurements. ``today`` dates
    the stale-price check (default: the local date).
    """
    grid = deployment_grid(catalog, scenario)
    base = crossover_report(catalog, scenario, grid=grid)
    report = base
    if scenario.samples:
        from selfhost.comparisons import headline_comparisons
        from selfhost.uncertainty import crossover_with_uncertainty

        comps = headline_comparisons(catalog, scenario, grid=grid, report=base)
        report = crossover_with_uncertainty(catalog, scenario, comps=comps)
    flagged(report, catalog, scenario, today=today)
    answer = CrossoverAnswer(report=report, base=base, grid=grid)
    if baseline is not None:
        from selfhost.baseline import compare

        if report is not base:
            flagged(base, catalog, scenario, today=today)
        read = baseline if callable(baseline) else _baseline_reader(catalog, scenario, baseline)
        answer.changes = compare(base, catalog, read())
    if chart:
        from selfhost.chart import cost_chart

        answer.chart = cost_chart(catalog, scenario, report=base, grid=grid)
    return answer


def _baseline_reader(catalog: Catalog, scenario: Scenario, path: Path) -> Callable[[], Baseline]:
    from selfhost.baseline import load_baseline

    def run_on(old: Catalog) -> Report:
        configs = select_configs(old, scenario, evidence=catalog)  # "measured" as today's catalog knows it
        return crossover_report(old, scenario, grid=deployment_grid(old, scenario, configs=configs))

    return lambda: load_baseline(path, run_on)


# --------------------------------------------------------------------------- cost


def costs(catalog: Catalog, scenario: Scenario, *, rows: int = 0) -> Report:
    """Every deployment that serves the rate, cheapest first; bands and stale flags on the ``rows`` shown."""
    if scenario.samples:
        from selfhost.uncertainty import costs_with_uncertainty

        report = costs_with_uncertainty(catalog, scenario, rows=rows)
    else:
        report = costs_report(catalog, scenario, rows=rows)
    return flagged(report, catalog, scenario, records=report.results[:rows] if rows else None)


# --------------------------------------------------------------------------- sensitivity, sweep


def sensitivity(catalog: Catalog, scenario: Scenario, *, spread: float) -> Report:
    """The tornado: each input -/+ ``spread``, one at a time."""
    from selfhost.sensitivity import sensitivity_report

    return flagged(sensitivity_report(catalog, scenario, spread=spread), catalog, scenario)


def sweep(catalog: Catalog, scenario: Scenario, *, max_rows: int = 0) -> Sweep:
    """Every deployment and API at every rate and token mix, streamed; stale prices flagged.
    More than ``max_rows`` rows (0: no limit) is refused as soon as the grids built pass it."""
    from selfhost.sweep import sweep as sweep_grid

    grid = sweep_grid(catalog, scenario, max_rows=max_rows)
    flagged(Report(grid.price_records(), grid.assumptions, grid.notes), catalog, scenario)
    return grid


# --------------------------------------------------------------------------- deployments


def _smallest(configs: list[ReplicaConfig], scenario: Scenario) -> list[ReplicaConfig]:
    """Without --gpus, each config group's smallest GPU count that holds one request."""
    if scenario.selection.gpu_counts:
        return configs
    keep = {
        (r["model"], r["gpu"], r["quant"], r["engine"], r["gpus_per_replica"])
        for r in smallest_fitting(fit_report(configs, scenario.workload).results)
    }
    return [c for c in configs if (c.model.id, c.gpu.id, c.quant.id, c.engine.id, c.n_gpus) in keep]


def fit(catalog: Catalog, scenario: Scenario, *, all_counts: bool = False) -> Report:
    """Does each config hold its weights and one sequence of the scenario's context?

    Without --gpus (or ``all_counts``), the smallest GPU count per GPU, quantization and engine.
    """
    report = fit_report(select_configs(catalog, scenario), scenario.sequence())
    if not scenario.selection.gpu_counts and not all_counts:
        report.results = smallest_fitting(report.results)
    return echoed(report, scenario)


def estimate(catalog: Catalog, scenario: Scenario, *, concurrency: int | None) -> Report:
    """Throughput and latency at a concurrency (None: the largest batch), native precision by default."""
    configs = _smallest(select_configs(catalog, scenario, native_quant=True), scenario)
    return echoed(estimate_report(configs, scenario.workload, concurrency), scenario)


def kv_alert(catalog: Catalog, scenario: Scenario, *, threshold: float, replicas: int) -> Report:
    """When KV-cache use crosses ``threshold``, against the load at which the targets break."""
    from selfhost.kv_alert import kv_alert as kv_alert_report

    configs = _smallest(select_configs(catalog, scenario, native_quant=True), scenario)
    return echoed(kv_alert_report(configs, scenario.workload, threshold, replicas), scenario)


# --------------------------------------------------------------------------- plan


def plan(
    catalog: Catalog, scenario: Scenario, workloads_file: Path, *, self_hosted_base_url: str
) -> PlanReport:
    """The hybrid plan for the workloads in ``workloads_file``, the scenario's selection and costs."""
    from selfhost.errors import InputError
    from selfhost.plan import plan_report
    from selfhost.workloads import read_workloads, resolve_workloads

    specs = read_workloads(workloads_file)
    targets = scenario.workloads_defaults()
    resolved = resolve_workloads(
        specs,
        catalog,
        path=workloads_file,
        default_max_tpot_ms=targets.max_tpot_ms,
        default_max_ttft_ms=targets.max_ttft_ms,
    )
    model_ids = list(dict.fromkeys(m.id for w in resolved for m in w.models))
    configs: list[ReplicaConfig] = []
    selection_note = None
    if model_ids:
        try:
            configs = select_configs(catalog, scenario, models=model_ids)
        except InputError as exc:  # nothing to self-host on: APIs only, if allowed
            selection_note = f"no self-hosted deployment in this selection ({exc})"
    report = plan_report(
        catalog,
        scenario,
        resolved,
        configs,
        self_hosted_base_url=self_hosted_base_url,
        source=str(workloads_file),
    )
    report.selection_note = selection_note
    return flagged(report, catalog, scenario)  # type: ignore[return-value]
