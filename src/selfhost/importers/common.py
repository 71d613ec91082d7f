"""The record every result-file parser produces, and the helpers they share.

A `BenchRun` is one benchmark run as its tool reported it, in the tool's own terms but with
one vocabulary: mean input and output length per request, how the load was driven
(concurrency or request rate), completed requests, output tokens/s over the whole endpoint,
and time-to-first-token / time-per-output-token statistics in milliseconds. The parsers
(`vllm_bench`, `guidellm`, `aiperf`) only read files; `selfhost.importers.measurements` turns
runs into measurement entries.

TPOT means one thing here, the decode time per token seen by one request after its first:
``(latency - TTFT) / (output tokens - 1)``. vLLM's ``*_tpot_ms``, GuideLLM's
``inter_token_latency_ms`` and AIPerf's / genai-perf's ``inter_token_latency`` all compute
that; GuideLLM's ``time_per_output_token_ms`` (latency / output tokens, TTFT included) and
vLLM's ``*_itl_ms`` (gaps between streamed chunks) do not, and go to ``extra_metrics``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from selfhost.errors import InputError
from selfhost.inputs import (
    BYTES_PER_MB,
    MAX_DOCUMENT_BYTES,
    json_problem,
    load_json,
    load_yaml,
    read_text,
    yaml_problem,
)

Statistic = Literal["mean", "median", "p90", "p95", "p99"]
Concurrency = int | Literal["max"]

#: Milliseconds per unit of a time figure, by the unit names the tools write.
MS_PER_UNIT: dict[str, float] = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "sec": 1e3}


@dataclass(frozen=True)
class LatencyStat:
    """One latency figure of a run: ``metric`` (ttft or tpot), which ``statistic``, its value.

    value_ms : The figure. [ms]
    field : Where it was read in the file (its key), for the entry's notes.
    """

    metric: Literal["ttft", "tpot"]
    statistic: Statistic
    value_ms: float
    field: str


@dataclass(frozen=True)
class BenchRun:
    """One benchmark run read from a result file.

    input_tokens_mean, output_tokens_mean : Mean prompt and completion length of the completed
        requests. [tokens]
    lengths_fixed : True only when the file shows every request had the same lengths.
    concurrency : Requests in flight (client-side cap), 'max' (all sent at once), or None.
    request_rate : Arrival rate the tool was set to, or None. [requests/s]
    completed : Requests that completed. [count]
    output_tokens_per_s : Output tokens per second over the endpoint, as the tool reports
        it. [tokens/s]
    """

    tool: str
    layout: str
    file: Path
    run_index: int
    n_runs: int
    label: str
    date: str
    model_name: str
    input_tokens_mean: float
    output_tokens_mean: float
    lengths_fixed: bool
    concurrency: Concurrency | None
    request_rate: float | None
    completed: int
    output_tokens_per_s: float
    latencies: tuple[LatencyStat, ...] = ()
    extra_metrics: dict[str, float] = field(default_factory=dict)
    described: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    max_num_seqs: int | None = None


# --------------------------------------------------------------------------- reading documents


@dataclass(frozen=True)
class Document:
    """A result file's content: ``kind`` json (one value, or a list for JSON lines), yaml or csv."""

    kind: Literal["json", "jsonl", "yaml", "csv"]
    data: Any
    text: str


def load_document(path: Path) -> Document:
    """Read ``path`` (bounded, see `selfhost.inputs`) and parse it by its content.

    CSV when the first line starts with ``Metric,`` (AIPerf / genai-perf) or the name ends in
    .csv; YAML for .yaml/.yml (GuideLLM writes YAML reports too); else JSON, or JSON lines
    (``vllm bench serve --append-result`` writes one result per line).
    """
    text = read_text(path, "result file")
    stripped = text.lstrip()
    if path.suffix.lower() == ".csv" or stripped.startswith("Metric,"):
        return Document("csv", None, text)
    if path.suffix.lower() in (".yaml", ".yml"):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise InputError(
                f"'{path}' is larger than the {MAX_DOCUMENT_BYTES // BYTES_PER_MB} MB limit for YAML"
            )
        try:
            return Document("yaml", load_yaml(text), text)
        except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
            raise InputError(f"'{path}' is not valid YAML: {yaml_problem(exc)}") from None
    if not stripped:
        raise InputError(f"'{path}' is empty")
    try:
        return Document("json", load_json(text), text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InputError(
                f"'{path}' is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    except ValueError as exc:  # nested too deep, a number too long
        raise InputError(f"'{path}' cannot be read: {exc}") from None
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(load_json(line))
        except ValueError as exc:
            raise InputError(f"'{path}' line {number} is not valid JSON ({json_problem(exc)})") from None
    return Document("jsonl", values, text)


# --------------------------------------------------------------------------- small helpers


def number(value: Any) -> float | None:
    """A finite float from a JSON number (or numeric string), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def dig(data: Any, *keys: str | int) -> Any:
    """``data[k1][k2]...`` or None where a level is missing or of the wrong type."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(data, list) or not -len(data) <= key < len(data):
                return None
        elif not isinstance(data, Mapping):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def scalar_metrics(
    data: Mapping[str, Any], skip: set[str] | frozenset[str] = frozenset()
) -> dict[str, float]:
    """Every finite numeric top-level value of ``data`` (bools and lists left out), by key."""
    out: dict[str, float] = {}
    for key, value in data.items():
        if key in skip:
            continue
        x = number(value) if not isinstance(value, str) else None
        if x is not None:
            out[str(key)] = x
    return out


def same_min_max(*summaries: Mapping[str, Any] | None) -> bool:
    """Whether every summary is given and its ``min`` equals its ``max`` (a length every request
    had: the tools' statistics of prompt and output lengths)."""
    return all(
        s is not None and number(s.get("min")) is not None and number(s.get("min")) == number(s.get("max"))
        for s in summaries
    )


def positive_int(value: Any) -> int | None:
    x = number(value)
    return int(x) if x is not None and x >= 1 and float(x).is_integer() else None


def load_from(concurrency: Any, request_rate: Any) -> tuple[Concurrency | None, float | None]:
    """How a run was driven, from a concurrency cap and a request rate as the tools write them.

    A finite rate wins (the concurrency cap, if any, only limited it); an infinite or missing
    rate with a cap is that concurrency; neither is None, None (the caller decides).
    """
    rate = number(request_rate)
    if isinstance(request_rate, str) and request_rate.strip().lower() in ("inf", "infinity"):
        rate = math.inf
    cap = positive_int(concurrency)
    if rate is not None and math.isfinite(rate) and rate > 0:
        return None, rate
    if cap is not None:
        return cap, None
    if rate is not None and math.isinf(rate):
        return "max", None
    return None, None
