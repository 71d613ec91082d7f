"""Unconfirmed catalog entries: the estimates a result rests on, named wherever they are used.

An entry with ``confirmed: false`` holds at least one figure that is an estimate or could not be
checked against its source; its ``notes`` say which and why. As for stale prices
(`selfhost.staleness`), every output that uses such an entry says so: in JSON as
``assumptions.unconfirmed_entries``, in table and CSV mode as one note on stderr.

Checked: the GPU (specification), the price (rental offer or owned hardware), the model, the
quantization and the API a record names. Engine profiles are not listed here: whether a
throughput estimate has measurements behind it is the evidence note's subject
(`selfhost.analysis.evidence_fields`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from selfhost.staleness import counted_note

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.catalog.schema import Catalog, Entry

LISTED_IN_NOTE = 6  # entries named in the stderr note before "and N more"

#: Record field -> (kind word in the output, catalog sections the id is looked up in).
RECORD_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model": ("model", ("models",)),
    "quant": ("quant", ("quantizations",)),
    "gpu": ("gpu", ("gpus",)),
    "price_option": ("price", ("rental_offers", "purchase_options")),
    "api": ("api", ("apis",)),
}


def _entries(catalog: Catalog, sections: Sequence[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for section in sections:
        found.update({e.id: e for e in getattr(catalog, section)})
    return found


def used_entries(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(field, id)`` pairs of the catalog entries the records name, in first-seen order.

    Deployment records name ``model``, ``quant``, ``gpu`` and ``price_option``; comparisons
    name their ``api``; `sweep`'s API rows name it in ``option`` (``option_kind`` 'api').
    """
    pairs: list[tuple[str, str]] = []
    for r in records:
        for key in RECORD_FIELDS:
            if isinstance(r.get(key), str):
                pairs.append((key, r[key]))
        if r.get("option_kind") == "api" and isinstance(r.get("option"), str):
            pairs.append(("api", r["option"]))
    return list(dict.fromkeys(pairs))


def unconfirmed_entries(catalog: Catalog, records: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The unconfirmed catalog entries the records use: ``[{id, kind, source, notes}]``.

    In first-seen order, each entry once. Ids that are not catalog entries of the field's kind
    (an API named where a price is expected, a model passed as a file) are ignored.
    """
    by_field = {field: _entries(catalog, sections) for field, (_, sections) in RECORD_FIELDS.items()}
    seen: set[tuple[str, str]] = set()
    result: list[dict[str, str]] = []
    for field, entry_id in used_entries(records):
        entry = by_field[field].get(entry_id)
        kind = RECORD_FIELDS[field][0]
        if entry is None or entry.confirmed or (kind, entry.id) in seen:
            continue
        seen.add((kind, entry.id))
        result.append({"id": entry.id, "kind": kind, "source": entry.source, "notes": entry.notes})
    return result


def unconfirmed_note(entries: Sequence[Mapping[str, str]]) -> str | None:
    """One stderr line naming the unconfirmed entries a result used, or None when there are none."""
    return counted_note(
        [f"{e['kind']} {e['id']}" for e in entries],
        LISTED_IN_NOTE,
        one="catalog entry used holds estimates (confirmed: false)",
        many="catalog entries used hold estimates (confirmed: false)",
        then="see which figure and why with: selfhost catalog show ID",
    )


def flag_unconfirmed(
    report: Report, catalog: Catalog, records: Sequence[Mapping[str, Any]] | None = None
) -> Report:
    """Add ``assumptions.unconfirmed_entries`` (list of {id, kind, source, notes}) and a note.

    Only entries the records use are listed: ``records``, by default all of the report's (a
    command that shows only some rows passes those). The report is changed in place and
    returned.
    """
    used = report.results if records is None else records
    entries = unconfirmed_entries(catalog, used)
    report.assumptions["unconfirmed_entries"] = entries
    note = unconfirmed_note(entries)
    if note:
        report.notes.append(note)
    return report
