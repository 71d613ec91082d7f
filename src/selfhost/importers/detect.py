"""Recognise a result file's tool from its content (or take the user's hint) and read its runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selfhost.errors import InputError
from selfhost.importers import aiperf, guidellm, vllm_bench
from selfhost.importers.common import BenchRun, Concurrency, load_document

#: Format names (for --format-hint) and what each reads, for error messages.
FORMATS: dict[str, str] = {
    "vllm": "vLLM bench serve / benchmark_serving.py result JSON (keys 'completed', 'output_throughput')",
    "guidellm": "GuideLLM benchmark report JSON or YAML ('benchmarks[].metrics')",
    "aiperf": "AIPerf / genai-perf profile_export JSON or CSV ('output_token_throughput', 'request_count')",
}
FORMATS_READ = "; ".join(FORMATS.values())
LABELS = {"vllm": "vLLM bench", "guidellm": "GuideLLM", "aiperf": "AIPerf / genai-perf"}


@dataclass(frozen=True)
class ImportedFile:
    """The runs read from one file, and which format and layout they came in."""

    path: Path
    format: str
    description: str
    runs: tuple[BenchRun, ...]


def read_results(
    path: str | Path,
    *,
    hint: str | None = None,
    concurrency: Concurrency | None = None,
    request_rate: float | None = None,
) -> ImportedFile:
    """Every run in the result file at ``path``.

    ``hint`` (vllm, guidellm, aiperf) forces a format instead of recognising it.
    ``concurrency`` / ``request_rate`` override how the load was driven (an AIPerf CSV needs one).

    Raises:
        InputError: unreadable or too large (see selfhost.inputs), not a format read here, or a
            run without what a measurement needs; the message names the file.
    """
    p = Path(path)
    if hint is not None and hint not in FORMATS:
        raise InputError(f"unknown --format-hint '{hint}'; use one of: {', '.join(FORMATS)}")
    doc = load_document(p)
    modules = {"vllm": vllm_bench, "guidellm": guidellm, "aiperf": aiperf}
    fmt = hint
    if fmt is None:
        fmt = next((name for name, module in modules.items() if module.looks_like(doc)), None)
        if fmt is None:
            raise InputError(
                f"'{p}' is not a benchmark result file this tool reads; formats read: {FORMATS_READ}"
            )
    elif not modules[fmt].looks_like(doc):
        raise InputError(
            f"not a {LABELS[fmt]} result: '{p}' has {modules[fmt].why_not(doc)}; formats read: {FORMATS_READ}"
        )
    if fmt == "vllm":
        runs = vllm_bench.read(doc, p)
        description = vllm_bench.describe(runs)
    elif fmt == "guidellm":
        runs = guidellm.read(doc, p)
        description = guidellm.describe(runs)
    else:
        runs = aiperf.read(doc, p, concurrency=concurrency, request_rate=request_rate)
        description = aiperf.describe(runs)
    if fmt != "aiperf" and (concurrency is not None or request_rate is not None):
        runs = [_with_load(r, concurrency, request_rate) for r in runs]
    return ImportedFile(path=p, format=fmt, description=description, runs=tuple(runs))


def _with_load(run: BenchRun, concurrency: Concurrency | None, request_rate: float | None) -> BenchRun:
    import dataclasses

    note = f"load set on the command line ({'concurrency ' + str(concurrency) if concurrency is not None else f'{request_rate:g} requests/s'})"
    return dataclasses.replace(
        run, concurrency=concurrency, request_rate=request_rate, notes=(*run.notes, note)
    )
