"""Fit the few physical parameters of each serving-engine profile to measurements (NumPy only).

The parameters are the engine fields of `ServingArrays`: memory-bandwidth utilization (MBU),
compute utilization (MFU), fixed time per step, latency of one all-reduce and the batch cap.
Each engine is fitted on its own points by coordinate descent: one parameter at a time is set to
the best value of a bounded grid, all grid values evaluated in one vectorized prediction, until
nothing changes. The loss is the weighted mean absolute log error, ``mean(w * |ln(pred / meas)|)``,
which treats 2x too high and 2x too low alike and is not dominated by a few outliers.

Leave-one-source-out: each dataset (one table of one source) is held out in turn, the profiles are
refitted on the rest and the held-out points are predicted. An engine left with no training points
(LMDeploy when its only table is held out) is predicted with a *pooled* profile fitted to all
remaining points of every engine, which is how an engine the catalog has no measurements for is
treated (see data/engines.yaml).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from selfhost.calibration.loader import ResolvedMeasurement
from selfhost.calibration.predict import (
    MAX,
    MeasurementArrays,
    measurement_arrays,
    predict_values,
    serving_arrays,
)
from selfhost.catalog.schema import EngineProfile
from selfhost.engine.throughput import ServingArrays
from selfhost.scenarios import PLATFORM_FIELDS

FloatArray = NDArray[np.float64]

#: The fitted fields: names shared by EngineProfile and ServingArrays.
PARAMETERS: tuple[str, ...] = (
    "memory_bandwidth_utilization",
    "compute_utilization",
    "step_overhead_s",
    "allreduce_latency_s",
    "interconnect_bandwidth_utilization",
    "max_batch_sequences",
)

#: Bounded grids: the physically plausible range of each parameter and its resolution.
GRIDS: dict[str, FloatArray] = {
    "memory_bandwidth_utilization": np.round(np.arange(0.30, 0.981, 0.01), 4),  # [unitless]
    "compute_utilization": np.round(np.arange(0.10, 0.901, 0.01), 4),  # [unitless]
    "step_overhead_s": np.round(np.arange(0.0, 8.01e-3, 1e-4), 7),  # 0-8 ms [s]
    "allreduce_latency_s": np.round(np.arange(0.0, 50.1e-6, 1e-6), 8),  # 0-50 us [s]
    "interconnect_bandwidth_utilization": np.round(np.arange(0.10, 1.001, 0.02), 4),  # [unitless]
    "max_batch_sequences": np.array([128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0]),  # [count]
}

MAX_PASSES = 8


@dataclass(frozen=True)
class FitProblem:
    """Everything a fit needs, one element per point. Arrays of shape (n,).

    serving : Engine inputs of each point's replica, engine fields as in the catalog.
    workload : What each point measured.
    measured : The measured values. [unit of each point]
    engine : Engine profile id of each point.
    platform : GPU platform of each point (cuda, rocm, metal).
    gpu : GPU id of each point.
    group : Leave-one-source-out group (dataset) of each point.
    weight : Weight of each point in the loss (0 leaves it out). [unitless]
    """

    serving: ServingArrays
    workload: MeasurementArrays
    measured: FloatArray
    engine: NDArray[np.str_]
    platform: NDArray[np.str_]
    gpu: NDArray[np.str_]
    group: NDArray[np.str_]
    weight: FloatArray

    def subset(self, mask: NDArray[np.bool_]) -> FitProblem:
        """The points where ``mask`` is true."""
        return FitProblem(
            serving=_take(self.serving, mask),
            workload=_take(self.workload, mask),
            measured=self.measured[mask],
            engine=self.engine[mask],
            platform=self.platform[mask],
            gpu=self.gpu[mask],
            group=self.group[mask],
            weight=self.weight[mask],
        )


@dataclass(frozen=True)
class EngineFit:
    """The parameters of one profile after a fit.

    parameters : Every PARAMETERS field, fitted or kept from the catalog.
    fitted : The fields that were fitted (empty: nothing to fit on, catalog values kept).
    loss : Weighted mean absolute log error on the points fitted. [unitless]
    points : Points (weight > 0) the fit used. [count]
    at_bound : Fitted fields that ended on a grid bound (the data want a value outside the range).
    pooled : True when the engine had no points of its own and took a pooled fit of every engine's
        points on its platforms.
    gpus : The GPU ids of the points the fit used, sorted (empty: nothing fitted).
    platforms : Per GPU platform, the `PLATFORM_FIELDS` fitted to that platform's points alone,
        for an engine measured on several platforms (its kernels differ between them).
    """

    engine: str
    parameters: dict[str, float]
    fitted: tuple[str, ...]
    loss: float
    points: int
    at_bound: tuple[str, ...] = field(default=())
    pooled: bool = False
    gpus: tuple[str, ...] = field(default=())
    platforms: dict[str, dict[str, float]] = field(default_factory=dict)


_A = TypeVar("_A", ServingArrays, MeasurementArrays)


def _take(arrays: _A, index: NDArray[np.bool_] | NDArray[np.intp]) -> _A:
    """The rows ``index`` of every array field (scalar fields are kept as they are)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(arrays):
        value = getattr(arrays, f.name)
        values[f.name] = np.asarray(value)[index] if np.ndim(value) else value
    return type(arrays)(**values)


