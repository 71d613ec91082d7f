"""The measurement fields of serving runs: what each one changes in the prediction.

A published serving run states more than a token rate: input+output counting, requests/s, the
latency of one batch, replicas that share the load, the engine's batch cap as run and the latency
targets it was held to. Each test pins what one field means against the plain prediction.
"""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest

from selfhost.calibration.loader import ResolvedMeasurement, resolve_measurements
from selfhost.calibration.predict import measurement_arrays, predict_values, serving_arrays
from selfhost.calibration.schema import Measurement
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.schema import Catalog
from selfhost.engine.throughput import capacity, decode_step_time_s, prefill_marginal_time_s, prefill_time_s


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(env={})


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid measurement (Llama 3.1 8B FP8 on one H100, vLLM, 512 in / 256 out), with overrides."""
    base: dict[str, Any] = {
        "id": "x",
        "model": "llama-3.1-8b",
        "gpu": "h100-sxm-80gb",
        "quant": "fp8",
        "engine": "vllm",
        "input_tokens": 512,
        "output_tokens": 256,
        "concurrency": 32,
        "scope": "total",
        "value": 1000.0,
        "unit": "tokens/s",
        "source": "a test",
    }
    base.update(overrides)
    return base


def predict(catalog: Catalog, *entries: dict[str, Any]) -> list[float]:
    points: list[ResolvedMeasurement] = resolve_measurements(
        [Measurement.model_validate({**e, "id": f"m{i}"}) for i, e in enumerate(entries)], catalog
    )
    return predict_values(serving_arrays(points), measurement_arrays(points)).value.tolist()


def test_input_plus_output_tokens_count_the_prompt_tokens_too(catalog: Catalog) -> None:
    out, both = predict(catalog, entry(), entry(tokens="input+output"))
    assert both == pytest.approx(out * (512 + 256) / 256)


def test_requests_per_second_are_output_tokens_over_the_output_length(catalog: Catalog) -> None:
    out, rps = predict(catalog, entry(), entry(scope="requests", unit="requests/s"))
    assert rps == pytest.approx(out / 256)


def test_replicas_share_the_load_and_add_their_throughput(catalog: Catalog) -> None:
    one, two, two_per_gpu = predict(
        catalog,
        entry(concurrency=16),
        entry(concurrency=32, replicas=2),
        entry(concurrency=32, replicas=2, scope="per_gpu"),
    )
    assert two == pytest.approx(2 * one)  # each replica runs 16 of the 32 sequences
    assert two_per_gpu == pytest.approx(one)  # two GPUs in all


def test_a_rate_is_split_between_replicas(catalog: Catalog) -> None:
    one, two = predict(
        catalog,
        entry(concurrency=None, request_rate=1.0, requests=100),
        entry(concurrency=None, request_rate=2.0, requests=200, replicas=2),
    )
    assert two == pytest.approx(2 * one)


def test_the_batch_cap_as_run_replaces_the_profiles(catalog: Catalog) -> None:
    capped, profile = predict(catalog, entry(concurrency="max", max_num_seqs=8), entry(concurrency="max"))
    (eight,) = predict(catalog, entry(concurrency=8))
    assert capped == pytest.approx(eight)
    assert profile > 2 * capped


def test_batch_latency_is_the_prefill_of_the_batch_then_every_decode_step(catalog: Catalog) -> None:
    e = entry(concurrency=4, scope="batch_latency", unit="s")
    points = resolve_measurements([Measurement.model_validate(e)], catalog)
    s = serving_arrays(points)
    (latency_s,) = predict_values(s, measurement_arrays(points)).value
    expected = (
        prefill_time_s(s, 512.0)[0]
        + 3 * prefill_marginal_time_s(s, 512.0)[0]
        + 255 * decode_step_time_s(s, 4.0, 512.0 + 128.0)[0]
    )
    assert latency_s == pytest.approx(expected)
    (ms,) = predict(catalog, {**e, "unit": "ms"})
    assert ms == pytest.approx(latency_s * 1e3)


def test_latency_targets_predict_the_capacity_within_them(catalog: Catalog) -> None:
    # 10 ms: a target that binds (with the refitted vLLM profile a full batch of 256 sequences
    # decodes at about 19.6 ms per token, inside the 20 ms this test used before)
    e = entry(concurrency="max", latency_targets={"tpot_ms": 10.0, "statistic": "p99"})
    points = resolve_measurements([Measurement.model_validate(e)], catalog)
    s = serving_arrays(points)
    (bounded,) = predict_values(s, measurement_arrays(points)).value
    (unbounded,) = predict(catalog, entry(concurrency="max"))
    within = capacity(s, 512.0, 256.0, 0.010, math.inf)
    assert bounded == pytest.approx(within.point.output_tokens_per_s[0])
    assert within.point.tpot_s[0] <= 0.010
    assert capacity(s, 512.0, 256.0, math.inf, math.inf).point.tpot_s[0] > 0.010  # the target binds
    assert bounded < unbounded


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"scope": "requests"}, "request rate: use unit 'requests/s'"),
        ({"unit": "requests/s"}, "token rate: use unit 'tokens/s'"),
        ({"tokens": "input+output", "scope": "single_stream"}, "'tokens' applies to scopes"),
        ({"statistic": "p99"}, "'statistic' applies to time scopes"),
        ({"scope": "batch_latency", "unit": "s", "concurrency": "max"}, "needs an integer 'concurrency'"),
        ({"n_gpus": 4, "pipeline_parallel": 3}, "does not divide n_gpus"),
        ({"latency_targets": {"tpot_ms": 50}}, "use concurrency 'max'"),
        ({"concurrency": "max", "latency_targets": {"statistic": "p99"}}, "at least one of"),
        ({"value": math.inf}, "finite number"),
    ],
)
def test_inconsistent_fields_are_rejected_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Measurement.model_validate(entry(**overrides))


# --------------------------------------------------------------------------- a file with bad entries


def _file(tmp_path: Any, *entries: dict[str, Any]) -> str:
    import yaml

    path = tmp_path / "runs.yaml"
    path.write_text(yaml.safe_dump({"measurements": list(entries)}), encoding="utf-8")
    return str(path)


def test_validate_skips_bad_entries_names_each_and_exits_1(tmp_path: Any, cli: Any) -> None:
    import json

    path = _file(
        tmp_path,
        entry(id="good"),
        entry(id="bad-scope", scope="totl"),
        entry(id="unknown-gpu", gpu="h1000"),
    )
    result = cli("validate", path, "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert [r["id"] for r in document["results"]] == ["good"]
    skipped = document["skipped"]
    assert len(skipped) == 2
    assert "measurements[1] (id 'bad-scope').scope" in skipped[0] and "'totl'" in skipped[0]
    assert "measurements[2] (id 'unknown-gpu').gpu: unknown id 'h1000'" in skipped[1]
    assert "2 entries were skipped, 1 validated" in result.stderr


def test_validate_strict_refuses_the_whole_file(tmp_path: Any, cli: Any) -> None:
    path = _file(tmp_path, entry(id="good"), entry(id="unknown-gpu", gpu="h1000"))
    result = cli("validate", path, "--strict")
    assert result.exit_code == 2
    assert "unknown id 'h1000'" in result.stderr
    assert result.stdout == ""


def test_validate_of_a_clean_file_exits_0_and_skips_nothing(tmp_path: Any, cli: Any) -> None:
    import json

    result = cli("validate", _file(tmp_path, entry(id="a"), entry(id="b")), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == []
