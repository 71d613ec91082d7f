"""Calibration: the measurement files, predictions of measured figures, the fit and `selfhost validate`.

The accuracy tests hold the error of the shipped engine profiles on the shipped measurements, so a
change to the model, the catalog or the profiles that breaks accuracy fails here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from selfhost.calibration.fit import (
    GRIDS,
    build_problem,
    fit_parameters,
    predict_with,
)
from selfhost.calibration.loader import (
    ResolvedMeasurement,
    builtin_measurements_path,
    read_measurements,
    resolve_measurements,
)
from selfhost.calibration.predict import (
    measurement_arrays,
    predict_values,
    replica_config,
    serving_arrays,
)
from selfhost.calibration.report import validate
from selfhost.calibration.schema import Measurement
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.catalog.schema import Catalog
from selfhost.engine.throughput import capacity, prefill_time_s
from selfhost.errors import MeasurementError
from selfhost.scenarios import build_arrays

ROOT = Path(__file__).resolve().parents[1]
LATENCY = ROOT / "data" / "calibration" / "latency.yaml"
SHARED = ROOT.parent / "shared" / "calibration" / "throughput.yaml"
SHARED_SERVING = ROOT.parent / "shared" / "calibration" / "throughput-serving.yaml"
#: Published points: 97 of throughput.yaml, then 53 vLLM and SGLang serving runs.
PUBLISHED, SERVING = 97, 53

# Issues 3 and 8 target a median absolute error <= 15 % and >= 85 % of points within +-30 % (issue 8:
# leaving one source out, on all 150 points). In sample the shipped profiles reach 11.9 % and 84.7 %
# (docs/accuracy.md): the median target is met, the within-30 % target is NOT (127 of 150 points; 128
# would be 85.3 %). These bounds hold the achieved figures with a small margin, so a regression fails;
# they are not the targets.
ACHIEVED_MEDIAN_ABS_ERROR_CEILING = 0.125  # achieved 11.85 %
ACHIEVED_WITHIN_30_FLOOR = 0.84  # achieved 84.67 % (127 / 150); the target, 85 %, is not met


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(env={})


@pytest.fixture(scope="module")
def builtin(catalog: Catalog) -> list[ResolvedMeasurement]:
    path = builtin_measurements_path()
    return resolve_measurements(read_measurements(path), catalog, path)


@pytest.fixture(scope="module")
def latency(catalog: Catalog) -> list[ResolvedMeasurement]:
    return resolve_measurements(read_measurements(LATENCY), catalog, LATENCY)


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid measurement entry (Llama 3.1 8B FP8 on one H100, TensorRT-LLM), with overrides."""
    base: dict[str, Any] = {
        "id": "x",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm-80gb",
        "quant": "fp8",
        "engine": "tensorrt-llm",
        "n_gpus": 1,
        "input_tokens": 128,
        "output_tokens": 128,
        "concurrency": 64,
        "scope": "total",
        "value": 1000.0,
        "unit": "tokens/s",
        "source": "a test",
    }
    base.update(overrides)
    return base


def resolved(catalog: Catalog, *entries: dict[str, Any]) -> list[ResolvedMeasurement]:
    return resolve_measurements([Measurement.model_validate(e) for e in entries], catalog)


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the built-in files


def test_builtin_file_holds_every_published_measurement_with_its_source(
    builtin: list[ResolvedMeasurement],
) -> None:
    assert len(builtin) == PUBLISHED + SERVING
    for r in builtin:
        assert r.measurement.quote and r.measurement.source_title and r.measurement.as_published
    if SHARED.exists() and SHARED_SERVING.exists():  # the shared files sit beside the project
        shared = yaml.safe_load(SHARED.read_text(encoding="utf-8"))
        shared += yaml.safe_load(SHARED_SERVING.read_text(encoding="utf-8"))
        assert [e["id"] for e in shared] == [r.measurement.id for r in builtin]
        assert [e["metric"]["value"] for e in shared] == [r.measurement.value for r in builtin]


