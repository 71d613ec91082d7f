"""Calibrate an engine profile to a user's own measurements, one GPU at a time (`selfhost calibrate`).

The built-in calibration fits each engine's few parameters to the published runs of every GPU
(`selfhost.calibration.fit`). A user with runs of their own, on their GPU and engine, can pin
those parameters down for that GPU. This module does it with the same machinery
(`build_problem`, `fit_parameters`, the same loss and grids), with two differences that keep a
handful of points from overfitting:

1. Only the fields the points pin down are fitted. For each of the per-GPU fields (MBU, MFU,
   fixed step overhead) a one-prior-sigma change is applied and the weighted RMS change of the
   points' log predictions measured; the fields are taken in order of that effect, each kept if
   what it changes is still at least `PIN_THRESHOLD` after removing what the fields already kept
   change (Gram-Schmidt in the points' space). So one point fits at most one field, and a field
   the points hardly depend on (MFU for decode-bound runs) keeps the catalog's value. The step
   overhead is not fitted on runs of an older engine generation (their scheduler overhead is the
   generation's, not the current release's).

2. The fit is pulled toward the catalog profile: a Gaussian prior on each fitted field, centred
   on the catalog's value for that GPU, added to the loss. With the loss the built-in fit uses
   (weighted mean ``|ln(predicted / measured)|``, a Laplace likelihood of scale
   `POINT_ERROR_SCALE` per point) the objective is the MAP estimate

       sum_i w_i |ln(pred_i / meas_i)| / b  +  sum_j z_j^2 / 2,

   ``z_j = ln(value_j / catalog_j) / sigma`` for MBU and MFU, whose sigma is the calibration's
   own leave-one-source-out error (`selfhost.uncertainty.EFFICIENCY_SIGMA`, wider on a GPU with
   no published measurement behind the profile), and ``(value - catalog) / STEP_OVERHEAD_SIGMA_S``
   for the step overhead. Divided by ``sum_i w_i`` it is the built-in loss plus
   ``b / sum_i w_i * sum_j z_j^2 / 2``: the prior weighs as much as ``b / sum(w)`` of the data, so
   it holds the catalog's values against one or two points and fades as points accumulate.
   (scripts/calibrate_holdout.py measures this on the built-in files: docs/calibrate.md.)

The result is a `GpuEfficiency` override per (engine, GPU), written into a catalog overlay
(`selfhost.catalog.overlay.append_engine`) that `--catalog` reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from selfhost.calibration.fit import FitProblem, build_problem, fit_parameters
from selfhost.calibration.loader import ResolvedMeasurement
from selfhost.calibration.predict import ErrorSummary, predict_values, summarize
from selfhost.catalog.schema import Catalog, EngineProfile, Gpu
from selfhost.scenarios import PLATFORM_FIELDS, engine_efficiency

FloatArray = NDArray[np.float64]

#: The fields a user calibration sets for one GPU (`EngineProfile.gpu_efficiency`).
USER_FIELDS: tuple[str, ...] = PLATFORM_FIELDS
#: Fields that are shares of a peak: their prior is lognormal (sigma on the log).
SHARE_FIELDS = ("memory_bandwidth_utilization", "compute_utilization")
#: Laplace scale b of one point's |ln(predicted / measured)| once the parameters are right: the
#: built-in fit's in-sample mean absolute log error on its throughput points (0.174,
#: docs/calibration-fit.json; a test keeps the two within 0.03). [unitless]
POINT_ERROR_SCALE = 0.17
#: Prior sigma of the fixed step overhead: about the current profiles' own values (vLLM 1 ms,
#: SGLang 0), a judgment: a GPU's host overhead is not known better than that. [s]
STEP_OVERHEAD_SIGMA_S = 1e-3
#: Loss weight of a latency point (TTFT, TPOT) against a throughput point: scripts/calibrate.py's
#: --latency-weight default.
LATENCY_WEIGHT = 0.5
LATENCY_SCOPES = ("tpot", "ttft")
#: Weighted RMS change of the log predictions a one-sigma change of a field must make, beyond
#: what the fields already kept make, for the points to pin it down. [unitless]
PIN_THRESHOLD = 0.05


def prior_sigmas(engine: EngineProfile, gpu: Gpu) -> dict[str, float]:
    """Prior sigma of each `USER_FIELDS` field: the uncertainty model's efficiency sigma (wider on a
    GPU without published measurements behind the profile) and `STEP_OVERHEAD_SIGMA_S`."""
    from selfhost.uncertainty import EFFICIENCY_SIGMA, EFFICIENCY_SIGMA_EXTRAPOLATED

    share = EFFICIENCY_SIGMA if gpu.id in engine.measured_gpus else EFFICIENCY_SIGMA_EXTRAPOLATED
    return {
        "memory_bandwidth_utilization": share,
        "compute_utilization": share,
        "step_overhead_s": STEP_OVERHEAD_SIGMA_S,
    }


@dataclass(frozen=True)
class Prior:
    """A Gaussian prior on fields, as a penalty on the mean loss (`fit_parameters(penalty=...)`).

    center : The catalog's value of each field. [field unit]
    sigma : Sigma on the log for `SHARE_FIELDS`, absolute otherwise. [unitless or field unit]
    weight : ``b / sum(w)``: how much the prior weighs against the mean loss. [unitless]
    """

    center: Mapping[str, float]
    sigma: Mapping[str, float]
    weight: float

    def z(self, name: str, value: FloatArray | float) -> FloatArray:
        """Distance of ``value`` from the centre in prior sigmas."""
        v = np.asarray(value, dtype=float)
        if name in SHARE_FIELDS:
            return np.asarray(np.log(v / self.center[name]) / self.sigma[name])
        return np.asarray((v - self.center[name]) / self.sigma[name])

    def __call__(self, settings: Mapping[str, FloatArray]) -> FloatArray:
        total: FloatArray | float = 0.0
        for name in self.center:
            if name in settings:
                total = total + self.z(name, settings[name]) ** 2 / 2.0
        return np.asarray(self.weight * np.asarray(total, dtype=float))


@dataclass(frozen=True)
class GpuCalibration:
    """One engine on one GPU, calibrated to the user's points.

    points : Points fitted (weight > 0). [count]
    excluded : Points validated but left out of the fit (medians, p99s: the model predicts means). [count]
    fitted : The fields the points pin down, fitted.
    kept : The other `USER_FIELDS`, each with why it keeps the catalog's value.
    before, after : Each `USER_FIELDS` field as the catalog has it on this GPU, and calibrated.
    before_error, after_error : Error of the fitted points with each. [unitless]
    sigma : The prior sigma of each field.
    ids : The measurement ids fitted.
    per_point : Each fitted point: id, scope, unit, measured, predicted before and after, errors.
    """

    engine: str
    gpu: str
    points: int
    excluded: int
    fitted: tuple[str, ...]
    kept: dict[str, str]
    before: dict[str, float]
    after: dict[str, float]
    before_error: ErrorSummary
    after_error: ErrorSummary
    sigma: dict[str, float]
    ids: tuple[str, ...] = field(default=())
    per_point: tuple[dict[str, Any], ...] = field(default=())

    def override(self, source: str, notes: str = "") -> dict[str, Any]:
        """The `GpuEfficiency` record: the fitted fields only (the others keep the profile's)."""
        return {
            **{name: self.after[name] for name in USER_FIELDS if name in self.fitted},
            "source": source,
            "points": self.points,
            "notes": notes,
        }

    def record(self) -> dict[str, Any]:
        """Plain JSON-ready data: units in the field names, errors as summaries."""
        return {
            "engine": self.engine,
            "gpu": self.gpu,
            "points": self.points,
            "excluded_points": self.excluded,
            "fitted": list(self.fitted),
            "kept": dict(self.kept),
            "before": dict(self.before),
            "after": dict(self.after),
            "prior_sigma": dict(self.sigma),
            "before_error": self.before_error.as_dict(),
            "after_error": self.after_error.as_dict(),
            "measurements": list(self.ids),
            "points_detail": [dict(p) for p in self.per_point],
        }


def point_weights(resolved: Sequence[ResolvedMeasurement]) -> FloatArray:
    """1 for a throughput point, `LATENCY_WEIGHT` for a latency one (as the built-in fit weighs
    its latency file); `build_problem` gives ``exclude_from_fit`` points 0."""
    return np.array(
        [LATENCY_WEIGHT if r.measurement.scope in LATENCY_SCOPES else 1.0 for r in resolved], dtype=float
    )


def _log_predictions(problem: FitProblem, values: Mapping[str, float]) -> FloatArray:
    """Log predictions of every point with ``values`` in place of its own fields (the others as
    each point has them: the catalog's, its generation's step overhead)."""
    n = problem.measured.size
    serving = dataclasses.replace(
        problem.serving, **{name: np.full(n, float(v)) for name, v in values.items()}
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.log(predict_values(serving, problem.workload).value))


def pinned_fields(
    problem: FitProblem,
    candidates: Sequence[str],
    center: Mapping[str, float],
    sigma: Mapping[str, float],
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The ``candidates`` the weighted points pin down, in order of effect, and why each other is not.

    A field's effect is the change of the points' log predictions when it moves one prior sigma
    from ``center`` (up, or down where up would pass a share's bound of 1), weighted by the points'
    loss weights; a field is kept while its effect, less what the fields kept before it explain,
    has a weighted RMS of at least `PIN_THRESHOLD` (see the module docstring).
    """
    weight = problem.weight
    used = weight > 0
    if not np.any(used):
        return (), {name: "no point to fit" for name in candidates}
    root_w = np.sqrt(weight[used] / weight[used].sum())
    base = _log_predictions(problem, {})[used]
    effects: dict[str, FloatArray] = {}
    for name in candidates:
        moved = _one_sigma_away(name, center[name], sigma[name])
        delta = _log_predictions(problem, {name: moved})[used] - base
        effects[name] = np.nan_to_num(delta, nan=0.0, posinf=0.0, neginf=0.0) * root_w
    order = sorted(candidates, key=lambda n: -float(np.linalg.norm(effects[n])))
    kept: list[str] = []
    basis: list[FloatArray] = []
    why: dict[str, str] = {}
    for name in order:
        v = effects[name].copy()
        if float(np.linalg.norm(v)) < PIN_THRESHOLD:
            why[name] = "the points hardly depend on it"
            continue
        for b in basis:
            v = v - float(v @ b) * b
        norm = float(np.linalg.norm(v))
        if norm < PIN_THRESHOLD:
            why[name] = f"the points cannot tell it apart from {', '.join(_short(k) for k in kept)}"
            continue
        kept.append(name)
        basis.append(v / norm)
    return tuple(kept), why


def _one_sigma_away(name: str, center: float, sigma: float) -> float:
    """``center`` moved one prior sigma: up, or for a share down where up would pass 1."""
    if name not in SHARE_FIELDS:
        return center + sigma
    up = center * float(np.exp(sigma))
    return up if up <= 1.0 else center * float(np.exp(-sigma))


SHORT_NAMES = {
    "memory_bandwidth_utilization": "MBU",
    "compute_utilization": "MFU",
    "step_overhead_s": "step overhead",
}


def _short(name: str) -> str:
    return SHORT_NAMES.get(name, name)


@dataclass(frozen=True)
class GpuFit:
    """The fitted fields of one engine on one GPU (see `GpuCalibration` for the fields)."""

    fitted: tuple[str, ...]
    kept: dict[str, str]
    before: dict[str, float]
    after: dict[str, float]
    sigma: dict[str, float]


def fit_gpu(problem: FitProblem, engine: EngineProfile, gpu: Gpu, *, regularize: bool = True) -> GpuFit:
    """Fit `USER_FIELDS` of ``engine`` on ``gpu`` to the points of ``problem`` with weight > 0
    (all of that engine on that GPU), as the module docstring describes.

    ``regularize`` False drops the prior (the plain fit of the pinned fields, for comparison).
    """
    used = problem.weight > 0
    center = {name: engine_efficiency(engine, gpu.platform, name, gpu=gpu.id) for name in USER_FIELDS}
    sigma = prior_sigmas(engine, gpu)
    candidates = list(USER_FIELDS)
    kept_why: dict[str, str] = {}
    older = sorted({g for g in problem.generations[used].tolist() if g})
    if older:
        candidates.remove("step_overhead_s")
        kept_why["step_overhead_s"] = (
            f"the points ran an older release ({', '.join(older)}): its step overhead is that generation's"
        )
    fitted, why = pinned_fields(problem, candidates, center, sigma)
    kept_why.update(why)
    total_weight = float(problem.weight.sum())
    prior = (
        Prior(center, sigma, POINT_ERROR_SCALE / total_weight) if regularize and total_weight > 0 else None
    )
    after = dict(center)
    if fitted:
        start = {name: center[name] for name in fitted}
        values, _ = fit_parameters(problem, list(fitted), start, penalty=prior)
        after.update({name: float(values[name]) for name in fitted})
    return GpuFit(
        fitted=fitted,
        kept={name: kept_why[name] for name in USER_FIELDS if name in kept_why},
        before=center,
        after=after,
        sigma=sigma,
    )


def predictions(problem: FitProblem, fit: GpuFit | None = None) -> FloatArray:
    """Predictions of every point of ``problem``: with the catalog's profile (``fit`` None) or with
    the fit's fitted fields. [unit of each point]"""
    values = {} if fit is None else {name: fit.after[name] for name in fit.fitted}
    return np.exp(_log_predictions(problem, values))


def calibrate_gpu(resolved: Sequence[ResolvedMeasurement], *, regularize: bool = True) -> GpuCalibration:
    """Calibrate one engine on one GPU to ``resolved`` (all of that engine and GPU): `fit_gpu`,
    and the errors of the fitted points before and after.

    Raises ValueError when the points are of several engines or GPUs, or none.
    """
    if not resolved:
        raise ValueError("no measurements to calibrate to")
    if len({id(r.engine) for r in resolved}) != 1 or len({r.gpu.id for r in resolved}) != 1:
        raise ValueError("calibrate_gpu takes the points of one engine on one GPU")
    engine, gpu = resolved[0].engine, resolved[0].gpu
    problem = build_problem(resolved, point_weights(resolved))
    fit = fit_gpu(problem, engine, gpu, regularize=regularize)
    used = problem.weight > 0
    measured = problem.measured[used]
    before_pred = predictions(problem)[used]
    after_pred = predictions(problem, fit)[used]
    fitted_points = [r for r, u in zip(resolved, used, strict=True) if u]
    per_point = tuple(
        {
            "id": r.measurement.id,
            "scope": r.measurement.scope,
            "unit": r.measurement.unit,
            "measured": float(m),
            "predicted_before": float(b),
            "predicted_after": float(a),
            "error_before": float(b / m - 1.0),
            "error_after": float(a / m - 1.0),
        }
        for r, m, b, a in zip(fitted_points, measured, before_pred, after_pred, strict=True)
    )
    return GpuCalibration(
        engine=engine.id,
        gpu=gpu.id,
        points=int(used.sum()),
        excluded=int((~used).sum()),
        fitted=fit.fitted,
        kept=fit.kept,
        before=fit.before,
        after=fit.after,
        before_error=summarize(before_pred, measured),
        after_error=summarize(after_pred, measured),
        sigma=fit.sigma,
        ids=tuple(r.measurement.id for r in fitted_points),
        per_point=per_point,
    )


def calibrate(resolved: Sequence[ResolvedMeasurement], *, regularize: bool = True) -> list[GpuCalibration]:
    """One calibration per (engine, GPU) among ``resolved``, in order of first appearance."""
    groups: dict[tuple[str, str], list[ResolvedMeasurement]] = {}
    for r in resolved:
        groups.setdefault((r.engine.id, r.gpu.id), []).append(r)
    return [calibrate_gpu(group, regularize=regularize) for group in groups.values()]


def calibration_source(files: Sequence[str], today: dt.date | None = None) -> str:
    """The `source` of a user calibration: what made it and from which files."""
    day = (today or dt.date.today()).isoformat()
    return f"user calibration: selfhost calibrate {' '.join(files)} ({day}); the user's own measurements"


#: How the notes of a calibrated entry begin and where that sentence ends (replaced on recalibration).
COPIED = "Copied from the catalog by selfhost calibrate on"
COPIED_END = " is the user's calibration."


def calibrated_engines(
    catalog: Catalog,
    calibrations: Sequence[GpuCalibration],
    source: str,
    today: dt.date | None = None,
) -> list[EngineProfile]:
    """Each calibrated engine's catalog profile with the calibrations as `gpu_efficiency` overrides.

    Every other field is the catalog's as loaded (a copy: the overlay replaces the whole entry),
    so the overlay changes the engine on the calibrated GPUs only. A calibration with no fitted
    field adds no override.
    """
    from selfhost.catalog import schema

    day = (today or dt.date.today()).isoformat()
    out: list[EngineProfile] = []
    by_engine: dict[str, list[GpuCalibration]] = {}
    for c in calibrations:
        if c.fitted:
            by_engine.setdefault(c.engine, []).append(c)
    for engine_id, cals in by_engine.items():
        engine = next(e for e in catalog.engines if e.id == engine_id)
        data = engine.model_dump(mode="json")
        overrides = dict(data.get("gpu_efficiency") or {})
        for c in cals:
            fitted = ", ".join(_short(n) for n in c.fitted)
            overrides[c.gpu] = c.override(
                source,
                notes=f"{fitted} fitted to {c.points} point(s); median |error| "
                f"{c.before_error.median_abs_error:.0%} -> {c.after_error.median_abs_error:.0%}",
            )
        gpus = ", ".join(overrides)
        data["gpu_efficiency"] = overrides
        earlier = re.sub(rf"^{re.escape(COPIED)}.*?{re.escape(COPIED_END)}\s*", "", data.get("notes", ""))
        data["notes"] = f"{COPIED} {day}; only gpu_efficiency ({gpus}){COPIED_END} {earlier}".strip()
        out.append(schema.EngineProfile.model_validate(data))
    return out
