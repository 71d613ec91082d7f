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

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfhost.analysis import (
    Report,
    crossover_report,
    deployment_grid,
    smallest_fitting,
)
from selfhost.analysis import costs as costs_report
from selfhost.analysis import estimate as estimate_report
from selfhost.analysis import fit as fit_report
from selfhost.confirmation import flag_unconfirmed
from selfhost.selection import select_configs
from selfhost.staleness import flag_stale
from selfhost.user_calibrations import flag_user_calibrations

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
    stale prices (a no-op without stale days), unconfirmed catalog entries (estimates) and the
    user's own calibrations in use."""
    if scenario.stale_days is not None:
        flag_stale(report, catalog, scenario.stale_days, today=today, records=records)
    flag_unconfirmed(report, catalog, records=records)
    flag_user_calibrations(report, catalog, records=records)
    return report


# --------------------------------------------------------------------------- crossover


def flat_only(scenario: Scenario, *, chart: bool = False) -> None:
    """Refuse the parts that model a sustained rate only when the scenario has a traffic profile."""
    from selfhost.errors import InputError

    if scenario.traffic is None:
        return
    asked = [name for name, on in (("--uncertainty", scenario.samples), ("--chart", chart)) if on]
    if asked:
        raise InputError(
            f"{' and '.join(asked)} model{'s' if len(asked) == 1 else ''} a sustained --rps; "
            "with --traffic leave "
            f"{'it' if len(asked) == 1 else 'them'} out (the profile's crossover and idle share are in the table)"
        )


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

    Raises:
        InputError: uncertainty bands or the chart asked for on a traffic profile (both model a
            sustained rate).
    """
    flat_only(scenario, chart=chart)
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
    flat_only(scenario)
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
    report = flagged(Report(grid.price_records(), grid.assumptions, grid.notes), catalog, scenario)
    deployments = [
        {"engine": c.engine.id, "gpu": c.gpu.id}
        for part in grid.parts
        for c in {id(c): c for c in (part.grid.config(i) for i in range(len(part.grid)))}.values()
    ]
    flag_user_calibrations(report, catalog, records=deployments)
    return grid


# --------------------------------------------------------------------------- deployments


def _smallest(configs: Sequence[ReplicaConfig], scenario: Scenario) -> Sequence[ReplicaConfig]:
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
    The summary names the smallest deployment that fits (fewest GPUs, then least memory) and
    the cheapest (lowest hourly price of one replica, whole instances billed, on-demand unless
    the scenario prices otherwise); where nothing fits, what would (`fit_suggestions`).
    """
    configs = select_configs(catalog, scenario)
    full = fit_report(configs, scenario.sequence())
    report = full
    if not scenario.selection.gpu_counts and not all_counts:
        report = dataclasses.replace(full, results=smallest_fitting(full.results))
    fitting = [r for r in full.results if r["fits"]]
    if fitting:
        report.summary = fit_summary(catalog, scenario, fitting)
        report.verdict = fit_summary_words(report.summary)
    else:
        hints = fit_suggestions(catalog, scenario)
        report.summary = {"smallest": None, "cheapest": None, "suggestions": hints}
        report.verdict = no_fit_words(scenario, hints)
    return echoed(report, scenario)


def _replica_hourly(catalog: Catalog, scenario: Scenario, record: Record) -> tuple[float, Any] | None:
    """The lowest hourly price of one replica of ``record``'s deployment, and its price option."""
    import math

    from selfhost.catalog.lookup import by_id
    from selfhost.question import CostAssumptions
    from selfhost.scenarios import price_options

    costs = scenario.costs or CostAssumptions()
    gpu = dict(by_id(catalog.gpus))[record["gpu"]]
    n = int(record["gpus_per_replica"])
    best = None
    for option in price_options(
        catalog, gpu, pricing=costs.pricing, providers=costs.providers, hours_per_month=costs.hours_per_month
    ):
        billed = math.ceil(n / option.instance_gpus) * option.instance_gpus  # whole instances
        usd = billed * option.usd_per_gpu_hour
        if best is None or usd < best[0]:
            best = (usd, option)
    return best


def _fit_entry(r: Record) -> Record:
    keys = ("model", "gpu", "gpus_per_replica", "layout", "quant", "engine", "weights_gb", "usable_memory_gb",
            "max_concurrent_sequences")  # fmt: skip
    return {k: r[k] for k in keys}


def fit_summary(catalog: Catalog, scenario: Scenario, fitting: list[Record]) -> dict[str, Any]:
    """The smallest and the cheapest deployment among ``fitting`` (fit records that fit)."""
    smallest = min(fitting, key=lambda r: (r["gpus_per_replica"], r["usable_memory_gb"], r["weights_gb"]))
    priced = [(found, r) for r in fitting if (found := _replica_hourly(catalog, scenario, r)) is not None]
    cheapest = None
    if priced:
        (usd, option), r = min(priced, key=lambda item: (item[0][0], item[1]["gpus_per_replica"]))
        cheapest = {
            **_fit_entry(r),
            "usd_per_replica_hour": usd,
            "price_option": option.id,
            "provider": option.provider,
            "pricing": option.pricing,
        }
    return {"smallest": _fit_entry(smallest), "cheapest": cheapest, "suggestions": []}


def _fit_words(r: Record) -> str:
    from selfhost.render import replica_words

    return f"{replica_words(r['gpus_per_replica'], r['gpu'], r.get('layout'))}, {r['quant']} ({r['engine']})"


