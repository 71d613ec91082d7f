"""Provenance of the built-in catalog: every source names a public document a reader can open.

A `source` cites a URL or a repository (with commit and path where there is one); it never cites
the project's internal notes (the compiled reference notes in shared/, which no reader of the
catalog can open). Estimates without a public document say so and are `confirmed: false`.

data/engines.yaml and data/calibration/ are the lead's (issue 8) and are not checked here yet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "selfhost" / "data"
if not DATA.is_dir():  # the data files live at the repository root in a source checkout
    DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("gpu_prices.yaml", "models.yaml", "api_prices.yaml")

# Internal notes that are not public: never a source, nor named anywhere in a data file.
NON_PUBLIC = re.compile(r"facts\.md|shared/reference|shared/calibration|research/facts|SOURCES\.md", re.I)
# A public document: a web address, a repository at a commit, a repository and a file path, or
# a package on PyPI.
URL = re.compile(
    r"\b[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.(com|ai|io|org|net|dev|cloud|co|app|rs|eu|us)\b", re.I
)
REPO_AT_COMMIT = re.compile(r"\b[\w.-]+/[\w.-]+@[0-9a-f]{7,40}\b")
REPO_AND_PATH = re.compile(r"\b[\w.-]+/[\w.-]+ [\w./{},*-]+\.(py|ya?ml|json|md|csv|cpp|go|ts)\b")
PYPI = re.compile(r"\b(PyPI )?[\w.-]+==\d")
EDITORIAL = "editorial estimate"


def entries() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name in CHECKED:
        document = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        for section, items in document.items():
            for entry in items:
                found.append((name, f"{section}:{entry['id']}", entry))
    return found


ENTRIES = entries()


@pytest.mark.parametrize("name", CHECKED)
def test_no_data_file_cites_internal_notes(name: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    hits = [
        f"line {i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1) if NON_PUBLIC.search(line)
    ]
    assert not hits, f"{name} names non-public notes:\n" + "\n".join(hits)


def test_internal_notes_pattern_catches_what_it_should() -> None:
    assert NON_PUBLIC.search("facts.md §2 [C]: ai-dynamo/aiconfigurator@095f58a5")
    assert NON_PUBLIC.search("shared/reference/configs/Qwen__Qwen2.5-7B-Instruct.json")
    assert not NON_PUBLIC.search("tests/fixtures/hf_configs/Qwen__Qwen2.5-7B-Instruct.json")


def names_public_document(source: str) -> bool:
    return any(p.search(source) for p in (URL, REPO_AT_COMMIT, REPO_AND_PATH, PYPI))


@pytest.mark.parametrize(("name", "key", "entry"), ENTRIES, ids=[key for _, key, _ in ENTRIES])
def test_every_source_names_a_public_document(name: str, key: str, entry: dict[str, Any]) -> None:
    source = entry["source"]
    if EDITORIAL in source:
        # no public document exists (owned-hardware prices): the entry must say it is an estimate
        assert entry.get("confirmed") is False, (
            f"{name} {key}: an editorial estimate must be confirmed: false"
        )
        return
    assert names_public_document(source), f"{name} {key}: source names no public document: {source!r}"


def test_public_document_pattern() -> None:
    assert names_public_document(
        "docs.digitalocean.com/products/droplets/details/pricing, validated on 2026-05-28"
    )
    assert names_public_document(
        "ai-dynamo/aiconfigurator@095f58a5 aic-core/src/aiconfigurator_core/systems/h100_sxm.yaml"
    )
    assert names_public_document("PyPI litellm==1.110.2 litellm/model_prices_and_context_window_backup.json")
    assert not names_public_document("facts.md §5.2")
    assert not names_public_document("several repo code price tables agree")


@pytest.mark.parametrize("name", CHECKED)
def test_cited_fixture_copies_exist(name: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    for path in re.findall(r"tests/fixtures/[\w./-]+\.json", text):
        assert (ROOT / path).is_file(), f"{name} cites {path}, which does not exist"


@pytest.mark.parametrize(("name", "key", "entry"), ENTRIES, ids=[key for _, key, _ in ENTRIES])
def test_unconfirmed_entries_say_why(name: str, key: str, entry: dict[str, Any]) -> None:
    if entry.get("confirmed", True) is False:
        assert len(entry.get("notes", "")) >= 20, f"{name} {key}: confirmed false without notes saying why"
