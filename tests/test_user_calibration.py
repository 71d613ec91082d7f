"""`selfhost calibrate`: an engine profile fitted to a user's own runs, on their GPU only.

The end-to-end tests import a real public result file (tests/fixtures/bench_results/SOURCES.md:
dstackai/benchmarks, Llama 3.1 405B FP8 on 8x H100 SXM, vLLM 0.6.3, 16 req/s) with
`measurements import`, calibrate to it and plan with the overlay. The fit's own tests make
"measurements" with the model itself and a known change of one efficiency, so the value the fit
must recover is known independently of the fit.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import Result

from selfhost.calibration.fit import build_problem
from selfhost.calibration.loader import ResolvedMeasurement, read_measurements, resolve_measurements
from selfhost.calibration.user import (
    POINT_ERROR_SCALE,
    calibrate_gpu,
    calibrated_engines,
    pinned_fields,
    point_weights,
    predictions,
    prior_sigmas,
)
from selfhost.catalog.entries import GpuEfficiency
from selfhost.catalog.loader import builtin_data_dir, load_catalog
from selfhost.errors import CatalogError
from selfhost.scenarios import engine_efficiency
from selfhost.user_calibrations import user_calibrations

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[1]
VLLM_405B = (
    ROOT
    / "tests"
    / "fixtures"
    / "bench_results"
    / "vllm"
    / ("nvidia-vllm-16.0qps-Llama-3.1-405B-FP8-20241109-150547.json")
)
MBU, MFU, STEP = "memory_bandwidth_utilization", "compute_utilization", "step_overhead_s"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(env={})


def builtin_points(
    catalog, engine: str, gpu: str, *, generation: str | None = None
) -> list[ResolvedMeasurement]:
    """The built-in throughput and latency points of one engine on one GPU, fitted ones only
    (``generation``: of that release generation only, "" the current one; None: any)."""
    out = []
    for name in ("measurements.yaml", "latency.yaml"):
        path = builtin_data_dir() / "calibration" / name
        for r in resolve_measurements(read_measurements(path), catalog, path):
            if r.engine.id != engine or r.gpu.id != gpu or r.measurement.exclude_from_fit:
                continue
            if generation is not None and (r.generation.id if r.generation else "") != generation:
                continue
            out.append(r)
    return out


def with_override(points: list[ResolvedMeasurement], **values: float) -> list[ResolvedMeasurement]:
    """The points with their engine's efficiencies on their GPU replaced by ``values``."""
    engine, gpu = points[0].engine, points[0].gpu
    moved = engine.model_copy(
        update={"gpu_efficiency": {gpu.id: GpuEfficiency(**values, source="test: a known change")}}
    )
    return [dataclasses.replace(r, engine=moved) for r in points]


def measured_as(points: list[ResolvedMeasurement], values: np.ndarray) -> list[ResolvedMeasurement]:
    return [
        dataclasses.replace(r, measurement=r.measurement.model_copy(update={"value": float(v)}))
        for r, v in zip(points, values, strict=True)
    ]


def model_predictions(points: list[ResolvedMeasurement]) -> np.ndarray:
    return predictions(build_problem(points, point_weights(points)))


# --------------------------------------------------------------------------- the override


def test_a_gpu_override_applies_on_that_gpu_only_and_before_the_platform_value(catalog):
    vllm = next(e for e in catalog.engines if e.id == "vllm")
    cuda_mbu = vllm.platform_efficiency["cuda"].memory_bandwidth_utilization
    mine = vllm.model_copy(
        update={
            "gpu_efficiency": {"h100-sxm-80gb": GpuEfficiency(memory_bandwidth_utilization=0.7, source="x")}
        }
    )
    assert engine_efficiency(mine, "cuda", MBU, gpu="h100-sxm-80gb") == 0.7
    assert engine_efficiency(mine, "cuda", MBU, gpu="a100-80gb") == cuda_mbu  # another GPU: the platform's
    assert (
        engine_efficiency(mine, "cuda", MFU, gpu="h100-sxm-80gb")
        == vllm.platform_efficiency["cuda"].compute_utilization
    )
    assert (
        engine_efficiency(mine, "cuda", STEP, gpu="h100-sxm-80gb") == vllm.step_overhead_s
    )  # None: the profile's


def test_an_override_for_a_gpu_the_catalog_does_not_have_is_refused(tmp_path: Path, catalog):
    vllm = next(e for e in catalog.engines if e.id == "vllm")
    data = vllm.model_dump(mode="json")
    data["gpu_efficiency"] = {"h100-sxm": {"memory_bandwidth_utilization": 0.7, "source": "mine.yaml"}}
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"engines": [data]}), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"gpu_efficiency\.h100-sxm: unknown id 'h100-sxm'"):
        load_catalog([overlay], env={})


