"""What changed: `crossover --baseline` against an old catalog or a saved result, and its causes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from selfhost.baseline import (
    Baseline,
    baseline_kind,
    cause_text,
    entry_changes,
    match_pairs,
    read_result,
)
from selfhost.catalog.loader import builtin_data_dir, load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.errors import InputError

Cli = Callable[..., Result]
ARGS = ("crossover", "--rps", "5", "-m", "llama-3.3-70b")
OFFER = "digitalocean-mi300x-192gb-x1"  # the price llama-3.3-70b's cheapest deployment uses at 5 req/s
OLD_PRICE = 2.49  # [USD/GPU-h]; today's catalog: 1.99
OLD_MBU = 0.55  # vLLM's ROCm memory-bandwidth utilization before the last calibration (today's: 0.63)
MBU_FIELD = "platform_efficiency.rocm.memory_bandwidth_utilization"  # what MI300X uses, not the top-level one
OLD_GPT5_MINI_OUTPUT = 2.50  # [USD/1M tokens]; today's catalog: 2.00
OLD_DATE = dt.date(2026, 2, 1)


def edit(doc: dict[str, Any], section: str, entry_id: str, **fields: Any) -> None:
    entry = next(e for e in doc[section] if e["id"] == entry_id)
    entry.update(fields)


@pytest.fixture(scope="module")
def old_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built-in catalog as it might have been at the last review."""
    folder = tmp_path_factory.mktemp("old-catalog")
    for path in sorted(builtin_data_dir().glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "rental_offers" in doc:
            edit(doc, "rental_offers", OFFER, usd_per_gpu_hour=OLD_PRICE, as_of=OLD_DATE)
        if "engines" in doc:
            vllm = next(e for e in doc["engines"] if e["id"] == "vllm")
            vllm["platform_efficiency"]["rocm"]["memory_bandwidth_utilization"] = OLD_MBU
            vllm["as_of"] = OLD_DATE
        if "apis" in doc:
            edit(doc, "apis", "openai-gpt-5-mini", usd_per_mtok_output=OLD_GPT5_MINI_OUTPUT, as_of=OLD_DATE)
        (folder / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def same_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("same-catalog")
    for path in sorted(builtin_data_dir().glob("*.yaml")):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def run_json(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def by_pair(records: list[dict[str, Any]], api_key: str = "api") -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r[api_key]): r for r in records}


def causes_of(record: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["entry"], c["field"]): c for c in record["causes"]}


# --------------------------------------------------------------------------- entry changes


def test_entry_changes_name_the_field_with_old_and_new_value_and_date():
    catalog = load_catalog(env={})
    offer = by_id(catalog.rental_offers)[OFFER]
    older = offer.model_copy(update={"usd_per_gpu_hour": OLD_PRICE, "as_of": OLD_DATE})
    assert entry_changes("offer", offer, offer) == []
    (c,) = entry_changes("offer", older, offer)
    assert (c["entry"], c["field"], c["old"], c["new"]) == (
        f"offer:{OFFER}",
        "usd_per_gpu_hour",
        OLD_PRICE,
        1.99,
    )
    assert (c["as_of_old"], c["as_of_new"]) == (OLD_DATE.isoformat(), offer.as_of.isoformat())
    assert cause_text(c) == (
        f"offer:{OFFER} usd_per_gpu_hour: 2.49 -> 1.99 (as_of {OLD_DATE.isoformat()} -> {offer.as_of.isoformat()})"
    )


def test_entry_changes_added_removed_redated_and_nested_fields():
    catalog = load_catalog(env={})
    offer = by_id(catalog.rental_offers)[OFFER]
    assert entry_changes("offer", None, offer)[0]["new"] == "added"
    assert entry_changes("offer", offer, None)[0]["new"] == "removed"
    redated = entry_changes("offer", offer.model_copy(update={"as_of": OLD_DATE}), offer)
    assert [(c["field"], c["note"]) for c in redated] == [("as_of", "re-dated; figures unchanged")]
    model = by_id(catalog.models)["llama-3.3-70b"]
    arch = model.architecture.model_copy(update={"num_hidden_layers": 79})
    (c,) = entry_changes("model", model.model_copy(update={"architecture": arch}), model)
    assert (c["field"], c["old"], c["new"]) == ("architecture.num_hidden_layers", 79, 80)
    sourced = model.model_copy(update={"source": "elsewhere", "notes": "other"})
    assert entry_changes("model", sourced, model) == []  # provenance text is not a figure


