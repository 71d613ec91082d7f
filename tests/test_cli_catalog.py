"""`selfhost catalog list|show|validate` and user catalogs (--catalog, SELFHOST_CATALOG), in-process."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from selfhost.cli.catalog_cmd import KINDS

Cli = Callable[..., Result]

#: A valid overlay: one cheap H100 offer, referring to the built-in GPU by id.
GOOD_OVERLAY = """\
rental_offers:
  - id: mycloud-h100
    provider: MyCloud
    gpu: h100-sxm-80gb
    usd_per_gpu_hour: 0.25
    pricing: on-demand
    source: quote from MyCloud sales
    as_of: 2026-10-01
"""

# (overlay text, what `catalog validate` must report on stderr)
BAD_OVERLAYS = [
    pytest.param(
        GOOD_OVERLAY.replace("0.25", "-0.25"),
        ["rental_offers[0] (id 'mycloud-h100').usd_per_gpu_hour", "greater than 0"],
        id="negative-price",
    ),
    pytest.param(
        GOOD_OVERLAY.replace("gpu: h100-sxm-80gb", "gpu: h100-sxm-80g"),
        [
            "rental_offers[0] (id 'mycloud-h100').gpu",
            "unknown id 'h100-sxm-80g'",
            "did you mean 'h100-sxm-80gb'",
        ],
        id="unknown-gpu-reference",
    ),
    pytest.param(
        GOOD_OVERLAY.replace("    pricing: on-demand\n", "    pricing: on-demand\n    pricng: spot\n"),
        ["rental_offers[0] (id 'mycloud-h100').pricng", "did you mean 'pricing'"],
        id="typo-in-field",
    ),
    pytest.param("rental_offers: [\n  - id: x\n", ["line 2, column 3", "invalid YAML"], id="yaml-syntax"),
]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def json_doc(result: Result) -> dict[str, Any]:
    doc = json.loads(ok(result).stdout)
    assert isinstance(doc["results"], list)
    assert isinstance(doc["assumptions"], dict)
    return doc


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- catalog list


@pytest.mark.parametrize("kind", KINDS)
def test_list_json(cli: Cli, kind: str) -> None:
    doc = json_doc(cli("catalog", "list", kind, "--format", "json"))
    assert doc["results"]
    assert doc["assumptions"] == {"kind": kind}
    for entry in doc["results"]:
        assert entry["id"] and entry["source"]
        dt.date.fromisoformat(entry["as_of"])


@pytest.mark.parametrize("kind", KINDS)
def test_list_csv(cli: Cli, kind: str) -> None:
    result = ok(cli("catalog", "list", kind, "--format", "csv"))
    reader = csv.DictReader(io.StringIO(result.stdout))
    rows = list(reader)
    assert {"id", "source", "as_of"} <= set(reader.fieldnames or [])
    assert rows and all(row["id"] for row in rows)


@pytest.mark.parametrize("kind", KINDS)
def test_list_table(cli: Cli, kind: str) -> None:
    result = ok(cli("catalog", "list", kind))
    assert f"Catalog: {kind}" in result.stdout
    assert result.stderr == ""


def test_list_gpus_has_the_units_in_its_keys(cli: Cli) -> None:
    gpus = {g["id"]: g for g in json_doc(cli("catalog", "list", "gpus", "--format", "json"))["results"]}
    h100 = gpus["h100-sxm-80gb"]
    # H100 SXM 80GB: 3,350 GB/s, 989 dense BF16 TFLOPS (facts.md §2)
    assert (h100["memory_gb"], h100["memory_bandwidth_gb_s"], h100["bf16_tflops"]) == (80, 3350, 989)


def test_list_unknown_kind(cli: Cli) -> None:
    result = cli("catalog", "list", "gpuz")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: unknown kind 'gpuz'")
    assert "gpus" in result.stderr and result.stdout == ""


# --------------------------------------------------------------------------- catalog show


def test_show_json_by_alias(cli: Cli) -> None:
    doc = json_doc(cli("catalog", "show", "h100", "--format", "json"))
    (entry,) = doc["results"]
    assert entry["id"] == "h100-sxm-80gb"
    assert entry["section"] == "gpus"
    assert "h100" in entry["aliases"]
    dt.date.fromisoformat(entry["as_of"])


def test_show_csv(cli: Cli) -> None:
    rows = list(
        csv.DictReader(io.StringIO(ok(cli("catalog", "show", "deepseek-v3", "--format", "csv")).stdout))
    )
    assert len(rows) == 1
    assert rows[0]["id"] == "deepseek-v3"
    assert rows[0]["section"] == "models"


def test_show_table(cli: Cli) -> None:
    result = ok(cli("catalog", "show", "llama-3.3-70b"))
    assert "llama-3.3-70b (models)" in result.stdout
    assert "as_of" in result.stdout


def test_show_unknown_id(cli: Cli) -> None:
    result = cli("catalog", "show", "h1000")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: unknown catalog id 'h1000'")
    assert "did you mean 'h100-sxm-80gb'" in result.stderr
    assert "selfhost catalog list" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- catalog validate


def test_validate_good_overlay(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "my-prices.yaml", GOOD_OVERLAY)
    before = path.stat().st_mtime_ns
    result = ok(cli("catalog", "validate", str(path)))
    assert result.stdout.startswith("ok: ")
    assert result.stderr == ""
    assert path.read_text(encoding="utf-8") == GOOD_OVERLAY
    assert path.stat().st_mtime_ns == before


def test_validate_a_directory(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD_OVERLAY)
    ok(cli("catalog", "validate", str(tmp_path)))


@pytest.mark.parametrize(("text", "fragments"), BAD_OVERLAYS)
def test_validate_bad_overlay(cli: Cli, tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path / "bad.yaml", text)
    result = cli("catalog", "validate", str(path))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in line
    assert path.read_text(encoding="utf-8") == text  # nothing the user wrote is modified


def test_validate_missing_file(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = cli("catalog", "validate", str(missing))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ")
    assert str(missing) in result.stderr and "does not exist" in result.stderr
    assert not missing.exists()


# --------------------------------------------------------------------------- user catalogs on data commands


@pytest.mark.parametrize(
    "command", [["crossover", "--rps", "5"], ["fit", "llama-3.3-70b"], ["catalog", "list", "gpus"]]
)
@pytest.mark.parametrize(("text", "fragments"), BAD_OVERLAYS[:1] + BAD_OVERLAYS[-1:])
def test_broken_catalog_option_names_the_file(
    cli: Cli, tmp_path: Path, command: list[str], text: str, fragments: list[str]
) -> None:
    path = write(tmp_path / "broken.yaml", text)
    result = cli(*command, "--catalog", str(path))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert result.stderr.startswith("Error: the catalog has 1 error")
    assert f"{path}: " in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_missing_catalog_option(cli: Cli, tmp_path: Path) -> None:
    result = cli("fit", "llama-3.3-70b", "--catalog", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: catalog file ")
    assert "nope.yaml" in result.stderr


def cheapest_offer(cli: Cli, *extra: str) -> str:
    doc = json_doc(cli("cost", "--rps", "1", "-m", "qwen2.5-7b", "-g", "h100", "--format", "json", *extra))
    offer: str = doc["results"][0]["price_option"]
    return offer


def test_catalog_option_overlays_the_builtin_catalog(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "my-prices.yaml", GOOD_OVERLAY)
    assert cheapest_offer(cli) != "mycloud-h100"
    assert cheapest_offer(cli, "--catalog", str(path)) == "mycloud-h100"


def test_selfhost_catalog_variable_is_read(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "SELFHOST_CATALOG" not in os.environ  # the autouse fixture keeps user catalogs out
    path = write(tmp_path / "my-prices.yaml", GOOD_OVERLAY)
    monkeypatch.setenv("SELFHOST_CATALOG", str(path))
    assert cheapest_offer(cli) == "mycloud-h100"


def test_markup_in_catalog_values_is_printed_verbatim(cli: Cli, tmp_path: Path) -> None:
    """Catalog text is data: Rich must not read '[/]' as markup (it crashed) or ':100:' as an emoji."""
    provider = "[/]Evil [b]Cloud:100:"
    path = write(tmp_path / "evil.yaml", GOOD_OVERLAY.replace("MyCloud", f'"{provider}"'))
    shown = ok(cli("catalog", "show", "mycloud-h100", "--catalog", str(path)))
    assert provider in shown.stdout
    ok(cli("catalog", "list", "offers", "--catalog", str(path)))
    table = ok(
        cli("cost", "--rps", "1", "-m", "qwen2.5-7b", "-g", "h100", "--catalog", str(path), "--limit", "1")
    )
    assert "Evil" in table.stdout and "💯" not in table.stdout
