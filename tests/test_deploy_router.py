"""`selfhost plan --router litellm`: the plan as a LiteLLM proxy config, parsed by LiteLLM itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from deploy_cases import catalog
from selfhost.deploy.router import PROVIDER_KEY_ENV, litellm_provider, router_config

HYBRID = "examples/hybrid.yaml"


@pytest.fixture
def plan_doc(cli: Callable[..., Result]) -> dict[str, Any]:
    result = cli("plan", HYBRID, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def env_refs(config: dict[str, Any]) -> set[str]:
    return {
        e["litellm_params"]["api_key"].removeprefix("os.environ/")
        for e in config["model_list"]
        if str(e["litellm_params"].get("api_key", "")).startswith("os.environ/")
    }


def test_one_alias_per_workload_pointing_where_the_plan_sends_it(
    cli: Callable[..., Result], tmp_path: Path, plan_doc: dict[str, Any]
) -> None:
    out = tmp_path / "router.yaml"
    result = cli("plan", HYBRID, "--router", "litellm", "-o", str(out))
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    by_name = {e["model_name"]: e["litellm_params"] for e in config["model_list"]}
    assert list(by_name) == [r["workload"] for r in plan_doc["results"]]
    for r in plan_doc["results"]:
        params = by_name[r["workload"]]
        if r["choice"] == "self-hosted":
            assert params["model"] == f"openai/{r['model_name']}"
            assert params["api_base"] == r["base_url"]
        else:
            api = next(a for a in catalog().apis if a.id == r["api"])
            assert params == {
                "model": api.api_model,
                "api_key": f"os.environ/{PROVIDER_KEY_ENV[litellm_provider(api)]}",
            }
        assert params["api_key"].startswith("os.environ/")  # a reference, never a key


def test_moving_a_workload_is_swapping_one_line(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "router.yaml"
    assert cli("plan", HYBRID, "--router", "litellm", "-o", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip() == '- model_name: "support-chat"')
    current, alternative = lines[i + 1], lines[i + 3]
    assert current.strip().startswith("litellm_params:") and alternative.strip().startswith(
        "# litellm_params:"
    )
    swapped = [*lines[: i + 1], "    " + alternative.strip().removeprefix("# "), *lines[i + 2 :]]
    moved = {e["model_name"]: e["litellm_params"] for e in yaml.safe_load("\n".join(swapped))["model_list"]}
    assert not moved["support-chat"]["model"].startswith("openai/")  # now on the API
    assert "api_base" not in moved["support-chat"]


def test_litellm_parses_the_config_with_its_own_router(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """litellm.Router(model_list=...) is what LiteLLM's proxy builds from a config's model_list."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    import litellm

    out = tmp_path / "router.yaml"
    assert cli("plan", HYBRID, "--router", "litellm", "-o", str(out)).exit_code == 0
    config = yaml.safe_load(out.read_text())
    for name in env_refs(config):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    router = litellm.Router(model_list=config["model_list"])
    parsed = {d["model_name"]: d for d in router.registry().all()}  # the deployments LiteLLM built
    assert sorted(parsed) == sorted(e["model_name"] for e in config["model_list"])
    for entry in config["model_list"]:
        params = parsed[entry["model_name"]]["litellm_params"]
        _, provider, _, api_base = litellm.get_llm_provider(
            model=params["model"], api_base=params.get("api_base")
        )
        if "api_base" in entry["litellm_params"]:
            assert provider == "openai" and api_base == entry["litellm_params"]["api_base"]
        assert (
            params["api_key"]
            == f"test-{entry['litellm_params']['api_key'].removeprefix('os.environ/').lower()}"
        )


def test_every_catalog_api_maps_to_the_provider_litellm_infers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    for api in catalog().apis:
        if api.deprecated:
            continue
        assert litellm.get_llm_provider(model=api.api_model)[1] == litellm_provider(api), api.id


def test_router_to_stdout_replaces_the_plan(cli: Callable[..., Result]) -> None:
    result = cli("plan", HYBRID, "--router", "litellm")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["model_list"]
    assert "Hybrid plan" not in result.stdout


def test_router_output_is_not_overwritten_without_force(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "router.yaml"
    out.write_text("# mine\n")
    result = cli("plan", HYBRID, "--router", "litellm", "-o", str(out))
    assert result.exit_code == 2 and "--force" in result.stderr
    assert out.read_text() == "# mine\n"
    assert cli("plan", HYBRID, "--router", "litellm", "-o", str(out), "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"), [(("--router", "nginx"), "'litellm'"), (("-o", "x.yaml"), "add --router litellm")]
)
def test_router_usage_errors(cli: Callable[..., Result], args: tuple[str, ...], message: str) -> None:
    result = cli("plan", HYBRID, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_router_config_is_the_data_the_yaml_says(plan_doc: dict[str, Any]) -> None:
    config = router_config(plan_doc["results"], plan_doc["deployments"], catalog())
    assert len(config["model_list"]) == len(plan_doc["results"])
