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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
from selfhost.scenarios import LAYOUT_KINDS, PLATFORM_FIELDS, layout_kind

FloatArray = NDArray[np.float64]
#: A penalty added to the loss of trial settings: field -> k trial values in, k penalties out.
Penalty = Callable[[Mapping[str, FloatArray]], FloatArray]

#: The fitted fields: names shared by EngineProfile and ServingArrays.
PARAMETERS: tuple[str, ...] = (
    "memory_bandwidth_utilization",
    "compute_utilization",
    "step_overhead_s",
    "allreduce_latency_s",
    "interconnect_bandwidth_utilization",
    "max_batch_sequences",
    "step_overhead_per_sequence_s",
    "expert_efficiency",
)

#: Bounded grids: the physically plausible range of each parameter and its resolution.
GRIDS: dict[str, FloatArray] = {
    "memory_bandwidth_utilization": np.round(np.arange(0.30, 0.981, 0.01), 4),  # [unitless]
    "compute_utilization": np.round(np.arange(0.10, 0.901, 0.01), 4),  # [unitless]
    "step_overhead_s": np.round(np.arange(0.0, 20.01e-3, 1e-4), 7),  # 0-20 ms [s]
    "allreduce_latency_s": np.round(np.arange(0.0, 100.1e-6, 1e-6), 8),  # 0-100 us [s]
    "interconnect_bandwidth_utilization": np.round(np.arange(0.10, 1.001, 0.02), 4),  # [unitless]
    "max_batch_sequences": np.array([128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0]),  # [count]
    "step_overhead_per_sequence_s": np.round(np.arange(0.0, 200.1e-6, 2e-6), 8),  # 0-200 us [s]
    "expert_efficiency": np.round(np.arange(0.20, 1.001, 0.02), 4),  # [unitless]
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
    generation : Engine generation of each point's release whose step overheads it takes
        (`EngineProfile.generations` id; "" for the current releases', `own_overheads`): the
        fields named ``field@generation`` apply to its points.
    """

    serving: ServingArrays
    workload: MeasurementArrays
    measured: FloatArray
    engine: NDArray[np.str_]
    platform: NDArray[np.str_]
    gpu: NDArray[np.str_]
    group: NDArray[np.str_]
    weight: FloatArray
    generation: NDArray[np.str_] | None = None

    @property
    def generations(self) -> NDArray[np.str_]:
        """`generation`, or every point of the current generation when none is given."""
        if self.generation is None:
            return np.full(self.measured.shape, "", dtype=object).astype(str)
        return self.generation

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
            generation=self.generations[mask],
        )


def split_name(name: str) -> tuple[str, str]:
    """``'step_overhead_s@v0'`` -> ``('step_overhead_s', 'v0')``; a plain field -> ``(field, '')``."""
    field_name, _, generation = name.partition("@")
    return field_name, generation


def columns(
    serving: ServingArrays, generation: NDArray[np.str_], values: Mapping[str, ArrayLike]
) -> dict[str, FloatArray]:
    """Engine-field columns from ``values``: plain names set every row, ``field@g`` the rows of
    generation g (applied after the plain names, whatever the order of ``values``)."""
    n = generation.shape[0]
    out: dict[str, FloatArray] = {}
    for name, value in values.items():
        if "@" not in name:
            out[name] = np.array(np.broadcast_to(np.asarray(value, dtype=float), (n,)), dtype=float)
    for name, value in values.items():
        field_name, gen = split_name(name)
        if gen:
            column = out.get(field_name)
            if column is None:
                column = np.array(np.broadcast_to(getattr(serving, field_name), (n,)), dtype=float)
            rows = generation == gen
            column[rows] = np.broadcast_to(np.asarray(value, dtype=float), (n,))[rows]
            out[field_name] = column
    return out


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
    layouts : The layout kinds (`selfhost.scenarios.LAYOUT_KINDS`) of the points the fit used, in
        that order (empty: nothing fitted).
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
    layouts: tuple[str, ...] = field(default=())


_A = TypeVar("_A", ServingArrays, MeasurementArrays)


def _take(arrays: _A, index: NDArray[np.bool_] | NDArray[np.intp]) -> _A:
    """The rows ``index`` of every array field (scalar fields are kept as they are)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(arrays):
        value = getattr(arrays, f.name)
        values[f.name] = np.asarray(value)[index] if np.ndim(value) else value
    return type(arrays)(**values)


def with_parameters(
    serving: ServingArrays,
    engine: NDArray[np.str_],
    parameters: Mapping[str, Mapping[str, float]],
    generation: NDArray[np.str_] | None = None,
) -> ServingArrays:
    """`serving` with the engine fields of each point's engine replaced by ``parameters[engine]``
    (``field@g`` entries on the points of generation g)."""
    gen = generation if generation is not None else np.full(engine.shape, "", dtype=object).astype(str)
    changes: dict[str, FloatArray] = {}
    for name in PARAMETERS:
        column = np.array(np.broadcast_to(getattr(serving, name), engine.shape), dtype=float)
        for engine_id, values in parameters.items():
            if name in values:
                column[engine == engine_id] = values[name]
            for key, value in values.items():
                field_name, g = split_name(key)
                if g and field_name == name:
                    column[(engine == engine_id) & (gen == g)] = value
        changes[name] = column
    return dataclasses.replace(serving, **changes)


def with_fits(
    serving: ServingArrays,
    engine: NDArray[np.str_],
    platform: NDArray[np.str_],
    fits: Mapping[str, EngineFit],
    generation: NDArray[np.str_] | None = None,
) -> ServingArrays:
    """`serving` with each point's engine fields from ``fits``, per platform where a fit has one."""
    base = with_parameters(serving, engine, {e: f.parameters for e, f in fits.items()}, generation)
    gen = generation if generation is not None else np.full(engine.shape, "", dtype=object).astype(str)
    changes: dict[str, FloatArray] = {}
    for name in PLATFORM_FIELDS:
        column = np.array(np.broadcast_to(getattr(base, name), engine.shape), dtype=float)
        for engine_id, fit in fits.items():
            overridden = {split_name(k)[1] for k in fit.parameters if split_name(k)[0] == name and "@" in k}
            for platform_id, values in fit.platforms.items():
                if name not in values:
                    continue
                rows = (engine == engine_id) & (platform == platform_id) & ~np.isin(gen, list(overridden))
                column[rows] = values[name]
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
    problem: FitProblem,
    current: Mapping[str, float],
    trials: Mapping[str, FloatArray],
    penalty: Penalty | None = None,
) -> FloatArray:
    """Loss of each of k trial settings (``trials[name]`` has k values; other fields at ``current``),
    plus ``penalty`` of the settings where one is given."""
    n = problem.measured.size
    k = len(next(iter(trials.values())))
    serving, workload = _tile(problem, k)
    values: dict[str, ArrayLike] = {p: np.full(n * k, v) for p, v in current.items()}
    values.update({name: np.repeat(np.asarray(v, dtype=float), n) for name, v in trials.items()})
    assembled = columns(serving, np.tile(problem.generations, k), values)
    predicted = predict_values(dataclasses.replace(serving, **assembled), workload).value.reshape(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(np.log(predicted / problem.measured))
    errors = np.where(np.isfinite(errors), errors, 50.0)  # a non-finite prediction counts as e^50 off
    data = (errors * problem.weight).sum(axis=1) / max(float(problem.weight.sum()), 1e-300)
    if penalty is not None:
        settings = {p: np.full(k, float(v)) for p, v in current.items()}
        settings.update({name: np.asarray(v, dtype=float) for name, v in trials.items()})
        data = data + np.asarray(penalty(settings), dtype=float)
    return np.asarray(data)


PAIR_RADIUS = 4  # grid steps each way of the joint search over two fields


def _descend(
    problem: FitProblem,
    free: Sequence[str],
    current: dict[str, float],
    grids: Mapping[str, FloatArray],
    penalty: Penalty | None = None,
) -> tuple[dict[str, float], float]:
    """Coordinate descent from ``current`` until it stalls, then joint moves of every pair of
    fields, and again while a pair move helps.

    Each coordinate step is a full line search over the field's grid; the pair step searches a
    window of +-PAIR_RADIUS grid steps of two fields at once, which crosses the diagonal valleys
    (MBU against step overhead, say) where one field alone cannot move without losing. Pairs are
    searched only once coordinate moves stall, which keeps a fit of a dozen fields to seconds.
    """
    current = dict(current)
    best = (
        float(_losses(problem, current, {free[0]: np.array([current[free[0]]])}, penalty)[0]) if free else 0.0
    )

    def coordinate_pass() -> bool:
        nonlocal best
        improved = False
        for name in free:
            grid = np.asarray(grids[split_name(name)[0]], dtype=float)
            losses = _losses(problem, current, {name: grid}, penalty)
            i = int(np.argmin(losses))
            if losses[i] < best - 1e-12:
                current[name], best, improved = float(grid[i]), float(losses[i]), True
        return improved

    def pair_pass() -> bool:
        nonlocal best
        improved = False
        for a_index, a in enumerate(free):
            for b in free[a_index + 1 :]:
                ga = np.asarray(grids[split_name(a)[0]], dtype=float)
                gb = np.asarray(grids[split_name(b)[0]], dtype=float)
                ia, ib = int(np.argmin(np.abs(ga - current[a]))), int(np.argmin(np.abs(gb - current[b])))
                wa = ga[max(0, ia - PAIR_RADIUS) : ia + PAIR_RADIUS + 1]
                wb = gb[max(0, ib - PAIR_RADIUS) : ib + PAIR_RADIUS + 1]
                va, vb = (x.ravel() for x in np.meshgrid(wa, wb, indexing="ij"))
                losses = _losses(problem, current, {a: va, b: vb}, penalty)
                i = int(np.argmin(losses))
                if losses[i] < best - 1e-12:
                    current[a], current[b], best = float(va[i]), float(vb[i]), float(losses[i])
                    improved = True
        return improved

    # coordinate passes until none improves, then one pass over every pair; again while pairs help
    for _ in range(MAX_PASSES):
        for _ in range(MAX_PASSES):
            if not coordinate_pass():
                break
        if not pair_pass():
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
    penalty: Penalty | None = None,
) -> tuple[dict[str, float], float]:
    """Fit the ``free`` fields, shared by all points, over ``grids`` from ``start``.

    Coordinate descent over the continuous fields for every grid value of each free discrete
    field (`DISCRETE`), keeping the best. The other engine fields stay as each point has them.
    ``penalty`` (of the fields' values) is added to the loss: a prior that pulls the fit toward
    given values (`selfhost.calibration.user`). Returns ``start`` updated with the fitted values,
    and the loss they reach (penalty included).
    """
    continuous = [n for n in free if n not in DISCRETE]
    discrete = [n for n in free if n in DISCRETE]
    combos: list[dict[str, float]] = [{}]
    for name in discrete:
        combos = [{**c, name: float(v)} for c in combos for v in np.asarray(grids[name], dtype=float)]
    # generation fields that are not free keep their values (plain fields would overwrite their rows)
    pinned = {n: float(v) for n, v in start.items() if "@" in n and n not in free}
    best: tuple[float, dict[str, float]] | None = None
    for combo in combos:
        current = {**pinned, **{n: float(start[n]) for n in continuous}, **combo}
        current, _ = _descend(problem, continuous, current, grids, penalty)
        fitted = dataclasses.replace(
            problem.serving, **columns(problem.serving, problem.generations, current)
        )
        value = loss(predict_values(fitted, problem.workload).value, problem.measured, problem.weight)
        if penalty is not None:
            value += float(penalty({n: np.array([v]) for n, v in current.items()})[0])
        if best is None or value < best[0] - 1e-12:
            best = (value, current)
    assert best is not None
    return {**{n: float(v) for n, v in start.items()}, **best[1]}, best[0]


def free_parameters(problem: FitProblem, fit_batch_cap: bool = True) -> tuple[str, ...]:
    """The fields a set of points can pin down: MBU, MFU and step overhead always; the all-reduce
    latency and interconnect use only with tensor-parallel points (a layer split all-reduces
    nothing); the MoE kernels' efficiency only with MoE points; the batch cap only with
    offline-maximum points (and ``fit_batch_cap``); each older release generation's step overheads
    with points of that generation."""
    names = ["memory_bandwidth_utilization", "compute_utilization", "step_overhead_s"]
    used = problem.weight > 0
    tensor_parallel = (problem.workload.n_gpus > 1) & (np.asarray(problem.serving.layer_split) == 0)
    if np.any(used & tensor_parallel):
        names.extend(["allreduce_latency_s", "interconnect_bandwidth_utilization"])
    if np.any(used & (np.asarray(problem.serving.expert_weight_bytes) > 0)):
        names.append("expert_efficiency")
    if fit_batch_cap and np.any(used & (problem.workload.batch_kind == MAX)):
        names.append("max_batch_sequences")
    for generation in sorted(set(problem.generations[used].tolist()) - {""}):
        names.extend(f"{n}@{generation}" for n in GENERATION_FIELDS)
    return tuple(names)


#: The fields an engine generation has of its own: the scheduler's time per step, fixed and per
#: sequence (what changed between vLLM releases; the kernels' efficiencies are shared).
GENERATION_FIELDS: tuple[str, ...] = ("step_overhead_s", "step_overhead_per_sequence_s")


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
    def bounds(n: str) -> tuple[float, float]:
        grid = grids[split_name(n)[0]]
        return float(np.min(grid)), float(np.max(grid))

    return tuple(n for n in names if params[n] in bounds(n))


#: Where every fit starts, so that a refit does not depend on the values already in the catalog.
START: dict[str, float] = {
    "memory_bandwidth_utilization": 0.7,
    "compute_utilization": 0.5,
    "step_overhead_s": 2e-3,
    "allreduce_latency_s": 2e-5,
    "interconnect_bandwidth_utilization": 0.7,
    "max_batch_sequences": 2048.0,
    "step_overhead_per_sequence_s": 0.0,
    "expert_efficiency": 1.0,
}


def _gpus(problem: FitProblem, mask: NDArray[np.bool_]) -> tuple[str, ...]:
    return tuple(sorted({str(g) for g in problem.gpu[mask]}))


def _layouts(problem: FitProblem, mask: NDArray[np.bool_]) -> tuple[str, ...]:
    """The layout kinds of the points ``mask`` selects, in `LAYOUT_KINDS` order."""
    s = problem.serving
    columns = (s.n_gpus, s.layer_split, s.pipeline_stages, s.dp_attention)
    n, split, stages, dp = (np.broadcast_to(np.asarray(c, dtype=float), mask.shape)[mask] for c in columns)
    kinds = {
        layout_kind(int(a), bool(b), int(c), bool(d))
        for a, b, c, d in zip(n.tolist(), split.tolist(), stages.tolist(), dp.tolist(), strict=True)
    }
    return tuple(k for k in LAYOUT_KINDS if k in kinds)


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
    """Kernel efficiencies refitted per platform, for an engine whose points span several platforms.

    Each platform with at least `MIN_PLATFORM_POINTS` points is fitted on those alone, from the
    engine's shared fit, which keeps its other fields (all-reduce, batch cap): MBU and MFU, and
    the step overhead for an engine without release generations (with them the overhead is the
    scheduler's, fitted per generation over every platform).
    """
    platforms = sorted({str(p) for p in problem.platform[mask]})
    if len(platforms) < 2:
        return {}
    shared = with_parameters(problem.serving, problem.engine, {engine_id: params}, problem.generations)
    pinned = {k: v for k, v in params.items() if "@" in k}
    generational = bool(pinned)
    fitted: dict[str, dict[str, float]] = {}
    for platform_id in platforms:
        on_platform = mask & (problem.platform == platform_id)
        if int(on_platform.sum()) < MIN_PLATFORM_POINTS:
            continue
        sub = dataclasses.replace(problem, serving=shared).subset(on_platform)
        names = [n for n in PLATFORM_FIELDS if not (n == "step_overhead_s" and generational)]
        values, _ = fit_parameters(sub, names, {**pinned, **{n: params[n] for n in names}}, grids)
        fitted[platform_id] = {n: values[n] for n in names}
    return fitted


def fit_profiles(
    problem: FitProblem,
    engines: Sequence[EngineProfile],
    grids: Mapping[str, FloatArray] = GRIDS,
    reuse: Mapping[str, EngineFit] | None = None,
) -> dict[str, EngineFit]:
    """Fit every engine profile to the weighted points.

    ``reuse`` holds fits made on exactly these points for some engines (leave-one-source-out
    reuses the full fit of every engine the held-out group has no point of); they are taken as
    they are, which gives what a refit would (the fit is deterministic).

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
        if reuse is not None and engine.id in reuse and not reuse[engine.id].pooled:
            fits[engine.id] = reuse[engine.id]
            continue
        catalogued = {name: float(getattr(engine, name)) for name in PARAMETERS}
        sub = problem.subset(mask)
        names = free_parameters(sub, fit_batch_cap=engine.fit_batch_cap)
        params, value = fit_parameters(
            sub, names, {**catalogued, **{n: START[split_name(n)[0]] for n in names}}, grids
        )
        fits[engine.id] = EngineFit(
            engine.id,
            params,
            names,
            value,
            int(mask.sum()),
            _at_bound(params, names, grids),
            gpus=_gpus(problem, mask),
            platforms=_platform_fits(problem, mask, engine.id, params, grids),
            layouts=_layouts(problem, mask),
        )
    own = dataclasses.replace(
        problem,
        serving=with_fits(problem.serving, problem.engine, problem.platform, fits, problem.generations),
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
            layouts=_layouts(own, pool),
        )
    return fits


def predict_with(problem: FitProblem, fits: Mapping[str, EngineFit]) -> FloatArray:
    """Predictions of every point with the fitted engine parameters."""
    serving = with_fits(problem.serving, problem.engine, problem.platform, fits, problem.generations)
    return predict_values(serving, problem.workload).value


def leave_one_group_out(
    problem: FitProblem, engines: Sequence[EngineProfile], grids: Mapping[str, FloatArray] = GRIDS
) -> tuple[FloatArray, dict[str, dict[str, EngineFit]]]:
    """Out-of-group predictions of every point, and the profiles each fold used.

    For each group the profiles are refitted without its points (`fit_profiles`: an engine left
    with no points takes the pooled fit of the rest) and its points are predicted. An engine the
    group has no point of keeps its fit on all points, which is what its refit would give.
    """
    predicted = np.full(problem.measured.size, np.nan)
    folds: dict[str, dict[str, EngineFit]] = {}
    full = fit_profiles(problem, engines, grids)
    for group in sorted(set(problem.group.tolist())):
        held = problem.group == group
        train = dataclasses.replace(problem, weight=np.where(held, 0.0, problem.weight))
        touched = set(problem.engine[held & (problem.weight > 0)].tolist())
        unchanged = {e: f for e, f in full.items() if e not in touched}
        fits = fit_profiles(train, engines, grids, reuse=unchanged)
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


def own_overheads(r: ResolvedMeasurement) -> str:
    """The id of the release generation whose step overheads ``r`` is predicted with, "" for the
    current releases' (also for a generation that keeps them and differs only in its kernels)."""
    generation = r.generation
    return generation.id if generation is not None and generation.step_overhead_s is not None else ""


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
        generation=np.asarray([own_overheads(r) for r in resolved], dtype=object).astype(str),
    )
