"""The Scenario: every assumption of a question, built once from the options, frozen, echoed whole."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from selfhost import questions
from selfhost.cli import options as o
from selfhost.errors import InputError
from selfhost.question import OPTION_NAMES, CostAssumptions, Scenario, Selection

Cli = Callable[..., Result]

HEADLINE = ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "--format", "json"]


def doc_of(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- built once, frozen


def test_one_command_builds_one_scenario_and_the_library_gets_that_very_object(cli: Cli, monkeypatch):
    built: list[Scenario] = []
    received: list[Scenario] = []
    original_build = Scenario.from_options.__func__  # type: ignore[attr-defined]
    original_answer = questions.crossover

    def counting_build(cls: type[Scenario], **given: Any) -> Scenario:
        built.append(original_build(cls, **given))
        return built[-1]

    def recording_answer(catalog: Any, scenario: Scenario, **kwargs: Any) -> Any:
        received.append(scenario)
        return original_answer(catalog, scenario, **kwargs)

    monkeypatch.setattr(Scenario, "from_options", classmethod(counting_build))
    monkeypatch.setattr(questions, "crossover", recording_answer)
    result = cli(*HEADLINE, "--uncertainty", "500")
    assert result.exit_code == 0, result.output
    assert len(built) == 1
    assert len(received) == 1 and received[0] is built[0]


def test_a_scenario_is_frozen_and_hashable():
    scenario = Scenario(rps=5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.rps = 6.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.selection.models = ("llama-3.3-70b",)  # type: ignore[misc]
    assert hash(scenario) == hash(Scenario(rps=5.0))
    assert scenario == Scenario(rps=5.0) != Scenario(rps=6.0)


def test_the_cli_defaults_are_the_library_defaults():
    """A Scenario built in code asks the same question as the command with no options."""
    given = {name: p.default for name, p in o.PARAMETERS.items() if name in o.CROSSOVER}
    given["rps"] = 5.0
    assert Scenario.from_options(**given) == Scenario(rps=5.0, context_tokens=1300)
    assert Scenario(rps=5.0).assumptions() == Scenario.from_options(**given).assumptions()
    assert Scenario().costs == CostAssumptions() and CostAssumptions().pricing == ("on-demand",)


# --------------------------------------------------------------------------- echoed whole


def test_crossover_echoes_the_whole_scenario(cli: Cli):
    args = [
        "crossover", "--rps", "3", "-m", "llama-3.3-70b", "-g", "h100", "-n", "1", "-n", "2",
        "--engine", "vllm", "--api", "openai-gpt-4.1", "--all-apis", "--pricing", "on-demand",
        "--pricing", "spot", "--input-tokens", "2000", "--output-tokens", "500", "--context", "4096",
        "--max-tpot-ms", "80", "--max-ttft-ms", "2000", "--kv-dtype", "fp8", "--ops-usd-per-month", "1234",
        "--setup-usd", "5000", "--target-utilization", "0.5", "--min-replicas", "2",
        "--hours-per-month", "500", "--cached-input-fraction", "0.25", "--stale-days", "30",
        "--format", "json",
    ]  # fmt: skip
    assumptions = doc_of(cli(*args))["assumptions"]
    expected = {
        "input_tokens": 2000, "output_tokens": 500, "context_tokens": 4096, "max_tpot_ms": 80.0,
        "max_ttft_ms": 2000.0, "kv_dtype": "fp8", "hours_per_month": 500.0, "ops_usd_per_month": 1234.0,
        "setup_usd": 5000.0, "target_utilization": 0.5, "min_replicas": 2, "cached_input_fraction": 0.25,
        "pricing": ["on-demand", "spot"], "providers": [], "rps": 3.0, "measured_only": False,
        "stale_after_days": 30, "catalog_overlays": [],
        "selection": {
            "models": ["llama-3.3-70b"], "gpus": ["h100"], "quants": [], "gpus_per_replica": [1, 2],
            "engine": "vllm", "apis": ["openai-gpt-4.1"], "all_apis": True,
        },
    }  # fmt: skip
    assert {k: assumptions[k] for k in expected} == expected


def day_profile(path: Path, rates: list[float]) -> Path:
    """A traffic-profile file of one day's 24 rates and no token statistics."""
    path.write_text(
        "traffic_profile:\n  hourly_rps: [" + ", ".join(map(str, rates)) + "]\n"
        "  source: {file: test, format: test, synthetic: true}\n",
        encoding="utf-8",
    )
    return path


