"""`selfhost calibrate`: fit an engine profile to your own measurements, one GPU at a time."""

from __future__ import annotations

import math
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selfhost.cli import options as o

if TYPE_CHECKING:
    from selfhost.calibration.user import GpuCalibration

#: Exit code when some entries were skipped but the rest were calibrated (as `validate`).
EXIT_SKIPPED = 1


class CalibrateFormat(str, Enum):
    table = "table"
    json = "json"


IntoOpt = Annotated[
    Path | None,
    typer.Option(
        "--into",
        help="Write the calibrated engine profile to this catalog overlay (created if missing; comments "
        "kept; an engine it already holds is never overwritten). Then: selfhost crossover --catalog FILE.",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse a file with any invalid entry or unknown id (default: skip those entries, report "
        "each, calibrate to the rest and exit with code 1).",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def calibrate(
        measurement_files: list[Path] = typer.Argument(
            ...,
            metavar="MEASUREMENTS...",
            help="Measurement YAML files (selfhost measurements import writes them).",
            show_default=False,
        ),
        into: IntoOpt = None,
        catalog: o.CatalogOpt = None,
        fmt: Annotated[
            CalibrateFormat, typer.Option("--format", "-f", help="Output: Rich tables, or JSON.")
        ] = CalibrateFormat.table,
        strict: StrictOpt = False,
    ) -> None:
        """Fit the engine profile's efficiencies on each measured GPU to your own benchmark runs.

        For every engine x GPU in the files, fits MBU, MFU and the fixed step overhead with the
        built-in calibration's loss and grids, restricted to the fields the points pin down and
        pulled toward the catalog's values by a prior that fades as points accumulate
        (docs/calibrate.md). Prints each field before and after and the error of the points
        (median |error|, share within +-30 %) with the catalog's profile and with the
        calibration. --into writes an overlay: the catalog's engine entry with a gpu_efficiency
        override for the calibrated GPUs only, used by every command given --catalog FILE.

        Throughput points weigh 1, latency points (TTFT, TPOT) 0.5, as in the built-in fit;
        medians and p99s (exclude_from_fit) are left out: the model predicts means.

        Examples:

          selfhost measurements import run.json -m llama-3.1-70b -g h100-sxm-80gb -n 4 --into mine.yaml

          selfhost calibrate mine.yaml

          selfhost calibrate mine.yaml --into my-vllm.yaml

          selfhost crossover --rps 5 -m llama-3.1-70b -g h100-sxm-80gb --catalog my-vllm.yaml
        """
        from selfhost.cli.common import guarded, load, note

        def run() -> None:
            from selfhost.calibration.loader import load_measurements
            from selfhost.calibration.user import calibrate as fit_user
            from selfhost.calibration.user import calibrated_engines, calibration_source
            from selfhost.errors import InputError

            cat = load(catalog)
            resolved = []
            skipped: list[str] = []
            for path in measurement_files:
                loaded = load_measurements(path, cat, strict=strict)
                resolved.extend(loaded.resolved)
                skipped.extend(loaded.skipped)
            if not resolved:
                raise InputError(
                    f"no measurement in {', '.join(str(p) for p in measurement_files)} names a deployment "
                    "the catalog knows; nothing to calibrate"
                )
            calibrations = fit_user(resolved)
            if not any(c.points for c in calibrations):
                raise InputError(
                    "every measurement is marked exclude_from_fit (medians, p99s); calibrate needs means"
                )
            source = calibration_source([str(p) for p in measurement_files])
            engines = calibrated_engines(cat, calibrations, source)
            written = _write(into, engines, calibrations, measurement_files, catalog) if into else None
            if fmt is CalibrateFormat.json:
                from selfhost.calibration.user import LATENCY_WEIGHT, PIN_THRESHOLD, POINT_ERROR_SCALE
                from selfhost.render import write_json

                write_json(
                    {
                        "results": [c.record() for c in calibrations],
                        "assumptions": {
                            "measurement_files": [str(p) for p in measurement_files],
                            "catalog_overlays": [str(p) for p in catalog or []],
                            "error": "predicted / measured - 1",
                            "within": 0.30,
                            "latency_weight": LATENCY_WEIGHT,
                            "point_error_scale": POINT_ERROR_SCALE,
                            "pin_threshold": PIN_THRESHOLD,
                            "source": source,
                        },
                        "overlay": str(into) if written else None,
                        "skipped": skipped,
                    },
                    sys.stdout,
                )
            else:
                _tables(calibrations)
            for c in calibrations:
                if not c.fitted:
                    note(f"{c.engine} on {c.gpu}: the points pin down no field; the catalog's profile stays")
                for p in c.per_point:
                    if p["scope"] == "ttft" and abs(p["error_after"]) > 0.5:
                        note(
                            f"{p['id']}: TTFT still {p['error_after']:+.0%} off; the model has no request "
                            "queue, so a TTFT measured while requests waited for a batch slot cannot be matched"
                        )
            if into is None:
                if engines:
                    note(
                        "nothing written; add --into FILE to write the calibrated profile as a catalog overlay"
                    )
            elif written:
                args = " ".join(f"-g {c.gpu}" for c in calibrations if c.fitted)
                sys.stderr.write(
                    f"{written}; plan with it: selfhost crossover --rps 5 {args} --catalog {into}\n"
                )
            else:
                note(f"nothing written to {into}: no field was fitted")
            for line in skipped:
                note(f"skipped {line}")
            if skipped:
                raise typer.Exit(EXIT_SKIPPED)

        guarded(run)


def _write(
    into: Path,
    engines: list[Any],
    calibrations: list[GpuCalibration],
    files: list[Path],
    catalog: list[Path] | None,
) -> str | None:
    """Add each calibrated engine to the overlay ``into``; what was done, or None if nothing to write.

    Every engine id is checked against the file first, so a refused engine writes nothing.
    """
    from selfhost.catalog.overlay import append_engine, existing_ids
    from selfhost.errors import CatalogError

    if not engines:
        return None
    held = existing_ids(into, "engines")
    for engine in engines:
        if engine.id in held:
            raise CatalogError(
                f"'{into}' already has engine '{engine.id}'; entries are never overwritten: write to a new "
                "file with --into, or calibrate every measurement file in one run (each GPU gets its own "
                "override in one entry)"
            )
    header = "\n".join(
        f"selfhost calibrate {' '.join(str(f) for f in files)}: {c.engine} on {c.gpu}, "
        f"{', '.join(c.fitted)} fitted to {c.points} point(s)"
        for c in calibrations
        if c.fitted
    )
    import os

    from selfhost.catalog.loader import _env_paths

    context: list[str | Path] = [*_env_paths(os.environ), *(catalog or [])]  # what it was calibrated on
    hows = [append_engine(into, e, header=header, context=context) for e in engines]
    names = ", ".join(f"'{e.id}'" for e in engines)
    verb = "created" if hows[0] == "created" else "added to"
    return f"{verb} {into}: engine {names} with the calibrated GPU efficiencies"


def _tables(calibrations: list[GpuCalibration]) -> None:
    from selfhost.calibration.user import SHORT_NAMES
    from selfhost.cli.common import render_error_summary, signed_percent0, stdout_console
    from selfhost.render import Column, render_table, sig3, text

    out = stdout_console()
    for c in calibrations:
        fields = [
            {
                "field": SHORT_NAMES[name],
                "catalog": _value(name, c.before[name]),
                "calibrated": _value(name, c.after[name]),
                "sigma": f"×/÷ {math.exp(c.sigma[name]):.2f}"
                if name != "step_overhead_s"
                else f"± {c.sigma[name] * 1e3:g} ms",
                "status": "fitted" if name in c.fitted else f"kept: {c.kept.get(name, '')}",
            }
            for name in c.before
        ]
        render_table(
            fields,
            [
                Column("field", "Field", text, "left"),
                Column("catalog", "Catalog", text),
                Column("calibrated", "Calibrated", text),
                Column("sigma", "Prior sigma", text),
                Column("status", "", text, "left"),
            ],
            out,
            title=f"{c.engine} on {c.gpu}: {c.points} point(s) fitted, {c.excluded} left out",
        )
        errors = [
            {"profile": "catalog", **c.before_error.as_dict()},
            {"profile": "calibrated", **c.after_error.as_dict()},
        ]
        render_error_summary(
            errors,
            ("profile", "Profile"),
            out,
            title="Error of the fitted points (predicted / measured - 1)",
            bias=signed_percent0,
        )
        render_table(
            list(c.per_point),
            [
                Column("id", "Measurement", text, "left"),
                Column("scope", "Scope", text, "left"),
                Column("unit", "Unit", text, "left"),
                Column("measured", "Measured", sig3),
                Column("predicted_before", "Catalog", sig3),
                Column("error_before", "Error", signed_percent0),
                Column("predicted_after", "Calibrated", sig3),
                Column("error_after", "Error", signed_percent0),
            ],
            out,
        )


def _value(name: str, value: float) -> str:
    return f"{value * 1e3:.2f} ms" if name == "step_overhead_s" else f"{value:.2f}"
