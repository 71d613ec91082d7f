"""Real usage in, a traffic profile out: parse usage exports and logs into one form, aggregate
them into hourly request rates with NumPy, and summarise them as a `TrafficProfile`.

Sources read (docs/traffic-profile.md gives the exact fields):

- ``openai-usage-json``: the OpenAI Usage API's completions buckets
  (``GET /v1/organization/usage/completions``; a page ``{"object": "page", "data": [bucket]}``,
  a list of pages, JSON lines of pages, or a list of buckets). A bucket has ``start_time`` /
  ``end_time`` (Unix s) and ``results`` of ``organization.usage.completions.result`` with
  ``num_model_requests``, ``input_tokens`` (cached included), ``output_tokens`` and
  ``input_cached_tokens`` (openai/openai-openapi ``openapi.yaml`` 2.3.0 @ f85dbe223d40e1a31cba812ab2d755c7e98a92a3,
  schemas UsageResponse, UsageTimeBucket, UsageCompletionsResult).
- ``openai-usage-csv``: the usage dashboard's completions export, one row per bucket and group,
  columns named as the API's fields (``start_time``, ``end_time``, ``num_model_requests``,
  ``input_tokens``, ``output_tokens``, ``input_cached_tokens``; read by header name).
- ``litellm-spend-logs``: rows of LiteLLM's ``LiteLLM_SpendLogs`` table (BerriAI/litellm
  ``schema.prisma`` @ 029f645f1c81cbd6c6c48fbc8490d91da937066f): ``startTime``, ``call_type``,
  ``prompt_tokens``, ``completion_tokens``, ``status``, ``model``, ``metadata`` (cached tokens from
  ``metadata.usage_object.prompt_tokens_details.cached_tokens`` where present); as the
  ``/spend/logs`` JSON list, ``{"data": [...]}``, JSON lines or a CSV export of the table.
- ``jsonl-access-log``: one JSON object per request (an nginx ``log_format ... escape=json``
  line, or an application log): a time (``time``, ``time_iso8601``, ``timestamp``, ``msec``,
  ...), optional ``status`` (only 2xx counted), and token counts (``prompt_tokens`` /
  ``completion_tokens`` / ``cached_tokens``, or an OpenAI ``usage`` object). Streamed line by line.

Every source becomes either `Events` (one row per request) or `Buckets` (counts per time
window); `hourly_usage` turns either into requests per calendar hour, and `build_profile`
averages the calendar hours into a typical week (168 values) or day (24).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from selfhost.errors import InputError
from selfhost.inputs import first_text, iter_lines, json_problem, load_json, read_text, read_yaml
from selfhost.limits import MAX_MAGNITUDE, MAX_TOKENS
from selfhost.traffic_profile import (
    HOURS_PER_DAY,
    HOURS_PER_WEEK,
    ProfileSource,
    ProfileTokens,
    TokenStats,
    TrafficProfile,
    profile_from_document,
)

FloatArray = NDArray[np.float64]
SECONDS_PER_HOUR = 3600.0
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)

FORMATS: dict[str, str] = {
    "openai-usage-json": "OpenAI Usage API completions buckets (JSON page(s) or bucket list)",
    "openai-usage-csv": "OpenAI usage dashboard completions CSV export",
    "litellm-spend-logs": "LiteLLM spend logs (LiteLLM_SpendLogs rows: /spend/logs JSON, JSON lines or CSV)",
    "jsonl-access-log": "JSON-lines access log with a time and token counts (nginx escape=json or app log)",
    "traffic-profile": "a selfhost traffic profile (YAML, traffic_profile:)",
}
FORMATS_READ = "; ".join(f"{k} ({v})" for k, v in FORMATS.items())
COMPLETION_RESULT = "organization.usage.completions.result"


@dataclass
class Events:
    """One row per request: arrival time [Unix s] and tokens (NaN where unknown). Arrays, shape (n,)."""

    time_s: FloatArray
    input_tokens: FloatArray
    output_tokens: FloatArray
    cached_tokens: FloatArray
    notes: list[str] = field(default_factory=list)


@dataclass
class Buckets:
    """Counts per time window [start_s, end_s) (Unix s): requests and token totals. Arrays, shape (n,)."""

    start_s: FloatArray
    end_s: FloatArray
    requests: FloatArray
    input_tokens: FloatArray
    output_tokens: FloatArray
    cached_tokens: FloatArray  # NaN where the source has no cached count
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HourlyUsage:
    """Requests per calendar hour, from ``first_hour`` (hours since the Unix epoch, local time at
    ``utc_offset_hours``), and the token statistics of the same requests.

    requests_by_hour : Requests that arrived in each hour, shape (n_hours,). [count]
    """

    first_hour: int
    requests_by_hour: FloatArray
    tokens: ProfileTokens
    utc_offset_hours: float
    notes: tuple[str, ...]

    @property
    def rps_by_hour(self) -> FloatArray:
        """Mean arrival rate in each calendar hour. [requests/s]"""
        return np.asarray(self.requests_by_hour / SECONDS_PER_HOUR, dtype=float)


# --------------------------------------------------------------------------- time parsing


def parse_time(value: Any) -> float | None:
    """Unix seconds from an epoch number (s, ms, us or ns, by magnitude) or an ISO 8601 /
    nginx ``$time_local`` string; a time without a zone is read as UTC. None if not a time."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            x = float(value)
        except OverflowError:  # an integer beyond any float is no time
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text or text == "-":
            return None
        try:
            x = float(text)
        except ValueError:
            return _parse_time_text(text)
    else:
        return None
    if not math.isfinite(x) or x <= 0:
        return None
    for scale in (1e18, 1e15, 1e12):  # ns, us, ms since the epoch
        if x > scale:
            x = x / (scale / 1e9)
            break
    return x if x <= MAX_EPOCH_S else None


