"""Stale prices: detection against an injected date, the prices a result used, and every output format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from selfhost import staleness
from selfhost.analysis import Report
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.schema import ApiOffering, Catalog, PurchaseOption, RentalOffer
from selfhost.staleness import flag_stale, stale_note, stale_prices, used_price_ids

Cli = Callable[..., Result]

TODAY = dt.date(2026, 11, 28)


def offer(entry_id: str, as_of: dt.date) -> RentalOffer:
    return RentalOffer(
        id=entry_id, provider="P", gpu="h100-sxm-80gb", usd_per_gpu_hour=2.0, source="test", as_of=as_of
    )


def small_catalog() -> Catalog:
    return Catalog(
        rental_offers=(
            offer("fresh", TODAY - dt.timedelta(days=10)),
            offer("exactly-90", TODAY - dt.timedelta(days=90)),
            offer("day-91", TODAY - dt.timedelta(days=91)),
            offer("future", TODAY + dt.timedelta(days=3)),
        ),
        purchase_options=(
            PurchaseOption(
                id="owned-old",
                gpu="h100-sxm-80gb",
                description="8x H100 server",
                usd_per_gpu=30000,
                amortization_months=36,
                watts_per_gpu=1000,
                usd_per_kwh=0.12,
                source="test",
                as_of=dt.date(2024, 1, 1),
            ),
        ),
        apis=(
            ApiOffering(
                id="api-old",
                provider="Q",
                api_model="q-1",
                usd_per_mtok_input=1.0,
                usd_per_mtok_output=2.0,
                quality_tier="strong",
                source="test",
                as_of=dt.date(2025, 6, 1),
            ),
        ),
    )


def test_stale_means_strictly_older_than_the_threshold_oldest_first():
    stale = stale_prices(small_catalog(), 90, TODAY)
    assert [s["id"] for s in stale] == ["owned-old", "api-old", "day-91"]
    assert [s["kind"] for s in stale] == ["owned", "api", "offer"]
    # 2024-01-01 -> 2026-11-28: 366 + 365 + 331 days
    assert stale[0]["age_days"] == 1062
    assert stale[2] == {
        "id": "day-91",
        "kind": "offer",
        "provider": "P",
        "item": "h100-sxm-80gb",
        "as_of": "2026-08-29",
        "age_days": 91,
        "source": "test",
    }


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, {"fresh", "exactly-90", "day-91", "owned-old", "api-old"}),
        (89, {"exactly-90", "day-91", "owned-old", "api-old"}),
        (10_000, set()),
    ],
)
def test_threshold_is_settable(days, expected):
    assert {s["id"] for s in stale_prices(small_catalog(), days, TODAY)} == expected


def test_every_builtin_price_is_checked_against_its_own_date():
    catalog = load_catalog(env={})
    today = dt.date(2026, 11, 28)
    expected = {
        e.id
        for section in (catalog.rental_offers, catalog.purchase_options, catalog.apis)
        for e in section
        if (today - e.as_of).days > 90
    }
    assert {s["id"] for s in stale_prices(catalog, 90, today)} == expected


def test_default_date_is_current_date(monkeypatch):
    monkeypatch.setattr(staleness, "current_date", lambda: TODAY + dt.timedelta(days=1))
    assert "exactly-90" in {s["id"] for s in stale_prices(small_catalog(), 90)}


def test_only_the_prices_a_result_used_are_flagged():
    records = [
        {"price_option": "day-91", "api": "api-old"},
        {"price_option": "fresh"},
        {"option_kind": "api", "option": "api-old"},
        {"option_kind": "self-hosted", "option": "not-a-price", "price_option": "owned-old"},
    ]
    assert used_price_ids(records) == ["day-91", "api-old", "fresh", "owned-old"]
    stale = stale_prices(small_catalog(), 90, TODAY, ids=used_price_ids(records[:2]))
    assert [s["id"] for s in stale] == ["api-old", "day-91"]


def test_flag_stale_adds_the_json_field_and_one_note():
    report = Report(results=[{"price_option": "day-91"}, {"price_option": "fresh"}], assumptions={})
    flag_stale(report, small_catalog(), 90, TODAY)
    assert report.assumptions["stale_after_days"] == 90
    assert [s["id"] for s in report.assumptions["stale_prices"]] == ["day-91"]
    assert report.notes == [
        "1 price used is older than 90 days: day-91 (2026-08-29); check them, pass --catalog with newer "
        "ones (see: selfhost catalog stale)"
    ]
    fresh = Report(results=[{"price_option": "fresh"}], assumptions={})
    flag_stale(fresh, small_catalog(), 90, TODAY)
    assert fresh.assumptions["stale_prices"] == []
    assert fresh.notes == []


def test_the_note_names_five_and_counts_the_rest():
    stale = [{"id": f"p{i}", "as_of": "2025-01-01"} for i in range(7)]
    note = stale_note(stale, 30)
    assert note is not None
    assert note.startswith("7 prices used are older than 30 days: p0 (2025-01-01), ")
    assert "p4 (2025-01-01) and 2 more;" in note
    assert stale_note([], 30) is None


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr(staleness, "current_date", lambda: TODAY)
    return TODAY


OLD_OFFER = """\
rental_offers:
  - id: oldcloud-h100
    provider: OldCloud
    gpu: h100-sxm-80gb
    usd_per_gpu_hour: 0.50
    pricing: on-demand
    source: a quote from last year
    as_of: 2025-10-01
