"""Numbers at every boundary: strict types, a stated range, finite warning-free arithmetic (issue 11,
"warnings and silent coercion").

A boolean, a string or infinity is never taken for a number (nor a number for a boolean); a value
outside its range is a one-line error naming the option or field, the value and the range; every
value inside the range gives finite results without a NumPy warning. The last promise is fuzzed
with Hypothesis over the command-line options and over catalog figures, at the edges of their
ranges, with warnings turned into errors.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from bounds import assert_one_error, deadline
from selfhost.cli.app import app_for
from selfhost.limits import MAX_MAGNITUDE, MAX_RATE_RPS, MAX_SAMPLES, MIN_MAGNITUDE

DATA = Path(__file__).resolve().parents[1] / "data"
NARROW = ("-m", "llama-3.1-8b", "-g", "l40s")  # one model on one GPU: each fuzzed run takes milliseconds
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def strict_run(*args: str) -> Result:
    """`selfhost ARGS` in-process with every warning an error: a warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CliRunner().invoke(app_for(args), list(args))


def numbers(value: Any) -> Iterator[float]:
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v)
    elif isinstance(value, float):
        yield value


def assert_clean(result: Result) -> None:
    """Exit 0 with finite JSON results, or exit 2 with one error line; never an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert_one_error(result.stderr)
    else:
        assert all(math.isfinite(x) for x in numbers(json.loads(result.stdout)))


# --------------------------------------------------------------------------- command-line values


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--rps", "1e300"), ("--rps", "1,000,000,000")),
        (("--rps", "1e-300"), ("--rps", "too small")),
        (("--rps", "5", "--ops-usd-per-month", "1e308"), ("--ops-usd-per-month", "USD/month")),
        (("--rps", "5", "--setup-usd", "1e308"), ("--setup-usd",)),
        (("--rps", "5", "--max-tpot-ms", "1e300"), ("--max-tpot-ms",)),
        (("--rps", "5", "--input-tokens", "1" + "0" * 30), ("--input-tokens", "tokens")),
        (("--rps", "5", "--uncertainty", "10", "--seed", "-1"), ("--seed -1", "2**128")),
        (("--rps", "5", "--uncertainty", str(10**12)), ("--uncertainty", f"{MAX_SAMPLES:,}")),
        (("--rps", "5", "--min-replicas", str(10**9)), ("--min-replicas",)),
        (("--rps", "5", "--uncertainty", "1" + "0" * 400), ("--uncertainty 1.00e+400",)),
        (("--rps", "5", "--gpus", "1" + "0" * 400), ("--gpus",)),
        (("--rps", "5", "--stale-days", "1" + "0" * 40), ("--stale-days",)),
    ],
)
def test_an_out_of_range_option_is_one_error_naming_it(
    args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    with deadline(60):
        result = strict_run("crossover", *args, *NARROW)
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, *fragments)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("1:100:1000000000000", "100,000 rates"),
        ("1:100:10000000000000000000", "100,000"),
        ("1:1e999:10", "STOP inf"),
        ("1e-320:1:10", "START"),
        ("1:2:-5", "COUNT >= 2"),
    ],
)
def test_rps_range_is_bounded(spec: str, fragment: str) -> None:
    with deadline(60):
        result = strict_run("sweep", "--rps-range", spec, *NARROW)
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, fragment)


def edge_floats(low: float, high: float) -> st.SearchStrategy[float]:
    """The range's edges, just outside them, tiny and huge values, infinities and NaN, and any float."""
    edges = [low, high, high * 1.0000001, MIN_MAGNITUDE, MIN_MAGNITUDE / 2, 5e-324, 1e308, -1.0, 0.0]
    return st.one_of(st.sampled_from(edges), st.floats(allow_nan=True, allow_infinity=True))


@FUZZ
@given(
    rps=edge_floats(0.0, MAX_RATE_RPS),
    ops=edge_floats(0.0, MAX_MAGNITUDE),
    tpot=edge_floats(0.001, MAX_MAGNITUDE),
    hours=st.sampled_from(["1", "744", "730"]),
    utilization=st.sampled_from(["0.01", "1", "0.7"]),
)
def test_fuzzed_crossover_options_give_finite_results_or_one_error(
    rps: float, ops: float, tpot: float, hours: str, utilization: str
) -> None:
    result = strict_run(
        "crossover",
        "--rps",
        repr(rps),
        "--ops-usd-per-month",
        repr(ops),
        "--max-tpot-ms",
        repr(tpot),
        "--hours-per-month",
        hours,
        "--target-utilization",
        utilization,
        *NARROW,
        "--format",
        "json",
    )
    assert_clean(result)