MAX_EPOCH_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def _parse_time_text(text: str) -> float | None:
    for fmt in ("%d/%b/%Y:%H:%M:%S %z",):  # nginx $time_local
        try:
            return dt.datetime.strptime(text, fmt).timestamp()
        except ValueError:
            pass
    iso = text.replace(" ", "T", 1)
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    if len(iso) >= 3 and iso[-3] in "+-" and iso[-2:].isdigit() and "T" in iso and iso[-6] != ":":
        iso += ":00"  # PostgreSQL writes "+00"
    try:
        moment = dt.datetime.fromisoformat(_trim_fraction(iso))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def _trim_fraction(iso: str) -> str:
    """Python 3.10's fromisoformat takes 3 or 6 fraction digits only: pad or cut to 6."""
    if "." not in iso:
        return iso
    head, rest = iso.split(".", 1)
    digits = "".join(c for c in rest if c.isdigit())
    zone = rest[len(digits) :]
    return f"{head}.{(digits + '000000')[:6]}{zone}"


def iso_hour(epoch_hour: int, utc_offset_hours: float) -> str:
    """The start of an hour (hours since the epoch, local) as ISO 8601 with its offset."""
    tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))
    moment = dt.datetime.fromtimestamp(
        epoch_hour * SECONDS_PER_HOUR - utc_offset_hours * SECONDS_PER_HOUR, tz=tz
    )
    return moment.isoformat()


# --------------------------------------------------------------------------- small helpers


