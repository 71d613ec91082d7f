"""`selfhost plan`: the exact optimizer against brute force, privacy, sharing, the schema and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

from selfhost.engine.assignment import (
    MAX_WORKLOADS,
    UNIT_ROUNDING_SLACK,
    AssignmentProblem,
    block_table,
    solve,
)
from selfhost.errors import InputError
from selfhost.workloads import read_workloads

Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def write(tmp_path: Path, text: str, name: str = "workloads.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the optimizer


TPOT_VALUES = (50.0, 100.0)


@st.composite
def problems(draw: st.DrawFn) -> AssignmentProblem:
    """Random small instances: up to 4 workloads, 4 deployments, 2 TPOT levels.

    A stricter TPOT level never lowers a workload's load on a deployment (capacity never rises as
    the target tightens), as in the real model.
    """
    k = draw(st.integers(1, 4))
    n = draw(st.integers(1, 4))
    finite = st.floats(0.05, 3.0)
    base = np.array(
        [[draw(st.one_of(finite, st.just(math.inf))) for _ in range(n)] for _ in range(k)], dtype=float
    )
    strict_factor = np.array([draw(st.floats(1.0, 2.0)) for _ in range(k)])
    tpot = np.array([draw(st.sampled_from(TPOT_VALUES)) for _ in range(k)])
    levels = np.array(TPOT_VALUES)
    load = np.empty((2, k, n))
    load[1] = base  # own level for a 100 ms workload, never read below its own for a 50 ms one
    load[0] = np.where(tpot[:, None] > levels[0], base * strict_factor[:, None], base)
    api = np.array([draw(st.one_of(st.floats(0.0, 5000.0), st.just(math.inf))) for _ in range(k)])
    return AssignmentProblem(
        api_usd_per_month=api,
        load_units=load,
        unit_usd_per_month=np.array([draw(st.floats(100.0, 3000.0)) for _ in range(n)]),
        unit_gpus=np.array([float(draw(st.sampled_from([1, 2, 4, 8]))) for _ in range(n)]),
        min_units=np.array([float(draw(st.integers(0, 2))) for _ in range(n)]),
        tpot_ms=tpot,
        tpot_levels_ms=levels,
        must_self_host=np.array([draw(st.booleans()) for _ in range(k)]),
        ops_usd_per_month=draw(st.floats(0.0, 5000.0)),
    )


def canonical_groupings(k: int) -> list[tuple[int, ...]]:
    """Every way to send each workload to the API (-1) or to a group (0, 1, ...), groups unlabelled.

    Group labels appear in first-use order (restricted growth), so each split is listed once.
    """
    found = []
    for labels in itertools.product(range(-1, k), repeat=k):
        used = [g for g in labels if g >= 0]
        if all(g <= max(used[:j], default=-1) + 1 for j, g in enumerate(used)):
            found.append(labels)
    return found


def brute_force(
    p: AssignmentProblem,
    *,
    allow_api: bool = True,
    on_api: frozenset[int] = frozenset(),
    self_hosted: frozenset[int] = frozenset(),
) -> float:
    """Cheapest total over every direct assignment: each workload to its API or to one deployment
    instance. Workloads on the same instance pool their load at the instance's strictest TPOT
    level; two instances may run the same deployment type. ``on_api`` workloads must use the API,
    ``self_hosted`` ones may not (``allow_api=False``: none may).
    """
    k, n = p.n_workloads, len(p.unit_usd_per_month)
    level_of = {float(v): j for j, v in enumerate(p.tpot_levels_ms)}
    best = math.inf
    for labels in canonical_groupings(k):
        if any(g < 0 and (p.must_self_host[i] or not allow_api) for i, g in enumerate(labels)):
            continue
        if any(labels[i] >= 0 for i in on_api) or any(labels[i] < 0 for i in self_hosted):
            continue
        api = sum(p.api_usd_per_month[i] for i, g in enumerate(labels) if g < 0)
        groups = [[i for i, g in enumerate(labels) if g == label] for label in sorted(set(labels) - {-1})]
        ops = p.ops_usd_per_month if groups else 0.0
        for deployments in itertools.product(range(n), repeat=len(groups)):
            total = api + ops
            for block, d in zip(groups, deployments, strict=True):
                if any(not math.isfinite(p.load_units[level_of[p.tpot_ms[i]], i, d]) for i in block):
                    total = math.inf
                    break
                level = level_of[min(p.tpot_ms[i] for i in block)]
                load = sum(p.load_units[level, i, d] for i in block)
                units = max(p.min_units[d], math.ceil(load * (1 - UNIT_ROUNDING_SLACK)))
                total += units * p.unit_usd_per_month[d]
            best = min(best, total)
    return best


def close(a: float, b: float) -> bool:
    return (math.isinf(a) and math.isinf(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_optimizer_matches_brute_force_enumeration(p: AssignmentProblem) -> None:
    solution = solve(p)
    assert close(solution.best.total_usd_per_month, brute_force(p))
    assert close(solution.all_self_hosted.total_usd_per_month, brute_force(p, allow_api=False))
    expected_all_api = float(np.sum(p.api_usd_per_month))
    assert close(solution.all_api.total_usd_per_month, expected_all_api)
    if solution.best.feasible:  # the cost of sending each workload the other way
        for i in range(p.n_workloads):
            if i in solution.best.self_hosted:
                other = brute_force(p, on_api=frozenset({i}))
            else:
                other = brute_force(p, self_hosted=frozenset({i}))
            expected = other - solution.best.total_usd_per_month
            assert close(float(solution.switch_usd_per_month[i]), expected)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_the_plan_adds_up_and_keeps_privacy_sensitive_workloads_off_apis(p: AssignmentProblem) -> None:
    best = solve(p).best
    if not best.feasible:
        return
    for i in np.flatnonzero(p.must_self_host):
        assert i in best.self_hosted
    covered = sorted(i for b in best.blocks for i in b.workloads)
    assert covered == sorted(best.self_hosted)  # every self-hosted workload in exactly one block
    on_api = [i for i in range(p.n_workloads) if i not in best.self_hosted]
    assert best.api_usd_per_month == pytest.approx(float(np.sum(p.api_usd_per_month[on_api])))
    assert best.total_usd_per_month == pytest.approx(
        best.api_usd_per_month + best.self_hosted_usd_per_month + best.ops_usd_per_month
    )
    assert best.ops_usd_per_month == (p.ops_usd_per_month if best.self_hosted else 0.0)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_sharing_replicas_never_costs_more_than_separate_deployments(p: AssignmentProblem) -> None:
    shared, separate = solve(p), solve(p, share=False)
    assert shared.best.total_usd_per_month <= separate.best.total_usd_per_month + 1e-6
    assert shared.all_self_hosted.total_usd_per_month <= separate.all_self_hosted.total_usd_per_month + 1e-6
    # and on any one deployment, pooling two workloads never buys more than two copies of it
    for d in range(len(p.unit_usd_per_month)):
        only_d = dataclasses.replace(
            p,
            load_units=p.load_units[:, :, d : d + 1],
            unit_usd_per_month=p.unit_usd_per_month[d : d + 1],
            unit_gpus=p.unit_gpus[d : d + 1],
            min_units=p.min_units[d : d + 1],
        )
        table, singles = block_table(only_d), block_table(only_d, share=False)
        for a, b in itertools.combinations(range(p.n_workloads), 2):
            pair = (1 << a) | (1 << b)
            apart = singles.usd_per_month[1 << a] + singles.usd_per_month[1 << b]
            if np.isfinite(apart) and p.tpot_ms[a] == p.tpot_ms[b]:
                assert table.usd_per_month[pair] <= apart + 1e-6


def test_fixed_operations_cost_makes_the_hybrid_plan() -> None:
    # Workload 0 must be self-hosted and pays the $4,000 operations cost; workload 1 alone would
    # be cheaper on its API ($3,000 < $4,000 + $1,000) but rides along on the same replica for free.
    p = AssignmentProblem(
        api_usd_per_month=np.array([math.inf, 3000.0]),
        load_units=np.array([[[0.4], [0.5]]]),
        unit_usd_per_month=np.array([1000.0]),
        unit_gpus=np.array([1.0]),
        min_units=np.array([1.0]),
        tpot_ms=np.array([100.0, 100.0]),
        tpot_levels_ms=np.array([100.0]),
        must_self_host=np.array([True, False]),
        ops_usd_per_month=4000.0,
    )
    solution = solve(p)
    assert solution.best.self_hosted == (0, 1)
    assert solution.best.total_usd_per_month == 5000.0
    assert [b.workloads for b in solution.best.blocks] == [(0, 1)]
    assert solution.all_api.total_usd_per_month == math.inf
    # without workload 0 the API wins: 3000 < 1000 + 4000
    alone = AssignmentProblem(
        api_usd_per_month=np.array([3000.0]),
        load_units=np.array([[[0.5]]]),
        unit_usd_per_month=np.array([1000.0]),
        unit_gpus=np.array([1.0]),
        min_units=np.array([1.0]),
        tpot_ms=np.array([100.0]),
        tpot_levels_ms=np.array([100.0]),
        must_self_host=np.array([False]),
        ops_usd_per_month=4000.0,
    )
    assert solve(alone).best.self_hosted == ()


def test_a_strict_tpot_workload_makes_its_block_slower_and_the_optimizer_may_split() -> None:
    # Workload 0 needs TPOT 50 ms; at that level workload 1 fills 0.9 units instead of 0.5, so
    # together they need 2 units ($2,000) against 1 + 1 apart on two deployments ($1,600).
    load = np.array([[[0.5, math.inf], [0.9, 0.9]], [[0.5, math.inf], [0.5, 0.5]]])
    p = AssignmentProblem(
        api_usd_per_month=np.array([math.inf, math.inf]),
        load_units=load,
        unit_usd_per_month=np.array([1000.0, 600.0]),
        unit_gpus=np.array([1.0, 1.0]),
        min_units=np.array([1.0, 1.0]),
        tpot_ms=np.array([50.0, 100.0]),
        tpot_levels_ms=np.array([50.0, 100.0]),
        must_self_host=np.array([True, True]),
        ops_usd_per_month=0.0,
    )
    best = solve(p).best
    assert best.total_usd_per_month == 1600.0
    assert sorted((b.workloads, b.deployment) for b in best.blocks) == [((0,), 0), ((1,), 1)]


def test_problem_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"load_units has shape \(1, 1, 2\); expected \(1, 2, 2\)"):
        AssignmentProblem(
            api_usd_per_month=np.zeros(2),
            load_units=np.zeros((1, 1, 2)),
            unit_usd_per_month=np.zeros(2),
            unit_gpus=np.ones(2),
            min_units=np.ones(2),
            tpot_ms=np.full(2, 100.0),
            tpot_levels_ms=np.array([100.0]),
            must_self_host=np.zeros(2, dtype=bool),
            ops_usd_per_month=0.0,
        )


# --------------------------------------------------------------------------- the workloads file


GOOD = """\
workloads:
  - name: chat
    requests_per_s: 5
    input_tokens: 1000
    output_tokens: 300
    model: llama-3.3-70b