def with_parameters(
    serving: ServingArrays, engine: NDArray[np.str_], parameters: Mapping[str, Mapping[str, float]]
) -> ServingArrays:
    """`serving` with the engine fields of each point's engine replaced by ``parameters[engine]``."""
    changes: dict[str, FloatArray] = {}
    for name in PARAMETERS:
        column = np.array(np.broadcast_to(getattr(serving, name), engine.shape), dtype=float)
        for engine_id, values in parameters.items():
            if name in values:
                column[engine == engine_id] = values[name]
        changes[name] = column
    return dataclasses.replace(serving, **changes)


def with_fits(
    serving: ServingArrays,
    engine: NDArray[np.str_],
    platform: NDArray[np.str_],
    fits: Mapping[str, EngineFit],
) -> ServingArrays:
    """`serving` with each point's engine fields from ``fits``, per platform where a fit has one."""
    base = with_parameters(serving, engine, {e: f.parameters for e, f in fits.items()})
    changes: dict[str, FloatArray] = {}
    for name in PLATFORM_FIELDS:
        column = np.array(np.broadcast_to(getattr(base, name), engine.shape), dtype=float)
        for engine_id, fit in fits.items():
            for platform_id, values in fit.platforms.items():
                column[(engine == engine_id) & (platform == platform_id)] = values[name]
        changes[name] = column
    return dataclasses.replace(base, **changes)


def loss(predicted: FloatArray, measured: FloatArray, weight: FloatArray) -> float:
    """Weighted mean absolute log error. [unitless]"""
    total = float(np.sum(weight))
    if total <= 0:
        return 0.0
    return float(np.sum(weight * np.abs(np.log(predicted / measured))) / total)


def _tile(problem: FitProblem, k: int) -> tuple[ServingArrays, MeasurementArrays]:
    """The problem's arrays repeated k times (grid value j occupies rows j*n to (j+1)*n)."""
    index = np.tile(np.arange(problem.measured.size), k)
    return _take(problem.serving, index), _take(problem.workload, index)