def test_every_option_of_crossover_lands_in_the_scenario(tmp_path: Path):
    """No option of the question is dropped on the way: each one changes the echo."""
    base = {name: p.default for name, p in o.PARAMETERS.items() if name in o.CROSSOVER}
    base |= {"rps": 5.0, "uncertainty": 5}  # with samples, so that the seed is part of the question
    base["traffic"] = day_profile(tmp_path / "day.yaml", [1.0] * 12 + [3.0] * 12)
    other = day_profile(tmp_path / "other.yaml", [1.0] * 20 + [9.0] * 4)
    changed = {
        "rps": 7.0, "model": ["qwen2.5-7b"], "gpu": ["l40s"], "quant": ["fp8"], "gpus": [2],
        "engine": "sglang", "measured_only": True, "pricing": ["spot"], "provider": ["RunPod"],
        "catalog": [Path("extra.yaml")], "api": ["openai-gpt-4.1"], "all_apis": True,
        "input_tokens": 10, "output_tokens": 20, "context": 2000, "max_tpot_ms": 1.0, "max_ttft_ms": 2.0,
        "kv_dtype": "fp8", "ops_usd_per_month": 1.0, "setup_usd": 2.0, "target_utilization": 0.3,
        "min_replicas": 3, "hours_per_month": 100.0, "cached_input_fraction": 0.5, "uncertainty": 10,
        "seed": 9, "stale_days": 1, "traffic": other, "provisioning": "autoscaled", "billing_hours": 2,
    }  # fmt: skip
    assert set(changed) == set(o.CROSSOVER)
    before = json.dumps(Scenario.from_options(**base).assumptions(), default=str)
    for name, value in changed.items():
        after = json.dumps(Scenario.from_options(**{**base, name: value}).assumptions(), default=str)
        assert after != before, name


def test_parts_a_question_does_not_have_are_not_echoed(cli: Cli):
    fit = doc_of(cli("fit", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4", "--format", "json"))
    assert fit["assumptions"]["context_tokens"] == o.DEFAULT_FIT_CONTEXT
    assert fit["assumptions"]["selection"]["models"] == ["llama-3.3-70b"]
    assert not {"rps", "input_tokens", "hours_per_month", "max_tpot_ms", "stale_after_days"} & set(
        fit["assumptions"]
    )
    sweep = doc_of(
        cli("sweep", "-m", "qwen2.5-7b", "-g", "l40s", "--rps", "2", "--rps", "1", "--format", "json")
    )
    assert sweep["assumptions"]["rates_rps"] == [1.0, 2.0]
    assert sweep["assumptions"]["mixes"] == [{"input_tokens": 1000, "output_tokens": 300}]
    assert "input_tokens" not in sweep["assumptions"] and "rps" not in sweep["assumptions"]


def test_the_uncertainty_echo_carries_samples_and_seed(cli: Cli):
    u = doc_of(cli(*HEADLINE, "--uncertainty", "300", "--seed", "4"))["assumptions"]["uncertainty"]
    assert (u["samples"], u["seed"]) == (300, 4)
    assert "uncertainty" not in doc_of(cli(*HEADLINE))["assumptions"]


# --------------------------------------------------------------------------- checked once


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"rps": math.inf}, "--rps inf must be a finite, non-negative number"),
        ({"rps": -1.0}, "--rps -1 must be a finite"),
        ({"kv_dtype": "int4"}, "unknown --kv-dtype 'int4'; use one of: auto, bf16, fp8"),
        (
            {"input_tokens": 1000, "output_tokens": 300, "context": 512},
            "--context 512 is shorter than one request",
        ),
        ({"gpus": [2, 0]}, "--gpus 0 must be at least 1"),
        ({"pricing": ["free"], "ops_usd_per_month": 1.0}, "unknown --pricing 'free'"),
        ({"rates": [1.0], "mix": ["1000"]}, "--mix '1000' must be INPUT:OUTPUT tokens"),
        ({"rates": None, "rps_range": "5:1:3"}, "--rps-range '5:1:3' needs 0 < START < STOP"),
    ],
)
def test_bad_values_are_input_errors_naming_the_value(given: dict[str, Any], message: str):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("+", r"\+")):
        Scenario.from_options(**given)


def test_an_unknown_option_name_is_a_programming_error():
    with pytest.raises(TypeError, match="unknown options"):
        Scenario.from_options(rps=1.0, rsp=2.0)
    assert set(OPTION_NAMES) >= set(o.PARAMETERS)


def test_a_sweep_has_rates_and_mixes_instead_of_one_request():
    scenario = Scenario.from_options(rates=[10.0, 1.0, 10.0], rps_range="1:100:3", mix=["100:10", "200:20"])
    assert scenario.rates == (1.0, 10.0, 100.0)
    assert scenario.mixes == ((100, 10), (200, 20))
    assert [(w.input_tokens, w.output_tokens, w.context_tokens) for w in scenario.workloads()] == [
        (100, 10, 110),
        (200, 20, 220),
    ]
    with pytest.raises(ValueError, match="no single token mix"):
        _ = scenario.workload


def test_selection_takes_one_id_or_many():
    assert Scenario.from_options(model="llama-3.3-70b", gpu="h100").selection == Selection(
        models=("llama-3.3-70b",), gpus=("h100",)
    )
    assert Scenario.from_options(model=["a", "b"]).selection.models == ("a", "b")