"""

SCHEMA_CASES = [
    # (file text, expected fragment of the error, after the file name)
    (
        "workloads:\n  - name: a\n    input_tokens: 1\n    output_tokens: 1\n    model: llama-3.3-70b\n",
        "workloads[0] (name 'a').requests_per_s: required field is missing",
    ),
    (
        GOOD + "    privacy: true\n",
        "workloads[0] (name 'chat').privacy: unknown field; did you mean 'privacy_sensitive'?",
    ),
    (GOOD + "    quality_tier: strong\n", "give exactly one of 'model' (a catalog id) or 'quality_tier'"),
    (
        GOOD.replace("model: llama-3.3-70b", "quality_tier: excellent"),
        "workloads[0] (name 'chat').quality_tier: Input should be 'frontier', 'strong', 'mid' or 'small'",
    ),
    (
        GOOD.replace("requests_per_s: 5", "requests_per_s: -1"),
        ".requests_per_s: Input should be greater than 0",
    ),
    (
        GOOD + "    privacy_sensitive: true\n    apis: [openai-gpt-5]\n",
        "a privacy_sensitive workload may not use an API",
    ),
    (GOOD + "    context_tokens: 500\n", "context_tokens 500 is shorter than one request"),
    (
        GOOD + GOOD.removeprefix("workloads:\n"),
        "workloads[1] (name 'chat').name: duplicate name; first used at workloads[0]",
    ),
    ("workloads:\n  - name: a\n   bad: indent\n", "line 3, column"),
    ("- name: a\n", "the top level must be a mapping with one key, 'workloads'"),
    ("workloads: []\n", "'workloads' must be a non-empty list"),
    ("workloads:\n  - just a string\n", "workloads[0]: an entry must be a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), SCHEMA_CASES)
def test_schema_errors_name_the_file_and_location(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_workloads(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_every_schema_error_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("requests_per_s: 5", "requests_per_s: 0") + "    colour: blue\n"
    with pytest.raises(InputError) as info:
        read_workloads(write(tmp_path, text))
    assert "has 2 errors" in str(info.value)


def test_missing_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_workloads(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "model: llama-3.3-7b",
            "workloads[0] (name 'chat').model: unknown model 'llama-3.3-7b'; did you mean",
        ),
        (
            "model: llama-3.3-70b\n    apis: [openai-gtp-5]",
            "workloads[0] (name 'chat').apis[0]: unknown API 'openai-gtp-5'; did you mean",
        ),
    ],
)
def test_unknown_catalog_ids_name_the_file_location_and_close_matches(
    cli: Cli, tmp_path: Path, line: str, expected: str
) -> None:
    path = write(tmp_path, GOOD.replace("model: llama-3.3-70b", line))
    result = cli("plan", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error:")
    assert str(path) in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- the CLI


HYBRID = """\
workloads:
  - name: chat
    requests_per_s: 6
    input_tokens: 1000
    output_tokens: 300
    model: llama-3.3-70b
  - name: contracts
    requests_per_s: 0.5
    input_tokens: 4000
    output_tokens: 500
    model: llama-3.3-70b
    privacy_sensitive: true
  - name: copy
    requests_per_s: 0.05
    input_tokens: 800
    output_tokens: 1200
    quality_tier: frontier
    apis: [openai-gpt-5]