def test_every_excluded_point_says_why(builtin: list[ResolvedMeasurement]) -> None:
    excluded = [r.measurement for r in builtin if r.measurement.exclude_from_fit]
    # 7 DeepSeek-R1 runs with the MoE kernels of early 2025; the Llama 3.2 Vision stand-in on L4;
    # Meta's FP8 checkpoint on MI300X (TensorRT-LLM v0.6.1's GQA rows are fitted with their release's
    # KV reads: tests/test_engine_generations.py)
    assert len(excluded) == 7 + 1 + 1
    assert all(len(m.exclude_from_fit) > 40 for m in excluded)


def test_summary_error_on_the_builtin_file(builtin: list[ResolvedMeasurement]) -> None:
    summary = validate(builtin).summary
    assert summary["points"] == PUBLISHED + SERVING
    assert summary["median_abs_error"] <= ACHIEVED_MEDIAN_ABS_ERROR_CEILING, summary
    assert summary["within_30"] >= ACHIEVED_WITHIN_30_FLOOR, summary
    assert abs(summary["median_error"]) <= 0.05, summary  # no overall bias


def test_summary_error_per_engine(builtin: list[ResolvedMeasurement]) -> None:
    by_engine = validate(builtin).summary["by_engine"]
    # achieved: TensorRT-LLM 11.7 %, LMDeploy 3.6 %, llama.cpp 14.9 % median absolute error
    assert by_engine["tensorrt-llm"]["median_abs_error"] <= 0.13
    assert by_engine["lmdeploy"]["median_abs_error"] <= 0.06
    assert by_engine["llama.cpp"]["median_abs_error"] <= 0.15


def test_latency_error(latency: list[ResolvedMeasurement]) -> None:
    summary = validate(latency).summary
    # achieved: 14.9 % median, 64.5 % within +-30 % on 62 latencies (it was 9.8 % and 75 % on the 28
    # latencies of the first file, before the 34 vLLM/SGLang serving runs' TTFT and TPOT were added:
    # vLLM's latencies are the weakest, 31 % median). No issue sets a latency target; these bounds
    # hold the achieved figures with a small margin.
    assert summary["points"] == 62
    assert summary["median_abs_error"] <= 0.16
    assert summary["within_30"] >= 0.62


def test_catalog_engine_profiles_are_what_the_fit_produces(
    catalog: Catalog, live_fit: dict[str, Any]
) -> None:
    # scripts/calibrate.py --write: the catalog must not drift from the fit (hand edits, stale refits);
    # tests/test_live_figures.py holds every fitted field to the digits the script writes
    engines = by_id(catalog.engines)
    for engine_id, fit in live_fit["engines"].items():
        for name in fit["fitted"]:
            assert fitted_field(engines[engine_id], name) == pytest.approx(
                fit["parameters"][name], rel=0.005
            ), (
                engine_id,
                name,
            )
        assert engines[engine_id].confirmed == (bool(fit["fitted"]) and not fit["pooled"])
        assert list(engines[engine_id].measured_gpus) == fit["measured_gpus"], engine_id
        catalogued = engines[engine_id].platform_efficiency
        assert set(catalogued) == set(fit["platform_efficiency"]), engine_id
        for platform, values in fit["platform_efficiency"].items():
            for name, value in values.items():
                assert getattr(catalogued[platform], name) == pytest.approx(value, rel=0.005), (
                    engine_id,
                    platform,
                )


def fitted_field(engine: Any, name: str) -> float:
    """A fitted field of a profile: ``field`` on the profile, ``field@generation`` on that release
    generation (vLLM's `generations`, whose step overheads the fit gives their own values)."""
    field_name, _, generation = name.partition("@")
    if not generation:
        return float(getattr(engine, field_name))
    [older] = [g for g in engine.generations if g.id == generation]
    return float(getattr(older, field_name))