# --------------------------------------------------------------------------- the fit


def test_the_fit_recovers_a_known_bandwidth_efficiency_from_many_points(catalog):
    points = builtin_points(catalog, "vllm", "h100-sxm-80gb")
    assert len(points) >= 8
    mbu = engine_efficiency(points[0].engine, "cuda", MBU, gpu="h100-sxm-80gb")
    truth = round(mbu * 1.15, 2)
    user = measured_as(points, model_predictions(with_override(points, memory_bandwidth_utilization=truth)))
    calibration = calibrate_gpu(user)
    assert MBU in calibration.fitted
    assert calibration.after[MBU] == pytest.approx(truth, abs=0.011)  # the grid's step is 0.01
    assert calibration.after_error.median_abs_error < 0.01 < calibration.before_error.median_abs_error


def test_one_point_fits_at_most_one_field_and_the_prior_holds_it_back(catalog):
    points = builtin_points(catalog, "llama.cpp", "l40s-48gb")
    single_stream = [r for r in points if r.measurement.scope == "single_stream"][:1]
    assert single_stream, "a decode-bound point (llama-bench tg512: one sequence)"
    user = measured_as(single_stream, model_predictions(single_stream) * 1.5)  # 50 % faster than predicted
    fitted = calibrate_gpu(user)
    plain = calibrate_gpu(user, regularize=False)
    assert fitted.fitted == plain.fitted == (MBU,)  # one sequence decoding: bandwidth-bound
    assert fitted.kept[MFU] == "the points hardly depend on it"
    catalog_mbu = fitted.before[MBU]
    assert catalog_mbu < fitted.after[MBU] < plain.after[MBU]  # moves, but less than the plain fit
    assert fitted.after_error.median_abs_error > plain.after_error.median_abs_error


def test_the_prior_weighs_less_as_points_accumulate(catalog):
    points = builtin_points(catalog, "vllm", "h100-sxm-80gb")
    faster = model_predictions(points) * 1.3
    few = calibrate_gpu(measured_as(points[:2], faster[:2]))
    many = calibrate_gpu(measured_as(points, faster))
    plain = calibrate_gpu(measured_as(points, faster), regularize=False)
    shift = {
        name: np.log(c.after[MBU] / c.before[MBU])
        for name, c in (("few", few), ("many", many), ("plain", plain))
    }
    assert shift["few"] < shift["many"] <= shift["plain"] + 1e-9
    assert shift["many"] == pytest.approx(shift["plain"], abs=0.03)


def test_a_field_the_points_cannot_tell_apart_is_kept(catalog):
    points = builtin_points(catalog, "vllm", "h100-sxm-80gb")
    problem = build_problem(points[:1], point_weights(points[:1]))
    engine, gpu = points[0].engine, points[0].gpu
    center = {n: engine_efficiency(engine, gpu.platform, n, gpu=gpu.id) for n in (MBU, MFU, STEP)}
    kept, why = pinned_fields(problem, [MBU, MFU, STEP], center, prior_sigmas(engine, gpu))
    assert len(kept) <= 1  # one point: one number
    assert len(why) >= 2 and all(isinstance(reason, str) and reason for reason in why.values())


def test_runs_of_an_older_release_do_not_move_the_current_step_overhead(catalog):
    old = builtin_points(catalog, "vllm", "h100-sxm-80gb", generation="v0-engine")
    assert old, "the built-in file has vLLM 0.6-0.7 runs on H100"
    calibration = calibrate_gpu(measured_as(old, model_predictions(old) * 1.2))
    assert STEP not in calibration.fitted
    assert "older release (v0-engine)" in calibration.kept[STEP]
    assert calibration.after[STEP] == calibration.before[STEP]


def test_the_point_error_scale_is_the_builtin_fits_in_sample_error():
    fit = json.loads((ROOT / "docs" / "calibration-fit.json").read_text(encoding="utf-8"))
    assert abs(POINT_ERROR_SCALE - fit["in_sample"]["throughput"]["mean_abs_log_error"]) <= 0.03


