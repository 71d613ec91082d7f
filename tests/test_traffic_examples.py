"""The synthetic traffic profiles in examples/traffic/ are what their script writes, say they are
synthetic, share one mean rate, and the crossover table in examples/README.md is current."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from selfhost.traffic_profile import read_profile

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "examples" / "traffic").glob("*.yaml"))
Cli = Callable[..., Result]


def script():
    spec = importlib.util.spec_from_file_location(
        "make_traffic_examples", ROOT / "scripts" / "make_traffic_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_shapes_are_there():
    assert [p.stem for p in PROFILES] == ["business-hours-chat", "flat-batch-pipeline", "spiky-consumer-app"]


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_each_example_says_it_is_synthetic_and_has_a_mean_of_5_rps(path: Path, cli: Cli):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC traffic profile:")
    assert "Made up, not measured" in text and "Shape assumptions" in text
    profile = read_profile(path)
    assert profile.source.synthetic and profile.shape == "week"
    assert profile.mean_rps == pytest.approx(5.0, rel=1e-5)
    assert (profile.tokens.input.mean, profile.tokens.output.mean) == (1000.0, 300.0)
    result = cli("workload", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["profile_mean_rps"] == pytest.approx(5.0, rel=1e-5)
    assert f"](traffic/{path.name})" in (ROOT / "examples" / "README.md").read_text(encoding="utf-8")


def test_files_and_the_readme_table_are_what_the_script_writes():
    import sys

    saved = sys.argv
    sys.argv = ["make_traffic_examples.py", "--check"]
    try:
        assert script().main() == 0, "run python scripts/make_traffic_examples.py"
    finally:
        sys.argv = saved


def test_the_peaky_shapes_peak_where_their_headers_say():
    m = script()
    for name, expected in (
        ("business-hours-chat", 2.9),
        ("spiky-consumer-app", 6.1),
        ("flat-batch-pipeline", 1.0),
    ):
        s = m.shape(name)
        assert s.max() / s.mean() == pytest.approx(expected, abs=0.05)
        assert f"Peak hour / mean: {expected:.1f}." in (
            ROOT / "examples" / "traffic" / f"{name}.yaml"
        ).read_text(encoding="utf-8")