def test_measured_gpus_are_the_gpus_each_profile_was_fitted_on(catalog: Catalog) -> None:
    """Recomputed from the raw measurement files: an engine's own points, or for an engine without
    any, the points of every engine on its platforms (the pooled fit)."""
    raw = [
        m
        for path in (builtin_measurements_path(), LATENCY)
        for m in yaml.safe_load(path.read_text(encoding="utf-8"))["measurements"]
        if not m.get("exclude_from_fit")
    ]
    platform = {g.id: g.platform for g in catalog.gpus}
    for engine in catalog.engines:
        own = {m["gpu"] for m in raw if m["engine"] == engine.id}
        pooled = {m["gpu"] for m in raw if platform[m["gpu"]] in engine.platforms}
        assert set(engine.measured_gpus) == (own or pooled), engine.id
        assert engine.confirmed == bool(own), engine.id
    vllm = by_id(catalog.engines)["vllm"]
    assert vllm.confirmed and "mi300x-192gb" in vllm.measured_gpus  # its own serving runs, AMD included
    sglang = by_id(catalog.engines)["sglang"]
    assert sglang.confirmed and not any(platform[g] == "rocm" for g in sglang.measured_gpus)  # no ROCm run


@pytest.mark.slow
def test_leave_one_source_out_error(live_fit: dict[str, Any]) -> None:
    held_out = live_fit["leave_one_source_out"]  # the session's refit (tests/live_fit.py)
    # one fold per source (dataset) of the throughput and latency files, recounted from the files
    datasets = {
        m["dataset"]
        for path in (builtin_measurements_path(), LATENCY)
        for m in yaml.safe_load(path.read_text(encoding="utf-8"))["measurements"]
    }
    assert set(held_out["folds"]) == datasets and len(datasets) == 19
    summary = held_out["throughput"]
    # Issue 8's targets, leaving one source out on all 150 points: median |error| <= 15 %, >= 85 %
    # within +-30 %, vLLM points <= 20 %, MI300X points <= 25 %. Achieved: 17.0 %, 78.0 %, vLLM 23.6 %,
    # MI300X 24.3 % -- only the MI300X target is met. These bounds hold the achieved figures with a
    # small margin (a regression fails); they are not the targets.
    assert summary["points"] == PUBLISHED + SERVING
    assert summary["median_abs_error"] <= 0.175
    assert summary["within_30"] >= 0.77
    assert summary["mean_abs_log_error"] <= 0.27  # achieved 0.261
    assert held_out["throughput_by_engine"]["vllm"]["median_abs_error"] <= 0.245
    assert held_out["throughput_by_gpu"]["mi300x-192gb"]["median_abs_error"] <= 0.25  # target met


# --------------------------------------------------------------------------- predictions


def test_per_gpu_is_the_total_shared_by_the_gpus(catalog: Catalog) -> None:
    pair = resolved(
        catalog,
        entry(id="t", model="llama-3.1-70b", n_gpus=4, scope="total"),
        entry(id="g", model="llama-3.1-70b", n_gpus=4, scope="per_gpu"),
    )
    total, per_gpu = predict_values(serving_arrays(pair), measurement_arrays(pair)).value
    assert per_gpu == pytest.approx(total / 4)


def test_max_concurrency_is_the_capacity_batch_without_latency_limits(catalog: Catalog) -> None:
    points = resolved(catalog, entry(concurrency="max", output_tokens=2048))
    s = serving_arrays(points)
    prediction = predict_values(s, measurement_arrays(points))
    cap = capacity(s, 128, 2048, math.inf, math.inf)
    assert prediction.batch[0] == cap.batch[0] > 1
    assert prediction.value[0] == pytest.approx(cap.point.output_tokens_per_s[0])


def test_a_light_request_rate_is_served_in_full(catalog: Catalog) -> None:
    # 1 request/s of 256 output tokens: the replica keeps up, so 256 tokens/s come out
    points = resolved(catalog, entry(concurrency=None, request_rate=1.0, output_tokens=256))
    assert predict_values(serving_arrays(points), measurement_arrays(points)).value[0] == pytest.approx(256)


def test_a_finite_run_at_a_rate_lasts_until_its_last_request_finishes(catalog: Catalog) -> None:
    steady, finite = resolved(
        catalog,
        entry(id="a", concurrency=None, request_rate=2.0, output_tokens=256),
        entry(id="b", concurrency=None, request_rate=2.0, output_tokens=256, requests=500),
    )
    a, b = predict_values(serving_arrays([steady, finite]), measurement_arrays([steady, finite])).value
    assert a == pytest.approx(512)
    assert 0.95 * a < b < a  # 250 s of arrivals plus one request's latency