def _num(value: Any) -> float:
    """A JSON / CSV number as float, NaN when missing, empty or not a number."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: as large as a float gets, then checked
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text or text == "-":
            return math.nan
        try:
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = load_json(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


class _Columns:
    """Growing float columns (array('d')) for streamed rows; to NumPy at the end."""

    def __init__(self, *names: str) -> None:
        self.data = {n: array("d") for n in names}

    def add(self, **values: float) -> None:
        for name, value in values.items():
            self.data[name].append(value)

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    def arrays(self, path: Path) -> dict[str, FloatArray]:
        """The columns as arrays, their counts checked (`_check_counts`)."""
        columns = {
            n: np.frombuffer(a, dtype=float).copy() if len(a) else np.zeros(0) for n, a in self.data.items()
        }
        _check_counts(columns, path)
        return columns


#: Counts a usage row may give: tokens of one request (an event), or requests and tokens of a
#: bucket (an hour or a day of an organisation's traffic). Missing (NaN) is allowed. [count]
COUNT_LIMITS = {"event": MAX_TOKENS, "bucket": MAX_MAGNITUDE}


def _check_counts(columns: dict[str, FloatArray], path: Path) -> None:
    """Refuse a count that is negative, infinite (a number too large for a float) or past
    `COUNT_LIMITS`, naming the file, the row's time and the column: one such row would turn
    every mean and percentile of the profile into inf or NaN."""
    kind, when = ("event", "time") if "time" in columns else ("bucket", "start")
    limit = COUNT_LIMITS[kind]
    for name in ("requests", "input", "output", "cached"):
        values = columns.get(name)
        if values is None:
            continue
        bad = ~np.isnan(values) & ~((values >= 0) & (values <= limit))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            at = dt.datetime.fromtimestamp(float(columns[when][i]), tz=dt.timezone.utc).isoformat()
            what = "requests" if name == "requests" else f"{name} tokens"
            shown = f"{values[i]:.4g}" if np.isfinite(values[i]) else "a number too large for a float"
            raise InputError(
                f"'{path}': the {'request' if kind == 'event' else 'bucket'} at {at} gives {what} = {shown}; "
                f"a count from 0 to {limit:,.0f} is needed"
            )


# --------------------------------------------------------------------------- OpenAI usage


def _openai_buckets(items: Iterable[Any], path: Path) -> Buckets:
    cols = _Columns("start", "end", "requests", "input", "output", "cached")
    other_results = 0
    seen: set[tuple[float, float, str]] = set()
    duplicates = 0
    for bucket in items:
        if not isinstance(bucket, Mapping) or "results" not in bucket:
            raise InputError(f"'{path}': a usage bucket without 'results' ({str(bucket)[:60]}...)")
        start, end = parse_time(bucket.get("start_time")), parse_time(bucket.get("end_time"))
        if start is None or end is None or end <= start:
            raise InputError(
                f"'{path}': a bucket with start_time {bucket.get('start_time')!r}, end_time {bucket.get('end_time')!r}"
            )
        key = (start, end, json.dumps(bucket.get("results"), sort_keys=True))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        requests = inp = out = 0.0
        cached = 0.0
        cached_known = False
        for result in bucket.get("results") or []:
            if not isinstance(result, Mapping):
                continue
            kind = result.get("object")
            if kind not in (None, COMPLETION_RESULT) or "num_model_requests" not in result:
                other_results += 1
                continue
            requests += _num(result.get("num_model_requests"))
            inp += _num(result.get("input_tokens"))
            out += _num(result.get("output_tokens"))
            c = _num(result.get("input_cached_tokens"))
            if not math.isnan(c):
                cached += c
                cached_known = True
        cols.add(
            start=start,
            end=end,
            requests=requests,
            input=inp,
            output=out,
            cached=cached if cached_known else math.nan,
        )
    if not len(cols):
        raise InputError(f"'{path}': no usage buckets")
    a = cols.arrays(path)
    notes = []
    if other_results:
        notes.append(f"{other_results} non-completions result(s) ignored (embeddings, images, ...)")
    if duplicates:
        notes.append(f"{duplicates} repeated bucket(s) counted once")
    return Buckets(a["start"], a["end"], a["requests"], a["input"], a["output"], a["cached"], notes)


def _openai_items(data: Any) -> list[Any] | None:
    """The buckets of a page, a list of pages, or a list of buckets; None if none of these."""
    if (
        isinstance(data, Mapping)
        and isinstance(data.get("data"), list)
        and data.get("object", "page") == "page"
    ):
        items = data["data"]
        return items if all(isinstance(b, Mapping) and "results" in b for b in items) else None
    if isinstance(data, list) and data:
        if all(isinstance(p, Mapping) and isinstance(p.get("data"), list) for p in data):
            return [b for p in data for b in p["data"]]
        if all(isinstance(b, Mapping) and "results" in b and "start_time" in b for b in data):
            return data
    return None


def _openai_csv(text: str, path: Path) -> Buckets:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if "num_model_requests" not in header:
        if {"start_time", "end_time"} <= set(header):
            raise InputError(
                f"'{path}' is an OpenAI usage export with no usage columns (an empty export: no requests in its range)"
            )
        raise InputError(
            f"'{path}': no 'num_model_requests' column; expected the usage dashboard's completions export"
        )
    cols = _Columns("start", "end", "requests", "input", "output", "cached")
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        start = parse_time(row.get("start_time")) or parse_time(row.get("start_time_iso"))
        end = parse_time(row.get("end_time")) or parse_time(row.get("end_time_iso"))
        if start is None:
            raise InputError(f"'{path}' line {number}: no start_time")
        if end is None or end <= start:
            end = start + 60.0  # a bucket without an end counts in the hour it starts
        requests = _num(row.get("num_model_requests"))
        cols.add(
            start=start,
            end=end,
            requests=0.0 if math.isnan(requests) else requests,
            input=_num(row.get("input_tokens")),
            output=_num(row.get("output_tokens")),
            cached=_num(row.get("input_cached_tokens")),
        )
    if not len(cols):
        raise InputError(f"'{path}': the export has a header but no rows")
    a = cols.arrays(path)
    return Buckets(
        a["start"],
        a["end"],
        a["requests"],
        np.nan_to_num(a["input"]),
        np.nan_to_num(a["output"]),
        a["cached"],
    )


# --------------------------------------------------------------------------- per-request rows

TIME_KEYS = (
    "msec",
    "time",
    "time_iso8601",
    "timestamp",
    "@timestamp",
    "ts",
    "time_local",
    "startTime",
    "start_time",
    "created",
)
INPUT_KEYS = ("prompt_tokens", "input_tokens")
OUTPUT_KEYS = ("completion_tokens", "output_tokens")
CACHED_KEYS = ("cached_tokens", "cached_input_tokens", "input_cached_tokens", "cache_read_input_tokens")


def _first(row: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = row.get(key)
        if value is not None and value != "" and value != "-":
            return value
    return None


def _row_tokens(row: Mapping[str, Any]) -> tuple[float, float, float]:
    usage = _as_mapping(row.get("usage")) or {}
    inp = _num(_first(row, INPUT_KEYS) if _first(row, INPUT_KEYS) is not None else _first(usage, INPUT_KEYS))
    out = _num(
        _first(row, OUTPUT_KEYS) if _first(row, OUTPUT_KEYS) is not None else _first(usage, OUTPUT_KEYS)
    )
    cached = _num(_first(row, CACHED_KEYS))
    if math.isnan(cached):
        cached = _num(_dig(usage, "prompt_tokens_details", "cached_tokens"))
    if math.isnan(cached):
        cached = _num(_dig(usage, "input_tokens_details", "cached_tokens"))
    return inp, out, cached


@dataclass
class _Skips:
    status: int = 0
    failed: int = 0
    non_completion: int = 0
    model: int = 0


def _add_access_row(
    row: Mapping[str, Any], cols: _Columns, skips: _Skips, only_model: str | None, where: str
) -> None:
    if only_model is not None and row.get("model") != only_model:
        skips.model += 1
        return
    status = _num(row.get("status"))
    if not math.isnan(status) and not 200 <= status < 300:
        skips.status += 1
        return
    t = parse_time(_first(row, TIME_KEYS))
    if t is None:
        raise InputError(f"{where}: no time ({', '.join(TIME_KEYS[:5])}, ...) in this line")
    inp, out, cached = _row_tokens(row)
    cols.add(time=t, input=inp, output=out, cached=cached)


def _add_spend_row(
    row: Mapping[str, Any], cols: _Columns, skips: _Skips, only_model: str | None, where: str
) -> None:
    if only_model is not None and only_model not in (row.get("model"), row.get("model_group")):
        skips.model += 1
        return
    status = str(row.get("status") or "success").lower()
    if status not in ("success", ""):
        skips.failed += 1
        return
    call = str(row.get("call_type") or "")
    if call and not any(k in call for k in ("completion", "responses", "generate", "chat")):
        skips.non_completion += 1
        return
    t = parse_time(row.get("startTime"))
    if t is None:
        raise InputError(f"{where}: 'startTime' {row.get('startTime')!r} is not a time")
    metadata = _as_mapping(row.get("metadata")) or {}
    cached = _num(_dig(metadata, "usage_object", "prompt_tokens_details", "cached_tokens"))
    if math.isnan(cached):
        cached = _num(_dig(metadata, "usage_object", "cache_read_input_tokens"))
    cols.add(
        time=t, input=_num(row.get("prompt_tokens")), output=_num(row.get("completion_tokens")), cached=cached
    )


def _events(cols: _Columns, skips: _Skips, path: Path) -> Events:
    if not len(cols):
        raise InputError(
            f"'{path}': no request rows to count" + (f" ({_skip_words(skips)})" if _skip_words(skips) else "")
        )
    a = cols.arrays(path)
    notes = [f"left out: {_skip_words(skips)}"] if _skip_words(skips) else []
    return Events(a["time"], a["input"], a["output"], a["cached"], notes)


def _skip_words(skips: _Skips) -> str:
    parts = []
    if skips.status:
        parts.append(f"{skips.status} non-2xx request(s)")
    if skips.failed:
        parts.append(f"{skips.failed} failed call(s)")
    if skips.non_completion:
        parts.append(f"{skips.non_completion} non-completion call(s) (embeddings, ...)")
    if skips.model:
        parts.append(f"{skips.model} row(s) of other models")
    return ", ".join(parts)


def _is_spend_row(row: Any) -> bool:
    return isinstance(row, Mapping) and "startTime" in row and ("prompt_tokens" in row or "call_type" in row)


# --------------------------------------------------------------------------- reading a file


@dataclass(frozen=True)
class Usage:
    """What a usage file held: events or buckets (or a ready profile), and its format name."""

    format: str
    data: Events | Buckets | TrafficProfile


def read_usage(path: str | Path, *, hint: str | None = None, only_model: str | None = None) -> Usage:
    """Parse a usage file into `Events`, `Buckets` or a `TrafficProfile`, recognising its format.

    ``hint`` forces one of `FORMATS`; ``only_model`` keeps the rows whose ``model`` (LiteLLM:
    or ``model_group``) equals it; an OpenAI export must then be grouped by model.

    Raises:
        InputError: unreadable, too large, not a format read here, or a bad row (named by line).
    """
    p = Path(path)
    if hint is not None and hint not in FORMATS:
        raise InputError(f"unknown --format-hint '{hint}'; use one of: {', '.join(FORMATS)}")
    head = first_text(p, "usage file").lstrip()
    guessed, layout = _sniff(p, head)
    fmt = hint or guessed
    if fmt is None:
        raise InputError(f"'{p}' is not a usage file this tool reads; formats read: {FORMATS_READ}")
    if fmt == "traffic-profile":
        return Usage(fmt, profile_from_document(read_yaml(p, "traffic profile"), p))
    if layout == "jsonl" and fmt in ("jsonl-access-log", "litellm-spend-logs"):
        return Usage(fmt, _stream_jsonl(p, fmt, only_model))
    if layout == "csv" and fmt == "openai-usage-csv":
        if only_model is not None:
            raise InputError(
                "--only-model is not supported for the CSV export; filter the export by model instead"
            )
        return Usage(fmt, _openai_csv(read_text(p, "usage file"), p))
    if layout == "csv" and fmt == "litellm-spend-logs":
        return Usage(fmt, _spend_csv(read_text(p, "usage file"), p, only_model))
    if layout != "document" or fmt not in ("openai-usage-json", "litellm-spend-logs"):
        raise InputError(
            f"'{p}' cannot be read as {fmt} (it looks like {layout}); formats read: {FORMATS_READ}"
        )
    text = read_text(p, "usage file")
    try:
        data: Any = load_json(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InputError(f"'{p}' is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        data = []
        for number, line in iter_lines(p, "usage file"):  # JSON lines of pages
            try:
                data.append(load_json(line))
            except ValueError as err:
                raise InputError(f"'{p}' line {number} is not valid JSON ({json_problem(err)})") from None
    except ValueError as exc:  # nested too deep, a number too long
        raise InputError(f"'{p}' cannot be read: {exc}") from None
    if fmt == "openai-usage-json":
        items = _openai_items(data)
        if items is None:
            raise InputError(
                f'\'{p}\' is not an OpenAI usage page: expected {{"object": "page", "data": [buckets]}}'
            )
        if only_model is not None:
            results = [r for b in items for r in b.get("results") or [] if isinstance(r, Mapping)]
            if not any(r.get("model") for r in results):
                raise InputError(
                    f"'{p}' is not grouped by model; export it with group_by=model to use --only-model"
                )
            items = [
                {
                    **b,
                    "results": [
                        r
                        for r in b.get("results") or []
                        if isinstance(r, Mapping) and r.get("model") == only_model
                    ],
                }
                for b in items
            ]
        return Usage(fmt, _openai_buckets(items, p))
    rows = data.get("data") if isinstance(data, Mapping) and isinstance(data.get("data"), list) else data
    if not isinstance(rows, list) or not rows or not all(_is_spend_row(r) for r in rows):
        raise InputError(
            f"'{p}' is not LiteLLM spend logs: expected rows with 'startTime' and 'prompt_tokens'"
        )
    cols, skips = _Columns("time", "input", "output", "cached"), _Skips()
    for i, row in enumerate(rows):
        _add_spend_row(row, cols, skips, only_model, f"'{p}' row {i + 1}")
    return Usage(fmt, _events(cols, skips, p))


def _sniff(path: Path, head: str) -> tuple[str | None, str]:
    """(format or None, layout: yaml, csv, jsonl or document) from the first bytes of a file."""
    first_line = head.splitlines()[0] if head else ""
    if first_line.startswith(("traffic_profile:", "#")) or path.suffix.lower() in (".yaml", ".yml"):
        return "traffic-profile", "yaml"
    if not head.startswith(("{", "[")):
        columns = {c.strip().strip('"') for c in first_line.split(",")}
        if "num_model_requests" in columns or {"start_time", "end_time"} <= columns:
            return "openai-usage-csv", "csv"
        if "startTime" in columns:
            return "litellm-spend-logs", "csv"
        return None, "csv"
    if head.startswith("["):
        if '"results"' in head or '"bucket"' in head or '"page"' in head:
            return "openai-usage-json", "document"
        return ("litellm-spend-logs" if '"startTime"' in head else None), "document"
    try:
        first = load_json(first_line)
    except ValueError:
        first = None
    if not isinstance(first, Mapping):  # a pretty-printed JSON object
        if '"results"' in head or '"page"' in head or '"bucket"' in head:
            return "openai-usage-json", "document"
        return ("litellm-spend-logs" if '"startTime"' in head else None), "document"
    rows = first.get("data")
    if isinstance(rows, list):  # a page or {"data": [...]}, one per line
        if first.get("object") == "page" or (rows and isinstance(rows[0], Mapping) and "results" in rows[0]):
            return "openai-usage-json", "document"
        return ("litellm-spend-logs" if rows and _is_spend_row(rows[0]) else None), "document"
    if first.get("object") == "bucket" or "results" in first:
        return "openai-usage-json", "document"
    if _is_spend_row(first):
        return "litellm-spend-logs", "jsonl"
    return "jsonl-access-log", "jsonl"


def _stream_jsonl(path: Path, fmt: str, only_model: str | None) -> Events:
    cols, skips = _Columns("time", "input", "output", "cached"), _Skips()
    add = _add_spend_row if fmt == "litellm-spend-logs" else _add_access_row
    for number, line in iter_lines(path, "usage file"):
        try:
            row = load_json(line)
        except ValueError as exc:
            raise InputError(f"'{path}' line {number} is not valid JSON ({json_problem(exc)})") from None
        if not isinstance(row, Mapping):
            raise InputError(f"'{path}' line {number} is not a JSON object")
        add(row, cols, skips, only_model, f"'{path}' line {number}")
    return _events(cols, skips, path)


def _spend_csv(text: str, path: Path, only_model: str | None) -> Events:
    reader = csv.DictReader(io.StringIO(text))
    if "startTime" not in (reader.fieldnames or []):
        raise InputError(f"'{path}': no 'startTime' column; expected an export of LiteLLM_SpendLogs")
    cols, skips = _Columns("time", "input", "output", "cached"), _Skips()
    for number, row in enumerate(reader, start=2):
        _add_spend_row(row, cols, skips, only_model, f"'{path}' line {number}")
    return _events(cols, skips, path)


# --------------------------------------------------------------------------- aggregation


def _token_stats(values: FloatArray, *, per_request: bool) -> TokenStats | None:
    known = values[~np.isnan(values)]
    if known.size == 0:
        return None
    if not per_request:
        return TokenStats(mean=float(known.mean()))
    p50, p95 = np.percentile(known, [50.0, 95.0])
    return TokenStats(mean=float(known.mean()), p50=float(p50), p95=float(p95))


def hourly_usage(
    data: Events | Buckets, *, utc_offset_hours: float = 0.0, trim_edges: bool = True
) -> HourlyUsage:
    """Requests per calendar hour (local at ``utc_offset_hours``) and the token statistics.

    Events: each request counts in the hour it arrived; the first and last hour of the log are
    left out of the counts when ``trim_edges`` (a log rarely starts or ends on the hour, so they
    are partial), though their requests still count in the token statistics.
    Buckets: a bucket of an hour or less counts in the hour it starts; a longer one (1 day) is
    spread evenly over its hours (the shape inside it is unknown, and a note says so). The hours
    covered run from the first bucket's start to the last bucket's end; empty buckets count as 0.
    """
    offset_s = utc_offset_hours * SECONDS_PER_HOUR
    notes = list(data.notes)
    if isinstance(data, Events):
        hours = np.floor((data.time_s + offset_s) / SECONDS_PER_HOUR).astype(np.int64)
        first, last = int(hours.min()), int(hours.max())
        counts = np.bincount(hours - first, minlength=last - first + 1).astype(float)
        if trim_edges and counts.size >= 3:
            counts, first = counts[1:-1], first + 1
            notes.append(
                "the first and last hour of the log are left out of the hourly rates (likely partial)"
            )
        tokens = ProfileTokens(
            input=_token_stats(data.input_tokens, per_request=True),
            output=_token_stats(data.output_tokens, per_request=True),
            cached_input=_token_stats(data.cached_tokens, per_request=True),
        )
        return HourlyUsage(first, counts, tokens, utc_offset_hours, tuple(notes))
    start_h = (data.start_s + offset_s) / SECONDS_PER_HOUR
    end_h = (data.end_s + offset_s) / SECONDS_PER_HOUR
    first, last = int(np.floor(start_h.min())), int(np.ceil(end_h.max()))
    counts = np.zeros(max(1, last - first), dtype=float)
    short = (end_h - start_h) <= 1.0 + 1e-9
    np.add.at(counts, np.floor(start_h[short]).astype(np.int64) - first, data.requests[short])
    long_rows = np.flatnonzero(~short)
    for i in long_rows:
        lo, hi = int(np.floor(start_h[i])) - first, int(np.ceil(end_h[i])) - first
        counts[lo:hi] += data.requests[i] / (hi - lo)
    if long_rows.size:
        width = float(np.median(end_h[long_rows] - start_h[long_rows]))
        notes.append(
            f"buckets of {width:g} h are spread evenly over their hours: the shape inside them is unknown "
            "(ask the Usage API for bucket_width=1h)"
        )
    total = float(data.requests.sum())
    if total <= 0:
        raise InputError("the usage holds no requests")

    def mean_of(totals: FloatArray) -> TokenStats | None:
        known = ~np.isnan(totals)
        if not known.any() or data.requests[known].sum() <= 0:
            return None
        return TokenStats(mean=float(totals[known].sum() / data.requests[known].sum()))

    tokens = ProfileTokens(
        input=mean_of(data.input_tokens),
        output=mean_of(data.output_tokens),
        cached_input=mean_of(data.cached_tokens),
    )
    notes.append("token percentiles need per-request data; buckets give means only")
    return HourlyUsage(first, counts, tokens, utc_offset_hours, tuple(notes))


def hour_of_week(epoch_hours: NDArray[np.int64]) -> NDArray[np.int64]:
    """Hour of the week (Monday 00:00 = 0 ... Sunday 23:00 = 167) of hours since the epoch."""
    h = np.asarray(epoch_hours, dtype=np.int64)
    return ((h // HOURS_PER_DAY + EPOCH_WEEKDAY) % 7) * HOURS_PER_DAY + h % HOURS_PER_DAY


@dataclass(frozen=True)
class ProfileStats:
    """Summary of the calendar hours behind a profile. [requests/s] unless named otherwise."""

    hours: int
    requests: float
    mean_rps: float
    p95_hour_rps: float
    peak_hour_rps: float
    first: str
    last: str


def calendar_stats(usage: HourlyUsage) -> ProfileStats:
    """Mean, 95th-percentile hour and peak hour of the calendar hours. [requests/s]"""
    rps = usage.rps_by_hour
    n = rps.size
    return ProfileStats(
        hours=n,
        requests=float(usage.requests_by_hour.sum()),
        mean_rps=float(rps.mean()),
        p95_hour_rps=float(np.percentile(rps, 95.0)),
        peak_hour_rps=float(rps.max()),
        first=iso_hour(usage.first_hour, usage.utc_offset_hours),
        last=iso_hour(usage.first_hour + n, usage.utc_offset_hours),
    )


def profile_stats(profile: TrafficProfile) -> ProfileStats:
    """The same summary over the profile's own hours (a profile file has no calendar behind it)."""
    rps = np.asarray(profile.hourly_rps, dtype=float)
    return ProfileStats(
        hours=profile.source.hours_observed or rps.size,
        requests=float(profile.source.requests),
        mean_rps=float(rps.mean()),
        p95_hour_rps=float(np.percentile(rps, 95.0)),
        peak_hour_rps=float(rps.max()),
        first=profile.source.first,
        last=profile.source.last,
    )


