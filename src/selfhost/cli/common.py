"""Shared CLI plumbing: errors, notes, the catalog, and writing a report in the chosen format.

Every command module imports what it needs from here; nothing imports the entry point
(`selfhost.cli.app`), which only builds the app from the command modules. Heavy modules
(numpy, pydantic, the engine, Rich) are imported inside the functions, so that
`selfhost --help` starts fast.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from selfhost.cli import options as o
from selfhost.errors import SelfhostError

if TYPE_CHECKING:
    from rich.console import Console

    from selfhost.analysis import CostAssumptions, Report
    from selfhost.catalog.schema import Catalog
    from selfhost.render import Column
    from selfhost.scenarios import ReplicaConfig

T = TypeVar("T")

USAGE_EXIT_CODE = 2
CALIBRATION_TAG = "calibration"  # models kept to test the throughput model, not offered by default
PIPED_TABLE_WIDTH = 200  # Rich would wrap at 80 columns when stdout is not a terminal


def note(text: str) -> None:
    """A plain line on stderr: notes never mix with the data on stdout (and need no Rich)."""
    sys.stderr.write(f"note: {text}\n")


def stdout_console() -> Console:
    """Console for tables on stdout; wide when piped so rows are not folded."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    # markup/emoji off: table cells hold catalog text, which may contain '[...]' or ':name:'
    return Console(highlight=False, markup=False, emoji=False, width=PIPED_TABLE_WIDTH if piped else None)


def fail(message: str) -> None:
    """Print a one-line error to stderr and exit with the usage-error code."""
    # plain text: messages echo user input and catalog text, which must not be read as markup
    typer.secho("Error:", fg="red", bold=True, err=True, nl=False)
    typer.echo(f" {message}", err=True)
    raise typer.Exit(USAGE_EXIT_CODE)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``, turning the core's errors into one-line messages (exit code 2)."""
    try:
        return fn()
    except SelfhostError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc


def load(catalog_paths: Sequence[Path] | None) -> Catalog:
    """The catalog: built-in files, $SELFHOST_CATALOG, then ``--catalog`` overlays."""
    from selfhost.catalog.loader import load_catalog

    return load_catalog(list(catalog_paths or []))