def test_ttft_of_a_lone_request_is_its_prefill(catalog: Catalog) -> None:
    points = resolved(
        catalog,
        entry(id="c", concurrency=1, input_tokens=2048, output_tokens=1, scope="ttft", unit="ms"),
        entry(
            id="s",
            concurrency=1,
            input_tokens=2048,
            output_tokens=1,
            scope="ttft",
            unit="s",
            batching="static",
        ),
        entry(id="p", concurrency=1, input_tokens=512, output_tokens=0, scope="prefill"),
    )
    s = serving_arrays(points)
    ms, seconds, prefill = predict_values(s, measurement_arrays(points)).value
    assert ms == pytest.approx(prefill_time_s(s, 2048.0)[0] * 1e3)
    assert seconds == pytest.approx(ms / 1e3)
    assert prefill == pytest.approx(512 / prefill_time_s(s, 512.0)[2])


def test_each_measurement_uses_its_own_engine_and_kv_dtype(catalog: Catalog) -> None:
    points = resolved(
        catalog, entry(engine="lmdeploy", quant="bf16", kv_dtype="auto"), entry(id="y", kv_dtype="fp8")
    )
    s = serving_arrays(points)
    configs = [replica_config(r) for r in points]
    assert [c.engine.id for c in configs] == ["lmdeploy", "tensorrt-llm"]
    fp16, _ = build_arrays(configs[:1], kv_dtype="auto")
    fp8, _ = build_arrays(configs[1:], kv_dtype="fp8")
    assert s.kv_bytes_per_token[0] == fp16.kv_bytes_per_token[0] == 2 * fp8.kv_bytes_per_token[0]
    assert s.kv_bytes_per_token[1] == fp8.kv_bytes_per_token[0]


def test_a_static_batch_is_not_capped_by_the_engine_batch_limit(catalog: Catalog) -> None:
    cap = by_id(catalog.engines)["tensorrt-llm"].max_batch_sequences
    points = resolved(
        catalog,
        entry(id="s", concurrency=cap * 2, batching="static"),
        entry(id="c", concurrency=cap * 2),
    )
    batch = predict_values(serving_arrays(points), measurement_arrays(points)).batch
    assert batch.tolist() == [cap * 2, cap]


# --------------------------------------------------------------------------- the fit


def test_coordinate_descent_recovers_known_parameters(
    catalog: Catalog, builtin: list[ResolvedMeasurement]
) -> None:
    trt = [r for r in builtin if r.engine.id == "tensorrt-llm" and not r.measurement.exclude_from_fit]
    problem = build_problem(trt, [1.0] * len(trt))
    truth = {
        "memory_bandwidth_utilization": 0.66,
        "compute_utilization": 0.43,
        "step_overhead_s": 2.5e-3,
        "allreduce_latency_s": 1.2e-5,
        "max_batch_sequences": 1024.0,
    }
    synthetic = dataclasses.replace(
        problem,
        measured=predict_with(problem, {"tensorrt-llm": _fit_like(truth)}),
    )
    names = tuple(truth)
    start = {
        "memory_bandwidth_utilization": 0.8,
        "compute_utilization": 0.6,
        "step_overhead_s": 1e-3,
        "allreduce_latency_s": 3e-5,
        "max_batch_sequences": 256.0,
    }
    params, loss = fit_parameters(synthetic, names, start, GRIDS)
    assert loss == pytest.approx(0.0, abs=1e-9)
    for name in names:
        assert params[name] == pytest.approx(truth[name], rel=1e-6), name


def _fit_like(parameters: dict[str, float]) -> Any:
    from selfhost.calibration.fit import EngineFit

    return EngineFit("tensorrt-llm", parameters, tuple(parameters), 0.0, 0)


# --------------------------------------------------------------------------- file errors


