"""Read GuideLLM benchmark reports (``guidellm benchmark ... --output-path x.json``, or YAML).

Two layouts, field names from vllm-project/guidellm's output models:

- v0.2/v0.3 (``src/guidellm/benchmark/benchmark.py`` at tag v0.3.0, ad9513fd5f8993123e9d1648cd20f532f199c72c):
  ``{"benchmarks": [GenerativeBenchmark]}``; a benchmark has ``args.strategy`` (``type_``
  synchronous / concurrent (``streams``) / throughput / constant / poisson (``rate``)),
  ``worker.backend_model``, ``request_loader.data``, ``request_totals``, ``start_time``,
  ``duration`` and ``metrics``.
- v0.4 and later (``src/guidellm/benchmark/schemas/generative/*.py`` at v0.4.0,
  f6175cdd8a88f0931bd46822ed7a71787dcd7cee; ``src/guidellm/benchmark/schemas/*.py`` at v0.7.3,
  39383552962841086d05e25c37b58a83ef06c758): a top-level ``metadata`` (``version`` 1, or 2 from
  v0.7 with ``guidellm_version``), and per benchmark ``config.strategy``, ``config.backend``,
  ``scheduler_metrics``, ``metrics.request_totals``.

Both keep each metric as a ``StatusDistributionSummary``: ``metrics.<name>.successful`` holds
``mean``, ``median``, ``std_dev``, ``min``, ``max``, ``count``, ``total_sum`` and
``percentiles.p99`` (and p001 ... p999). Imported:

- throughput: ``output_tokens_per_second.successful.mean``. GuideLLM builds it as a
  time-weighted rate distribution (``DistributionSummary.from_iterable_request_times``), whose
  mean is the output tokens of successful requests over the window from the first request's
  start to the last token: the run's throughput, as its console reports it.
- lengths: ``prompt_token_count`` / ``output_token_count`` means; fixed when both have
  ``min == max``.
- TTFT: ``time_to_first_token_ms``; TPOT: ``inter_token_latency_ms`` (``(latency - ttft) /
  (output tokens - 1)``). ``time_per_output_token_ms`` includes TTFT, so it is an extra metric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selfhost.errors import InputError
from selfhost.importers.common import (
    BenchRun,
    Concurrency,
    Document,
    LatencyStat,
    dig,
    number,
    positive_int,
    same_min_max,
)

TOOL = "guidellm"
#: Metric summaries copied into extra_metrics (mean / median / p99 of the successful requests).
EXTRA = (
    "requests_per_second",
    "request_concurrency",
    "request_latency",
    "tokens_per_second",
    "prompt_tokens_per_second",
    "time_per_output_token_ms",
    "output_token_count",
    "prompt_token_count",
)


def _benchmarks(doc: Document) -> list[Mapping[str, Any]]:
    if doc.kind not in ("json", "yaml") or not isinstance(doc.data, Mapping):
        return []
    items = doc.data.get("benchmarks")
    if not isinstance(items, list) or not items:
        return []
    if not all(isinstance(b, Mapping) and isinstance(b.get("metrics"), Mapping) for b in items):
        return []
    return list(items)


def looks_like(doc: Document) -> bool:
    return bool(_benchmarks(doc))


def why_not(doc: Document) -> str:
    if doc.kind in ("csv", "jsonl"):
        return f"it is {'a CSV file' if doc.kind == 'csv' else 'JSON lines'}, not one JSON/YAML report"
    if not isinstance(doc.data, Mapping):
        return "expected a JSON object with a 'benchmarks' list"
    if "benchmarks" not in doc.data:
        return "no 'benchmarks' list"
    return "'benchmarks' entries without 'metrics'"


def layout_of(report: Mapping[str, Any]) -> str:
    meta = report.get("metadata")
    if isinstance(meta, Mapping):
        version = meta.get("guidellm_version")
        return f"GuideLLM report v{meta.get('version')}" + (f" (guidellm {version})" if version else "")
    return "GuideLLM report (v0.2/v0.3 layout)"


def read(doc: Document, path: Path) -> list[BenchRun]:
    benchmarks = _benchmarks(doc)
    if not benchmarks:
        raise InputError(f"not a GuideLLM benchmark report: '{path}' has {why_not(doc)}")
    report = doc.data
    return [_run(report, b, path, i, len(benchmarks)) for i, b in enumerate(benchmarks)]


def _successful(metrics: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = dig(metrics, name, "successful")
    return value if isinstance(value, Mapping) else None


def _stat(summary: Mapping[str, Any] | None, statistic: str) -> float | None:
    if summary is None:
        return None
    if statistic == "p99":
        return number(dig(summary, "percentiles", "p99"))
    return number(summary.get(statistic))


def _strategy(report: Mapping[str, Any], bench: Mapping[str, Any]) -> Mapping[str, Any]:
    strategy = dig(bench, "config", "strategy")
    if not isinstance(strategy, Mapping):
        strategy = dig(bench, "args", "strategy")
    return strategy if isinstance(strategy, Mapping) else {}


def _load(strategy: Mapping[str, Any], where: str) -> tuple[Concurrency | None, float | None, str]:
    kind = str(strategy.get("type_") or "")
    if kind == "synchronous":
        return 1, None, "synchronous (one request at a time)"
    if kind == "concurrent":
        streams = positive_int(strategy.get("streams"))
        if streams is None:
            raise InputError(f"{where}: a concurrent strategy without 'streams'")
        return streams, None, f"concurrent, {streams} streams"
    if kind == "throughput":
        return "max", None, "throughput (as many requests in flight as the workers allow)"
    if kind in ("constant", "poisson"):
        rate = number(strategy.get("rate"))
        if rate is None or rate <= 0:
            raise InputError(f"{where}: a {kind} strategy without a positive 'rate'")
        return None, rate, f"{kind} rate {rate:g} requests/s"
    raise InputError(
        f"{where}: strategy {kind or 'missing'!r} is not one of synchronous, concurrent, throughput, constant, poisson"
    )


def _model(report: Mapping[str, Any], bench: Mapping[str, Any]) -> str:
    bench_keys: tuple[tuple[str, ...], ...] = (("config", "backend", "model"), ("worker", "backend_model"))
    for keys in bench_keys:
        value = dig(bench, *keys)
        if isinstance(value, str) and value:
            return value
    report_keys: tuple[tuple[str, ...], ...] = (("args", "model"), ("config", "spec", "backend", "model"))
    for keys in report_keys:
        value = dig(report, *keys)
        if isinstance(value, str) and value:
            return value
    return ""


def _date(bench: Mapping[str, Any]) -> str:
    start = number(bench.get("start_time"))
    if start is None:
        return ""
    return dt.datetime.fromtimestamp(start, tz=dt.timezone.utc).replace(microsecond=0).isoformat()


def _run(
    report: Mapping[str, Any], bench: Mapping[str, Any], path: Path, index: int, n_runs: int
) -> BenchRun:
    where = f"'{path}' benchmark {index + 1} of {n_runs}"
    metrics = bench["metrics"]
    totals = dig(metrics, "request_totals")
    if not isinstance(totals, Mapping):
        totals = bench.get("request_totals")
    completed = positive_int(dig(totals, "successful")) if isinstance(totals, Mapping) else None
    prompt = _successful(metrics, "prompt_token_count")
    output = _successful(metrics, "output_token_count")
    if completed is None and prompt is not None:
        completed = positive_int(prompt.get("count"))
    if completed is None:
        raise InputError(f"{where}: no successful request ('request_totals.successful')")
    mean_in, mean_out = _stat(prompt, "mean"), _stat(output, "mean")
    if mean_in is None or mean_out is None:
        raise InputError(f"{where}: no 'prompt_token_count' / 'output_token_count' means")
    throughput = _stat(_successful(metrics, "output_tokens_per_second"), "mean")
    if throughput is None or throughput <= 0:
        raise InputError(f"{where}: 'output_tokens_per_second.successful.mean' is missing or not positive")
    strategy = _strategy(report, bench)
    concurrency, rate, load_words = _load(strategy, where)
    latencies: list[LatencyStat] = []
    for metric, name in (("ttft", "time_to_first_token_ms"), ("tpot", "inter_token_latency_ms")):
        summary = _successful(metrics, name)
        for statistic in ("mean", "median", "p99"):
            value = _stat(summary, statistic)
            if value is not None and value > 0:
                field = f"metrics.{name}.successful." + (
                    "percentiles.p99" if statistic == "p99" else statistic
                )
                latencies.append(LatencyStat(metric, statistic, value, field))  # type: ignore[arg-type]
    extra: dict[str, float] = {}
    for name in EXTRA:
        summary = _successful(metrics, name)
        for statistic in ("mean", "median", "p99"):
            value = _stat(summary, statistic)
            if value is not None:
                extra[f"{name}_{statistic}"] = value
    for key in ("duration", "warmup_duration", "cooldown_duration"):
        value = number(bench.get(key))
        if value is not None:
            extra[f"{key}_s"] = value
    if isinstance(totals, Mapping):
        for status in ("errored", "incomplete", "total"):
            value = number(totals.get(status))
            if value is not None:
                extra[f"requests_{status}"] = value
    fixed = same_min_max(prompt, output)
    described: dict[str, Any] = {
        "layout": layout_of(report),
        "strategy": dict(strategy),
        "model": _model(report, bench),
    }
    data = dig(bench, "request_loader", "data")
    if data is not None:
        described["data"] = data
    return BenchRun(
        tool=TOOL,
        layout=layout_of(report),
        file=path,
        run_index=index,
        n_runs=n_runs,
        label=load_words,
        date=_date(bench),
        model_name=described["model"],
        input_tokens_mean=mean_in,
        output_tokens_mean=mean_out,
        lengths_fixed=fixed,
        concurrency=concurrency,
        request_rate=rate,
        completed=completed,
        output_tokens_per_s=throughput,
        latencies=tuple(latencies),
        extra_metrics=extra,
        described=described,
        notes=(f"GuideLLM strategy: {load_words}",),
    )


def describe(runs: Sequence[BenchRun]) -> str:
    return f"{runs[0].layout}, {len(runs)} benchmark(s)" if runs else "GuideLLM report"
