"""Read AIPerf and genai-perf summary exports: ``profile_export_aiperf.json`` / ``.csv`` and
``profile_export_genai_perf.json`` / ``.csv``.

Layouts, field names from the tools' exporters:

- AIPerf v0.1 JSON (ai-dynamo/aiperf tag v0.1.1, c2776b11393e9b029e81ef9dbed7b1b5c3d6c2eb,
  ``aiperf/exporters/json_exporter.py`` ``JsonExportData``): ``records`` maps a metric tag to a
  ``MetricResult`` (``tag``, ``unit``, ``header``, ``avg``, ``min``, ``max``, ``p1`` ... ``p99``,
  ``std``, ``count``); TTFT is tagged ``ttft``. Then ``input_config``, ``was_cancelled``,
  ``error_summary``, ``start_time``, ``end_time``.
- AIPerf from "Match GenAI-Perf format for json summary export" (#343, 43b78902, 2025-10-10;
  v0.3.0 and later, ``aiperf/common/models/export_models.py`` ``JsonExportData``): each metric
  is a top-level key holding ``{"unit", "avg", "p1" ... "p99", "min", "max", "std"}``; TTFT is
  ``time_to_first_token``. genai-perf writes the same top-level layout
  (triton-inference-server/perf_analyzer @ 263c5f6e0c7a6c15472a54409174981f67930cfe,
  ``genai-perf/genai_perf/export_data/json_exporter.py``: the stats dict plus ``input_config``).
- Load: AIPerf ``input_config.loadgen.concurrency`` / ``request_rate``; genai-perf
  ``input_config.perf_analyzer.stimulus`` (``{"concurrency": N}`` or ``{"request_rate": R}``),
  or in genai-perf before its config file (0.0.11, perf_analyzer @ a186b900ab7fd266f0743cdb8acff6e60ac775f9,
  where ``input_config`` is the command-line arguments) top-level ``input_config.concurrency`` /
  ``request_rate``.
- CSV (AIPerf ``metrics_csv_exporter.py``, genai-perf ``csv_exporter.py``): a block headed
  ``Metric,avg,min,max,p...`` with one row per metric named ``Header (unit)``, a blank line, a
  block ``Metric,Value``, then optional GPU telemetry blocks (ignored). genai-perf writes
  numbers with thousands separators (``"5,919.16"``). The CSV does not say how the load was
  driven: pass ``--concurrency`` or ``--request-rate``.

Imported: throughput ``output_token_throughput`` [tokens/sec], ``request_count``, mean lengths
``input_sequence_length`` / ``output_sequence_length`` (fixed when min == max), TTFT
``time_to_first_token`` (``ttft``), TPOT ``inter_token_latency`` (``(request_latency - ttft) /
(osl - 1)`` per request).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selfhost.errors import InputError
from selfhost.importers.common import (
    MS_PER_UNIT,
    BenchRun,
    Concurrency,
    Document,
    LatencyStat,
    dig,
    load_from,
    number,
    positive_int,
    same_min_max,
)

TOOL = "aiperf"
#: Canonical metric tag -> the names the layouts use for it.
TAGS: dict[str, tuple[str, ...]] = {
    "time_to_first_token": ("time_to_first_token", "ttft"),
    "inter_token_latency": ("inter_token_latency",),
    "output_token_throughput": ("output_token_throughput",),
    "request_throughput": ("request_throughput",),
    "request_count": ("request_count",),
    "input_sequence_length": ("input_sequence_length",),
    "output_sequence_length": ("output_sequence_length",),
    "request_latency": ("request_latency",),
    "benchmark_duration": ("benchmark_duration",),
    "error_request_count": ("error_request_count",),
    "output_token_throughput_per_user": ("output_token_throughput_per_user",),
    "time_to_second_token": ("time_to_second_token", "ttst"),
}
#: CSV row names (header without the unit, lower-cased) -> canonical tag.
CSV_NAMES: dict[str, str] = {
    "time to first token": "time_to_first_token",
    "inter token latency": "inter_token_latency",
    "output token throughput": "output_token_throughput",
    "request throughput": "request_throughput",
    "request count": "request_count",
    "input sequence length": "input_sequence_length",
    "output sequence length": "output_sequence_length",
    "num input token": "input_sequence_length",  # genai-perf before 0.0.8
    "num output token": "output_sequence_length",
    "request latency": "request_latency",
    "benchmark duration": "benchmark_duration",
    "error request count": "error_request_count",
    "output token throughput per user": "output_token_throughput_per_user",
    "time to second token": "time_to_second_token",
}
STATS = ("avg", "min", "max", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "std")


def _metric_table(doc: Document) -> dict[str, dict[str, Any]]:
    """Canonical tag -> its result mapping (unit, avg, p50, ...), from either JSON layout."""
    if doc.kind != "json" or not isinstance(doc.data, Mapping):
        return {}
    records = doc.data.get("records")
    source: Mapping[str, Any] = records if isinstance(records, Mapping) else doc.data
    table: dict[str, dict[str, Any]] = {}
    for tag, names in TAGS.items():
        for name in names:
            value = source.get(name)
            if isinstance(value, Mapping) and ("avg" in value or "unit" in value):
                table[tag] = dict(value)
                break
    return table


def looks_like(doc: Document) -> bool:
    if doc.kind == "csv":
        return doc.text.lstrip().startswith("Metric,")
    table = _metric_table(doc)
    return "output_token_throughput" in table and "request_count" in table


def why_not(doc: Document) -> str:
    if doc.kind == "csv":
        return "a CSV file whose first line is not 'Metric,...'"
    if doc.kind != "json" or not isinstance(doc.data, Mapping):
        return "expected a JSON object (profile_export_aiperf.json) or the CSV export"
    table = _metric_table(doc)
    missing = [t for t in ("output_token_throughput", "request_count") if t not in table]
    return f"no {', '.join(repr(m) for m in missing)} metric"


def layout_of(doc: Document) -> str:
    if doc.kind == "csv":
        return "AIPerf / genai-perf CSV export"
    data = doc.data
    if isinstance(data.get("records"), Mapping):
        return "AIPerf JSON export (v0.1 'records' layout)"
    config = data.get("input_config")
    if isinstance(config, Mapping) and (
        "loadgen" in config or ("endpoint" in config and "perf_analyzer" not in config)
    ):
        return "AIPerf JSON export (genai-perf-compatible layout)"
    return "genai-perf JSON export"


# --------------------------------------------------------------------------- CSV


def _csv_table(text: str, path: Path) -> dict[str, dict[str, Any]]:
    """The two metric blocks of an AIPerf / genai-perf CSV export as tag -> {unit, avg, ...}."""
    table: dict[str, dict[str, Any]] = {}
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(cell.strip() for cell in row):
            header = None
            continue
        if row[0].strip() == "Metric":
            header = [c.strip() for c in row]
            continue
        if header is None or header[0] != "Metric":
            continue  # a telemetry block (Endpoint,GPU_Index,...) or an unknown block
        match = re.match(r"^(?P<name>.*?)\s*(?:\((?P<unit>[^)]*)\))?\s*$", row[0])
        if match is None:
            continue
        tag = CSV_NAMES.get(match["name"].strip().lower())
        if tag is None:
            continue
        entry: dict[str, Any] = {"unit": match["unit"] or ""}
        if header[1:] == ["Value"]:
            entry["avg"] = number(row[1]) if len(row) > 1 else None
        else:
            for key, cell in zip(header[1:], row[1:], strict=False):
                entry[key] = number(cell)
        table.setdefault(tag, entry)
    if "output_token_throughput" not in table:
        raise InputError(f"not an AIPerf / genai-perf export: '{path}' has no 'Output Token Throughput' row")
    return table


# --------------------------------------------------------------------------- reading


def read(
    doc: Document, path: Path, *, concurrency: Concurrency | None = None, request_rate: float | None = None
) -> list[BenchRun]:
    """The one run of an export. ``concurrency`` / ``request_rate`` override (or, for a CSV,
    supply) how the load was driven."""
    if doc.kind == "csv":
        table = _csv_table(doc.text, path)
        config: Mapping[str, Any] = {}
        data: Mapping[str, Any] = {}
    else:
        if not looks_like(doc):
            raise InputError(f"not an AIPerf / genai-perf export: '{path}' has {why_not(doc)}")
        table = _metric_table(doc)
        data = doc.data
        found = data.get("input_config")
        config = found if isinstance(found, Mapping) else {}
    where = f"'{path}'"
    completed = positive_int(dig(table, "request_count", "avg"))
    if completed is None:
        raise InputError(f"{where}: 'request_count' is missing or zero; no request completed")
    throughput = number(dig(table, "output_token_throughput", "avg"))
    if throughput is None or throughput <= 0:
        raise InputError(f"{where}: 'output_token_throughput' is missing or not positive")
    isl, osl = table.get("input_sequence_length"), table.get("output_sequence_length")
    mean_in, mean_out = number(dig(isl, "avg")), number(dig(osl, "avg"))
    if mean_in is None or mean_out is None:
        raise InputError(f"{where}: no 'input_sequence_length' / 'output_sequence_length' averages")
    if concurrency is None and request_rate is None:
        concurrency, request_rate = _load(config)
    if concurrency is None and request_rate is None:
        what = "the CSV export does not say" if doc.kind == "csv" else "input_config does not say"
        raise InputError(f"{where}: {what} how the load was driven; pass --concurrency N or --request-rate R")
    latencies: list[LatencyStat] = []
    for metric, tag in (("ttft", "time_to_first_token"), ("tpot", "inter_token_latency")):
        result = table.get(tag)
        if result is None:
            continue
        scale = MS_PER_UNIT.get(str(result.get("unit") or "ms").lower())
        if scale is None:
            raise InputError(f"{where}: '{tag}' is in unit {result.get('unit')!r}; expected ms, s or ns")
        for key, statistic in (("avg", "mean"), ("p50", "median"), ("p99", "p99")):
            value = number(result.get(key))
            if value is not None and value > 0:
                latencies.append(LatencyStat(metric, statistic, value * scale, f"{tag}.{key}"))  # type: ignore[arg-type]
    extra: dict[str, float] = {}
    for tag, result in table.items():
        for key in STATS:
            value = number(result.get(key))
            if value is not None and not (
                tag in ("time_to_first_token", "inter_token_latency") and key in ("avg", "p50", "p99")
            ):
                extra[f"{tag}_{key}"] = value
    fixed = same_min_max(isl, osl)
    model = _model(config)
    described: dict[str, Any] = {"layout": layout_of(doc), "model": model}
    command = dig(config, "cli_command")
    if isinstance(command, str):
        described["cli_command"] = command
    if isinstance(data.get("was_cancelled"), bool):
        described["was_cancelled"] = data["was_cancelled"]
    notes = []
    errors = number(dig(table, "error_request_count", "avg"))
    if errors:
        notes.append(f"{errors:g} request(s) errored or were cancelled; the figures count completed requests")
    start = data.get("start_time")
    return [
        BenchRun(
            tool=TOOL,
            layout=layout_of(doc),
            file=path,
            run_index=0,
            n_runs=1,
            label="",
            date=str(start)[:19] if isinstance(start, str) else "",
            model_name=model,
            input_tokens_mean=mean_in,
            output_tokens_mean=mean_out,
            lengths_fixed=fixed,
            concurrency=concurrency,
            request_rate=request_rate,
            completed=completed,
            output_tokens_per_s=throughput,
            latencies=tuple(latencies),
            extra_metrics=extra,
            described=described,
            notes=tuple(notes),
        )
    ]


def _load(config: Mapping[str, Any]) -> tuple[Concurrency | None, float | None]:
    for concurrency, rate in (
        (dig(config, "loadgen", "concurrency"), dig(config, "loadgen", "request_rate")),  # AIPerf
        (
            dig(config, "perf_analyzer", "stimulus", "concurrency"),
            dig(config, "perf_analyzer", "stimulus", "request_rate"),
        ),
        (config.get("concurrency"), config.get("request_rate")),  # genai-perf <= 0.0.11
    ):
        if isinstance(concurrency, list):
            concurrency = concurrency[0] if len(concurrency) == 1 else None
        if isinstance(rate, list):
            rate = rate[0] if len(rate) == 1 else None
        found = load_from(concurrency, rate)
        if found != (None, None):
            return found
    return None, None


def _model(config: Mapping[str, Any]) -> str:
    for keys in (("endpoint", "model_names"), ("model_names",), ("model",)):
        value = dig(config, *keys)
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
        if isinstance(value, str):
            return value
    return ""


def describe(runs: Sequence[BenchRun]) -> str:
    return runs[0].layout if runs else "AIPerf export"
