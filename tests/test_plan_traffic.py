"""`plan` workloads with a traffic_profile: a flat profile plans exactly as the sustained rate,
a single profiled workload costs what `crossover --traffic` says, and workloads with opposite
shapes share replicas by the hour (checked against the optimizer's block cost computed by hand)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import Result

from selfhost.engine import assignment

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "examples" / "traffic" / "business-hours-chat.yaml"
FLAT = ROOT / "examples" / "traffic" / "flat-batch-pipeline.yaml"
Cli = Callable[..., Result]


def plan_json(cli: Cli, path: Path, *args: str) -> dict[str, Any]:
    result = cli("plan", str(path), *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, entries: str) -> Path:
    path.write_text("workloads:\n" + entries, encoding="utf-8")
    return path


def test_a_flat_profile_plans_as_the_sustained_rate(cli: Cli, tmp_path: Path):
    sustained = write(
        tmp_path / "a.yaml",
        "  - {name: chat, requests_per_s: 5, input_tokens: 1000, output_tokens: 300, model: llama-3.3-70b,"
        " privacy_sensitive: true}\n",
    )
    profiled = write(
        tmp_path / "b.yaml",
        f"  - {{name: chat, traffic_profile: {FLAT}, model: llama-3.3-70b, privacy_sensitive: true}}\n",
    )
    a, b = plan_json(cli, sustained, "-g", "h100-sxm"), plan_json(cli, profiled, "-g", "h100-sxm")
    assert b["totals"] == a["totals"]
    assert [{k: d[k] for k in a["deployments"][0]} for d in b["deployments"]] == a["deployments"]
    assert b["assumptions"]["workloads"][0]["traffic_profile"] == str(FLAT)


@pytest.mark.parametrize("provisioning", ["fixed", "autoscaled"])
def test_one_profiled_workload_costs_what_crossover_traffic_says(cli: Cli, tmp_path: Path, provisioning: str):
    path = write(
        tmp_path / "w.yaml",
        "  - {name: chat, traffic_profile: busy.yaml, model: llama-3.3-70b, privacy_sensitive: true}\n",
    )
    (tmp_path / "busy.yaml").write_text(BUSY.read_text(encoding="utf-8"), encoding="utf-8")  # relative path
    plan = plan_json(cli, path, "--provisioning", provisioning)
    crossed = cli(
        "crossover",
        "--traffic",
        str(BUSY),
        "-m",
        "llama-3.3-70b",
        "--provisioning",
        provisioning,
        "--format",
        "json",
    )
    best = json.loads(crossed.stdout)["results"][0]
    assert plan["totals"]["total_usd_per_month"] == pytest.approx(best["self_hosted_usd_per_month"], rel=1e-9)
    assert plan["deployments"][0]["provisioning"] == provisioning
    assert plan["results"][0]["requests_per_s"] == pytest.approx(5.0, rel=1e-5)  # the profile's mean
    assert plan["assumptions"]["provisioning"] == provisioning


def test_opposite_shapes_share_replicas_by_the_hour():
    """Day and night workloads of 1 unit-load each at their peak: separately 1 + 1 units, together
    the busiest hour holds 1 unit of load, so a shared block buys 1 (fixed) or fewer (autoscaled)."""
    day = np.array([0.0] * 12 + [2.0] * 12)  # rate over mean: busy half the day
    night = day[::-1].copy()
    shape = np.vstack([day, night])
    load = np.array([[[0.5, 0.5]]]).reshape(1, 2, 1)  # mean load 0.5 unit each, peak 1.0 each
    common = dict(
        api_usd_per_month=np.array([1e9, 1e9]),
        load_units=load,
        unit_usd_per_month=np.array([100.0]),
        unit_gpus=np.array([1.0]),
        min_units=np.array([0.0]),
        tpot_ms=np.array([100.0, 100.0]),
        tpot_levels_ms=np.array([100.0]),
        must_self_host=np.array([True, True]),
        ops_usd_per_month=0.0,
    )
    flat = assignment.block_table(assignment.AssignmentProblem(**common))
    fixed = assignment.block_table(assignment.AssignmentProblem(**common, hourly_shape=shape))
    scaled = assignment.block_table(
        assignment.AssignmentProblem(**common, hourly_shape=shape, billing_granularity_h=1)
    )
    # masks: 1 = day alone, 2 = night alone, 3 = both
    assert flat.usd_per_month[3] == 100.0  # ceil(0.5 + 0.5)
    assert fixed.usd_per_month[1] == 100.0 and fixed.usd_per_month[3] == 100.0  # peaks never overlap
    # autoscaled, day alone: 12 hours of 1 unit, 12 of 0 -> half a unit-month
    assert scaled.usd_per_month[1] == pytest.approx(50.0)
    assert scaled.usd_per_month[3] == pytest.approx(100.0)
    # by hand for a shifted pair: pooled load per hour, ceil, mean
    night2 = np.roll(day, 6)
    both = assignment.block_table(
        assignment.AssignmentProblem(**common, hourly_shape=np.vstack([day, night2]), billing_granularity_h=2)
    )
    pooled = 0.5 * day + 0.5 * night2
    units = np.ceil(pooled * (1 - assignment.UNIT_ROUNDING_SLACK))
    blocks = units.reshape(12, 2).max(axis=1)
    assert both.usd_per_month[3] == pytest.approx(100.0 * blocks.mean())
    # hours 0-5 night only (1 unit), 6-11 idle, 12-17 day only (1), 18-23 both (2): a mean of 1 unit
    assert list(units) == [1.0] * 6 + [0.0] * 6 + [1.0] * 6 + [2.0] * 6


def test_autoscaled_without_a_profile_or_with_owned_hardware_is_refused(cli: Cli, tmp_path: Path):
    sustained = write(
        tmp_path / "a.yaml",
        "  - {name: chat, requests_per_s: 5, input_tokens: 1000, output_tokens: 300, model: llama-3.3-70b}\n",
    )
    result = cli("plan", str(sustained), "--provisioning", "autoscaled")
    assert result.exit_code == 2 and "needs a workload with a traffic_profile" in result.stderr
    profiled = write(
        tmp_path / "b.yaml", f"  - {{name: chat, traffic_profile: {BUSY}, model: llama-3.3-70b}}\n"
    )
    result = cli("plan", str(profiled), "--provisioning", "autoscaled", "--pricing", "owned")
    assert result.exit_code == 2 and "owned hardware" in result.stderr


def test_profile_problems_are_reported_at_the_workload(cli: Cli, tmp_path: Path):
    path = write(
        tmp_path / "w.yaml",
        "  - {name: a, traffic_profile: missing.yaml, model: llama-3.3-70b}\n"
        "  - {name: b, model: llama-3.3-70b}\n",
    )
    result = cli("plan", str(path))
    assert result.exit_code == 2
    assert "workloads[0] (name 'a').traffic_profile:" in result.stderr and "missing.yaml" in result.stderr
    assert "workloads[1] (name 'b').requests_per_s: required field is missing" in result.stderr