def _losses(
    problem: FitProblem, current: Mapping[str, float], trials: Mapping[str, FloatArray]
) -> FloatArray:
    """Loss of each of k trial settings (``trials[name]`` has k values; other fields at ``current``)."""
    n = problem.measured.size
    k = len(next(iter(trials.values())))
    serving, workload = _tile(problem, k)
    values = {p: np.full(n * k, v) for p, v in current.items()}
    values.update({name: np.repeat(np.asarray(v, dtype=float), n) for name, v in trials.items()})
    predicted = predict_values(dataclasses.replace(serving, **values), workload).value.reshape(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(np.log(predicted / problem.measured))
    errors = np.where(np.isfinite(errors), errors, 50.0)  # a non-finite prediction counts as e^50 off
    return np.asarray((errors * problem.weight).sum(axis=1) / max(float(problem.weight.sum()), 1e-300))


PAIR_RADIUS = 4  # grid steps each way of the joint search over two fields


def _descend(
    problem: FitProblem, free: Sequence[str], current: dict[str, float], grids: Mapping[str, FloatArray]
) -> tuple[dict[str, float], float]:
    """Coordinate descent from ``current``, then joint moves of every pair of fields, until stable.

    Each coordinate step is a full line search over the field's grid; the pair step searches a
    window of +-PAIR_RADIUS grid steps of two fields at once, which crosses the diagonal valleys
    (MBU against step overhead, say) where one field alone cannot move without losing.
    """
    current = dict(current)
    best = float(_losses(problem, current, {free[0]: np.array([current[free[0]]])})[0]) if free else 0.0
    for _ in range(MAX_PASSES):
        improved = False
        for name in free:
            grid = np.asarray(grids[name], dtype=float)
            losses = _losses(problem, current, {name: grid})
            i = int(np.argmin(losses))
            if losses[i] < best - 1e-12:
                current[name], best, improved = float(grid[i]), float(losses[i]), True
        for a_index, a in enumerate(free):
            for b in free[a_index + 1 :]:
                ga, gb = np.asarray(grids[a], dtype=float), np.asarray(grids[b], dtype=float)
                ia, ib = int(np.argmin(np.abs(ga - current[a]))), int(np.argmin(np.abs(gb - current[b])))
                wa = ga[max(0, ia - PAIR_RADIUS) : ia + PAIR_RADIUS + 1]
                wb = gb[max(0, ib - PAIR_RADIUS) : ib + PAIR_RADIUS + 1]
                va, vb = (x.ravel() for x in np.meshgrid(wa, wb, indexing="ij"))
                losses = _losses(problem, current, {a: va, b: vb})
                i = int(np.argmin(losses))
                if losses[i] < best - 1e-12:
                    current[a], current[b], best, improved = (
                        float(va[i]),
                        float(vb[i]),
                        float(losses[i]),
                        True,
                    )
        if not improved:
            break
    return current, best


#: Discrete fields: the fit profiles over each of their grid values (coordinate descent alone can
#: stall on a step in the batch cap).
DISCRETE: tuple[str, ...] = ("max_batch_sequences",)


def fit_parameters(
    problem: FitProblem,
    free: Sequence[str],
    start: Mapping[str, float],
    grids: Mapping[str, FloatArray] = GRIDS,
) -> tuple[dict[str, float], float]:
    """Fit the ``free`` fields, shared by all points, over ``grids`` from ``start``.

    Coordinate descent over the continuous fields for every grid value of each free discrete
    field (`DISCRETE`), keeping the best. The other engine fields stay as each point has them.
    Returns ``start`` updated with the fitted values, and the loss they reach.
    """
    continuous = [n for n in free if n not in DISCRETE]
    discrete = [n for n in free if n in DISCRETE]
    combos: list[dict[str, float]] = [{}]
    for name in discrete:
        combos = [{**c, name: float(v)} for c in combos for v in np.asarray(grids[name], dtype=float)]
    best: tuple[float, dict[str, float]] | None = None
    for combo in combos:
        current = {**{n: float(start[n]) for n in continuous}, **combo}
        current, _ = _descend(problem, continuous, current, grids)
        fitted = dataclasses.replace(
            problem.serving, **{n: np.full(problem.measured.size, v) for n, v in current.items()}
        )
        value = loss(predict_values(fitted, problem.workload).value, problem.measured, problem.weight)
        if best is None or value < best[0] - 1e-12:
            best = (value, current)
    assert best is not None
    return {**{n: float(v) for n, v in start.items()}, **best[1]}, best[0]


def free_parameters(problem: FitProblem) -> tuple[str, ...]:
    """The fields a set of points can pin down: MBU, MFU and step overhead always; the all-reduce
    latency and interconnect use only with tensor-parallel points (a layer split all-reduces
    nothing); the batch cap only with offline-maximum points."""
    names = ["memory_bandwidth_utilization", "compute_utilization", "step_overhead_s"]
    used = problem.weight > 0
    tensor_parallel = (problem.workload.n_gpus > 1) & (np.asarray(problem.serving.layer_split) == 0)
    if np.any(used & tensor_parallel):
        names.extend(["allreduce_latency_s", "interconnect_bandwidth_utilization"])
    if np.any(used & (problem.workload.batch_kind == MAX)):
        names.append("max_batch_sequences")
    return tuple(names)


#: Fields a pooled fit may set for an engine without points of its own (those the pooled points pin
#: down; the batch cap stays as catalogued).
POOLED_PARAMETERS: tuple[str, ...] = (
    "memory_bandwidth_utilization",
    "compute_utilization",
    "step_overhead_s",
    "allreduce_latency_s",
    "interconnect_bandwidth_utilization",
)


def _at_bound(
    params: Mapping[str, float], names: Sequence[str], grids: Mapping[str, FloatArray]
) -> tuple[str, ...]:
    return tuple(n for n in names if params[n] in (float(np.min(grids[n])), float(np.max(grids[n]))))


#: Where every fit starts, so that a refit does not depend on the values already in the catalog.
START: dict[str, float] = {
    "memory_bandwidth_utilization": 0.7,
    "compute_utilization": 0.5,
    "step_overhead_s": 2e-3,
    "allreduce_latency_s": 2e-5,
    "interconnect_bandwidth_utilization": 0.7,
    "max_batch_sequences": 2048.0,
}


def _gpus(problem: FitProblem, mask: NDArray[np.bool_]) -> tuple[str, ...]:
    return tuple(sorted({str(g) for g in problem.gpu[mask]}))


#: Fewest points of one platform that get their own efficiencies (fewer: the engine's shared fit):
#: four per fitted field. With fewer, leaving one source out got worse than the shared fit.
MIN_PLATFORM_POINTS = 12


def _platform_fits(
    problem: FitProblem,
    mask: NDArray[np.bool_],
    engine_id: str,
    params: Mapping[str, float],
    grids: Mapping[str, FloatArray],
) -> dict[str, dict[str, float]]:
    """`PLATFORM_FIELDS` refitted per platform, for an engine whose points span several platforms.

    Each platform with at least `MIN_PLATFORM_POINTS` points is fitted on those alone, from the
    engine's shared fit, which keeps its other fields (all-reduce, batch cap).
    """
    platforms = sorted({str(p) for p in problem.platform[mask]})
    if len(platforms) < 2:
        return {}
    shared = with_parameters(problem.serving, problem.engine, {engine_id: params})
    fitted: dict[str, dict[str, float]] = {}
    for platform_id in platforms:
        on_platform = mask & (problem.platform == platform_id)
        if int(on_platform.sum()) < MIN_PLATFORM_POINTS:
            continue
        sub = dataclasses.replace(problem, serving=shared).subset(on_platform)
        values, _ = fit_parameters(sub, PLATFORM_FIELDS, {n: params[n] for n in PLATFORM_FIELDS}, grids)
        fitted[platform_id] = {n: values[n] for n in PLATFORM_FIELDS}
    return fitted


def fit_profiles(
    problem: FitProblem,
    engines: Sequence[EngineProfile],
    grids: Mapping[str, FloatArray] = GRIDS,
) -> dict[str, EngineFit]:
    """Fit every engine profile to the weighted points.

    An engine with points of its own is fitted on them alone (`free_parameters`, from `START`);
    measured on several platforms, it also gets per-platform efficiencies (`_platform_fits`).
    An engine without gets a pooled fit of `POOLED_PARAMETERS` over the points of every engine on
    the GPU platforms it supports, each point keeping its own engine's other (fitted) fields; with
    no such points it keeps its catalog values.
    """
    fits: dict[str, EngineFit] = {}
    for engine in engines:
        mask = (problem.engine == engine.id) & (problem.weight > 0)
        if not mask.any():
            continue
        catalogued = {name: float(getattr(engine, name)) for name in PARAMETERS}
        sub = problem.subset(mask)
        names = free_parameters(sub)
        params, value = fit_parameters(sub, names, {**catalogued, **{n: START[n] for n in names}}, grids)
        fits[engine.id] = EngineFit(
            engine.id,
            params,
            names,
            value,
            int(mask.sum()),
            _at_bound(params, names, grids),
            gpus=_gpus(problem, mask),
            platforms=_platform_fits(problem, mask, engine.id, params, grids),
        )
    own = dataclasses.replace(
        problem, serving=with_fits(problem.serving, problem.engine, problem.platform, fits)
    )
    pooled: dict[tuple[str, ...], tuple[dict[str, float], float, int]] = {}
    for engine in engines:
        if engine.id in fits:
            continue
        catalogued = {name: float(getattr(engine, name)) for name in PARAMETERS}
        platforms = tuple(sorted(engine.platforms))
        pool = np.isin(own.platform, platforms) & (own.weight > 0)
        if not pool.any():
            fits[engine.id] = EngineFit(engine.id, catalogued, (), 0.0, 0)
            continue
        if platforms not in pooled:
            sub = own.subset(pool)
            names = tuple(n for n in free_parameters(sub) if n in POOLED_PARAMETERS)
            params, value = fit_parameters(sub, names, START, grids)
            pooled[platforms] = ({n: params[n] for n in names}, value, int(pool.sum()))
        shared, value, points = pooled[platforms]
        merged = {**catalogued, **shared}
        fits[engine.id] = EngineFit(
            engine.id,
            merged,
            tuple(shared),
            value,
            points,
            _at_bound(merged, tuple(shared), grids),
            pooled=True,
            gpus=_gpus(own, pool),
        )
    return fits


def predict_with(problem: FitProblem, fits: Mapping[str, EngineFit]) -> FloatArray:
    """Predictions of every point with the fitted engine parameters."""
    serving = with_fits(problem.serving, problem.engine, problem.platform, fits)
    return predict_values(serving, problem.workload).value


def leave_one_group_out(
    problem: FitProblem, engines: Sequence[EngineProfile], grids: Mapping[str, FloatArray] = GRIDS
) -> tuple[FloatArray, dict[str, dict[str, EngineFit]]]:
    """Out-of-group predictions of every point, and the profiles each fold used.

    For each group the profiles are refitted without its points (`fit_profiles`: an engine left
    with no points takes the pooled fit of the rest) and its points are predicted.
    """
    predicted = np.full(problem.measured.size, np.nan)
    folds: dict[str, dict[str, EngineFit]] = {}
    for group in sorted(set(problem.group.tolist())):
        held = problem.group == group
        train = dataclasses.replace(problem, weight=np.where(held, 0.0, problem.weight))
        fits = fit_profiles(train, engines, grids)
        predicted[held] = predict_with(problem, fits)[held]
        folds[group] = fits
    return predicted, folds


def gpu_was_measured(problem: FitProblem, folds: Mapping[str, Mapping[str, EngineFit]]) -> NDArray[np.bool_]:
    """For each point, whether the fold that predicted it (its group held out) had measurements
    on the point's GPU behind the engine's profile: what `gpu_measured` says of a deployment."""
    return np.array(
        [
            str(gpu) in folds[str(group)][str(engine)].gpus
            for gpu, group, engine in zip(problem.gpu, problem.group, problem.engine, strict=True)
        ],
        dtype=bool,
    )


def build_problem(
    resolved: Sequence[ResolvedMeasurement], weights: Sequence[float] | FloatArray
) -> FitProblem:
    """The fit problem of resolved measurements; points with ``exclude_from_fit`` get weight 0."""
    weight = np.asarray(weights, dtype=float).copy()
    weight[[bool(r.measurement.exclude_from_fit) for r in resolved]] = 0.0
    return FitProblem(
        serving=serving_arrays(resolved),
        workload=measurement_arrays(resolved),
        measured=np.asarray([r.measurement.value for r in resolved], dtype=float),
        engine=np.asarray([r.engine.id for r in resolved]),
        platform=np.asarray([r.gpu.platform for r in resolved]),
        gpu=np.asarray([r.gpu.id for r in resolved]),
        group=np.asarray([r.measurement.group for r in resolved]),
        weight=weight,
    )
