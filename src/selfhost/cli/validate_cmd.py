"""`selfhost validate`: predict published (or your own) measurements and show the error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from selfhost.cli import options as o

WorstOpt = Annotated[
    int, typer.Option("--worst", min=0, help="How many of the largest errors the summary lists.")
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse the whole file if any entry is invalid or names an unknown id (default: skip "
        "those entries, report each with its location, validate the rest and exit with code 1).",
    ),
]

#: Exit code when some entries were skipped but the rest were validated.
EXIT_SKIPPED = 1
#: Rows of the per-point table by default: every built-in point (150) and then some; a Rich
#: table of 5,000 rows takes seconds to lay out, and JSON / CSV always hold every row. [count]
DEFAULT_TABLE_ROWS = 250


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        measurements_file: Path | None = typer.Argument(
            None,
            help="Measurements YAML file (default: the built-in data/calibration/measurements.yaml).",
            show_default=False,
        ),
        catalog: o.CatalogOpt = None,
        fmt: o.FormatOpt = o.OutputFormat.table,
        worst: WorstOpt = 5,
        strict: StrictOpt = False,
        wide: o.WideOpt = False,
        limit: Annotated[
            int,
            typer.Option(
                "--limit",
                min=0,
                help="Rows of the per-point table at most (0 = all; JSON and CSV hold every row).",
            ),
        ] = DEFAULT_TABLE_ROWS,
    ) -> None:
        """Predict every measurement in a file and show predicted vs measured, per point and summarized.

        Each entry names a deployment by catalog ids (model, GPU, quantization, engine, GPU count),
        the workload (input/output tokens, concurrency or 'max', or a request rate) and what was
        measured (scope: total, per_gpu, single_stream, tpot, ttft, prefill). The error is
        predicted / measured - 1; the summary gives the median absolute error, the share within
        +-30 % and the worst points, overall, per engine and per dataset. Write your own benchmarks
        in the same format (schema: selfhost.calibration.schema.Measurement, see
        docs/accuracy.md) and add models or GPUs they need with --catalog.

        An entry that does not match the schema or names an id the catalog does not know is
        skipped with its location on stderr (and under "skipped" in JSON); the others are
        validated and the exit code is 1. --strict refuses the file instead (exit code 2), as
        does a file with no good entry.

        Examples:

          selfhost validate

          selfhost validate my-benchmarks.yaml --catalog my-gpus.yaml --format json

          selfhost validate my-benchmarks.yaml --strict
        """
        from selfhost.cli.common import (
            guarded,
            load,
            note,
            render_error_summary,
            signed_percent0,
            signed_percent1,
            stdout_console,
            whole,
        )

        def run() -> None:
            import sys

            from selfhost.calibration.loader import builtin_measurements_path, load_measurements
            from selfhost.calibration.report import validate as validate_report
            from selfhost.render import Column, render_table, sig3, text, write_csv, write_json, write_jsonl

            path = measurements_file or builtin_measurements_path()
            cat = load(catalog)
            loaded = load_measurements(path, cat, strict=strict)
            resolved = loaded.resolved
            report = validate_report(resolved, worst=worst)
            report.assumptions.update(
                {
                    "measurements_file": str(path),
                    "catalog_overlays": [str(p) for p in catalog or []],
                    "error": "predicted / measured - 1",
                    "within": 0.30,
                    "strict": strict,
                }
            )
            excluded = sum(1 for r in report.results if r["excluded_from_fit"])
            notes = []
            if excluded:
                notes.append(
                    f"{excluded} point(s) marked exclude_from_fit are validated too (the engine fit left them out)"
                )
            unfit = [r["id"] for r in report.results if not r["fits_memory"]]
            if unfit:
                notes.append(
                    "the memory model says these do not fit, predicted at batch 1 anyway: " + ", ".join(unfit)
                )
            if fmt is o.OutputFormat.json:
                document = report.document()
                document["notes"] = notes
                document["skipped"] = loaded.skipped
                write_json(document, sys.stdout)
            elif fmt is o.OutputFormat.jsonl:
                write_jsonl(report.results, sys.stdout)
            elif fmt is o.OutputFormat.csv:
                write_csv(
                    report.results, sys.stdout, fallback_header=["id", "measured", "predicted", "error"]
                )
            else:
                results = report.results if limit == 0 else report.results[:limit]
                if len(results) < len(report.results):
                    note(f"showing {len(results)} of {len(report.results)} points; --limit 0 shows all")
                shown = [{**r, "load": _load(r)} for r in results]
                columns = [
                    Column("id", "Measurement", text, "left", hyphens=True),
                    Column("engine", "Engine", text, "left", priority=2),
                    Column("gpu", "GPU", text, "left", priority=1),
                    Column("n_gpus", "GPUs", text, priority=3),
                    Column("input_tokens", "In", text, priority=3),
                    Column("output_tokens", "Out", text, priority=3),
                    Column("load", "Concurrency", text, priority=3),
                    Column("scope", "Scope", text, "left", priority=1),
                    Column("unit", "Unit", text, "left", priority=2),
                    Column("measured", "Measured", sig3),
                    Column("predicted", "Predicted", sig3),
                    Column("error", "Error", signed_percent0),
                ]
                out = stdout_console()
                render_table(
                    shown, columns, out, title=f"Predicted vs measured ({path.name})", wide=whole(wide)
                )
                rows = _summary_rows(report.summary)
                render_error_summary(
                    rows, ("subset", "Subset"), out, title="Summary", bias=signed_percent1, wide=whole(wide)
                )
                worst_text = ", ".join(
                    f"{w['id']} ({signed_percent0(w['error'])})" for w in report.summary["worst"]
                )
                if worst_text:
                    out.print(f"Worst: {worst_text}", markup=False)
            for line in notes:
                note(line)
            if loaded.skipped:
                for line in loaded.skipped:
                    note(f"skipped {line}")
                note(
                    f"{len(loaded.skipped)} entr{'y was' if len(loaded.skipped) == 1 else 'ies were'} skipped, "
                    f"{len(resolved)} validated; --strict refuses a file with any bad entry"
                )
                raise typer.Exit(EXIT_SKIPPED)

        guarded(run)


def _load(record: dict[str, object]) -> str:
    """'max', '64', or '2 req/s' for a rate-driven run."""
    if record["concurrency"] is not None:
        return str(record["concurrency"])
    return f"{record['request_rate_per_s']:g} req/s"


def _summary_rows(summary: dict[str, object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [{"subset": "all", **summary}]
    for kind in ("by_engine", "by_dataset"):
        groups = summary.get(kind)
        if isinstance(groups, dict):
            rows += [{"subset": name, **stats} for name, stats in groups.items()]
    return rows