def test_calibrated_engines_change_only_the_calibrated_gpu(catalog):
    points = builtin_points(catalog, "vllm", "h100-sxm-80gb")
    calibration = calibrate_gpu(measured_as(points, model_predictions(points) * 1.2))
    (engine,) = calibrated_engines(catalog, [calibration], "user calibration: selfhost calibrate mine.yaml")
    builtin = next(e for e in catalog.engines if e.id == "vllm")
    assert set(engine.gpu_efficiency) == {"h100-sxm-80gb"}
    override = engine.gpu_efficiency["h100-sxm-80gb"]
    assert override.source == "user calibration: selfhost calibrate mine.yaml"
    assert override.points == calibration.points
    kept = {"gpu_efficiency", "notes"}
    assert {k: v for k, v in engine.model_dump().items() if k not in kept} == {
        k: v for k, v in builtin.model_dump().items() if k not in kept
    }
    mine = catalog.model_copy(
        update={"engines": tuple(engine if e.id == "vllm" else e for e in catalog.engines)}
    )
    (in_use,) = user_calibrations(
        mine, [{"engine": "vllm", "gpu": "h100-sxm-80gb"}, {"engine": "vllm", "gpu": "a100-80gb"}]
    )
    assert in_use["engine"] == "vllm" and in_use["gpu"] == "h100-sxm-80gb" and "mine.yaml" in in_use["source"]


# --------------------------------------------------------------------------- on a real result file