def test_schema_errors_are_reported_with_their_locations(tmp_path: Path) -> None:
    bad = [
        {k: v for k, v in entry(id="a").items() if k != "scope"},
        entry(id="b", scope="ttft", unit="tokens/s"),
        entry(id="c", concurrency=None),
        entry(id="a"),
        entry(id="d", colour="red"),
    ]
    with pytest.raises(MeasurementError) as info:
        read_measurements(write(tmp_path, {"measurements": bad}))
    message = str(info.value)
    assert "has 5 errors" in message
    assert "measurements[0] (id 'a').scope: required field is missing" in message
    assert "measurements[1] (id 'b'): " in message and "use unit 'ms' or 's'" in message
    assert "measurements[2] (id 'c'): " in message and "exactly one of 'concurrency'" in message
    assert "measurements[3] (id 'a'): duplicate id; first defined at measurements[0]" in message
    assert "measurements[4] (id 'd').colour: unknown field" in message


def test_yaml_and_top_level_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("measurements:\n  - id: a\n    model: [unclosed\n", encoding="utf-8")
    with pytest.raises(MeasurementError, match=r"line \d+, column \d+: invalid YAML"):
        read_measurements(path)
    with pytest.raises(MeasurementError, match="one key, 'measurements'"):
        read_measurements(write(tmp_path, [entry()]))
    with pytest.raises(MeasurementError, match="does not exist"):
        read_measurements(tmp_path / "missing.yaml")


def test_unknown_catalog_ids_name_close_matches(catalog: Catalog) -> None:
    m = Measurement.model_validate(entry(gpu="h100-sxm", model="llama-3.1-8x"))
    with pytest.raises(MeasurementError) as info:
        resolve_measurements([m], catalog, "mine.yaml")
    message = str(info.value)
    assert (
        "mine.yaml: measurements[0] (id 'x').model: unknown id 'llama-3.1-8x'; did you mean 'llama-3.1-8b'"
        in message
    )
    assert "selfhost catalog list models" in message
    assert ".gpu" not in message  # aliases resolve (h100-sxm is an alias of h100-sxm-80gb)


# --------------------------------------------------------------------------- the command


def test_validate_json(cli: Callable[..., Result]) -> None:
    result = cli("validate", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["results"]) == PUBLISHED + SERVING
    first = document["results"][0]
    assert first["id"] == "trt017-llama31-8b-h200-tp1-128-128"
    assert first["measured"] == 29526.04
    assert first["error"] == pytest.approx(first["predicted"] / first["measured"] - 1)
    summary = document["summary"]
    assert summary["points"] == PUBLISHED + SERVING and summary["within_30"] >= ACHIEVED_WITHIN_30_FLOOR
    assert summary["median_abs_error"] <= ACHIEVED_MEDIAN_ABS_ERROR_CEILING
    assert set(summary["by_engine"]) == {"tensorrt-llm", "lmdeploy", "llama.cpp", "vllm", "sglang"}
    assert len(summary["worst"]) == 5
    assert document["assumptions"]["measurements_file"].endswith("measurements.yaml")


def test_validate_table_and_csv(cli: Callable[..., Result]) -> None:
    table = cli("validate", str(LATENCY), "--worst", "2")
    assert table.exit_code == 0, table.output
    assert "Predicted vs measured (latency.yaml)" in table.stdout
    assert "Median |error|" in table.stdout and "Worst: " in table.stdout
    csv = cli("validate", str(LATENCY), "--format", "csv")
    assert csv.exit_code == 0, csv.output
    header = csv.stdout.splitlines()[0].split(",")
    assert header[0] == "id" and {"measured", "predicted", "error", "scope", "unit"} <= set(header)
    assert len(csv.stdout.splitlines()) == 1 + 62  # 28 latencies of the first file, 34 of the serving runs