"""


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    return write(tmp_path, HYBRID)


def plan_json(cli: Cli, *args: str) -> dict[str, Any]:
    doc = json.loads(ok(cli("plan", *args, "--format", "json")).stdout)
    assert isinstance(doc, dict)
    return doc


def test_json_plan_adds_up_and_names_a_base_url_per_workload(cli: Cli, hybrid: Path) -> None:
    doc = plan_json(cli, str(hybrid))
    assert set(doc) >= {"results", "deployments", "totals", "assumptions", "notes", "verdict"}
    rows = {r["workload"]: r for r in doc["results"]}
    totals = doc["totals"]
    assert sum(r["usd_per_month"] for r in rows.values()) == pytest.approx(totals["total_usd_per_month"])
    assert totals["total_usd_per_month"] == pytest.approx(
        totals["api_usd_per_month"] + totals["self_hosted_gpu_usd_per_month"] + totals["ops_usd_per_month"]
    )
    assert rows["contracts"]["choice"] == "self-hosted"
    assert rows["contracts"]["base_url"] == "https://llm.internal.example/v1"
    assert rows["copy"]["choice"] == "api"
    assert rows["copy"]["base_url"] == "https://api.openai.com/v1"
    assert rows["copy"]["model_name"] == "gpt-5"
    # contracts is privacy-sensitive: all-API is priced but not allowed
    assert totals["all_api_feasible"] is False
    assert "contracts" in totals["all_api_note"]
    assert totals["saving_vs_all_api_usd_per_month"] == pytest.approx(
        totals["all_api_usd_per_month"] - totals["total_usd_per_month"]
    )
    assert totals["saving_vs_all_self_hosted_usd_per_month"] >= -1e-6  # the optimum is never dearer
    assert totals["saving_from_sharing_usd_per_month"] >= -1e-6
    deployed = {w for d in doc["deployments"] for w in d["workloads"]}
    assert deployed == {r["workload"] for r in doc["results"] if r["choice"] == "self-hosted"}
    assert "stale_prices" in doc["assumptions"]


def test_privacy_sensitive_workloads_stay_self_hosted_even_when_an_api_is_far_cheaper(
    cli: Cli, tmp_path: Path
) -> None:
    # 0.1 req/s of Llama 3.3 70B costs about $50/month at DeepInfra; self-hosting costs thousands.
    text = GOOD.replace("requests_per_s: 5", "requests_per_s: 0.1") + "    privacy_sensitive: true\n"
    doc = plan_json(cli, str(write(tmp_path, text)))
    (row,) = doc["results"]
    assert row["choice"] == "self-hosted"
    assert row["api"] is None and row["cheapest_api"] is None
    public = plan_json(cli, str(write(tmp_path, GOOD.replace("requests_per_s: 5", "requests_per_s: 0.1"))))
    assert public["results"][0]["choice"] == "api"


def test_one_workload_reproduces_the_cost_command(cli: Cli, tmp_path: Path) -> None:
    """A lone privacy-sensitive workload costs what `selfhost cost` says its cheapest deployment costs."""
    doc = plan_json(cli, str(write(tmp_path, GOOD + "    privacy_sensitive: true\n")))
    costs = json.loads(ok(cli("cost", "--rps", "5", "-m", "llama-3.3-70b", "--format", "json")).stdout)
    cheapest = costs["results"][0]
    assert doc["totals"]["total_usd_per_month"] == pytest.approx(cheapest["self_hosted_usd_per_month"])
    (deployment,) = doc["deployments"]
    assert deployment["gpus_billed"] == cheapest["gpus_billed"]
    assert deployment["usd_per_gpu_hour"] == cheapest["usd_per_gpu_hour"]


def test_shared_replicas_cost_no_more_than_planning_each_workload_alone(cli: Cli, tmp_path: Path) -> None:
    first = GOOD + "    privacy_sensitive: true\n"
    second = first.replace("name: chat", "name: chat-2").replace("requests_per_s: 5", "requests_per_s: 3")
    together = plan_json(cli, str(write(tmp_path, first + second.removeprefix("workloads:\n"), "both.yaml")))
    apart = [
        plan_json(cli, str(write(tmp_path, text, f"{i}.yaml")))["totals"]["self_hosted_gpu_usd_per_month"]
        for i, text in enumerate((first, second))
    ]
    assert len(together["deployments"]) == 1
    assert together["totals"]["self_hosted_gpu_usd_per_month"] <= sum(apart) + 1e-6
    assert together["totals"]["without_sharing_usd_per_month"] >= together["totals"]["total_usd_per_month"]


def test_self_hosted_base_url_template(cli: Cli, hybrid: Path) -> None:
    doc = plan_json(cli, str(hybrid), "--self-hosted-base-url", "https://{model}.gpu.corp.example/v1")
    rows = {r["workload"]: r for r in doc["results"]}
    assert rows["contracts"]["base_url"] == f"https://{rows['contracts']['model']}.gpu.corp.example/v1"
    assert doc["assumptions"]["self_hosted_base_url"] == "https://{model}.gpu.corp.example/v1"


def test_csv_has_one_row_per_workload(cli: Cli, hybrid: Path) -> None:
    result = ok(cli("plan", str(hybrid), "--format", "csv"))
    reader = csv.DictReader(io.StringIO(result.stdout))
    rows = list(reader)
    assert [r["workload"] for r in rows] == ["chat", "contracts", "copy"]
    assert {"choice", "base_url", "usd_per_month", "deployment", "api"} <= set(reader.fieldnames or [])
    assert "Plan:" in result.stderr  # the verdict goes to stderr with the notes


def test_table_and_markdown(cli: Cli, hybrid: Path) -> None:
    table = ok(cli("plan", str(hybrid))).stdout
    for text in (
        "Hybrid plan for workloads.yaml",
        "Self-hosted deployments",
        "Totals",
        "All on APIs",
        "Plan: ",
    ):
        assert text in table
    markdown = ok(cli("plan", str(hybrid), "--format", "markdown")).stdout
    assert markdown.startswith("# Hybrid plan for workloads.yaml")
    assert "| Workload |" in markdown and "## Totals" in markdown and "## Self-hosted deployments" in markdown


def test_no_feasible_plan_names_the_workload(cli: Cli, tmp_path: Path) -> None:
    text = GOOD + "    privacy_sensitive: true\n    max_tpot_ms: 0.5\n"
    result = cli("plan", str(write(tmp_path, text)))
    assert result.exit_code == 2
    assert "no feasible plan: 'chat' is privacy_sensitive, but no deployment" in result.stderr


def test_all_self_hosted_is_reported_impossible_when_a_workload_cannot_be_served(
    cli: Cli, tmp_path: Path
) -> None:
    text = GOOD + GOOD.removeprefix("workloads:\n").replace("name: chat", "name: fast").replace(
        "model: llama-3.3-70b", "model: llama-3.3-70b\n    max_tpot_ms: 0.5"
    )
    doc = plan_json(cli, str(write(tmp_path, text)))
    totals = doc["totals"]
    assert totals["all_self_hosted_feasible"] is False
    assert totals["all_self_hosted_usd_per_month"] is None
    assert "fast" in totals["all_self_hosted_note"]
    assert {r["workload"]: r["choice"] for r in doc["results"]}["fast"] == "api"


def test_too_many_workloads_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    entries = "".join(
        GOOD.removeprefix("workloads:\n").replace("name: chat", f"name: w{i}")
        for i in range(MAX_WORKLOADS + 1)
    )
    result = cli("plan", str(write(tmp_path, "workloads:\n" + entries)))
    assert result.exit_code == 2
    assert (
        f"{MAX_WORKLOADS + 1} workloads; the exact plan solver takes at most {MAX_WORKLOADS}" in result.stderr
    )


def test_quality_tier_workloads_skip_non_production_licences(cli: Cli, tmp_path: Path) -> None:
    text = GOOD.replace("model: llama-3.3-70b", "quality_tier: mid") + "    privacy_sensitive: true\n"
    doc = plan_json(cli, str(write(tmp_path, text)))
    (spec,) = doc["assumptions"]["workloads"]
    assert "codestral-22b" not in spec["models_considered"]
    assert "mistral-large-2" not in spec["models_considered"]
    assert "qwen2.5-32b" in spec["models_considered"]


def test_a_workload_with_no_allowed_api_makes_all_api_impossible(cli: Cli, tmp_path: Path) -> None:
    text = GOOD + GOOD.removeprefix("workloads:\n").replace("name: chat", "name: in-house").replace(
        "model: llama-3.3-70b", "model: llama-3.3-70b\n    apis: []"
    )
    doc = plan_json(cli, str(write(tmp_path, text)))
    totals = doc["totals"]
    assert totals["all_api_usd_per_month"] is None
    assert totals["all_api_note"] == "not possible: no allowed API for in-house"
    assert {r["workload"]: r["choice"] for r in doc["results"]}["in-house"] == "self-hosted"
    assert "All-API: not possible: no allowed API for in-house." in doc["verdict"]


@pytest.mark.parametrize(
    ("api_id", "expected"),
    [
        ("openai-gpt-5", "gpt-5"),  # OpenAI keys carry no prefix
        ("deepinfra-llama-3.3-70b-turbo-fp8", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("fireworks-llama-3.3-70b", "accounts/fireworks/models/llama-v3p3-70b-instruct"),
        ("google-gemini-2.5-flash", "gemini-2.5-flash"),
    ],
)
def test_api_model_name_is_the_providers_not_litellms(api_id: str, expected: str) -> None:
    from selfhost.catalog.loader import load_catalog
    from selfhost.plan import request_model_name

    api = next(a for a in load_catalog().apis if a.id == api_id)
    assert request_model_name(api) == expected


def test_a_workload_longer_than_its_model_and_its_listed_api_says_so(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    # Qwen2.5-72B's config allows 32,768 tokens; DeepInfra's endpoint takes 32,768 too
    path = tmp_path / "long.yaml"
    path.write_text(
        "workloads:\n"
        "  - name: long-docs\n"
        "    requests_per_s: 0.5\n"
        "    input_tokens: 30000\n"
        "    output_tokens: 500\n"
        "    context_tokens: 40000\n"
        "    model: qwen2.5-72b\n"
        "    apis: [deepinfra-qwen2.5-72b, openai-gpt-5-mini]\n"
    )
    result = cli("plan", str(path))
    assert result.exit_code == 0, result.output
    assert "long-docs: its context 40,000 exceeds its models' maximum 32,768; API only" in result.stderr
    assert (
        "long-docs: deepinfra-qwen2.5-72b accepts at most 32,768 tokens, the workload needs 40,000"
        in result.stderr
    )


def test_the_worked_example_in_docs_plan_quotes_the_live_figures(cli) -> None:
    """docs/plan.md's worked example ends with the commands that reproduce it and the figures they
    give; every refit moves them, so each is read back from the commands as they run now."""
    import json
    import re
    import shlex
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "plan.md").read_text(encoding="utf-8")
    example = doc.split("## 5. Worked example", 1)[1]
    block = example.split("```bash\n", 1)[1].split("```", 1)[0]
    (est_chat, est_hr, plan) = [line for line in block.splitlines() if line.strip()]
    for line in (est_chat, est_hr):
        command, comment = line.split("#", 1)
        rps, batch = re.fullmatch(r"\s*([\d.]+), batch (\d+)\s*", comment).groups()  # type: ignore[union-attr]
        result = json.loads(cli(*shlex.split(command)[1:]).stdout)["results"][0]
        assert f"{result['requests_per_s']:.3f}" == rps and result["concurrency"] == int(batch), line
        assert f"capacity {rps} req/s per replica (batch {batch}," in example
    command, comment = plan.split("#", 1)
    document = json.loads(cli(*shlex.split(command)[1:]).stdout)
    totals, chat = document["totals"], document["results"][0]
    figures = dict(re.findall(r"(total|without sharing|all-API|switch) ([\d.]+)", comment))
    assert float(figures["total"]) == totals["total_usd_per_month"]
    assert float(figures["without sharing"]) == totals["without_sharing_usd_per_month"]
    assert float(figures["all-API"]) == totals["all_api_usd_per_month"]
    assert float(figures["switch"]) == chat["switch_usd_per_month"]
    assert f"= {totals['total_usd_per_month']:,.2f}" in example  # the shared line's total
    assert f"(sharing saves {totals['saving_from_sharing_usd_per_month']:,.2f})" in example
    assert f"(+{chat['switch_usd_per_month']:,.2f})" in example
