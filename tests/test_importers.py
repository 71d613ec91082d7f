"""Benchmark result files of real runs become measurement entries that `selfhost validate` reads.

Every fixture under tests/fixtures/bench_results/ is a file a tool wrote in a public repository
(tests/fixtures/bench_results/SOURCES.md: repo, path, commit); the expected figures below are
read off those files by hand.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import Result

from selfhost.calibration.loader import read_measurements
from selfhost.errors import InputError, MeasurementError
from selfhost.importers import Deployment, append_measurements, measurement_records, read_results
from selfhost.importers.measurements import id_stem
from selfhost.importers.measurements_file import measurements_yaml

Cli = Callable[..., Result]
FIXTURES = Path(__file__).parent / "fixtures" / "bench_results"
VLLM_405B = FIXTURES / "vllm" / "nvidia-vllm-16.0qps-Llama-3.1-405B-FP8-20241109-150547.json"
VLLM_SERVE = FIXTURES / "vllm" / "1p3d_conc128_in2048_out128_20250923_033738.json"
SWEEP_RUN = FIXTURES / "vllm" / "sweep-max_num_seqs4-max_concurrency2-run0.json"
SWEEP_SUMMARY = FIXTURES / "vllm" / "sweep-max_num_seqs4-max_concurrency2-summary.json"
GUIDELLM_V03 = FIXTURES / "guidellm" / "benchmarks_stripped.json"
GUIDELLM_V2 = FIXTURES / "guidellm" / "guidellm_report_v2.json"
AIPERF_QWEN = FIXTURES / "aiperf" / "qwen_concurrency1_profile_export_aiperf.json"
AIPERF_RUN1_JSON = FIXTURES / "aiperf" / "run1_profile_export_aiperf.json"
AIPERF_RUN1_CSV = FIXTURES / "aiperf" / "run1_profile_export_aiperf.csv"
ALL = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".csv"))

# A deployment for format checks only: the fixtures' own models (opt-125m, Qwen3-0.6B, ...) are
# not in the catalog, so these entries test that imports are valid, not that predictions are good.
SMALL = Deployment(model="qwen2.5-1.5b", gpu="l4-24gb", quant="bf16", engine="vllm")


def only_run(path: Path, **kwargs):
    imported = read_results(path, **kwargs)
    assert len(imported.runs) == 1
    return imported.runs[0]


# --------------------------------------------------------------------------- what each file says


def test_benchmark_serving_py_file_from_vllm_0_6_read_as_written():
    # dstackai/benchmarks: Llama-3.1-405B-FP8 on 8x H100 SXM, vLLM 0.6.3.post2, ShareGPT, 16 req/s
    run = only_run(VLLM_405B)
    assert run.layout == "benchmarks/benchmark_serving.py"
    assert run.request_rate == 16.0 and run.concurrency is None
    assert run.completed == 1000
    assert run.input_tokens_mean == pytest.approx(215196 / 1000)  # total_input_tokens / completed
    assert run.output_tokens_mean == pytest.approx(120689 / 1000)
    assert run.output_tokens_per_s == pytest.approx(1198.8884495761356)
    assert not run.lengths_fixed  # the per-request lengths vary (--save-detailed lists)
    assert run.date == "2024-11-09T15:05:47"
    got = {(s.metric, s.statistic): s.value_ms for s in run.latencies}
    assert got == {
        ("ttft", "mean"): pytest.approx(1486.3937409630162),
        ("ttft", "median"): pytest.approx(403.31627649993607),
        ("ttft", "p99"): pytest.approx(9912.536467760054),
        ("tpot", "mean"): pytest.approx(106.53889521346393),
        ("tpot", "median"): pytest.approx(112.45452213559825),
        ("tpot", "p99"): pytest.approx(153.47066919841095),
    }
    assert run.extra_metrics["mean_itl_ms"] == pytest.approx(99.48882072751353)  # ITL kept, not as TPOT
    assert "input_lens" not in run.described and run.described["backend"] == "vllm"


def test_vllm_bench_serve_file_with_a_concurrency_cap():
    # dstackai/benchmarks pd_ratio: `vllm bench serve --max-concurrency 128`, request_rate "inf"
    run = only_run(VLLM_SERVE)
    assert run.layout == "vllm bench serve (vllm/benchmarks/serve.py)"
    assert run.concurrency == 128 and run.request_rate is None
    assert run.completed == 500
    assert run.input_tokens_mean == pytest.approx(1023101 / 500)
    assert run.output_tokens_mean == pytest.approx(33584 / 500)
    assert run.output_tokens_per_s == pytest.approx(1465.3007326667116)


def test_vllm_sweep_results_carry_the_batch_cap_and_a_summary_holds_every_run():
    run = only_run(SWEEP_RUN)
    assert (run.concurrency, run.completed, run.max_num_seqs) == (2, 8, 4)
    assert (run.input_tokens_mean, run.output_tokens_mean) == (32.0, 16.0)
    summary = read_results(SWEEP_SUMMARY)
    assert [r.output_tokens_per_s for r in summary.runs] == pytest.approx(
        [93.74767963046673, 199.36907134182283], rel=1e-9
    )
    records = measurement_records(summary, SMALL)
    assert {r["max_num_seqs"] for r in records} == {4}
    assert records[0]["id"].endswith("-r1-throughput") and records[-1]["id"].startswith(
        id_stem(SWEEP_SUMMARY.name, "") + "-r2-"
    )


def test_guidellm_v0_3_report():
    run = only_run(GUIDELLM_V03)
    assert run.layout == "GuideLLM report (v0.2/v0.3 layout)"
    assert run.concurrency == 1  # synchronous strategy
    assert run.completed == 46
    assert run.input_tokens_mean == pytest.approx(257.1086956521739)
    assert run.output_tokens_mean == pytest.approx(127.99999999999999)
    assert run.output_tokens_per_s == pytest.approx(198.13346751788123)  # output_tokens_per_second mean
    got = {(s.metric, s.statistic): s.value_ms for s in run.latencies}
    assert got[("ttft", "mean")] == pytest.approx(16.792535781860348)
    assert got[("tpot", "mean")] == pytest.approx(4.941609043733832)  # inter_token_latency_ms
    assert run.extra_metrics["time_per_output_token_ms_mean"] == pytest.approx(4.90300272307966)


def test_guidellm_v2_report_with_two_rates():
    imported = read_results(GUIDELLM_V2)
    assert imported.description.startswith("GuideLLM report v2 (guidellm 0.8.0.dev18)")
    assert [(r.request_rate, r.completed) for r in imported.runs] == [(2.0, 2), (4.0, 2)]
    assert imported.runs[0].output_tokens_per_s == pytest.approx(3.1950675815128577)
    assert imported.runs[0].input_tokens_mean == pytest.approx(71.5)


def test_aiperf_export_in_the_genai_perf_layout():
    run = only_run(AIPERF_QWEN)
    assert run.layout == "AIPerf JSON export (genai-perf-compatible layout)"
    assert run.concurrency == 1 and run.completed == 64
    assert (run.input_tokens_mean, run.output_tokens_mean) == (100.0, pytest.approx(199.984375))
    assert not run.lengths_fixed  # output lengths 199 to 201
    assert run.output_tokens_per_s == pytest.approx(50.08213863971112)
    got = {(s.metric, s.statistic): s.value_ms for s in run.latencies}
    assert got[("ttft", "median")] == pytest.approx(30.668547999999998)
    assert got[("tpot", "p99")] == pytest.approx(19.481766498241203)
    assert run.date == "2025-11-07T13:38:54"


def test_aiperf_json_and_csv_of_the_same_run_agree():
    from_json = only_run(AIPERF_RUN1_JSON)
    assert from_json.layout == "AIPerf JSON export (v0.1 'records' layout)"
    assert from_json.concurrency == 100 and from_json.completed == 89
    assert from_json.notes == (
        "11 request(s) errored or were cancelled; the figures count completed requests",
    )
    from_csv = only_run(AIPERF_RUN1_CSV, concurrency=100)
    assert from_csv.completed == from_json.completed
    assert from_csv.output_tokens_per_s == pytest.approx(
        from_json.output_tokens_per_s, abs=0.005
    )  # CSV: 2 decimals
    assert from_csv.input_tokens_mean == pytest.approx(from_json.input_tokens_mean, abs=0.005)
    csv_stats = {(s.metric, s.statistic): s.value_ms for s in from_csv.latencies}
    for s in from_json.latencies:
        assert csv_stats[(s.metric, s.statistic)] == pytest.approx(s.value_ms, abs=0.005)


def test_an_aiperf_csv_needs_the_load_from_the_command_line():
    with pytest.raises(
        InputError, match="does not say how the load was driven; pass --concurrency N or --request-rate R"
    ):
        read_results(AIPERF_RUN1_CSV)


# --------------------------------------------------------------------------- entries


def test_a_run_becomes_one_throughput_entry_and_its_latency_entries():
    imported = read_results(VLLM_405B)
    d = Deployment(model="llama-3.1-405b", gpu="h100-sxm-80gb", quant="fp8", engine="vllm", n_gpus=8)
    records = measurement_records(imported, d, sha256="abc")
    assert [r["scope"] for r in records] == ["total", "ttft", "ttft", "ttft", "tpot", "tpot", "tpot"]
    total = records[0]
    assert total["id"] == "nvidia-vllm-16.0qps-llama-3.1-405b-fp8-20241109-150547-throughput"
    assert (total["tokens"], total["unit"], total["value"]) == (
        "output",
        "tokens/s",
        pytest.approx(1198.8884495761356),
    )
    assert (total["input_tokens"], total["output_tokens"], total["request_rate"], total["requests"]) == (
        215,
        121,
        16.0,
        1000,
    )
    assert total["lengths"] == "variable"
    assert total["source"]["title"].endswith("result file " + VLLM_405B.name)
    assert total["date"] == "2024-11-09T15:05:47"
    assert total["as_published"]["sha256"] == "abc"
    assert "replicas" not in total  # the default is left out
    stats = [(r["scope"], r["statistic"], "exclude_from_fit" in r) for r in records[1:]]
    assert stats == [("ttft", "mean", False), ("ttft", "median", True), ("ttft", "p99", True)] * 1 + [
        ("tpot", "mean", False),
        ("tpot", "median", True),
        ("tpot", "p99", True),
    ]


def test_long_file_names_make_ids_that_fit_and_stay_distinct():
    a = id_stem("x" * 200 + "-a.json", "mine-")
    b = id_stem("x" * 200 + "-b.json", "mine-")
    assert a != b and a.startswith("mine-") and len(a) + len("-r9999-ttft-median") <= 80


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_fixture_imports_to_a_file_selfhost_validate_reads(cli: Cli, tmp_path: Path, path: Path):
    args = ["--concurrency", "100"] if path.suffix == ".csv" else []
    result = cli("measurements", "import", str(path), "-m", SMALL.model, "-g", SMALL.gpu, *args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "m.yaml"
    out.write_text(result.stdout, encoding="utf-8")
    entries = read_measurements(out)
    assert entries and entries[0].scope == "total"
    checked = cli("validate", str(out), "--format", "json")
    assert checked.exit_code == 0, checked.output
    doc = json.loads(checked.stdout)
    assert len(doc["results"]) == len(entries)
    assert all(r["predicted"] > 0 for r in doc["results"])


def test_the_405b_run_validates_against_the_model(cli: Cli, tmp_path: Path):
    out = tmp_path / "405b.yaml"
    result = cli(
        "measurements",
        "import",
        str(VLLM_405B),
        "-m",
        "llama-3.1-405b",
        "-q",
        "fp8",
        "-g",
        "h100-sxm-80gb",
        "-n",
        "8",
        "--into",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert f"created {out} with 7 entries; check them: selfhost validate {out}" in result.stderr
    checked = cli("validate", str(out), "--format", "json")
    assert checked.exit_code == 0, checked.output
    by_id = {r["id"]: r for r in json.loads(checked.stdout)["results"]}
    total = by_id["nvidia-vllm-16.0qps-llama-3.1-405b-fp8-20241109-150547-throughput"]
    assert total["measured"] == pytest.approx(1198.8884495761356)
    assert total["predicted"] > 0 and total["error"] == pytest.approx(
        total["predicted"] / total["measured"] - 1
    )


def test_import_prints_yaml_and_names_what_it_read(cli: Cli):
    result = cli(
        "measurements",
        "import",
        str(GUIDELLM_V2),
        "-m",
        "llama-3.1-8b",
        "-g",
        "l40s-48gb",
        "--engine",
        "vllm",
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert [m["request_rate"] for m in doc["measurements"] if m["scope"] == "total"] == [2.0, 4.0]
    assert (
        "GuideLLM report v2 (guidellm 0.8.0.dev18), 2 benchmark(s) -> 14 measurement entries" in result.stderr
    )
    assert "no --quant given: bf16, the native dtype of llama-3.1-8b" in result.stderr


# --------------------------------------------------------------------------- --into


COMMENTED = """\
# my team's runs, kept by hand
measurements:
# first the old one
- id: old-run
  model: llama-3.1-8b
  gpu: l40s-48gb
  quant: bf16
  engine: vllm
  input_tokens: 100
  output_tokens: 100
  concurrency: 4
  scope: total
  value: 500.0
  unit: tokens/s
  source: hand-written  # keep this comment