def build_profile(
    usage: HourlyUsage,
    *,
    shape: Literal["auto", "week", "day"] = "auto",
    source_file: str,
    source_format: str,
    description: str = "",
) -> TrafficProfile:
    """Average the calendar hours into a typical week (168 values: needs 168 h or more) or day
    (24 values: needs 24 h or more); ``auto`` takes the week when there is one.

    Raises:
        InputError: too few hours for the shape asked.
    """
    n = usage.requests_by_hour.size
    if shape == "auto":
        shape = "week" if n >= HOURS_PER_WEEK else "day"
    need = HOURS_PER_WEEK if shape == "week" else HOURS_PER_DAY
    if n < need:
        raise InputError(
            f"a typical {shape} needs at least {need} hours of usage; this covers {n} "
            + ("(try --shape day)" if shape == "week" and n >= HOURS_PER_DAY else "")
        )
    hours = usage.first_hour + np.arange(n, dtype=np.int64)
    slot = hour_of_week(hours) if shape == "week" else hours % HOURS_PER_DAY
    sums = np.bincount(slot, weights=usage.rps_by_hour, minlength=need)
    seen = np.bincount(slot, minlength=need)
    hourly = sums / seen
    stats = calendar_stats(usage)
    source = ProfileSource(
        file=source_file,
        format=source_format,
        first=stats.first,
        last=stats.last,
        hours_observed=n,
        requests=round(stats.requests),
        notes=usage.notes,
    )
    return TrafficProfile(
        description=description,
        utc_offset_hours=usage.utc_offset_hours,
        hourly_rps=tuple(float(x) for x in hourly),
        tokens=usage.tokens,
        source=source,
    )