"""


def test_catalog_stale_lists_in_every_format(cli: Cli, pinned_today, tmp_path: Path):
    overlay = tmp_path / "old.yaml"
    overlay.write_text(OLD_OFFER, encoding="utf-8")
    table = cli("catalog", "stale", "--catalog", str(overlay))
    assert table.exit_code == 0, table.output
    assert "Prices older than 90 days on 2026-11-28" in table.stdout
    assert "oldcloud-h100" in table.stdout

    doc = json.loads(cli("catalog", "stale", "--catalog", str(overlay), "--format", "json").stdout)
    row = next(r for r in doc["results"] if r["id"] == "oldcloud-h100")
    assert row["as_of"] == "2025-10-01" and row["age_days"] == 423 and row["kind"] == "offer"
    assert doc["assumptions"] == {"stale_after_days": 90, "today": "2026-11-28"}
    ages = [r["age_days"] for r in doc["results"]]
    assert ages == sorted(ages, reverse=True) and min(ages) > 90

    rows = list(
        csv.DictReader(io.StringIO(cli("catalog", "stale", "--days", "500", "--format", "csv").stdout))
    )
    assert all(int(r["age_days"]) > 500 for r in rows)
    empty = cli("catalog", "stale", "--days", "100000", "--format", "csv")
    assert empty.exit_code == 0 and empty.stdout.splitlines()[0].startswith("id,kind,provider")


def test_crossover_flags_the_stale_price_it_used(cli: Cli, pinned_today, tmp_path: Path):
    overlay = tmp_path / "old.yaml"
    overlay.write_text(OLD_OFFER, encoding="utf-8")
    args = ["crossover", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--catalog", str(overlay)]
    doc = json.loads(cli(*args, "--format", "json").stdout)
    assert {r["price_option"] for r in doc["results"]} == {"oldcloud-h100"}
    used = {s["id"]: s for s in doc["assumptions"]["stale_prices"]}
    assert used["oldcloud-h100"]["age_days"] == 423
    assert set(used) <= {"oldcloud-h100"} | {r["api"] for r in doc["results"]}

    for fmt in ("table", "csv"):
        result = cli(*args, "--format", fmt)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "older than 90 days" in line]
        assert len(lines) == 1 and "oldcloud-h100 (2025-10-01)" in lines[0]
        assert "older than" not in result.stdout

    quiet = cli(*args, "--stale-days", "100000", "--format", "json")
    assert json.loads(quiet.stdout)["assumptions"]["stale_prices"] == []
    assert "older than" not in quiet.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100", "--limit", "1"],
        ["sweep", "-m", "llama-3.3-70b", "-g", "h100", "--rps", "1"],
        ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b", "-g", "h100"],
    ],
    ids=["cost", "sweep", "sensitivity"],
)
def test_every_priced_command_reports_stale_prices(cli: Cli, pinned_today, tmp_path: Path, args):
    overlay = tmp_path / "old.yaml"
    overlay.write_text(OLD_OFFER, encoding="utf-8")
    doc = json.loads(cli(*args, "--catalog", str(overlay), "--format", "json").stdout)
    assert "oldcloud-h100" in {s["id"] for s in doc["assumptions"]["stale_prices"]}
    assert doc["assumptions"]["stale_after_days"] == 90
