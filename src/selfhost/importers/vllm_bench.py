"""Read vLLM's serving-benchmark result files: ``vllm bench serve --save-result`` and the older
``benchmarks/benchmark_serving.py --save-result``.

Field names are those the two scripts write (read at these commits):

- ``vllm/benchmarks/serve.py`` (vllm-project/vllm @ 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1):
  ``main_async`` writes ``date`` (``%Y%m%d-%H%M%S``), ``endpoint_type``, ``backend``, ``label``,
  ``model_id``, ``tokenizer_id``, ``num_prompts``, any ``--metadata KEY=VALUE`` pairs,
  ``request_rate`` (a number, or the string ``"inf"``), ``burstiness``, ``max_concurrency``,
  then ``benchmark()``'s ``duration``, ``completed``, ``failed``, ``total_input_tokens``,
  ``total_output_tokens``, ``request_throughput``, ``request_goodput``, ``output_throughput``,
  ``total_token_throughput``, ``max_output_tokens_per_s``, ``max_concurrent_requests`` and, per
  metric in ``--percentile-metrics`` (default ttft,tpot,itl), ``mean_/median_/std_<m>_ms`` and
  ``p<P>_<m>_ms`` for each ``--metric-percentiles`` (default 99). ``--save-detailed`` keeps the
  per-request lists (``input_lens``, ``output_lens``, ``ttfts``, ``itls``, ``errors``...).
  ``--append-result`` appends one JSON object per line. ``vllm bench sweep`` results (as the
  vLLM 0.25.1 files in tests/fixtures/bench_results show) add ``run_number`` and the swept
  serve/bench parameters (e.g. ``max_num_seqs``), and its ``summary.json`` is a JSON list of them.
- ``benchmarks/benchmark_serving.py`` (vllm-project/vllm @ 0049e29c41fd383bda519a3f250e3227713081ef):
  the same metrics, no ``endpoint_type``/``failed``, the goodput key spelled
  ``"request_goodput:"``; files from vLLM 0.6 (e.g. 0.6.3) also lack ``burstiness`` and
  ``max_concurrency`` and carry ``best_of``.

TPOT is ``(latency - ttft) / (output_len - 1)`` per request, averaged over requests with more than
one output token: the quantity the measurement schema calls tpot. ITL (gaps between streamed
chunks) goes to ``extra_metrics``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selfhost.errors import InputError
from selfhost.importers.common import (
    BenchRun,
    Document,
    LatencyStat,
    load_from,
    number,
    positive_int,
    scalar_metrics,
)

TOOL = "vllm"
#: Keys that make a JSON object a vLLM serving result.
REQUIRED = ("completed", "output_throughput")
#: Statistics imported as latency entries, by their key prefix.
STATISTICS = {"mean": "mean", "median": "median", "p99": "p99"}
#: Run settings (not measured figures): copied into as_published, not extra_metrics.
SETTINGS = (
    "num_prompts",
    "request_rate",
    "burstiness",
    "max_concurrency",
    "best_of",
    "max_num_seqs",
    "run_number",
)
#: Per-request lists of --save-detailed (never copied into extra_metrics).
DETAILED = (
    "input_lens",
    "output_lens",
    "ttfts",
    "itls",
    "latencies",
    "start_times",
    "queue_times",
    "generated_texts",
    "errors",
)


def looks_like(doc: Document) -> bool:
    """Whether the document is one vLLM result, a list of them, or JSON lines of them."""
    return bool(_results(doc))


def why_not(doc: Document) -> str:
    """What is missing, for the one-line error when this format was asked for."""
    if doc.kind == "csv":
        return "it is a CSV file, not JSON"
    first = doc.data[0] if isinstance(doc.data, list) and doc.data else doc.data
    if not isinstance(first, Mapping):
        return "expected a JSON object (or a list / JSON lines of objects)"
    missing = [k for k in REQUIRED if k not in first]
    return f"no {', '.join(repr(k) for k in missing)}" if missing else "unreadable result"


def _results(doc: Document) -> list[Mapping[str, Any]]:
    if doc.kind not in ("json", "jsonl"):
        return []
    items = doc.data if isinstance(doc.data, list) else [doc.data]
    if not items or not all(isinstance(x, Mapping) and all(k in x for k in REQUIRED) for x in items):
        return []
    return list(items)


def layout_of(result: Mapping[str, Any]) -> str:
    """Which script wrote the result, as far as its keys tell."""
    if "endpoint_type" in result or "failed" in result:
        return "vllm bench serve (vllm/benchmarks/serve.py)"
    return "benchmarks/benchmark_serving.py"


def read(doc: Document, path: Path) -> list[BenchRun]:
    """Every run in a vLLM result document.

    Raises:
        InputError: not a vLLM result, or a run without what an entry needs.
    """
    results = _results(doc)
    if not results:
        raise InputError(f"not a vLLM bench result: '{path}' has {why_not(doc)}")
    return [_run(r, path, i, len(results)) for i, r in enumerate(results)]


def _date(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    try:
        return dt.datetime.strptime(text, "%Y%m%d-%H%M%S").isoformat()
    except ValueError:
        return text


def _successful(result: Mapping[str, Any], n: int) -> list[bool] | None:
    errors = result.get("errors")
    if isinstance(errors, list) and len(errors) == n:
        return [not e for e in errors]
    return None


def _fixed_lengths(result: Mapping[str, Any]) -> bool:
    """True when --save-detailed lists show one prompt length and one output length."""
    inputs, outputs = result.get("input_lens"), result.get("output_lens")
    if not (
        isinstance(inputs, list) and isinstance(outputs, list) and inputs and len(inputs) == len(outputs)
    ):
        return False
    ok = _successful(result, len(inputs)) or [True] * len(inputs)
    ins = {x for x, good in zip(inputs, ok, strict=True) if good}
    outs = {x for x, good in zip(outputs, ok, strict=True) if good}
    return len(ins) == 1 and len(outs) == 1


def _mean_lengths(result: Mapping[str, Any], completed: int, where: str) -> tuple[float, float]:
    total_in, total_out = number(result.get("total_input_tokens")), number(result.get("total_output_tokens"))
    if total_in is not None and total_out is not None:
        return total_in / completed, total_out / completed
    inputs, outputs = result.get("input_lens"), result.get("output_lens")
    if isinstance(inputs, list) and isinstance(outputs, list) and len(inputs) == len(outputs) and inputs:
        ok = _successful(result, len(inputs)) or [True] * len(inputs)
        ins = [float(x) for x, good in zip(inputs, ok, strict=True) if good]
        outs = [float(x) for x, good in zip(outputs, ok, strict=True) if good]
        if ins:
            return sum(ins) / len(ins), sum(outs) / len(outs)
    raise InputError(f"{where}: no 'total_input_tokens'/'total_output_tokens' (nor per-request lengths)")


def _latencies(result: Mapping[str, Any]) -> tuple[list[LatencyStat], list[str]]:
    stats: list[LatencyStat] = []
    skipped: list[str] = []
    for metric in ("ttft", "tpot"):
        for prefix, statistic in STATISTICS.items():
            key = f"{prefix}_{metric}_ms"
            value = number(result.get(key))
            if value is None:
                continue
            if value <= 0:
                skipped.append(key)  # vLLM writes 0 when the endpoint did not stream
                continue
            stats.append(LatencyStat(metric, statistic, value, key))  # type: ignore[arg-type]
    return stats, skipped


def _run(result: Mapping[str, Any], path: Path, index: int, n_runs: int) -> BenchRun:
    where = f"'{path}'" + (f" result {index + 1} of {n_runs}" if n_runs > 1 else "")
    completed = positive_int(result.get("completed"))
    if completed is None:
        raise InputError(f"{where}: 'completed' is {result.get('completed')!r}; no request completed")
    throughput = number(result.get("output_throughput"))
    if throughput is None or throughput <= 0:
        raise InputError(
            f"{where}: 'output_throughput' is {result.get('output_throughput')!r}, not a positive rate"
        )
    mean_in, mean_out = _mean_lengths(result, completed, where)
    concurrency, rate = load_from(result.get("max_concurrency"), result.get("request_rate"))
    if concurrency is None and rate is None:
        raise InputError(f"{where}: no 'request_rate' or 'max_concurrency' says how the load was driven")
    latencies, skipped = _latencies(result)
    mapped = {"completed", "output_throughput"} | {s.field for s in latencies}
    extra = scalar_metrics(result, skip=mapped | set(SETTINGS))
    described = {
        k: v
        for k, v in result.items()
        if k not in DETAILED and (isinstance(v, str | bool) or v is None or k in SETTINGS)
    }
    notes = []
    if skipped:
        notes.append(f"{', '.join(skipped)} = 0 in the file (the endpoint did not stream), not imported")
    if rate is not None and positive_int(result.get("max_concurrency")) is not None:
        notes.append(f"also capped at max_concurrency {result.get('max_concurrency')} by the client")
    label = str(result.get("label") or "")
    if "run_number" in result:
        label = (label + " " if label else "") + f"run {result['run_number']}"
    return BenchRun(
        tool=TOOL,
        layout=layout_of(result),
        file=path,
        run_index=index,
        n_runs=n_runs,
        label=label,
        date=_date(result.get("date")),
        model_name=str(result.get("model_id") or ""),
        input_tokens_mean=mean_in,
        output_tokens_mean=mean_out,
        lengths_fixed=_fixed_lengths(result),
        concurrency=concurrency,
        request_rate=rate,
        completed=completed,
        output_tokens_per_s=throughput,
        latencies=tuple(latencies),
        extra_metrics=extra,
        described=described,
        notes=tuple(notes),
        max_num_seqs=positive_int(result.get("max_num_seqs")),
    )


def describe(runs: Sequence[BenchRun]) -> str:
    """One line naming the layout and the run count, for the command's summary."""
    layouts = sorted({r.layout for r in runs})
    return f"vLLM {' / '.join(layouts)}, {len(runs)} run(s)"
