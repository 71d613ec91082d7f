"""Usage exports and logs become an hourly traffic profile.

The usage files here are constructed in each test from the field names the sources document
(OpenAI's openapi.yaml, LiteLLM's schema.prisma, the nginx log_format of
docs/traffic-profile.md), with known counts so the profile can be checked exactly; the one file
copied from a source is the Usage API's documented example response
(tests/fixtures/usage/SOURCES.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import Result

from selfhost.errors import InputError
from selfhost.traffic import (
    Buckets,
    Events,
    build_profile,
    calendar_stats,
    hour_of_week,
    hourly_usage,
    parse_time,
    profile_from_file,
    read_usage,
)
from selfhost.traffic_profile import TrafficProfile, dump_profile, read_profile

Cli = Callable[..., Result]
MONDAY = 1736121600  # 2025-01-06T00:00:00Z, a Monday
HOUR = 3600
EXAMPLE = Path(__file__).parent / "fixtures" / "usage" / "openai_usage_completions_example.json"


def weekly_counts(h: int) -> int:
    """A known shape: requests in hour-of-week h (busier on weekdays 09-17)."""
    day, hour = divmod(h % 168, 24)
    return 20 + (400 if day < 5 and 9 <= hour < 18 else 0) + hour


def openai_page(weeks: int = 2, width_s: int = HOUR, results_per_bucket: int = 1) -> dict:
    buckets = []
    for i in range(weeks * 168 * HOUR // width_s):
        start = MONDAY + i * width_s
        h = (start - MONDAY) // HOUR
        n = weekly_counts(h) if width_s == HOUR else 1
        results = [
            {
                "object": "organization.usage.completions.result",
                "input_tokens": 1000 * n,
                "input_cached_tokens": 250 * n,
                "output_tokens": 300 * n,
                "num_model_requests": n,
                "model": f"gpt-4o-{k}",
            }
            for k in range(results_per_bucket)
        ]
        buckets.append(
            {"object": "bucket", "start_time": start, "end_time": start + width_s, "results": results}
        )
    return {"object": "page", "data": buckets, "has_more": False, "next_page": None}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- OpenAI Usage API


def test_hourly_usage_buckets_give_the_week_exactly(tmp_path: Path):
    path = write(tmp_path / "usage.json", json.dumps(openai_page(weeks=2)))
    w = profile_from_file(path)
    assert w.format == "openai-usage-json"
    assert w.profile.shape == "week"
    expected = np.array([weekly_counts(h) for h in range(168)]) / HOUR
    assert np.allclose(w.profile.hourly_rps, expected, rtol=1e-12)
    series = np.tile(expected, 2)
    assert w.stats.mean_rps == pytest.approx(series.mean())
    assert w.stats.p95_hour_rps == pytest.approx(np.percentile(series, 95))
    assert w.stats.peak_hour_rps == pytest.approx(series.max())
    assert w.stats.hours == 336
    assert w.stats.first == "2025-01-06T00:00:00+00:00" and w.stats.last == "2025-01-20T00:00:00+00:00"
    assert w.profile.tokens.input.mean == pytest.approx(
        1000
    ) and w.profile.tokens.output.mean == pytest.approx(300)
    assert w.profile.cached_input_fraction == pytest.approx(0.25)
    assert w.profile.tokens.input.p50 is None  # buckets give means only


def test_minute_buckets_add_up_into_hours_and_grouped_results_are_summed(tmp_path: Path):
    page = openai_page(weeks=1, width_s=60, results_per_bucket=3)  # 3 models x 1 request a minute
    path = write(tmp_path / "usage.json", json.dumps(page))
    w = profile_from_file(path)
    assert np.allclose(w.profile.hourly_rps, 180 / HOUR)  # 60 minutes x 3 results


def test_only_model_keeps_one_models_results(tmp_path: Path):
    path = write(tmp_path / "usage.json", json.dumps(openai_page(weeks=1, width_s=60, results_per_bucket=3)))
    w = profile_from_file(path, only_model="gpt-4o-1")
    assert np.allclose(w.profile.hourly_rps, 60 / HOUR)


def test_pages_as_a_list_or_json_lines_and_repeated_buckets_count_once(tmp_path: Path):
    page = openai_page(weeks=1)
    half = len(page["data"]) // 2
    first, second = dict(page, data=page["data"][: half + 5]), dict(page, data=page["data"][half:])
    as_list = write(tmp_path / "pages.json", json.dumps([first, second]))
    as_lines = write(tmp_path / "pages.jsonl", json.dumps(first) + "\n" + json.dumps(second) + "\n")
    expected = np.array([weekly_counts(h) for h in range(168)]) / HOUR
    for path in (as_list, as_lines):
        w = profile_from_file(path)
        assert np.allclose(w.profile.hourly_rps, expected)
        assert "5 repeated bucket(s) counted once" in w.profile.source.notes


def test_daily_buckets_are_spread_over_the_day_and_say_so(tmp_path: Path):
    w = profile_from_file(EXAMPLE)  # the API reference's example: one 1d bucket, 5 requests
    assert w.profile.shape == "day"
    assert np.allclose(w.profile.hourly_rps, 5 / 86400)
    assert any("spread evenly" in n and "bucket_width=1h" in n for n in w.profile.source.notes)
    assert w.profile.tokens.input.mean == pytest.approx(
        200
    ) and w.profile.tokens.cached_input.mean == pytest.approx(80)


def test_the_dashboard_csv_export_is_read_by_column_name(tmp_path: Path):
    out = io.StringIO()
    fields = [
        "start_time",
        "end_time",
        "start_time_iso",
        "end_time_iso",
        "project_id",
        "num_model_requests",
        "input_tokens",
        "output_tokens",
        "input_cached_tokens",
        "input_uncached_tokens",
        "model",
    ]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for i in range(24 * 60):
        start = MONDAY + i * 60
        iso = dt.datetime.fromtimestamp(start, dt.timezone.utc).isoformat()
        writer.writerow(
            {
                "start_time": start,
                "end_time": start + 60,
                "start_time_iso": iso,
                "end_time_iso": iso,
                "project_id": "proj_x",
                "num_model_requests": "2.0",
                "input_tokens": 1600,
                "output_tokens": 400,
                "input_cached_tokens": 800,
                "input_uncached_tokens": 800,
                "model": "",
            }
        )
    path = write(tmp_path / "completions_usage_2025-01-06_2025-01-06.csv", out.getvalue())
    w = profile_from_file(path)
    assert w.format == "openai-usage-csv" and w.profile.shape == "day"
    assert np.allclose(w.profile.hourly_rps, 120 / HOUR)
    assert w.profile.tokens.input.mean == pytest.approx(
        800
    ) and w.profile.cached_input_fraction == pytest.approx(0.5)


def test_an_empty_dashboard_export_says_it_has_no_usage(tmp_path: Path):
    path = write(tmp_path / "empty.csv", "start_time,end_time,start_time_iso,end_time_iso\n")
    with pytest.raises(InputError, match="an empty export"):
        read_usage(path)


# --------------------------------------------------------------------------- LiteLLM spend logs


def spend_rows(n_days: int = 1) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for h in range(n_days * 24):
        for j in range(h % 24 + 1):  # hour h of a day: h + 1 requests
            start = MONDAY + h * HOUR + j * (HOUR / (h % 24 + 2))
            stamp = dt.datetime.fromtimestamp(start, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            rows.append(
                {
                    "request_id": f"r{h}-{j}",
                    "call_type": "acompletion",
                    "api_key": "hash",
                    "spend": 0.001,
                    "total_tokens": 0,
                    "prompt_tokens": int(rng.integers(100, 2000)),
                    "completion_tokens": int(rng.integers(10, 500)),
                    "startTime": stamp,
                    "endTime": stamp,
                    "model": "gpt-4o",
                    "model_group": "chat",
                    "status": "success",
                    "metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 64}}},
                }
            )
    return rows


def test_spend_logs_give_per_request_token_percentiles(tmp_path: Path):
    rows = spend_rows(n_days=2)
    rows.append({**rows[0], "request_id": "emb", "call_type": "aembedding"})
    rows.append({**rows[0], "request_id": "bad", "status": "failure"})
    path = write(tmp_path / "spend.json", json.dumps(rows))
    usage = read_usage(path)
    assert usage.format == "litellm-spend-logs" and isinstance(usage.data, Events)
    w = profile_from_file(path, shape="day")
    prompts = np.array([r["prompt_tokens"] for r in rows[:-2]], dtype=float)
    assert w.profile.tokens.input.mean == pytest.approx(prompts.mean())
    assert w.profile.tokens.input.p50 == pytest.approx(np.percentile(prompts, 50))
    assert w.profile.tokens.input.p95 == pytest.approx(np.percentile(prompts, 95))
    assert w.profile.tokens.cached_input.mean == pytest.approx(64)
    assert "left out: 1 failed call(s), 1 non-completion call(s) (embeddings, ...)" in w.profile.source.notes
    # hour h of the day had h + 1 requests; the log's first and last hour are left out as partial,
    # so hour 0 is seen once (day 2) and hour 23 once (day 1)
    assert np.allclose(w.profile.hourly_rps, (np.arange(24) + 1) / HOUR)
    assert w.stats.hours == 46


def test_spend_logs_as_data_wrapper_json_lines_and_a_psql_csv(tmp_path: Path):
    rows = spend_rows(n_days=1)
    wrapped = write(tmp_path / "v2.json", json.dumps({"data": rows, "total": len(rows)}))
    lines = write(tmp_path / "spend.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=[
            "request_id",
            "call_type",
            "startTime",
            "prompt_tokens",
            "completion_tokens",
            "status",
            "metadata",
        ],
    )
    writer.writeheader()
    for r in rows:  # psql \copy writes timestamps like 2025-01-06 10:15:00.123+00 and JSON as text
        t = (
            dt.datetime.strptime(r["startTime"], "%Y-%m-%dT%H:%M:%S.%fZ").strftime("%Y-%m-%d %H:%M:%S.%f")[
                :-3
            ]
            + "+00"
        )
        writer.writerow(
            {
                **{
                    k: r[k]
                    for k in ("request_id", "call_type", "prompt_tokens", "completion_tokens", "status")
                },
                "startTime": t,
                "metadata": json.dumps(r["metadata"]),
            }
        )
    table = write(tmp_path / "spend.csv", out.getvalue())
    counts = [read_usage(p).data.time_s.size for p in (wrapped, lines, table)]
    assert counts == [len(rows)] * 3
    assert np.allclose(read_usage(table).data.time_s, read_usage(lines).data.time_s, atol=1e-3)
    assert np.nanmean(read_usage(table).data.cached_tokens) == 64


# --------------------------------------------------------------------------- JSON-lines access logs


def test_an_nginx_json_access_log_counts_2xx_and_reads_tokens_from_strings(tmp_path: Path):
    lines = []
    for h in range(26):
        for j in range(3):
            t = dt.datetime.fromtimestamp(MONDAY + h * HOUR + j * 60, dt.timezone.utc).isoformat()
            lines.append(
                {
                    "time": t,
                    "request_time": 1.2,
                    "status": 200,
                    "prompt_tokens": "900",
                    "completion_tokens": "100",
                    "cached_tokens": "",
                }
            )
    lines.append(
        {
            "time": lines[5]["time"],
            "status": 429,
            "prompt_tokens": "",
            "completion_tokens": "",
            "cached_tokens": "",
        }
    )
    path = write(tmp_path / "access.log", "".join(json.dumps(x) + "\n" for x in lines))
    w = profile_from_file(path)
    assert w.format == "jsonl-access-log"
    assert np.allclose(w.profile.hourly_rps, 3 / HOUR)
    assert w.profile.tokens.input.mean == 900 and w.profile.tokens.cached_input is None  # unknown, not 0
    assert "left out: 1 non-2xx request(s)" in w.profile.source.notes


def test_an_application_log_with_openai_usage_objects(tmp_path: Path):
    rows = [
        {
            "timestamp": MONDAY + i * 100,
            "usage": {
                "prompt_tokens": 50,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 10},
            },
        }
        for i in range(36 * 30)
    ]
    path = write(tmp_path / "app.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    w = profile_from_file(path)
    assert (
        w.profile.tokens.input.mean,
        w.profile.tokens.output.mean,
        w.profile.tokens.cached_input.mean,
    ) == (50, 7, 10)
    assert np.allclose(w.profile.hourly_rps, 36 / HOUR)


def test_a_line_that_is_not_json_is_named(tmp_path: Path):
    path = write(tmp_path / "access.log", '{"time": 1736121600}\nnot json\n')
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        read_usage(path)
    path = write(tmp_path / "access2.log", '{"time": 1736121600}\n{"status": 200}\n')
    with pytest.raises(InputError, match="line 2: no time"):
        read_usage(path)


# --------------------------------------------------------------------------- aggregation


def test_local_time_moves_the_hours():
    events = Events(
        time_s=np.array([MONDAY + 9 * HOUR + 60.0 * i for i in range(10)] + [MONDAY + 40 * HOUR]),
        input_tokens=np.ones(11),
        output_tokens=np.ones(11),
        cached_tokens=np.full(11, np.nan),
    )
    utc = hourly_usage(events, utc_offset_hours=0, trim_edges=False)
    east = hourly_usage(events, utc_offset_hours=2, trim_edges=False)
    assert build_profile(utc, shape="day", source_file="x", source_format="x").hourly_rps[9] == pytest.approx(
        10 / HOUR / 2
    )
    assert build_profile(east, shape="day", source_file="x", source_format="x").hourly_rps[
        11
    ] == pytest.approx(10 / HOUR / 2)
    assert calendar_stats(east).first.endswith("+02:00")


def test_hour_of_week_starts_on_monday():
    monday_hour = MONDAY // HOUR
    assert hour_of_week(
        np.array([monday_hour, monday_hour + 23, monday_hour + 24 * 6 + 23, monday_hour + 168])
    ).tolist() == [0, 23, 167, 0]


def test_too_little_usage_for_the_shape_asked(tmp_path: Path):
    buckets = Buckets(
        *(np.array([MONDAY + i * HOUR for i in range(30)], dtype=float) for _ in range(1)),
        end_s=np.array([MONDAY + (i + 1) * HOUR for i in range(30)], dtype=float),
        requests=np.ones(30),
        input_tokens=np.ones(30),
        output_tokens=np.ones(30),
        cached_tokens=np.full(30, np.nan),
    )
    usage = hourly_usage(buckets)
    with pytest.raises(
        InputError, match=r"a typical week needs at least 168 hours of usage; this covers 30 .try --shape day"
    ):
        build_profile(usage, shape="week", source_file="x", source_format="x")
    assert build_profile(usage, source_file="x", source_format="x").shape == "day"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1736121600, 1736121600.0),
        (1736121600123, 1736121600.123),  # ms
        ("1736121600.5", 1736121600.5),  # nginx $msec
        ("2025-01-06T00:00:00Z", 1736121600.0),
        ("2025-01-06T01:00:00+01:00", 1736121600.0),
        ("2025-01-06 00:00:00.123+00", 1736121600.123),  # PostgreSQL
        ("2025-01-06T00:00:00.1234567Z", 1736121600.123457),
        ("06/Jan/2025:01:00:00 +0100", 1736121600.0),  # nginx $time_local
        ("2025-01-06T00:00:00", 1736121600.0),  # no zone: UTC
        ("-", None),
        ("yesterday", None),
    ],
)
def test_times_in_the_forms_logs_write(value, expected):
    got = parse_time(value)
    assert got == (pytest.approx(expected, abs=1e-6) if expected is not None else None)


# --------------------------------------------------------------------------- the profile file


def test_a_written_profile_reads_back_the_same(tmp_path: Path):
    w = profile_from_file(
        write(tmp_path / "usage.json", json.dumps(openai_page(weeks=1))), description="chat"
    )
    path = write(tmp_path / "profile.yaml", dump_profile(w.profile, "made in a test"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# made in a test\ntraffic_profile:\n  description: chat\n")
    again = read_profile(path)
    assert again.hourly_rps == pytest.approx(w.profile.hourly_rps, rel=1e-5)  # written with 6 digits
    assert again.tokens == w.profile.tokens and again.source == w.profile.source


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("traffic_profile:\n  hourly_rps: [1, 2]\n  source: {file: x, format: y}\n", "give 168 values"),
        (
            "traffic_profile:\n  hourly_rps: ["
            + ", ".join(["0"] * 24)
            + "]\n  source: {file: x, format: y}\n",
            "every hour has rate 0",
        ),
        (
            "traffic_profile:\n  hourly_rps: ["
            + ", ".join(["1"] * 24)
            + "]\n  source: {file: x, format: y}\n  colour: red\n",
            "colour",
        ),
        ("measurements: []\n", "top level must be one key, 'traffic_profile:'"),
    ],
)
def test_bad_profiles_name_the_problem(tmp_path: Path, body: str, message: str):
    with pytest.raises(InputError, match=message):
        read_profile(write(tmp_path / "p.yaml", body))


# --------------------------------------------------------------------------- the command


def test_workload_prints_the_profile_and_writes_it(cli: Cli, tmp_path: Path):
    usage = write(tmp_path / "usage.json", json.dumps(openai_page(weeks=2)))
    out = tmp_path / "profile.yaml"
    result = cli("workload", str(usage), "-o", str(out))
    assert result.exit_code == 0, result.output
    for text in (
        "Traffic profile of usage.json",
        "p95 hour [req/s]",
        "Typical day (UTC)",
        "Typical week",
        "Tokens per request",
    ):
        assert text in result.stdout
    assert f"wrote {out}" in result.stderr
    profile = read_profile(out)
    assert isinstance(profile, TrafficProfile) and profile.source.format == "openai-usage-json"
    again = cli("workload", str(usage), "-o", str(out))
    assert again.exit_code == 2 and "exists" in again.stderr
    shown = cli("workload", str(out), "--format", "json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert len(doc["results"]) == 168 and doc["results"][0]["label"] == "Mon 00:00"
    assert doc["summary"]["format"] == "traffic-profile"
    assert doc["summary"]["profile_mean_rps"] == pytest.approx(profile.mean_rps)


def test_workload_csv_is_one_row_per_hour(cli: Cli, tmp_path: Path):
    usage = write(tmp_path / "usage.json", json.dumps(openai_page(weeks=1)))
    result = cli("workload", str(usage), "--format", "csv", "--shape", "day")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 24 and set(rows[0]) == {"hour", "label", "rps"}


def test_workload_refuses_what_it_cannot_read(cli: Cli, tmp_path: Path):
    result = cli("workload", str(write(tmp_path / "x.txt", "hello,world\n")))
    assert result.exit_code == 2 and "formats read" in result.stderr
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        result = cli("workload", str(fifo))
        assert result.exit_code == 2 and "not a regular file" in result.stderr


def test_a_large_log_is_streamed(tmp_path: Path):
    path = tmp_path / "big.jsonl"
    n = 60_000
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(
                f'{{"msec": "{MONDAY + i * 10.3:.3f}", "status": "200", "prompt_tokens": "{i % 997}", "completion_tokens": "12"}}\n'
            )
    usage = read_usage(path)
    assert usage.data.time_s.size == n
    w = profile_from_file(path)
    assert w.profile.shape == "week"