def test_validate_a_users_file_with_an_overlay_catalog(cli: Callable[..., Result], tmp_path: Path) -> None:
    overlay = tmp_path / "gpu.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "gpus": [
                    {
                        "id": "my-gpu",
                        "name": "My GPU",
                        "vendor": "nvidia",
                        "platform": "cuda",
                        "memory_gb": 48,
                        "device_memory_gb": 48,
                        "memory_bandwidth_gb_s": 1000,
                        "bf16_tflops": 300,
                        "power_w": 300,
                        "interconnect": "PCIe",
                        "interconnect_gb_s": 32,
                        "max_gpus_per_node": 8,
                        "source": "test",
                        "as_of": "2026-11-28",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    mine = write(
        tmp_path, {"measurements": [entry(gpu="my-gpu", quant="bf16", engine="vllm", kv_dtype="auto")]}
    )
    result = cli("validate", str(mine), "--catalog", str(overlay), "--format", "json")
    assert result.exit_code == 0, result.output
    [point] = json.loads(result.stdout)["results"]
    assert point["gpu"] == "my-gpu" and point["predicted"] > 0


def test_validate_reports_file_errors_without_a_traceback(cli: Callable[..., Result], tmp_path: Path) -> None:
    bad = write(tmp_path, {"measurements": [entry(scope="throughput")]})
    result = cli("validate", str(bad))
    assert result.exit_code == 2
    assert "Error:" in result.stderr and "measurements[0] (id 'x').scope" in result.stderr
    assert "Traceback" not in result.stderr


def test_accuracy_doc_is_generated_from_the_current_model() -> None:
    # docs/accuracy.md comes from `selfhost validate` and docs/calibration-fit.json; a change to the
    # model, the catalog or the measurements must come with `python scripts/calibrate.py --write` and
    # `python scripts/accuracy_doc.py`.
    import importlib.util

    spec = importlib.util.spec_from_file_location("accuracy_doc", ROOT / "scripts" / "accuracy_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, (
        "docs/accuracy.md is out of date: run python scripts/accuracy_doc.py"
    )
    fit = json.loads((ROOT / "docs" / "calibration-fit.json").read_text(encoding="utf-8"))
    engines = {e.id: e for e in load_catalog(env={}).engines}
    for engine_id, e in fit["engines"].items():
        for name in e["fitted"]:
            assert fitted_field(engines[engine_id], name) == pytest.approx(e["parameters"][name], rel=0.005)


def test_docs_quote_the_current_fit() -> None:
    """README and method.md state the accuracy of the shipped fit (docs/calibration-fit.json)."""
    fit = json.loads((ROOT / "docs" / "calibration-fit.json").read_text(encoding="utf-8"))
    in_sample = fit["in_sample"]["throughput"]
    held_out = fit["leave_one_source_out"]["throughput"]
    quoted = [
        f"{100 * in_sample['median_abs_error']:.1f} %",
        f"{100 * in_sample['within_30']:.1f} % of points within ±30 %",
        f"{100 * held_out['median_abs_error']:.1f} %",
        f"{100 * held_out['within_30']:.1f} %",
    ]
    for doc in ("README.md", "docs/method.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        for figure in quoted:
            assert figure in text, (doc, figure)


def test_multi_gpu_llama_cpp_is_predicted_as_a_layer_split(builtin: list[ResolvedMeasurement]) -> None:
    # 70B F16 on 4 x H100 PCIe, single stream, 9.67 tokens/s: as tensor parallel the model said
    # ~33 tokens/s (+245 %); as the layer split llama.cpp runs by default it is within 30 %
    [point] = [r for r in builtin if r.measurement.id == "llamacpp-h100pcie-x4-llama3-70b-f16-tg512"]
    [result] = validate([point]).results
    assert abs(result["error"]) < 0.30, result
    assert not point.measurement.exclude_from_fit


def test_llama_cpp_has_its_own_efficiencies_on_cuda_and_metal(catalog: Catalog) -> None:
    # its CUDA and Metal kernels differ; each platform has >= 12 points (MIN_PLATFORM_POINTS)
    from selfhost.scenarios import engine_efficiency

    llama_cpp = by_id(catalog.engines)["llama.cpp"]
    assert set(llama_cpp.platform_efficiency) == {"cuda", "metal"}
    cuda, metal = llama_cpp.platform_efficiency["cuda"], llama_cpp.platform_efficiency["metal"]
    assert engine_efficiency(llama_cpp, "metal", "compute_utilization") == metal.compute_utilization
    assert (
        engine_efficiency(llama_cpp, "cuda", "memory_bandwidth_utilization")
        == cuda.memory_bandwidth_utilization
    )
    # ROCm has no llama.cpp point: the shared fit
    assert engine_efficiency(llama_cpp, "rocm", "step_overhead_s") == llama_cpp.step_overhead_s
    # fields a platform does not set come from the profile
    assert engine_efficiency(llama_cpp, "metal", "max_batch_sequences") == llama_cpp.max_batch_sequences