def emit(
    report: Report,
    fmt: o.OutputFormat,
    columns: Sequence[Column],
    title: str,
    limit: int = 0,
    section_key: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Write the report to stdout in the chosen format; notes and warnings go to stderr.

    ``section_key`` draws a rule between groups of table rows (table format only).
    """
    from selfhost.render import render_table, write_csv, write_json

    shown = report.results if limit == 0 else report.results[:limit]
    if len(shown) < len(report.results):
        note(f"showing {len(shown)} of {len(report.results)} rows; --limit 0 shows all")
    if fmt is o.OutputFormat.json:
        doc = report.document()
        doc["results"] = shown
        doc["notes"] = report.notes
        write_json(doc, sys.stdout)
        for text in report.notes:  # also on stderr, as for table and CSV, so a pipe does not hide them
            note(text)
        return
    if fmt is o.OutputFormat.csv:
        write_csv(shown, sys.stdout, fallback_header=[c.key for c in columns])
        for text in report.notes:
            note(text)
        return
    console = stdout_console()
    render_table(shown, columns, console, title=title, section_key=section_key)
    if report.verdict:
        console.print(report.verdict, soft_wrap=True)
    for text in report.notes:
        note(text)


def resolve_all(entries: Sequence[T], queries: Sequence[str] | None, kind: str, section: str) -> list[T]:
    from selfhost.catalog.lookup import resolve_many

    if not queries:
        return list(entries)
    return resolve_many(entries, queries, kind=kind, list_command=f"selfhost catalog list {section}")  # type: ignore[type-var]


def build_workload(
    input_tokens: int,
    output_tokens: int,
    context: int | None,
    max_tpot_ms: float,
    max_ttft_ms: float,
    kv_dtype: str,
) -> Any:
    from selfhost.errors import InputError
    from selfhost.scenarios import KV_BYTES_PER_ELEMENT, Workload

    if kv_dtype not in KV_BYTES_PER_ELEMENT:
        raise InputError(f"unknown --kv-dtype '{kv_dtype}'; use one of: {', '.join(KV_BYTES_PER_ELEMENT)}")
    context_tokens = context if context is not None else input_tokens + output_tokens
    if context_tokens < input_tokens + output_tokens:
        raise InputError(
            f"--context {context_tokens} is shorter than one request ({input_tokens} input + {output_tokens} output tokens)"
        )
    return Workload(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        context_tokens=context_tokens,
        max_tpot_ms=max_tpot_ms,
        max_ttft_ms=max_ttft_ms,
        kv_dtype=kv_dtype,  # type: ignore[arg-type]
    )


def select_configs(
    catalog: Catalog,
    models: Sequence[str] | None,
    gpus: Sequence[str] | None,
    quants: Sequence[str] | None,
    counts: Sequence[int] | None,
    engine: str,
    *,
    priced: CostAssumptions | None = None,
    measured_only: bool = False,
    evidence: Catalog | None = None,
) -> list[ReplicaConfig]:
    """Replica configs for the selection. Defaults: every model except those kept only to test
    the throughput model (tag 'calibration'); every GPU, or with ``priced`` every GPU that has
    a price of the requested kinds (a GPU nobody rents cannot be costed). ``measured_only`` keeps
    the configs whose GPU has measurements behind the engine profile, as ``evidence`` (default:
    ``catalog``) records them: a baseline catalog is judged by today's measurements."""
    from selfhost.catalog.lookup import resolve
    from selfhost.errors import InputError
    from selfhost.scenarios import compatibility_problem, default_engine, price_options, replica_configs

    model_list = resolve_all(catalog.models, models, "model", "models")
    if not models:
        model_list = [m for m in model_list if CALIBRATION_TAG not in m.tags]
    gpu_list = resolve_all(catalog.gpus, gpus, "GPU", "gpus")
    if priced is not None and not gpus:
        gpu_list = [
            g
            for g in gpu_list
            if price_options(
                catalog,
                g,
                pricing=priced.pricing,
                providers=priced.providers,
                hours_per_month=priced.hours_per_month,
            )
        ]
    quant_list = resolve_all(catalog.quantizations, quants, "quantization", "quants")
    engine_entry = (
        None
        if engine == "auto"
        else resolve(catalog.engines, engine, kind="engine", list_command="selfhost catalog list engines")
    )
    for n in counts or []:
        if n < 1:
            raise InputError(f"--gpus {n} must be at least 1")
    configs = replica_configs(
        catalog, models=model_list, quants=quant_list, gpus=gpu_list, gpu_counts=counts, engine=engine_entry
    )
    if not configs:
        # Say why for the simplest explicit case, else generally.
        if len(model_list) == 1 and len(gpu_list) == 1 and len(quant_list) == 1:
            chosen = engine_entry or default_engine(catalog, quant_list[0], gpu_list[0])
            if chosen is None:
                raise InputError(
                    f"no serving engine in the catalog runs {quant_list[0].id} on {gpu_list[0].id}"
                )
            problem = compatibility_problem(
                model_list[0], quant_list[0], gpu_list[0], (counts or [1])[0], chosen
            )
            if problem:
                raise InputError(problem)
        raise InputError(
            "no runnable model x quantization x GPU combination in this selection; widen --model/--gpu/--quant"
        )
    if measured_only:
        measured = {e.id: set(e.measured_gpus) for e in (evidence or catalog).engines}
        configs = [c for c in configs if c.gpu.id in measured.get(c.engine.id, set())]
        if not configs:
            raise InputError(
                "--measured-only: no GPU in this selection has published measurements behind its engine "
                "profile; widen --gpu/--engine (docs/accuracy.md lists the measured GPUs) or drop the option"
            )
    return configs


def cost_assumptions(
    ops: float,
    setup: float,
    util: float,
    min_replicas: int,
    hours: float,
    cached: float,
    pricing: Sequence[str] | None,
    providers: Sequence[str] | None,
) -> Any:
    from selfhost.analysis import CostAssumptions
    from selfhost.scenarios import check_pricing_kinds

    return CostAssumptions(
        hours_per_month=hours,
        ops_usd_per_month=ops,
        setup_usd=setup,
        target_utilization=util,
        min_replicas=min_replicas,
        cached_input_fraction=cached,
        pricing=tuple(check_pricing_kinds(pricing or ["on-demand"])),
        providers=tuple(providers or ()),
    )


def echo_measured_only(report: Report, measured_only: bool) -> Report:
    """Echo ``--measured-only`` in the assumptions: a selection the catalog entries alone do not show."""
    report.assumptions["measured_only"] = measured_only
    return report


def check_rps(rps: float) -> None:
    from selfhost.errors import InputError

    if not 0 <= rps < math.inf:
        raise InputError(f"--rps {rps:g} must be a finite, non-negative number of requests per second")