@pytest.fixture
def imported(cli: Cli, tmp_path: Path) -> Path:
    """The dstack 405B run as measurements, with the vLLM release that ran it (0.6.3, per the repo)."""
    mine = tmp_path / "mine.yaml"
    result = cli(
        "measurements", "import", str(VLLM_405B), "-m", "llama-3.1-405b", "-q", "fp8", "-g", "h100-sxm-80gb",
        "-n", "8", "--engine-version", "0.6.3", "--into", str(mine),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return mine


def test_calibrate_a_real_result_file_prints_the_error_before_and_after(cli: Cli, imported: Path):
    result = cli("calibrate", str(imported), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (c,) = doc["results"]
    assert (c["engine"], c["gpu"]) == ("vllm", "h100-sxm-80gb")
    assert (
        c["points"] == 3 and c["excluded_points"] == 4
    )  # throughput, mean TTFT, mean TPOT; medians, p99s out
    # with the catalog's MFU of 0.46 the 405B run's prefills make its points compute-bound: MFU is the field
    assert c["fitted"] == [MFU] and c["after"][MFU] != c["before"][MFU]
    assert "older release (v0-engine)" in c["kept"][STEP]  # --engine-version 0.6.3 reached the fit
    assert c["after_error"]["mean_abs_log_error"] < c["before_error"]["mean_abs_log_error"]
    assert doc["overlay"] is None
    table = cli("calibrate", str(imported))
    assert "Median |error|" in table.stdout and "Within ±30 %" in table.stdout
    assert "catalog" in table.stdout and "calibrated" in table.stdout
    assert "add --into FILE" in table.stderr


def test_the_overlay_plans_with_the_measured_capacity_on_that_gpu_only(
    cli: Cli, imported: Path, tmp_path: Path
):
    overlay = tmp_path / "my-vllm.yaml"
    result = cli("calibrate", str(imported), "--into", str(overlay))
    assert result.exit_code == 0, result.output
    text = overlay.read_text(encoding="utf-8")
    assert text.startswith("# selfhost catalog overlay") and "# selfhost calibrate" in text
    entry = yaml.safe_load(text)["engines"][0]
    assert entry["id"] == "vllm" and set(entry["gpu_efficiency"]) == {"h100-sxm-80gb"}
    assert str(imported) in entry["gpu_efficiency"]["h100-sxm-80gb"]["source"]

    def capacity(*extra: str) -> dict[str, float]:
        args = [
            "cost",
            "--rps",
            "5",
            "-m",
            "llama-3.3-70b",
            "-q",
            "bf16",
            "-g",
            "h100-sxm-80gb",
            "-g",
            "a100-80gb",
        ]
        out = cli(*args, "-n", "4", "--format", "json", *extra)
        assert out.exit_code == 0, out.output
        return {r["gpu"]: r["capacity_rps_per_replica"] for r in json.loads(out.stdout)["results"]}

    before, after = capacity(), capacity("--catalog", str(overlay))
    fitted = json.loads(cli("calibrate", str(imported), "--format", "json").stdout)["results"][0]
    assert (after["h100-sxm-80gb"] > before["h100-sxm-80gb"]) == (
        fitted["after"][MFU] > fitted["before"][MFU]
    )
    assert after["h100-sxm-80gb"] != before["h100-sxm-80gb"]
    assert after["a100-80gb"] == before["a100-80gb"]  # the calibration is of the H100 only


def test_validate_with_the_overlay_gives_the_calibrated_predictions(cli: Cli, imported: Path, tmp_path: Path):
    """An independent path to the same numbers: the catalog loader and `validate`'s predictions."""
    overlay = tmp_path / "my-vllm.yaml"
    calibrated = json.loads(
        cli("calibrate", str(imported), "--into", str(overlay), "--format", "json").stdout
    )
    expected = {p["id"]: p["predicted_after"] for p in calibrated["results"][0]["points_detail"]}
    validated = cli("validate", str(imported), "--catalog", str(overlay), "--format", "json")
    assert validated.exit_code == 0, validated.output
    got = {r["id"]: r["predicted"] for r in json.loads(validated.stdout)["results"] if r["id"] in expected}
    assert got == pytest.approx(expected, rel=1e-12)


def test_calibrate_never_overwrites_an_overlay_and_keeps_its_comments(
    cli: Cli, imported: Path, tmp_path: Path
):
    overlay = tmp_path / "my-catalog.yaml"
    overlay.write_text("# my GPUs and prices\nengines:\n  - id: vllm  # mine\n", encoding="utf-8")
    before = overlay.read_bytes()
    refused = cli("calibrate", str(imported), "--into", str(overlay))
    assert refused.exit_code == 2
    assert "already has engine 'vllm'" in refused.stderr and "never overwritten" in refused.stderr
    assert overlay.read_bytes() == before
    other = tmp_path / "prices.yaml"
    other.write_text("# my prices, kept\nrental_offers: []\n", encoding="utf-8")
    added = cli("calibrate", str(imported), "--into", str(other))
    assert added.exit_code == 0, added.output
    text = other.read_text(encoding="utf-8")
    assert text.startswith("# my prices, kept\n") and "gpu_efficiency" in text


def test_a_file_with_no_known_deployment_is_a_one_line_error(cli: Cli, tmp_path: Path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "measurements:\n- {id: a, model: no-such-model, gpu: h100-sxm-80gb, quant: fp8, engine: vllm, "
        "input_tokens: 100, output_tokens: 100, concurrency: 1, scope: total, value: 10, unit: tokens/s, "
        "source: {title: mine}}\n",
        encoding="utf-8",
    )
    result = cli("calibrate", str(mine))
    assert result.exit_code == 2
    # a file with no valid entry is refused by the loader, naming the entry and the unknown id
    assert "unknown id 'no-such-model'" in result.stderr and "Traceback" not in result.output


def test_every_costed_output_says_a_user_calibration_is_in_use(cli: Cli, imported: Path, tmp_path: Path):
    overlay = tmp_path / "my-vllm.yaml"
    assert cli("calibrate", str(imported), "--into", str(overlay)).exit_code == 0
    ask = ["--rps", "5", "-m", "llama-3.3-70b", "-g", "h100-sxm-80gb", "-q", "fp8", "--catalog", str(overlay)]
    crossover = cli("crossover", *ask, "--format", "json")
    assert crossover.exit_code == 0, crossover.output
    (used,) = json.loads(crossover.stdout)["assumptions"]["user_calibrations"]
    assert (used["engine"], used["gpu"], used["points"]) == ("vllm", "h100-sxm-80gb", 3)
    assert str(imported) in used["source"] and MFU in used["fields"]
    table = cli("cost", *ask)
    assert "uses your calibration" in table.stderr and str(imported) in table.stderr
    plain = cli("crossover", *ask[:-2], "--format", "json")
    assert "user_calibrations" not in json.loads(plain.stdout)["assumptions"]
    review = tmp_path / "review.md"
    done = cli("report", *ask, "-o", str(review))
    assert done.exit_code == 0, done.output
    text = review.read_text(encoding="utf-8")
    assert "A user calibration is in use" in text and "vllm on h100-sxm-80gb: MFU" in text


@pytest.mark.parametrize(
    "command",
    [
        ("sweep", "--rps", "5", "-m", "llama-3.3-70b", "-q", "fp8", "-g", "h100-sxm-80gb"),
        ("sensitivity", "--rps", "5", "-m", "llama-3.3-70b", "-q", "fp8", "-g", "h100-sxm-80gb"),
        ("estimate", "-m", "llama-3.3-70b", "-g", "h100-sxm-80gb"),
        ("plan", str(ROOT / "examples" / "chat-assistant.yaml"), "-g", "h100-sxm-80gb"),
    ],
    ids=lambda c: c[0],
)
def test_other_commands_name_the_calibration_too(cli: Cli, imported: Path, tmp_path: Path, command):
    overlay = tmp_path / "my-vllm.yaml"
    assert cli("calibrate", str(imported), "--into", str(overlay)).exit_code == 0
    result = cli(*command, "--catalog", str(overlay), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "uses your calibration" in result.stderr
    assert json.loads(result.stdout)["assumptions"]["user_calibrations"][0]["gpu"] == "h100-sxm-80gb"


def test_the_overfitting_table_in_the_docs_is_the_holdout_scripts():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "calibrate_holdout", ROOT / "scripts" / "calibrate_holdout.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    figures = json.loads((ROOT / "docs" / "calibrate-holdout.json").read_text(encoding="utf-8"))
    assert script.markdown_table(figures) in (ROOT / "docs" / "calibrate.md").read_text(encoding="utf-8")
    for entry in figures["summary"].values():  # what the page claims of them
        assert (
            entry["regularized"]["mean_abs_log_error"] <= entry["unregularized"]["mean_abs_log_error"] + 0.002
        )


def test_the_real_file_figures_in_the_docs_are_what_the_commands_print(
    cli: Cli, imported: Path, tmp_path: Path
):
    doc = (ROOT / "docs" / "calibrate.md").read_text(encoding="utf-8")
    overlay = tmp_path / "my-vllm.yaml"
    (c,) = json.loads(cli("calibrate", str(imported), "--into", str(overlay), "--format", "json").stdout)[
        "results"
    ]
    assert f"MFU: {c['before'][MFU]:.2f} -> {c['after'][MFU]:.2f}" in doc
    for name, err in (("catalog", c["before_error"]), ("calibrated", c["after_error"])):
        row = f"| {name} | {err['points']} | {err['median_abs_error']:.1%} | {err['within_30']:.1%} | {err['median_error']:+.0%} |"
        assert row.replace("%", " %") in doc, row
    ask = ["--rps", "5", "-m", "llama-3.1-405b", "-g", "h100-sxm-80gb", "-q", "fp8", "--format", "json"]
    capacity = [
        json.loads(cli("crossover", *ask, *extra).stdout)["results"][0]["capacity_rps_per_replica"]
        for extra in ((), ("--catalog", str(overlay)))
    ]
    assert f"{capacity[1]:.2f} req/s per 8-GPU replica instead of {capacity[0]:.2f}" in doc


def test_an_engine_version_that_is_not_a_release_number_is_refused(cli: Cli):
    result = cli(
        "measurements", "import", str(VLLM_405B), "-m", "llama-3.1-405b", "-q", "fp8", "-g", "h100-sxm-80gb",
        "-n", "8", "--engine-version", "v0.6",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--engine-version 'v0.6' must be a release number" in result.stderr


def test_calibrating_again_over_an_overlay_keeps_both_gpus_and_one_note(catalog, tmp_path: Path):
    from selfhost.catalog.overlay import append_engine

    h100 = builtin_points(catalog, "vllm", "h100-sxm-80gb")
    first = calibrate_gpu(measured_as(h100, model_predictions(h100) * 1.2))
    (engine,) = calibrated_engines(catalog, [first], "user calibration: selfhost calibrate h100.yaml")
    overlay = tmp_path / "h100.yaml"
    append_engine(overlay, engine)
    mine = load_catalog([overlay], env={})
    a100 = builtin_points(mine, "vllm", "a100-80gb")
    second = calibrate_gpu(measured_as(a100, model_predictions(a100) * 0.8))
    (both,) = calibrated_engines(mine, [second], "user calibration: selfhost calibrate a100.yaml")
    assert set(both.gpu_efficiency) == {"h100-sxm-80gb", "a100-80gb"}
    assert both.notes.count("Copied from the catalog") == 1
    assert "only gpu_efficiency (h100-sxm-80gb, a100-80gb) is the user's calibration." in both.notes


def test_the_documented_prior_sigmas_are_the_ones_the_fit_uses():
    """docs/calibrate.md's table of priors names the sigmas `prior_sigmas` takes from the
    uncertainty model (they change when the calibration is refitted)."""
    from selfhost.uncertainty import EFFICIENCY_SIGMA, EFFICIENCY_SIGMA_EXTRAPOLATED

    text = (Path(__file__).resolve().parents[1] / "docs" / "calibrate.md").read_text(encoding="utf-8")
    assert (
        f"lognormal, sigma {EFFICIENCY_SIGMA:g} ({EFFICIENCY_SIGMA_EXTRAPOLATED:g} on a GPU without" in text
    )
