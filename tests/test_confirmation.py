"""Unconfirmed catalog entries: the estimates a result used are named in JSON and in one note."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from cases import builtin_catalog
from selfhost.analysis import Report
from selfhost.catalog.schema import ApiOffering, Catalog, RentalOffer
from selfhost.confirmation import flag_unconfirmed, unconfirmed_entries, unconfirmed_note, used_entries

Cli = Callable[..., Result]
DAY = dt.date(2026, 12, 6)


def offer(entry_id: str, confirmed: bool) -> RentalOffer:
    return RentalOffer(
        id=entry_id,
        provider="P",
        gpu="h100-sxm-80gb",
        usd_per_gpu_hour=2.0,
        source="example.com/prices",
        as_of=DAY,
        confirmed=confirmed,
        notes="" if confirmed else "the price is a floor, not a quote",
    )


def api(entry_id: str, confirmed: bool) -> ApiOffering:
    return ApiOffering(
        id=entry_id,
        provider="P",
        api_model=entry_id,
        usd_per_mtok_input=1.0,
        usd_per_mtok_output=2.0,
        quality_tier="mid",
        source="example.com/api-prices",
        as_of=DAY,
        confirmed=confirmed,
    )


def small_catalog() -> Catalog:
    return Catalog(
        rental_offers=(offer("sure", True), offer("floor", False)),
        apis=(api("api-sure", True), api("api-guess", False)),
    )


def test_only_unconfirmed_entries_the_records_use_are_named_once_in_order():
    records = [
        {"price_option": "floor", "api": "api-sure"},
        {"price_option": "sure", "api": "api-guess"},
        {"price_option": "floor", "api": "api-guess"},
        {"option_kind": "api", "option": "api-guess"},
    ]
    found = unconfirmed_entries(small_catalog(), records)
    assert [(e["kind"], e["id"]) for e in found] == [("price", "floor"), ("api", "api-guess")]
    assert found[0]["notes"] == "the price is a floor, not a quote"
    assert found[0]["source"] == "example.com/prices"


def test_ids_of_the_wrong_kind_or_unknown_are_ignored():
    # an API id where a price is expected is not looked up among the APIs
    records = [{"price_option": "api-guess", "model": "no-such-model", "gpu": None}]
    assert unconfirmed_entries(small_catalog(), records) == []


def test_used_entries_reads_every_field_a_record_names():
    records = [
        {"model": "m", "quant": "q", "gpu": "g", "price_option": "p", "api": "a", "engine": "vllm"},
        {"option_kind": "self-hosted", "option": "not-an-api"},
    ]
    assert used_entries(records) == [
        ("model", "m"),
        ("quant", "q"),
        ("gpu", "g"),
        ("price_option", "p"),
        ("api", "a"),
    ]


def test_the_builtin_catalog_names_every_kind_of_estimate():
    cat = builtin_catalog()
    records = [
        {"model": "qwen2.5-72b", "quant": "mxfp4", "gpu": "b300-288gb", "price_option": "nebius-b200-180gb"},
        {"model": "llama-3.3-70b", "quant": "bf16", "gpu": "h100-sxm-80gb", "api": "groq-llama-3.3-70b"},
    ]
    found = [(e["kind"], e["id"]) for e in unconfirmed_entries(cat, records)]
    assert found == [
        ("model", "qwen2.5-72b"),
        ("quant", "mxfp4"),
        ("gpu", "b300-288gb"),
        ("price", "nebius-b200-180gb"),
        ("api", "groq-llama-3.3-70b"),
    ]


def test_note_names_six_and_counts_the_rest():
    entries = [{"id": f"e{i}", "kind": "gpu"} for i in range(8)]
    note = unconfirmed_note(entries)
    assert note is not None
    assert note.startswith("8 catalog entries used hold estimates (confirmed: false): gpu e0, gpu e1")
    assert "gpu e5 and 2 more" in note and "gpu e6" not in note
    assert note.endswith("see which figure and why with: selfhost catalog show ID")
    one = unconfirmed_note(entries[:1])
    assert one is not None and one.startswith("1 catalog entry used holds estimates")
    assert unconfirmed_note([]) is None


def test_flag_unconfirmed_adds_the_json_field_and_one_note():
    report = Report(results=[{"price_option": "floor"}, {"price_option": "sure"}], assumptions={})
    assert flag_unconfirmed(report, small_catalog()) is report
    assert [e["id"] for e in report.assumptions["unconfirmed_entries"]] == ["floor"]
    assert len(report.notes) == 1 and "price floor" in report.notes[0]
    clean = Report(results=[{"price_option": "sure"}], assumptions={})
    flag_unconfirmed(clean, small_catalog())
    assert clean.assumptions["unconfirmed_entries"] == [] and clean.notes == []


def test_only_the_rows_shown_are_checked():
    report = Report(results=[{"price_option": "sure"}, {"price_option": "floor"}], assumptions={})
    flag_unconfirmed(report, small_catalog(), records=report.results[:1])
    assert report.assumptions["unconfirmed_entries"] == [] and report.notes == []


GUESS_OFFER = """\
rental_offers:
  - id: guesscloud-h100
    provider: GuessCloud
    gpu: h100-sxm-80gb
    usd_per_gpu_hour: 0.50
    pricing: on-demand
    source: example.com/guesscloud-prices
    as_of: 2026-11-30
    confirmed: false
    notes: the price is a guess