"""


def test_into_appends_after_the_existing_entries_and_keeps_comments(tmp_path: Path):
    target = tmp_path / "mine.yaml"
    target.write_text(COMMENTED, encoding="utf-8")
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    result = append_measurements(target, records)
    assert result.how == "appended" and len(result.added) == 7
    text = target.read_text(encoding="utf-8")
    assert text.startswith(COMMENTED)
    assert "# keep this comment" in text
    assert read_measurements(target)[0].id == "old-run"
    assert len(read_measurements(target)) == 8


def test_importing_the_same_file_again_changes_nothing(tmp_path: Path):
    target = tmp_path / "mine.yaml"
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    assert append_measurements(target, records).how == "created"
    before = target.read_text(encoding="utf-8")
    again = append_measurements(target, records)
    assert again.how == "unchanged" and len(again.skipped) == 7
    assert target.read_text(encoding="utf-8") == before


def test_the_same_ids_with_other_content_are_refused_and_a_prefix_imports_them(tmp_path: Path, cli: Cli):
    target = tmp_path / "mine.yaml"
    append_measurements(target, measurement_records(read_results(SWEEP_RUN), SMALL))
    before = target.read_text(encoding="utf-8")
    other = Deployment(model="qwen2.5-1.5b", gpu="a10g-24gb", quant="bf16", engine="vllm")
    with pytest.raises(InputError, match=r"already has a measurement with id .* pass --id-prefix"):
        append_measurements(target, measurement_records(read_results(SWEEP_RUN), other))
    assert target.read_text(encoding="utf-8") == before
    result = cli(
        "measurements",
        "import",
        str(SWEEP_RUN),
        "-m",
        "qwen2.5-1.5b",
        "-g",
        "a10g-24gb",
        "--into",
        str(target),
        "--id-prefix",
        "a10g-",
    )
    assert result.exit_code == 0, result.output
    assert len(read_measurements(target)) == 14


def test_into_refuses_a_file_that_is_not_a_measurements_file(tmp_path: Path):
    catalog = tmp_path / "overlay.yaml"
    catalog.write_text("models:\n- id: x\n", encoding="utf-8")
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    with pytest.raises(InputError, match="is not a measurements file"):
        append_measurements(catalog, records)
    assert catalog.read_text(encoding="utf-8") == "models:\n- id: x\n"
    broken = tmp_path / "broken.yaml"
    broken.write_text("measurements: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid YAML"):
        append_measurements(broken, records)


def test_a_result_that_would_be_invalid_writes_nothing(tmp_path: Path):
    target = tmp_path / "mine.yaml"
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    bad = [{**records[0], "id": "bad-entry", "value": -1.0}]
    with pytest.raises(MeasurementError, match="left unchanged"):
        append_measurements(target, bad)
    assert not target.exists()
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_printed_yaml_is_a_measurements_document():
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    assert yaml.safe_load(measurements_yaml(records))["measurements"][0]["id"] == records[0]["id"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "hint", "message"),
    [
        (
            '{"hello": 1}',
            None,
            "is not a benchmark result file this tool reads; formats read: vLLM bench serve",
        ),
        (
            '{"hello": 1}',
            "vllm",
            "not a vLLM bench result: '.*' has no 'completed', 'output_throughput'; formats read:",
        ),
        (
            '{"benchmarks": 3}',
            "guidellm",
            "not a GuideLLM result: .* 'benchmarks' entries without 'metrics'|not a GuideLLM result",
        ),
        ("{not json", None, r"is not valid JSON \(line 1, column 2"),
        ("", None, "is empty"),
        ('{"completed": 0, "output_throughput": 0}', None, "'completed' is 0; no request completed"),
        (
            '{"completed": 5, "output_throughput": 10, "total_input_tokens": 5, "total_output_tokens": 5}',
            None,
            "no 'request_rate' or 'max_concurrency'",
        ),
    ],
)
def test_bad_files_get_one_line_naming_the_file_and_what_was_expected(
    tmp_path: Path, content: str, hint, message: str
):
    path = tmp_path / "result.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        read_results(path, hint=hint)
    assert "\n" not in str(info.value)
    assert "result.json" in str(info.value)


def test_the_cli_turns_a_bad_file_into_an_error_line_and_exit_code_2(cli: Cli, tmp_path: Path):
    path = tmp_path / "notes.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    result = cli("measurements", "import", str(path), "-m", "llama-3.1-8b", "-g", "l40s-48gb")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "formats read" in result.stderr
    assert result.stdout == ""


def test_unknown_catalog_ids_get_close_matches(cli: Cli):
    result = cli("measurements", "import", str(SWEEP_RUN), "-m", "llama-3.1-8", "-g", "h100")
    assert result.exit_code == 2
    assert "llama-3.1-8b" in result.stderr


def test_files_over_the_size_limit_and_non_regular_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import selfhost.inputs

    monkeypatch.setattr(selfhost.inputs, "MAX_INPUT_BYTES", 1000)
    with pytest.raises(InputError, match=r"is 3 MB; the limit is 0 MB"):
        read_results(VLLM_405B)
    with pytest.raises(InputError, match="is a directory"):
        read_results(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        with pytest.raises(InputError, match="not a regular file"):
            read_results(fifo)


def test_an_appended_result_file_is_read_line_by_line(tmp_path: Path):
    # `vllm bench serve --append-result` writes one JSON object per line
    one = SWEEP_RUN.read_text(encoding="utf-8")
    two = json.loads(SWEEP_SUMMARY.read_text(encoding="utf-8"))[1]
    path = tmp_path / "appended.json"
    path.write_text(json.dumps(json.loads(one)) + "\n" + json.dumps(two), encoding="utf-8")
    imported = read_results(path)
    assert len(imported.runs) == 2
    shutil.copy(path, tmp_path / "copy.json")


def test_a_file_without_comments_that_cannot_be_edited_as_text_is_re_dumped(tmp_path: Path):
    target = tmp_path / "flow.yaml"
    target.write_text("measurements: []\n", encoding="utf-8")  # a flow list: no place to insert text
    records = measurement_records(read_results(SWEEP_RUN), SMALL)
    assert append_measurements(target, records).how == "rewritten"
    assert len(read_measurements(target)) == 7
    commented = tmp_path / "flow-commented.yaml"
    commented.write_text("# mine\nmeasurements: []\n", encoding="utf-8")
    with pytest.raises(InputError, match="without losing its comments"):
        append_measurements(commented, records)
    assert commented.read_text(encoding="utf-8") == "# mine\nmeasurements: []\n"


def test_a_guidellm_yaml_report_reads_as_its_json(tmp_path: Path):
    # GuideLLM writes the same report as YAML with --output-path x.yaml; this is the v2 fixture's
    # content re-serialized as YAML (a conversion of the real file, not a file GuideLLM wrote)
    path = tmp_path / "benchmarks.yaml"
    path.write_text(yaml.safe_dump(json.loads(GUIDELLM_V2.read_text(encoding="utf-8"))), encoding="utf-8")
    from_yaml, from_json = read_results(path), read_results(GUIDELLM_V2)
    assert [r.output_tokens_per_s for r in from_yaml.runs] == [r.output_tokens_per_s for r in from_json.runs]