@FUZZ
@given(
    start=edge_floats(MIN_MAGNITUDE, MAX_RATE_RPS),
    stop=edge_floats(MIN_MAGNITUDE, MAX_RATE_RPS),
    count=st.one_of(st.integers(-3, 12), st.sampled_from([10**5, 10**5 + 1, 10**30])),
)
def test_fuzzed_rps_range_gives_finite_rows_or_one_error(start: float, stop: float, count: int) -> None:
    result = strict_run("sweep", "--rps-range", f"{start!r}:{stop!r}:{count}", *NARROW, "--format", "json")
    assert_clean(result)


# --------------------------------------------------------------------------- catalog figures


def offer_overlay(path: Path, **fields: Any) -> Path:
    entry = {
        "id": "fuzz-l40s",
        "provider": "Fuzz",
        "gpu": "l40s-48gb",
        "usd_per_gpu_hour": 1.0,
        "pricing": "on-demand",
        "source": "https://example.com/fuzz",
        "as_of": "2025-06-01",
    }
    entry.update(fields)
    path.write_text(yaml.safe_dump({"rental_offers": [entry]}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("true", "valid number"),
        ("'0.9'", "valid number"),
        (".inf", "finite number"),
        ("1.0e+300", "out of range"),
        ("1.0e-300", "out of range"),
        ("1" + "0" * 400, "valid number"),
    ],
)
def test_a_catalog_price_that_is_not_a_plain_number_is_refused(
    cli: Callable[..., Result], tmp_path: Path, text: str, message: str
) -> None:
    overlay = offer_overlay(tmp_path / "o.yaml")
    overlay.write_text(
        overlay.read_text(encoding="utf-8").replace("usd_per_gpu_hour: 1.0", f"usd_per_gpu_hour: {text}")
    )
    result = cli("crossover", "--rps", "5", *NARROW, "--catalog", str(overlay))
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, "rental_offers[0] (id 'fuzz-l40s').usd_per_gpu_hour", message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("confirmed", 1, "valid boolean"),
        ("confirmed", "yes", "valid boolean"),
        ("instance_gpus", 8.0, "valid integer"),
        ("instance_gpus", True, "valid integer"),
    ],
)
def test_no_silent_coercion_between_numbers_booleans_and_text(
    cli: Callable[..., Result], tmp_path: Path, field: str, value: Any, message: str
) -> None:
    overlay = offer_overlay(tmp_path / "o.yaml", **{field: value})
    result = cli("crossover", "--rps", "5", *NARROW, "--catalog", str(overlay))
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, f".{field}", message)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price=st.sampled_from([MIN_MAGNITUDE, 1e-3, 1.0, 1e6, MAX_MAGNITUDE]),
    bandwidth=st.sampled_from([MIN_MAGNITUDE, 1.0, 864.0, MAX_MAGNITUDE]),
    tflops=st.sampled_from([MIN_MAGNITUDE, 1.0, 362.0, MAX_MAGNITUDE]),
    rps=st.sampled_from(["0", "1e-09", "5", "1e9"]),
)
def test_catalog_figures_at_the_edges_of_the_envelope_give_finite_results(
    tmp_path_factory: pytest.TempPathFactory, price: float, bandwidth: float, tflops: float, rps: str
) -> None:
    gpus = yaml.safe_load((DATA / "gpu_prices.yaml").read_text(encoding="utf-8"))["gpus"]
    gpu = {
        **next(g for g in gpus if g["id"] == "l40s-48gb"),
        "memory_bandwidth_gb_s": bandwidth,
        "bf16_tflops": tflops,
        "fp8_tflops": tflops,
        "int8_tops": tflops,
    }
    path = tmp_path_factory.mktemp("edge") / "edge.yaml"
    offer_overlay(path, usd_per_gpu_hour=price)
    document = yaml.safe_load(path.read_text(encoding="utf-8")) | {"gpus": [gpu]}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert_clean(strict_run("crossover", "--rps", rps, *NARROW, "--catalog", str(path), "--format", "json"))


