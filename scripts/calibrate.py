#!/usr/bin/env python3
"""Fit the serving-engine profiles to the built-in measurements and report the error.

    python scripts/calibrate.py                  # fit and print the report
    python scripts/calibrate.py --write          # also write the fitted values into data/engines.yaml
                                                 # and the report into docs/calibration-fit.json

What it does (selfhost.calibration.fit has the details):

1. Reads data/calibration/measurements.yaml (97 published throughput figures) and
   data/calibration/latency.yaml (the latencies the same sources report beside them, weighted
   --latency-weight in the loss: low-batch latency pins down the fixed per-step overhead).
   Points with `exclude_from_fit` are predicted but not fitted.
2. Fits each engine that has points: MBU, MFU and step overhead; all-reduce latency if it has
   multi-GPU points; the batch cap if it has offline-maximum points. Bounded grids, coordinate
   descent, loss = weighted mean |ln(predicted / measured)|. NumPy only (no SciPy).
3. Engines without points (vLLM, SGLang, MLX) get a pooled fit over every point on their platforms.
4. Leave-one-source-out: each dataset is held out in turn, everything refitted, its points
   predicted (an engine left without points takes the pooled fit).

With --write, only the fitted fields, `platform_efficiency`, `measured_gpus`, `measured_layouts` and
the `as_of` date of each profile change in data/engines.yaml; its sources and notes are written by hand
and describe this procedure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENGINES_YAML = ROOT / "data" / "engines.yaml"
REPORT_JSON = ROOT / "docs" / "calibration-fit.json"
PRIMARY = ROOT / "data" / "calibration" / "measurements.yaml"
SECONDARY = ROOT / "data" / "calibration" / "latency.yaml"
AS_OF = dt.date(2026, 11, 28)

# how each fitted field is written to the catalog (the grids' resolution; YAML floats need a '.')
FORMATS = {
    "memory_bandwidth_utilization": "{:.2f}",
    "compute_utilization": "{:.2f}",
    "step_overhead_s": "{:.4f}",
    "allreduce_latency_s": "{:.1e}",
    "interconnect_bandwidth_utilization": "{:.2f}",
    "max_batch_sequences": "{:.0f}",
    "step_overhead_per_sequence_s": "{:.1e}",
    "expert_efficiency": "{:.2f}",
}


def _set_field(block: str, name: str, shown: str, engine_id: str, path: Path) -> str:
    """``name: shown`` in an engine block: a plain field at 4 spaces, ``field@generation`` in the
    block's ``generations`` list; a new plain field goes after ``allreduce_latency_s``."""
    field_name, _, generation = name.partition("@")
    if generation:
        pattern = rf"(?m)(^      - id: {re.escape(generation)}\n(?:        .*\n)*?        {field_name}: ).*$"
        block, n = re.subn(pattern, rf"\g<1>{shown}", block, count=1)
        if n != 1:
            raise SystemExit(
                f"{path}: cannot find '{field_name}' of generation '{generation}' of {engine_id}"
            )
        return block
    block, n = re.subn(rf"(?m)^(    {name}: ).*$", rf"\g<1>{shown}", block)
    if n == 0:
        block, n = re.subn(r"(?m)^(    allreduce_latency_s: .*)$", rf"\g<1>\n    {name}: {shown}", block)
    if n != 1:
        raise SystemExit(f"{path}: cannot find '{name}' in the block of {engine_id}")
    return block


def _set_list(block: str, name: str, values: list[str], after: str, engine_id: str, path: Path) -> str:
    """``name: [values]`` in an engine block: replaced where it is, else placed after ``after``."""
    shown = f"[{', '.join(values)}]"
    block, n = re.subn(rf"(?m)^(    {name}: ).*$", rf"\g<1>{shown}", block)
    if n != 1:
        block, n = re.subn(rf"(?m)^(    {after}: .*)$", rf"\g<1>\n    {name}: {shown}", block)
    if n != 1:
        raise SystemExit(f"{path}: cannot place '{name}' in the block of {engine_id}")
    return block


def summary_dict(predicted: Any, measured: Any) -> dict[str, Any]:
    from selfhost.calibration.predict import summarize

    return summarize(predicted, measured).as_dict()


def breakdown(predicted: Any, measured: Any, keys: Any) -> dict[str, Any]:
    return {
        key: summary_dict(predicted[keys == key], measured[keys == key]) for key in sorted(set(keys.tolist()))
    }


def run(latency_weight: float, loso: bool) -> dict[str, Any]:
    from selfhost.calibration.fit import (
        build_problem,
        fit_profiles,
        gpu_was_measured,
        leave_one_group_out,
        predict_with,
    )
    from selfhost.calibration.loader import read_measurements, resolve_measurements
    from selfhost.catalog.loader import load_catalog

    catalog = load_catalog(env={})
    primary = resolve_measurements(read_measurements(PRIMARY), catalog, PRIMARY)
    secondary = resolve_measurements(read_measurements(SECONDARY), catalog, SECONDARY)
    resolved = primary + secondary
    is_primary = np.arange(len(resolved)) < len(primary)
    weights = np.where(is_primary, 1.0, latency_weight)
    problem = build_problem(resolved, weights)
    fits = fit_profiles(problem, catalog.engines)
    predicted = predict_with(problem, fits)
    m = problem.measured

    def block(pred: Any) -> dict[str, Any]:
        p, s = is_primary, ~is_primary
        return {
            "throughput": summary_dict(pred[p], m[p]),
            "throughput_by_engine": breakdown(pred[p], m[p], problem.engine[p]),
            "throughput_by_platform": breakdown(pred[p], m[p], problem.platform[p]),
            "throughput_by_gpu": breakdown(pred[p], m[p], problem.gpu[p]),
            "throughput_by_dataset": breakdown(pred[p], m[p], problem.group[p]),
            "latency": summary_dict(pred[s], m[s]),
            "latency_by_engine": breakdown(pred[s], m[s], problem.engine[s]),
        }

    report: dict[str, Any] = {
        "as_of": AS_OF.isoformat(),
        "files": {"throughput": str(PRIMARY.relative_to(ROOT)), "latency": str(SECONDARY.relative_to(ROOT))},
        "latency_weight": latency_weight,
        "points_fitted": int((problem.weight > 0).sum()),
        "excluded_from_fit": [r.measurement.id for r in resolved if r.measurement.exclude_from_fit],
        "engines": {
            e: {
                "parameters": f.parameters,
                "fitted": list(f.fitted),
                "pooled": f.pooled,
                "points": f.points,
                "loss_mean_abs_log_error": f.loss,
                "at_grid_bound": list(f.at_bound),
                "measured_gpus": list(f.gpus),
                "measured_layouts": list(f.layouts),
                "platform_efficiency": f.platforms,
            }
            for e, f in fits.items()
        },
        "in_sample": block(predicted),
    }
    if loso:
        held_out, folds = leave_one_group_out(problem, catalog.engines)
        report["leave_one_source_out"] = block(held_out)
        report["leave_one_source_out"]["folds"] = {
            group: {e: f.parameters for e, f in fold.items()} for group, fold in folds.items()
        }
        # held-out throughput points on a GPU the fold had measured behind the profile, and not:
        # the two efficiency spreads of selfhost.uncertainty
        seen = gpu_was_measured(problem, folds)
        p = is_primary
        report["leave_one_source_out"]["throughput_by_gpu_evidence"] = {
            "measured": summary_dict(held_out[p & seen], m[p & seen]),
            "extrapolated": summary_dict(held_out[p & ~seen], m[p & ~seen]),
        }
    return report


def write_engines(report: dict[str, Any], path: Path = ENGINES_YAML) -> None:
    """Replace the fitted scalar fields (and as_of) inside each engine's block of engines.yaml."""
    text = path.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=  - id: )", text)
    out = []
    for block in blocks:
        match = re.match(r"  - id: (\S+)", block)
        engine = report["engines"].get(match.group(1)) if match else None
        if engine and engine["fitted"]:
            for name in engine["fitted"]:
                shown = FORMATS[name.partition("@")[0]].format(engine["parameters"][name])
                block = _set_field(block, name, shown, match.group(1), path)  # type: ignore[union-attr]
            block = re.sub(r"(?m)^    platform_efficiency:\n(?:      .*\n)*", "", block)
            if engine["platform_efficiency"]:
                lines = "".join(
                    f"      {platform}: {{"
                    + ", ".join(f"{name}: {FORMATS[name].format(v)}" for name, v in sorted(values.items()))
                    + "}\n"
                    for platform, values in engine["platform_efficiency"].items()
                )
                block, n = re.subn(
                    r"(?m)^(?=    measured_gpus: )", f"    platform_efficiency:\n{lines}", block
                )
                if n != 1:
                    raise SystemExit(
                        f"{path}: cannot place 'platform_efficiency' in the block of {match.group(1)}"
                    )  # type: ignore[union-attr]
            # first write of each list: it goes after the field named beside it
            for name, after in (("measured_gpus", "max_batch_sequences"), ("measured_layouts", "measured_gpus")):
                block = _set_list(block, name, engine[name], after, match.group(1), path)  # type: ignore[union-attr]
            block = re.sub(r"(?m)^(    as_of: ).*$", rf"\g<1>{AS_OF.isoformat()}", block)
        out.append(block)
    path.write_text("".join(out), encoding="utf-8")


def print_report(report: dict[str, Any]) -> None:
    def line(label: str, s: dict[str, Any]) -> str:
        return (
            f"  {label:<58} n={s['points']:>3}  median |err| {s['median_abs_error']:6.1%}  "
            f"within 30% {s['within_30']:6.1%}  bias {s['median_error']:+6.1%}"
        )

    print("Fitted engine profiles:")
    for engine, e in report["engines"].items():
        kind = "pooled" if e["pooled"] else ("fitted" if e["fitted"] else "catalog")
        params = ", ".join(f"{k}={v:g}" for k, v in e["parameters"].items())
        bound = f"  AT BOUND: {', '.join(e['at_grid_bound'])}" if e["at_grid_bound"] else ""
        print(f"  {engine:<13} [{kind}, {e['points']} points] {params}{bound}")
    for title, key in (("In sample", "in_sample"), ("Leave one source out", "leave_one_source_out")):
        if key not in report:
            continue
        b = report[key]
        print(f"\n{title}:")
        print(line("throughput, all", b["throughput"]))
        for engine, s in b["throughput_by_engine"].items():
            print(line(f"throughput, {engine}", s))
        for platform, s in b["throughput_by_platform"].items():
            print(line(f"throughput, on {platform}", s))
        for gpu, s in b["throughput_by_gpu"].items():
            print(line(f"throughput, on {gpu}", s))
        for dataset, s in b["throughput_by_dataset"].items():
            print(line(dataset, s))
        print(line("latency, all", b["latency"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update data/engines.yaml and the JSON report")
    parser.add_argument("--latency-weight", type=float, default=0.5, help="loss weight of a latency point")
    parser.add_argument("--no-loso", action="store_true", help="skip leave-one-source-out")
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    report = run(args.latency_weight, not args.no_loso)
    print_report(report)
    targets = [args.json] if args.json else []
    if args.write:
        write_engines(report)
        targets.append(REPORT_JSON)
        print(f"\nwrote fitted values to {ENGINES_YAML}", file=sys.stderr)
    for target in targets:
        target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote the report to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