def test_pairs_match_by_api_then_by_kind_of_api():
    catalog = load_catalog(env={})
    old = [
        {"model": "llama-3.3-70b", "api": "deepinfra-llama-3.3-70b-turbo-fp8"},
        {"model": "llama-3.3-70b", "api": "mistral-large-latest"},  # proprietary, same tier
        {"model": "qwen2.5-7b", "api": "google-gemini-2.5-flash-lite"},
    ]
    new = [
        {"model": "llama-3.3-70b", "api": "deepinfra-llama-3.3-70b-turbo-fp8"},
        {"model": "llama-3.3-70b", "api": "openai-gpt-5-mini"},
        {"model": "deepseek-v3", "api": "openai-gpt-5"},
    ]
    pairs = match_pairs(old, new, [catalog])
    assert [(o and o["api"], n and n["api"]) for o, n in pairs] == [
        ("deepinfra-llama-3.3-70b-turbo-fp8", "deepinfra-llama-3.3-70b-turbo-fp8"),
        ("mistral-large-latest", "openai-gpt-5-mini"),
        (None, "openai-gpt-5"),
        ("google-gemini-2.5-flash-lite", None),
    ]


# --------------------------------------------------------------------------- reading a baseline


def test_baseline_kind_from_the_path(tmp_path: Path, same_catalog: Path):
    assert baseline_kind(same_catalog) == "catalog"
    assert baseline_kind(same_catalog / "api_prices.yaml") == "catalog"
    saved = tmp_path / "last"
    saved.write_text('{"results": []}', encoding="utf-8")
    assert baseline_kind(saved) == "result"
    with pytest.raises(InputError, match="does not exist"):
        baseline_kind(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "no 'results' list"),
        ('{"results": []}', "no 'assumptions' block"),
        ('{"results": [{"model": "x", "input": "gpu_price"}], "assumptions": {}}', "results[0] has no 'api'"),
    ],
)
def test_a_file_that_is_not_a_crossover_result_is_refused(tmp_path: Path, text: str, message: str):
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)) as info:
        read_result(path)
    assert "selfhost crossover" in str(info.value)  # says how to make a valid one


# --------------------------------------------------------------------------- against an old catalog


def test_old_catalog_numbers_are_the_crossover_on_that_catalog(cli: Cli, old_catalog: Path):
    changes = run_json(cli, *ARGS, "--baseline", str(old_catalog))
    new = by_pair(run_json(cli, *ARGS)["results"])
    old = by_pair(run_json(cli, *ARGS, "--catalog", str(old_catalog))["results"])  # every id overridden
    rows = changes["results"]
    assert len(rows) == len(new)
    for r in rows:
        n, o = new[(r["model"], r["api_new"])], old[(r["model"], r["api_old"])]
        for key in (
            "crossover_rps",
            "self_hosted_usd_per_month",
            "api_usd_per_month",
            "saving_usd_per_month",
        ):
            assert r[f"{key}_new"] == n[key]
            assert r[f"{key}_old"] == o[key]
            if n[key] is not None and o[key] is not None:
                assert r[f"{key}_change"] == pytest.approx(n[key] - o[key])
        assert r["status"] == "changed"


def test_old_catalog_causes_are_the_changed_entries_used(cli: Cli, old_catalog: Path):
    doc = run_json(cli, *ARGS, "--baseline", str(old_catalog))
    rows = by_pair(doc["results"], "api_new")
    hosted = causes_of(rows[("llama-3.3-70b", "deepinfra-llama-3.3-70b-turbo-fp8")])
    price = hosted[(f"offer:{OFFER}", "usd_per_gpu_hour")]
    assert (price["old"], price["new"], price["as_of_old"]) == (OLD_PRICE, 1.99, OLD_DATE.isoformat())
    mbu = hosted[("engine:vllm", MBU_FIELD)]
    assert mbu["old"] == OLD_MBU and mbu["new"] > OLD_MBU
    capacity = hosted[("derived", "capacity_rps_per_replica")]
    assert capacity["new"] > capacity["old"]  # a higher MBU serves more per replica
    assert not any(e.startswith("api:") for e, _ in hosted)  # the hosted API did not change
    tier = causes_of(rows[("llama-3.3-70b", "openai-gpt-5-mini")])
    assert tier[("api:openai-gpt-5-mini", "usd_per_mtok_output")]["old"] == OLD_GPT5_MINI_OUTPUT
    assert doc["assumptions"]["baseline"]["kind"] == "catalog"
    assert {c["entry"] for c in doc["assumptions"]["baseline"]["catalog_changes"]} == {
        f"offer:{OFFER}",
        "engine:vllm",
        "api:openai-gpt-5-mini",
    }


def test_an_unchanged_catalog_changes_nothing(cli: Cli, same_catalog: Path):
    doc = run_json(cli, *ARGS, "--baseline", str(same_catalog))
    assert doc["results"]
    for r in doc["results"]:
        assert r["status"] == "unchanged" and r["causes"] == []
        assert r["saving_usd_per_month_change"] == 0
    assert doc["assumptions"]["baseline"]["option_changes"] == []


def test_an_old_catalog_that_cannot_run_the_selection_says_so(cli: Cli, tmp_path: Path):
    (tmp_path / "gpus.yaml").write_text("gpus: []\n", encoding="utf-8")
    result = cli(*ARGS, "--baseline", str(tmp_path))
    assert result.exit_code == 2
    assert f"--baseline {tmp_path} (an old catalog):" in result.stderr
    assert "llama-3.3-70b" in result.stderr  # the model it lacks