def fit_summary_words(summary: dict[str, Any]) -> str:
    """'Smallest that fits: ...; cheapest that fits: ... at $X/h (provider).'"""
    s = summary["smallest"]
    n = s["max_concurrent_sequences"]
    words = f"Smallest that fits: {_fit_words(s)}, {n:,} sequence{'' if n == 1 else 's'} at this context."
    c = summary["cheapest"]
    if c is None:
        return words + " No price in the catalog for these GPUs (of the pricing kinds asked)."
    return (
        f"{words} Cheapest that fits: {_fit_words(c)} at ${c['usd_per_replica_hour']:,.2f}/h per replica "
        f"({c['provider']}, {c['pricing']})."
    )


MAX_SUGGESTIONS = 3


def fit_suggestions(catalog: Catalog, scenario: Scenario) -> list[Record]:
    """What would fit when nothing selected does: on the selected GPUs, other quantizations and
    GPU counts (1 to 8); failing that, other GPUs. The smallest fitting deployment of each
    quantization (or GPU), fewest GPUs first, at most `MAX_SUGGESTIONS`."""
    from selfhost.errors import InputError

    sel = scenario.selection
    tries = [
        dataclasses.replace(sel, quants=(), gpu_counts=()),  # the same GPUs, any quantization and count
        dataclasses.replace(sel, gpus=(), quants=(), gpu_counts=()),  # any GPU
    ]
    for wider in tries:
        widened = dataclasses.replace(scenario, selection=wider)
        try:
            configs = select_configs(catalog, widened)
        except InputError:
            continue
        fitting = [r for r in fit_report(configs, scenario.sequence()).results if r["fits"]]
        best: dict[str, Record] = {}
        key = "quant" if wider.gpus else "gpu"
        for r in sorted(fitting, key=lambda r: (r["gpus_per_replica"], r["usable_memory_gb"])):
            best.setdefault(r[key], r)
        if best:
            ranked = sorted(best.values(), key=lambda r: (r["gpus_per_replica"], r["usable_memory_gb"]))
            return [_fit_entry(r) for r in ranked[:MAX_SUGGESTIONS]]
    return []


def no_fit_words(scenario: Scenario, hints: list[Record]) -> str:
    """Nothing fits: what would, as a sentence with the command to check it."""
    model = scenario.selection.models[0] if scenario.selection.models else "the model"
    head = f"Nothing in this selection fits {model} at {scenario.context_tokens or 0:,} tokens of context."
    if not hints:
        return head + " No GPU in the catalog holds it with 8 GPUs per replica; try a shorter --context."
    first = hints[0]
    return (
        f"{head} It would fit on: " + "; ".join(_fit_words(h) for h in hints) + ". Check with: selfhost fit "
        f"{first['model']} --gpu {first['gpu']} --quant {first['quant']} --gpus {first['gpus_per_replica']}"
    )


def estimate(catalog: Catalog, scenario: Scenario, *, concurrency: int | str | None = "auto") -> Report:
    """Throughput and latency at a concurrency (None: the largest batch; 'auto': one request and
    the largest batch within the latency targets), native precision by default. Where no
    deployment holds one request, the verdict says what would (`fit_suggestions`)."""
    configs = _smallest(select_configs(catalog, scenario, native_quant=True), scenario)
    report = estimate_report(configs, scenario.workload, concurrency)
    if not any(r["max_concurrency"] >= 1 for r in report.results):
        hints = fit_suggestions(catalog, scenario)
        report.summary = {"suggestions": hints}
        report.verdict = no_fit_words(scenario, hints).replace("selfhost fit", "selfhost estimate -m", 1)
    return flag_user_calibrations(echoed(report, scenario), catalog)


def kv_alert(catalog: Catalog, scenario: Scenario, *, threshold: float, replicas: int) -> Report:
    """When KV-cache use crosses ``threshold``, against the load at which the targets break."""
    from selfhost.kv_alert import kv_alert as kv_alert_report

    configs = _smallest(select_configs(catalog, scenario, native_quant=True), scenario)
    report = echoed(kv_alert_report(configs, scenario.workload, threshold, replicas), scenario)
    return flag_user_calibrations(report, catalog)


# --------------------------------------------------------------------------- plan


def plan(
    catalog: Catalog,
    scenario: Scenario,
    workloads_file: Path,
    *,
    self_hosted_base_url: str,
    provisioning: str = "fixed",
    billing_hours: int = 1,
) -> PlanReport:
    """The hybrid plan for the workloads in ``workloads_file``, the scenario's selection and costs;
    workloads with a traffic profile provisioned ``provisioning`` (fixed or autoscaled in
    ``billing_hours`` blocks)."""
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
    configs: Sequence[ReplicaConfig] = []
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
        provisioning=provisioning,
        billing_hours=billing_hours,
    )
    report.selection_note = selection_note
    engine_of: dict[tuple[object, ...], str] = {
        (c.model.id, c.quant.id, c.gpu.id, c.n_gpus): c.engine.id for c in configs
    }
    deployments = [
        {
            "engine": engine_of.get(tuple(r.get(k) for k in ("model", "quant", "gpu", "gpus_per_replica"))),
            "gpu": r.get("gpu"),
        }
        for r in report.results
    ]  # plan records name the deployment but not its engine
    flag_user_calibrations(report, catalog, records=deployments)
    return flagged(report, catalog, scenario)  # type: ignore[return-value]
