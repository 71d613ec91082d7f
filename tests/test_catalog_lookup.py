"""Finding catalog entries by id or alias: forgiving input, helpful errors."""

from __future__ import annotations

import datetime as dt

import pytest

from selfhost.catalog.lookup import by_id, normalize, resolve, resolve_many, suggest
from selfhost.catalog.schema import Entry
from selfhost.errors import InputError, UnknownIdError

LIST_GPUS = "selfhost gpus"


def entry(entry_id: str, *aliases: str) -> Entry:
    return Entry(id=entry_id, aliases=aliases, source="test", as_of=dt.date(2025, 1, 1))


GPUS = (
    entry("h100-sxm", "h100"),
    entry("h100-pcie"),
    entry("h200-sxm", "h200"),
    entry("a100-80gb", "a100"),
    entry("l40s"),
    entry("rtx-4090", "4090"),
)


def resolve_gpu(query: str, entries: tuple[Entry, ...] = GPUS) -> Entry:
    return resolve(entries, query, kind="GPU", list_command=LIST_GPUS)


@pytest.mark.parametrize(
    ("query", "expected_id"),
    [
        ("h100-sxm", "h100-sxm"),  # exact id
        ("H100-SXM", "h100-sxm"),  # case-insensitive
        ("  h100-sxm\n", "h100-sxm"),  # surrounding whitespace
        ("h100_sxm", "h100-sxm"),  # '_' reads as '-'
        ("H100 SXM", "h100-sxm"),  # ' ' reads as '-'
        ("h100", "h100-sxm"),  # alias
        ("H100", "h100-sxm"),  # alias, case-insensitive
        ("4090", "rtx-4090"),  # numeric-looking alias
        ("rtx_4090", "rtx-4090"),
    ],
)
def test_resolve_matches_id_then_alias_forgivingly(query: str, expected_id: str) -> None:
    assert resolve_gpu(query).id == expected_id


def test_an_id_wins_over_another_entrys_alias() -> None:
    entries = (entry("big", "small"), entry("small"))
    assert resolve(entries, "small", kind="thing", list_command="x").id == "small"


@pytest.mark.parametrize(
    ("query", "expected_message"),
    [
        (
            "h100-sxn",
            "unknown GPU 'h100-sxn'; did you mean 'h100-sxm', 'h200-sxm', 'h100-pcie'? "
            "Run 'selfhost gpus' to see all GPUs.",
        ),
        (
            " L40S_ ",  # stripped in the message; one close match
            "unknown GPU 'L40S_'; did you mean 'l40s'? Run 'selfhost gpus' to see all GPUs.",
        ),
        (
            "40900",  # close to the alias '4090': the entry's id is suggested
            "unknown GPU '40900'; did you mean 'rtx-4090'? Run 'selfhost gpus' to see all GPUs.",
        ),
        (
            "mi300x",  # nothing close: no did-you-mean clause
            "unknown GPU 'mi300x'; Run 'selfhost gpus' to see all GPUs.",
        ),
    ],
)
def test_unknown_id_names_close_matches_and_the_list_command(query: str, expected_message: str) -> None:
    with pytest.raises(UnknownIdError) as excinfo:
        resolve_gpu(query)
    assert str(excinfo.value) == expected_message


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        ("pcie", ["h100-pcie"]),  # contained in the id; difflib ratio alone is 0.62
        ("sxm", ["h100-sxm", "h200-sxm"]),  # equal scores keep catalog order
        ("h1000", ["h100-sxm", "h200-sxm", "a100-80gb"]),  # via aliases h100, h200, a100; capped at 3
        ("l4", ["l40s"]),  # too short for the contains rule, but similar
        ("mi300x", []),
        ("", []),
    ],
)
def test_suggest(query: str, expected_ids: list[str]) -> None:
    assert suggest(GPUS, query) == expected_ids


def test_suggest_on_an_empty_catalog_is_empty() -> None:
    assert suggest((), "h100") == []


@pytest.mark.parametrize("query", ["", "   ", "\t"])
def test_an_empty_query_is_an_input_error(query: str) -> None:
    with pytest.raises(InputError, match=r"empty GPU id; run 'selfhost gpus' to see all GPUs"):
        resolve_gpu(query)


def test_resolve_many_keeps_order_and_drops_duplicates() -> None:
    found = resolve_many(
        GPUS, ["l40s", "h100", "H100_SXM", "l40s", "a100"], kind="GPU", list_command=LIST_GPUS
    )
    assert [e.id for e in found] == ["l40s", "h100-sxm", "a100-80gb"]


def test_resolve_many_fails_on_the_first_unknown_query() -> None:
    with pytest.raises(UnknownIdError, match="unknown GPU 'b200'"):
        resolve_many(GPUS, ["l40s", "b200", "nope"], kind="GPU", list_command=LIST_GPUS)


def test_resolve_many_of_nothing_is_empty() -> None:
    assert resolve_many(GPUS, [], kind="GPU", list_command=LIST_GPUS) == []


def test_by_id_maps_ids_to_entries_in_catalog_order() -> None:
    mapping = by_id(GPUS)
    assert list(mapping) == [e.id for e in GPUS]
    assert mapping["l40s"] is GPUS[4]


@pytest.mark.parametrize(
    ("text", "key"),
    [("H100_SXM", "h100-sxm"), ("  Llama 3.1 8B ", "llama-3.1-8b"), ("q4_k_m", "q4-k-m")],
)
def test_normalize(text: str, key: str) -> None:
    assert normalize(text) == key
