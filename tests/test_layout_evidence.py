"""Which replica layouts have published measurements behind an engine profile, and how outputs say so.

`scripts/calibrate.py` writes each profile's ``measured_layouts``: the layout kinds (one GPU,
tensor parallel, pipeline stages, data-parallel attention, a layer split) of the points it was
fitted to. A deployment of another kind (``layout_measured: false``) is the roofline's
extrapolation of the fit, and every output that shows one says so, as for an unmeasured GPU.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from typer.testing import Result

from selfhost.analysis import evidence_note
from selfhost.calibration.loader import builtin_measurements_path
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.catalog.schema import LayoutKind
from selfhost.scenarios import LAYOUT_KINDS, ReplicaConfig, layout_kind

Cli = Callable[..., Result]
LATENCY = builtin_measurements_path().with_name("latency.yaml")


def test_the_schema_accepts_exactly_the_layout_kinds() -> None:
    assert typing.get_args(LayoutKind) == LAYOUT_KINDS


@pytest.mark.parametrize(
    ("n_gpus", "layer_split", "stages", "dp", "kind"),
    [
        (1, False, 1, False, "single-gpu"),
        (1, True, 1, False, "single-gpu"),  # one GPU splits nothing
        (4, True, 1, False, "layer-split"),
        (8, False, 1, True, "dp-attention"),
        (8, False, 2, False, "pipeline-parallel"),
        (8, False, 1, False, "tensor-parallel"),
    ],
)
def test_layout_kind(n_gpus: int, layer_split: bool, stages: int, dp: bool, kind: str) -> None:
    assert layout_kind(n_gpus, layer_split, stages, dp) == kind


def test_measured_layouts_are_the_layouts_each_profile_was_fitted_on() -> None:
    """Recomputed from the raw measurement files: an engine's own fitted points, or for an engine
    without any, the points of every engine on its platforms (the pooled fit)."""
    catalog = load_catalog(env={})
    engines = by_id(catalog.engines)
    platform = {g.id: g.platform for g in catalog.gpus}
    raw = [
        m
        for path in (builtin_measurements_path(), LATENCY)
        for m in yaml.safe_load(path.read_text(encoding="utf-8"))["measurements"]
        if not m.get("exclude_from_fit")
    ]

    def kind(m: dict[str, Any]) -> str:
        split = engines[m["engine"]].multi_gpu == "layer-split"
        return layout_kind(
            int(m.get("n_gpus", 1)), split, int(m.get("pipeline_parallel", 1)), bool(m.get("dp_attention"))
        )

    for engine in catalog.engines:
        own = {kind(m) for m in raw if m["engine"] == engine.id}
        pooled = {kind(m) for m in raw if platform[m["gpu"]] in engine.platforms}
        assert set(engine.measured_layouts) == (own or pooled), engine.id
    # the one data-parallel-attention run (SGLang, DeepSeek-R1) is left out of the fit
    assert "dp-attention" not in engines["sglang"].measured_layouts
    assert "layer-split" in engines["llama.cpp"].measured_layouts


def test_a_replica_of_an_unmeasured_layout_is_flagged() -> None:
    catalog = load_catalog(env={})
    models, quants, gpus, engines = (
        by_id(s) for s in (catalog.models, catalog.quantizations, catalog.gpus, catalog.engines)
    )
    args = (models["deepseek-v3"], quants["fp8"], gpus["h200-141gb"], 8, engines["vllm"])
    tp = ReplicaConfig(*args)
    dp = ReplicaConfig(*args, dp_attention=True)
    pp = ReplicaConfig(*args, pipeline_stages=2)
    assert (tp.layout_kind, dp.layout_kind, pp.layout_kind) == (
        "tensor-parallel",
        "dp-attention",
        "pipeline-parallel",
    )
    assert tp.layout_measured and not dp.layout_measured and not pp.layout_measured


def test_the_evidence_note_names_the_unmeasured_layouts() -> None:
    measured = {
        "engine": "vllm",
        "gpu": "h200",
        "layout": "TP8",
        "engine_confirmed": True,
        "gpu_measured": True,
    }
    records = [
        measured,
        {**measured, "layout": "DP8 attention + EP8", "layout_measured": False},
        {**measured, "layout": "TP4 x PP2", "layout_measured": False},
    ]
    note = evidence_note(records)
    assert note is not None
    assert "extrapolated to a layout with no published measurement" in note
    assert "vllm DP8 attention + EP8, vllm TP4 x PP2" in note
    assert "vllm TP8" not in note
    assert evidence_note([{**measured, "layout_measured": True}]) is None


def _json(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["results"])


def test_cost_shows_which_rows_rest_on_an_unmeasured_layout(cli: Cli) -> None:
    args = ("cost", "--rps", "5", "-m", "deepseek-v3", "-g", "h200-141gb", "--limit", "0", "--format", "json")
    result = cli(*args)
    rows = [r for r in _json(result) if "layout_measured" in r]
    flagged = {r["layout"] for r in rows if not r["layout_measured"]}
    assert flagged and all("attention" in layout or "PP" in layout for layout in flagged)
    assert all(r["layout_measured"] for r in rows if r["layout"].startswith("TP") and "PP" not in r["layout"])
    assert "extrapolated to a layout" in result.stderr
    # --measured-only keeps the measured layouts only
    kept = [r for r in _json(cli(*args, "--measured-only")) if "layout_measured" in r]
    assert kept and all(r["layout_measured"] and r["gpu_measured"] for r in kept)


def test_the_sweep_has_the_layout_columns(cli: Cli) -> None:
    result = cli("sweep", "-m", "deepseek-v3", "-g", "h200-141gb", "--rps", "5", "--format", "csv")
    assert result.exit_code == 0, result.output
    header, *rows = [line.split(",") for line in result.stdout.splitlines()]
    assert header[6:11] == ["layout", "engine", "engine_confirmed", "gpu_measured", "layout_measured"]
    options = [row[1] for row in rows]
    assert len(set(options)) == len(options)
    assert any("-dp-attention/" in option for option in options)
