"""Every file in examples/ runs through `selfhost plan` in every format, and examples/README.md is current."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
README = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")

Cli = Callable[..., Result]


def test_the_four_situations_and_the_hybrid_are_there() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "chat-assistant.yaml",
        "code-assistant.yaml",
        "multilingual-support.yaml",
        "frontier-reasoning.yaml",
        "hybrid.yaml",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_readme_shows_each_example_with_its_command(example: Path) -> None:
    assert f"]({example.name})" in README
    assert f"selfhost plan examples/{example.name}" in README


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_its_plan_adds_up(cli: Cli, example: Path) -> None:
    result = cli("plan", str(example), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = doc["results"]
    totals = doc["totals"]
    assert sum(r["usd_per_month"] for r in rows) == pytest.approx(totals["total_usd_per_month"])
    for r in rows:
        if r["privacy_sensitive"]:
            assert r["choice"] == "self-hosted", r["workload"]
        assert r["base_url"], r["workload"]  # every workload knows where to send its requests
        assert r["model_name"], r["workload"]
    if totals["all_self_hosted_usd_per_month"] is not None:
        assert totals["saving_vs_all_self_hosted_usd_per_month"] >= -1e-6
    if totals["all_api_feasible"]:
        assert totals["saving_vs_all_api_usd_per_month"] >= -1e-6
    assert totals["saving_from_sharing_usd_per_month"] >= -1e-6


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_in_every_format(cli: Cli, example: Path, fmt: str) -> None:
    result = cli("plan", str(example), "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len(rows) == example.read_text(encoding="utf-8").count("- name:")
    elif fmt == "markdown":
        assert result.stdout.startswith(f"# Hybrid plan for {example.name}")
    else:
        assert "Totals" in result.stdout


def test_documented_outputs_are_current() -> None:
    # The quoted outputs in examples/README.md and README.md are the commands' real output;
    # regenerate them with `python scripts/docs_outputs.py` after a catalog or model change.
    spec = importlib.util.spec_from_file_location("docs_outputs", ROOT / "scripts" / "docs_outputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.commands(README), "examples/README.md documents no command"
    assert "selfhost crossover --rps 5" in module.readme_commands(
        (ROOT / "README.md").read_text(encoding="utf-8")
    ), "README.md quotes no generated output of the headline command"
    assert module.main(["--check"]) == 0, (
        "documented outputs are out of date: run python scripts/docs_outputs.py"
    )


def test_the_frontier_reasoning_prose_quotes_the_plan_as_it_runs(cli) -> None:
    """The paragraph under the frontier-reasoning plan restates its totals in words; a refit moves
    them, so they are read from the plan, at $4,000 and at $8,000 of operations."""
    text = " ".join((ROOT / "examples" / "README.md").read_text(encoding="utf-8").split())
    prose = text.split("DeepSeek-V3 runs on", 1)[1].split("```", 1)[0]
    default = json.loads(cli("plan", "examples/frontier-reasoning.yaml", "--format", "json").stdout)
    dearer = json.loads(
        cli(
            "plan", "examples/frontier-reasoning.yaml", "--ops-usd-per-month", "8000", "--format", "json"
        ).stdout
    )
    totals, public = default["totals"], default["results"][1]
    assert public["workload"] == "public-research" and public["choice"] == "api"
    assert (
        f"costs ${-totals['saving_vs_all_api_usd_per_month']:,.0f} a month more than the all-API bill"
        in prose
    )
    assert f"would cost ${public['switch_usd_per_month']:,.0f} a month more than its API bill" in prose
    assert f"(all self-hosted: ${totals['all_self_hosted_usd_per_month']:,.0f})" in prose
    assert f"the gap grows to ${-dearer['totals']['saving_vs_all_api_usd_per_month']:,.0f}." in prose


def test_the_chat_assistant_and_hybrid_prose_quote_their_plans_as_they_run(cli) -> None:
    """The paragraphs under the chat-assistant and hybrid plans restate figures in words; read
    each from the plan as it runs now."""
    text = " ".join((ROOT / "examples" / "README.md").read_text(encoding="utf-8").split())

    def plan(name: str) -> dict:
        return json.loads(cli("plan", f"examples/{name}.yaml", "--format", "json").stdout)

    def usd(x: float) -> str:
        return f"${x:,.0f}"

    chat = plan("chat-assistant")
    prose = text.split("The HR assistant must be self-hosted, so", 1)[1].split("(docs/plan.md", 1)[0]
    support = chat["results"][0]
    assert f"Turbo ({usd(support['cheapest_api_usd_per_month'])}/month)" in prose
    assert f"moving the chat to the API would cost {usd(support['switch_usd_per_month'])} more" in prose
    assert f"Sharing saves {usd(chat['totals']['saving_from_sharing_usd_per_month'])} against" in prose
    assert (
        f"All-API would be {usd(-chat['totals']['saving_vs_all_api_usd_per_month'])} a month cheaper" in prose
    )
    gpu = chat["deployments"][0]["gpu"].split("-")[0].upper()
    assert f"one {gpu} with {chat['deployments'][0]['quant'].upper()} weights carries both" in prose

    hybrid = plan("hybrid")
    prose = text.split("The two privacy-sensitive workloads put", 1)[1].split("Each workload's client", 1)[0]
    by_name = {r["workload"]: r for r in hybrid["results"]}
    tickets, launch, totals = by_name["ticket-summaries"], by_name["launch-copy"], hybrid["totals"]
    assert tickets["deployment"] == "qwen2.5-32b" and "join the Qwen 2.5 32B replicas" in prose
    assert f"({usd(tickets['usd_per_month'])} a month with their share" in prose
    assert f"an API would cost {usd(tickets['switch_usd_per_month'])} more" in prose
    assert f"stays on GPT-5 ({usd(launch['usd_per_month'])} a month)" in prose
    assert f"would cost {usd(launch['switch_usd_per_month'])} more" in prose
    assert (
        f"saves {usd(totals['saving_vs_all_self_hosted_usd_per_month'])} a month against self-hosting"
        in prose
    )
    assert f"and {usd(totals['saving_from_sharing_usd_per_month'])} against giving every" in prose