# --------------------------------------------------------------------------- against a saved result


def saved(cli: Cli, catalog: Path, tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "last-review.json"
    path.write_text(json.dumps(run_json(cli, *ARGS, "--catalog", str(catalog), *extra)), encoding="utf-8")
    return path


def test_saved_result_shows_the_prices_and_dates_it_recorded(cli: Cli, old_catalog: Path, tmp_path: Path):
    path = saved(cli, old_catalog, tmp_path)
    doc = run_json(cli, *ARGS, "--baseline", str(path))
    from_catalog = by_pair(run_json(cli, *ARGS, "--baseline", str(old_catalog))["results"], "api_new")
    for r in doc["results"]:
        twin = from_catalog[(r["model"], r["api_new"])]
        for key in ("crossover_rps_old", "self_hosted_usd_per_month_old", "api_usd_per_month_old"):
            assert r[key] == twin[key]  # same old numbers, whichever way the baseline came
    hosted = causes_of(
        by_pair(doc["results"], "api_new")[("llama-3.3-70b", "deepinfra-llama-3.3-70b-turbo-fp8")]
    )
    assert hosted[(f"offer:{OFFER}", "usd_per_gpu_hour")]["old"] == OLD_PRICE
    engine = hosted[("engine:vllm", "as_of")]  # a result records the date, not the efficiency
    assert engine["old"] == OLD_DATE.isoformat() and "compare the catalogs" in engine["note"]
    assert doc["assumptions"]["baseline"]["kind"] == "result"


def test_saved_result_with_other_options_lists_them_as_causes(cli: Cli, same_catalog: Path, tmp_path: Path):
    path = saved(cli, same_catalog, tmp_path)
    result = cli(
        "crossover", "--rps", "8", "-m", "llama-3.3-70b", "--baseline", str(path), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for r in doc["results"]:
        rps = causes_of(r)[("option", "rps")]
        assert (rps["old"], rps["new"]) == (5.0, 8.0)
    assert "the baseline ran with other options (rps 5.0 -> 8.0)" in result.stderr


def test_baseline_json_saved_from_a_sensitivity_run_is_refused(cli: Cli, tmp_path: Path):
    path = tmp_path / "tornado.json"
    sens = cli("sensitivity", "--rps", "5", "-m", "llama-3.3-70b", "--format", "json")
    path.write_text(sens.stdout, encoding="utf-8")
    result = cli(*ARGS, "--baseline", str(path))
    assert result.exit_code == 2
    assert "not a crossover result" in result.stderr


# --------------------------------------------------------------------------- output formats


def test_table_and_csv_output(cli: Cli, old_catalog: Path):
    result = cli(*ARGS, "--baseline", str(old_catalog))
    assert result.exit_code == 0, result.output
    assert f"What changed since {old_catalog}" in result.stdout
    assert "usd_per_gpu_hour: 2.49" in result.stdout  # the cause, wrapped in its cell
    assert "comparisons changed" in result.stdout
    rows = list(
        csv.DictReader(io.StringIO(cli(*ARGS, "--baseline", str(old_catalog), "--format", "csv").stdout))
    )
    assert rows and {"crossover_rps_old", "crossover_rps_new", "self_hosted_usd_per_month_change"} <= set(
        rows[0]
    )
    causes = json.loads(rows[0]["causes"])  # nested list written as JSON
    assert any((c["field"], c["old"], c["new"]) == ("usd_per_gpu_hour", 2.49, 1.99) for c in causes), causes


def test_baseline_and_uncertainty_do_not_combine(cli: Cli, same_catalog: Path):
    result = cli(*ARGS, "--baseline", str(same_catalog), "--uncertainty", "100")
    assert result.exit_code == 2
    assert "--baseline" in result.stderr and "--uncertainty" in result.stderr


def test_baseline_record_is_a_dataclass_with_the_old_catalog(same_catalog: Path):
    from selfhost.baseline import load_baseline

    seen = []

    def run(catalog: Any) -> Any:
        seen.append(catalog)
        from selfhost.analysis import Report

        return Report(results=[], assumptions={"rps": 5.0})

    base = load_baseline(same_catalog, run)
    assert isinstance(base, Baseline) and base.kind == "catalog" and base.catalog is seen[0]


def test_measured_only_judges_an_old_catalog_by_todays_measurements(cli: Cli, tmp_path: Path):
    # a catalog from before engine profiles recorded measured_gpus: all its GPUs look unmeasured
    folder = tmp_path / "before-measured-gpus"
    folder.mkdir()
    for path in sorted(builtin_data_dir().glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for engine in doc.get("engines", []):
            engine.pop("measured_gpus", None)
        (folder / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    doc = run_json(cli, "crossover", "--rps", "5", "--measured-only", "--baseline", str(folder))
    assert doc["results"]
    for r in doc["results"]:
        assert r["status"] == "unchanged", r