"""


def test_crossover_names_the_estimates_it_used_in_every_format(cli: Cli, tmp_path: Path):
    overlay = tmp_path / "guess.yaml"
    overlay.write_text(GUESS_OFFER, encoding="utf-8")
    args = ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--catalog", str(overlay)]
    doc = json.loads(cli(*args, "--format", "json").stdout)
    assert {r["price_option"] for r in doc["results"]} == {"guesscloud-h100"}
    listed = {e["id"]: e for e in doc["assumptions"]["unconfirmed_entries"]}
    assert listed["guesscloud-h100"] == {
        "id": "guesscloud-h100",
        "kind": "price",
        "source": "example.com/guesscloud-prices",
        "notes": "the price is a guess",
    }
    assert "h100-sxm-80gb" not in listed and "llama-3.3-70b" not in listed  # both confirmed
    for fmt in ("table", "csv"):
        result = cli(*args, "--format", fmt)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "confirmed: false" in line]
        assert len(lines) == 1 and "price guesscloud-h100" in lines[0]
        assert "confirmed: false" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--limit", "1"],
        ["sweep", "-m", "llama-3.3-70b", "-g", "h100", "--rps", "1"],
        ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100"],
    ],
    ids=["cost", "sweep", "sensitivity"],
)
def test_every_priced_command_names_its_estimates(cli: Cli, tmp_path: Path, args: list[str]):
    overlay = tmp_path / "guess.yaml"
    overlay.write_text(GUESS_OFFER, encoding="utf-8")
    doc = json.loads(cli(*args, "--catalog", str(overlay), "--format", "json").stdout)
    assert "guesscloud-h100" in {e["id"] for e in doc["assumptions"]["unconfirmed_entries"]}


def test_plan_names_its_estimates(cli: Cli):
    hybrid = Path(__file__).resolve().parents[1] / "examples" / "hybrid.yaml"
    doc = json.loads(cli("plan", str(hybrid), "--format", "json").stdout)
    entries = doc["assumptions"]["unconfirmed_entries"]
    assert entries, "the example plan runs on at least one unconfirmed entry (mi300x-192gb's FP8 figures)"
    cat = builtin_catalog()
    sections = {"model": cat.models, "quant": cat.quantizations, "gpu": cat.gpus, "api": cat.apis}
    for e in entries:
        pool = sections.get(e["kind"], (*cat.rental_offers, *cat.purchase_options))
        assert any(x.id == e["id"] and not x.confirmed for x in pool)