def daily_shape(profile: TrafficProfile) -> FloatArray:
    """Mean rate by hour of day (24 values), averaged over the profile's days. [requests/s]"""
    rps = np.asarray(profile.hourly_rps, dtype=float)
    return np.asarray(rps.reshape(-1, HOURS_PER_DAY).mean(axis=0), dtype=float)


def weekly_shape(profile: TrafficProfile) -> FloatArray | None:
    """Mean rate by day of week (7 values, Monday first), or None for a one-day profile. [requests/s]"""
    if profile.shape != "week":
        return None
    return np.asarray(
        np.asarray(profile.hourly_rps, dtype=float).reshape(7, HOURS_PER_DAY).mean(axis=1), dtype=float
    )


def iter_hours(profile: TrafficProfile) -> Iterator[tuple[int, float]]:
    yield from enumerate(profile.hourly_rps)


@dataclass(frozen=True)
class WorkloadProfile:
    """A usage file read into a profile: the profile, its calendar statistics, the format read."""

    profile: TrafficProfile
    stats: ProfileStats
    format: str


def profile_from_file(
    path: str | Path,
    *,
    hint: str | None = None,
    only_model: str | None = None,
    shape: Literal["auto", "week", "day"] = "auto",
    utc_offset_hours: float = 0.0,
    description: str = "",
) -> WorkloadProfile:
    """Read a usage file (or a profile) and build its traffic profile and statistics.

    Raises:
        InputError: see `read_usage`, `build_profile`.
    """
    import pydantic

    usage = read_usage(path, hint=hint, only_model=only_model)
    if isinstance(usage.data, TrafficProfile):
        return WorkloadProfile(usage.data, profile_stats(usage.data), usage.format)
    try:
        hourly = hourly_usage(usage.data, utc_offset_hours=utc_offset_hours)
        profile = build_profile(
            hourly,
            shape=shape,
            source_file=Path(path).name,
            source_format=usage.format,
            description=description,
        )
    except pydantic.ValidationError as exc:  # figures of the file outside a profile's ranges
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()[:3]
        )
        raise InputError(
            f"'{path}' holds usage outside what a traffic profile can hold ({problems}); check its token "
            "and request counts"
        ) from None
    return WorkloadProfile(profile, calendar_stats(hourly), usage.format)


def summary_record(w: WorkloadProfile) -> dict[str, Any]:
    """The profile's headline figures as one flat record (units in the keys)."""
    p, s = w.profile, w.stats
    t = p.tokens
    record: dict[str, Any] = {
        "format": w.format,
        "shape": p.shape,
        "utc_offset_hours": p.utc_offset_hours,
        "first": s.first,
        "last": s.last,
        "hours_observed": s.hours,
        "requests": s.requests,
        "mean_rps": s.mean_rps,
        "p95_hour_rps": s.p95_hour_rps,
        "peak_hour_rps": s.peak_hour_rps,
        "profile_mean_rps": p.mean_rps,
        "profile_peak_rps": p.peak_rps,
    }
    for name, stats in (("input", t.input), ("output", t.output), ("cached_input", t.cached_input)):
        for key in ("mean", "p50", "p95"):
            record[f"{name}_tokens_{key}"] = getattr(stats, key) if stats is not None else None
    return record