# --------------------------------------------------------------------------- measurement files


def measurement_file(path: Path, **fields: Any) -> Path:
    entries = yaml.safe_load((DATA / "calibration" / "measurements.yaml").read_text(encoding="utf-8"))
    entry = {**entries["measurements"][0], "id": "hostile-1", **fields}
    path.write_text(yaml.safe_dump({"measurements": [entry]}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", math.inf, "finite number"),
        ("value", True, "valid number"),
        ("n_gpus", True, "valid integer"),
        ("input_tokens", 128.5, "valid integer"),
        ("value", 1e300, "out of range"),
    ],
)
def test_a_measurement_that_is_not_a_plain_number_is_named(
    cli: Callable[..., Result], tmp_path: Path, field: str, value: Any, message: str
) -> None:
    path = measurement_file(tmp_path / "m.yaml", **{field: value})
    result = strict_run("validate", str(path), "--strict")
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, f"measurements[0] (id 'hostile-1').{field}", message)


# --------------------------------------------------------------------------- workloads and traffic profiles


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("requests_per_s", "true", "valid number"),
        ("requests_per_s", "1.0e+300", "out of range"),
        ("requests_per_s", ".nan", "finite number"),
        ("input_tokens", "1000.0", "valid integer"),
        ("input_tokens", "1" + "0" * 20, "out of range"),
        ("privacy_sensitive", "1", "valid boolean"),
        ("max_tpot_ms", "'50'", "valid number"),
    ],
)
def test_a_workload_value_that_is_not_a_plain_number_is_named(
    tmp_path: Path, field: str, text: str, message: str
) -> None:
    values = {"requests_per_s": "2", "input_tokens": "1000", "output_tokens": "300", "max_tpot_ms": "100"}
    values[field] = text
    body = "".join(f"    {k}: {v}\n" for k, v in values.items() if k != field) + f"    {field}: {text}\n"
    path = tmp_path / "w.yaml"
    path.write_text(f"workloads:\n  - name: chat\n    model: llama-3.1-8b\n{body}", encoding="utf-8")
    result = strict_run("plan", str(path))
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, f"workloads[0] (name 'chat').{field}", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "valid number"),
        (".inf", "finite number"),
        ("1.0e+300", "out of range"),
        ("-1", "greater than"),
    ],
)
def test_a_traffic_profile_rate_that_is_not_a_plain_number_is_named(
    tmp_path: Path, value: str, message: str
) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "traffic" / "flat-batch-pipeline.yaml"
    text = example.read_text(encoding="utf-8").replace(
        "  hourly_rps: [\n    5,", f"  hourly_rps: [\n    {value},", 1
    )
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    result = strict_run("workload", str(path))
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, "hourly_rps", message)


@pytest.mark.parametrize(
    "args",
    [
        ("crossover", "--rps", "5", "--target-utilization", "nan", *NARROW),
        ("crossover", "--rps", "5", "--hours-per-month", "nan", *NARROW),
        ("crossover", "--rps", "5", "--cached-input-fraction", "nan", *NARROW),
        ("deploy", *NARROW, "--rps", "1e300", "--self-signed", "-o", "kit"),
        ("deploy", *NARROW, "--rps", "nan", "--self-signed", "-o", "kit"),
        ("workload", "examples/traffic/flat-batch-pipeline.yaml", "--utc-offset", "nan"),
        ("kv-alert", *NARROW, "--threshold", "nan"),
        ("sensitivity", "--rps", "5", *NARROW, "--range", "nan"),
    ],
)
def test_nan_passes_no_option_range(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Click's ranges compare, and every comparison with NaN is false: each option is checked again."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    args = tuple(str(tmp_path / a) if a == "kit" else a for a in args)
    result = strict_run(*args)
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, args[args.index(next(a for a in args if a in ("nan", "1e300"))) - 1])
    assert not (tmp_path / "kit").exists()


def test_the_envelope_names_an_integer_too_large_for_a_float() -> None:
    from selfhost.limits import in_envelope

    with pytest.raises(ValueError, match=r"1\.00e\+400 is out of range"):
        in_envelope(10**400)
