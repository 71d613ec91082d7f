"""Does `selfhost calibrate` overfit? Calibrate to a few of the built-in points, predict the rest.

For each engine x GPU of the built-in serving files (data/calibration/measurements.yaml and
latency.yaml, weighed as the built-in fit weighs them) with at least ``--min-points`` fitted
points, and for k = 1, 2, 3, 5 "user" points: ``--draws`` times, k points drawn at random (seeded)
are the user's measurements, `selfhost.calibration.user.fit_gpu` calibrates to them, and every
other point of that engine x GPU is predicted with the catalog's profile, with the regularized
calibration and with the same fit without the prior. The figure is the held-out mean
|ln(predicted / measured)| (and median |error|), pooled over draws and engine x GPU pairs.

The catalog's profiles were fitted to these very points (in sample), so "catalog" is the
optimistic baseline a calibration must not fall behind: the script measures overfitting, not
the gain on a GPU the catalog has never seen. Run: .venv/bin/python scripts/calibrate_holdout.py
(about a minute); --json writes the figures docs/calibrate.md quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "data" / "calibration" / "measurements.yaml", ROOT / "data" / "calibration" / "latency.yaml")
K_POINTS = (1, 2, 3, 5)


def _mean_abs_log(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.mean(np.abs(np.log(pred / meas))))


def _median_abs(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.median(np.abs(pred / meas - 1.0)))


def biased(members: list[Any], factor: float) -> list[Any]:
    """The points with their engine's MBU and MFU on their GPU times ``factor`` (a `gpu_efficiency`
    override): the catalog as it would be if it were that far off on this GPU."""
    import dataclasses

    from selfhost.catalog.entries import GpuEfficiency
    from selfhost.scenarios import engine_efficiency

    if factor == 1.0:
        return members
    engine, gpu = members[0].engine, members[0].gpu
    values = {
        name: min(1.0, factor * engine_efficiency(engine, gpu.platform, name, gpu=gpu.id))
        for name in ("memory_bandwidth_utilization", "compute_utilization")
    }
    override = GpuEfficiency(**values, source=f"catalog x {factor:g} (calibrate_holdout.py)")
    moved = engine.model_copy(update={"gpu_efficiency": {**engine.gpu_efficiency, gpu.id: override}})
    return [dataclasses.replace(r, engine=moved) for r in members]


def run(draws: int, min_points: int, seed: int, factors: tuple[float, ...] = (1.0,)) -> dict[str, Any]:
    import dataclasses

    from selfhost.calibration.fit import build_problem
    from selfhost.calibration.loader import read_measurements, resolve_measurements
    from selfhost.calibration.user import fit_gpu, point_weights, predictions
    from selfhost.catalog.loader import load_catalog

    catalog = load_catalog(env={})
    resolved = [r for path in FILES for r in resolve_measurements(read_measurements(path), catalog, path)]
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in resolved:
        if not r.measurement.exclude_from_fit:
            groups.setdefault((r.engine.id, r.gpu.id), []).append(r)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for (engine_id, gpu_id), points in sorted(groups.items()):
        if len(points) < min_points:
            continue
        for factor in factors:
            members = biased(points, factor)
            problem = build_problem(members, point_weights(members))
            engine, gpu = members[0].engine, members[0].gpu
            catalog_pred = predictions(problem)
            for k in K_POINTS:
                if k >= len(members):
                    continue
                for _ in range(draws):
                    chosen = rng.choice(len(members), size=k, replace=False)
                    mask = np.zeros(len(members), dtype=bool)
                    mask[chosen] = True
                    user = dataclasses.replace(problem, weight=np.where(mask, problem.weight, 0.0))
                    held = ~mask
                    meas = problem.measured[held]
                    row: dict[str, Any] = {
                        "engine": engine_id,
                        "gpu": gpu_id,
                        "factor": factor,
                        "k": k,
                        "held_out": int(held.sum()),
                    }
                    row["catalog"] = _mean_abs_log(catalog_pred[held], meas)
                    row["catalog_median"] = _median_abs(catalog_pred[held], meas)
                    for name, regularize in (("regularized", True), ("unregularized", False)):
                        fit = fit_gpu(user, engine, gpu, regularize=regularize)
                        pred = predictions(problem, fit)[held]
                        row[name] = _mean_abs_log(pred, meas)
                        row[f"{name}_median"] = _median_abs(pred, meas)
                        row[f"{name}_fitted"] = list(fit.fitted)
                    rows.append(row)
            print(f"{engine_id} on {gpu_id} (catalog x {factor:g}): {len(members)} points", file=sys.stderr)
    summary: dict[str, Any] = {}
    for factor in factors:
        for k in K_POINTS:
            sel = [r for r in rows if r["k"] == k and r["factor"] == factor]
            if not sel:
                continue
            entry: dict[str, Any] = {"draws": len(sel), "pairs": len({(r["engine"], r["gpu"]) for r in sel})}
            for name in ("catalog", "regularized", "unregularized"):
                values = np.array([r[name] for r in sel])
                medians = np.array([r[f"{name}_median"] for r in sel])
                entry[name] = {
                    "mean_abs_log_error": float(values.mean()),
                    "median_abs_error": float(np.median(medians)),
                }
                if name != "catalog":
                    worse = np.array([r[name] - r["catalog"] for r in sel])
                    entry[name]["worse_than_catalog_by_0.05"] = float(np.mean(worse > 0.05))
            summary[f"x{factor:g} k={k}"] = entry
    return {
        "files": [str(p.relative_to(ROOT)) for p in FILES],
        "draws_per_k": draws,
        "min_points": min_points,
        "seed": seed,
        "catalog_factors": list(factors),
        "pairs": sorted({f"{r['engine']} on {r['gpu']}" for r in rows}),
        "summary": summary,
    }


def markdown_table(report: dict[str, Any]) -> str:
    """The table docs/calibrate.md shows: held-out mean |ln error| and median |error| by catalog
    bias and k, for the catalog, the calibration and the same fit without the prior."""
    lines = [
        "| Catalog on the GPU | User points k | Draws | Catalog | Calibrated | No prior | "
        "Calibrated worse than catalog by > 0.05 | No prior worse by > 0.05 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, e in report["summary"].items():
        factor, k = key.split(" k=")
        bias = "as fitted" if factor == "x1" else f"MBU, MFU {factor}"

        cell = {
            name: f"{e[name]['mean_abs_log_error']:.3f} ({e[name]['median_abs_error']:.1%})"
            for name in ("catalog", "regularized", "unregularized")
        }
        lines.append(
            f"| {bias} | {k} | {e['draws']} | {cell['catalog']} | {cell['regularized']} | {cell['unregularized']} | "
            f"{e['regularized']['worse_than_catalog_by_0.05']:.0%} | "
            f"{e['unregularized']['worse_than_catalog_by_0.05']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10, help="random draws per engine x GPU and k")
    parser.add_argument("--min-points", type=int, default=8, help="fewest fitted points of an engine x GPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--factors",
        type=float,
        nargs="+",
        default=[1.0, 0.78, 1.28],
        help="the catalog's MBU and MFU on the GPU times each factor (1: as it is; 0.78 and 1.28: one prior sigma off)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    report = run(args.draws, args.min_points, args.seed, tuple(args.factors))
    print(
        f"{'':>10} {'draws':>6}  {'catalog':>8} {'regularized':>12} {'no prior':>9}  (held-out mean |ln error|)"
    )
    for k, e in report["summary"].items():
        print(
            f"{k:>10} {e['draws']:>6}  {e['catalog']['mean_abs_log_error']:8.3f} "
            f"{e['regularized']['mean_abs_log_error']:12.3f} {e['unregularized']['mean_abs_log_error']:9.3f}"
            f"   worse by >0.05: {e['regularized']['worse_than_catalog_by_0.05']:.0%} vs "
            f"{e['unregularized']['worse_than_catalog_by_0.05']:.0%}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
