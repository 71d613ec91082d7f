"""Engine release generations: what an older release changes in its predictions.

A generation (`EngineProfile.generations`) covers the releases before its ``before_version``. It
can have its own step overheads (vLLM's schedulers before 0.6 and before the V1 engine; fitted
apart) and/or a decode attention kernel that read each KV head once per query head
(TensorRT-LLM before 0.7.1, whose release notes add the XQA kernel for MQA/GQA). A generation that
keeps the current step overheads fits none of its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from selfhost.calibration.fit import build_problem, own_overheads
from selfhost.calibration.loader import (
    ResolvedMeasurement,
    builtin_measurements_path,
    read_measurements,
    resolve_measurements,
)
from selfhost.calibration.predict import serving_arrays
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.schema import EngineGeneration


@pytest.fixture(scope="module")
def points() -> dict[str, ResolvedMeasurement]:
    catalog = load_catalog(env={})
    path = builtin_measurements_path()
    return {r.measurement.id: r for r in resolve_measurements(read_measurements(path), catalog, path)}


def kv_reads(points: dict[str, ResolvedMeasurement], *ids: str) -> list[float]:
    arrays = serving_arrays([points[i] for i in ids])
    return [float(x) for x in np.broadcast_to(arrays.kv_reads_per_step, (len(ids),))]


def test_tensorrt_llm_before_0_7_1_reads_kv_once_per_query_head(
    points: dict[str, ResolvedMeasurement],
) -> None:
    old_70b = "trt061-llama2-70b-h100-tp4-bs480-128-2048"  # v0.6.1, 64 query heads over 8 KV heads
    old_7b = "trt061-llama2-7b-h100-bs768-128-128"  # v0.6.1, 32 heads, one KV head each
    current = "trt017-llama31-70b-h100-tp4-128-128"  # v0.17, 64 over 8, with XQA
    assert points[old_70b].generation is not None
    assert points[old_70b].generation.id == "before-xqa"  # type: ignore[union-attr]
    assert points[current].generation is None
    assert kv_reads(points, old_70b, old_7b, current) == [8.0, 1.0, 1.0]


def test_a_generation_without_its_own_overheads_takes_the_current_ones(
    points: dict[str, ResolvedMeasurement],
) -> None:
    old = points["trt061-llama2-70b-h100-tp4-bs480-128-2048"]
    current = points["trt017-llama31-70b-h100-tp4-128-128"]
    arrays = serving_arrays([old, current])
    overhead = np.broadcast_to(arrays.step_overhead_s, (2,))
    assert overhead[0] == overhead[1] == old.engine.step_overhead_s
    # the fit gives the generation no step-overhead fields of its own; vLLM's older schedulers keep theirs
    vllm_old = points["lambda-v054-llama31-8b-fp8-h100x1-sharegpt320"]
    assert [own_overheads(r) for r in (old, current, vllm_old)] == ["", "", "before-0.6"]
    problem = build_problem([old, vllm_old], [1.0, 1.0])
    assert problem.generations.tolist() == ["", "before-0.6"]


def test_the_llama_2_70b_rows_of_v0_6_1_are_fitted(points: dict[str, ResolvedMeasurement]) -> None:
    """They were left out of the fit while the roofline could not express their kernel."""
    old_gqa = [r for k, r in points.items() if k.startswith("trt061-llama2-70b")]
    assert len(old_gqa) == 4
    assert not any(r.measurement.exclude_from_fit for r in old_gqa)


def test_a_generation_must_differ_from_the_current_releases() -> None:
    base = dict(id="old", before_version="1.0", source="release notes")
    assert EngineGeneration(**base, kv_read_per_query_head=True).step_overhead_s is None
    assert EngineGeneration(**base, step_overhead_s=0.004).kv_read_per_query_head is False
    with pytest.raises(ValidationError, match="differs from the current releases in nothing"):
        EngineGeneration(**base)
    with pytest.raises(ValidationError, match="step_overhead_per_sequence_s needs step_overhead_s"):
        EngineGeneration(**base, kv_read_per_query_head=True, step_overhead_per_sequence_s=1e-5)


def test_each_table_row_names_the_release_its_source_states(points: dict[str, ResolvedMeasurement]) -> None:
    """TensorRT-LLM's tables state their release (v0.5, v0.6.1, v0.14, v0.17); llama.cpp's builds
    were not pinned and LMDeploy's 'v0.1.0a1' is a pre-release, so they name none (current)."""
    versions: dict[str, set[str]] = {}
    for r in points.values():
        versions.setdefault(r.engine.id, set()).add(r.measurement.engine_version)
    assert versions["tensorrt-llm"] == {"0.5", "0.6.1", "0.14.0", "0.17"}
    assert versions["llama.cpp"] == versions["lmdeploy"] == {""}
