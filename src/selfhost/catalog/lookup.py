"""Find catalog entries by id or alias, forgiving case and separators, with did-you-mean errors.

Users type ids on the command line (`--gpu H100_SXM`); a near miss should name the close
matches and the command that lists every valid id, not just fail.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from selfhost.errors import InputError, UnknownIdError

if TYPE_CHECKING:
    from selfhost.catalog.schema import Entry

E = TypeVar("E", bound="Entry")

#: Up to this many close matches are suggested.
MAX_SUGGESTIONS = 3
#: difflib similarity ratio below which a candidate is not suggested. [unitless]
SUGGESTION_CUTOFF = 0.5
#: Score of an id or alias that contains the query. [unitless]
CONTAINED_SCORE = 0.8


def normalize(text: str) -> str:
    """Lookup key of an id, alias or query: stripped, case-folded, '_' and ' ' read as '-'.

    The catalog loader uses the same key to reject aliases that would be ambiguous here.
    """
    return text.strip().casefold().replace("_", "-").replace(" ", "-")


def by_id(entries: Iterable[E]) -> dict[str, E]:
    """Map each entry's id to the entry, in catalog order."""
    return {entry.id: entry for entry in entries}


def suggest(entries: Iterable[Entry], query: str, *, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Ids of the entries whose id or an alias is close to `query`, best first, without duplicates.

    Close means a difflib similarity ratio of at least SUGGESTION_CUTOFF; a query of three or
    more characters found inside an id or alias scores CONTAINED_SCORE, so 'sxm' finds
    'h100-sxm'. Ties keep catalog order (difflib.get_close_matches would sort them by name).
    """
    key = normalize(query)
    owner: dict[str, str] = {}
    for entry in entries:
        for name in (entry.id, *entry.aliases):
            owner.setdefault(normalize(name), entry.id)
    scored: list[tuple[float, int, str]] = []
    for position, (name, entry_id) in enumerate(owner.items()):
        score = difflib.SequenceMatcher(None, key, name).ratio()
        if len(key) >= 3 and key in name:
            score = max(score, CONTAINED_SCORE)
        if key and score >= SUGGESTION_CUTOFF:
            scored.append((-score, position, entry_id))
    ids: list[str] = []
    for _, _, entry_id in sorted(scored):
        if entry_id not in ids:
            ids.append(entry_id)
    return ids[:limit]


def did_you_mean(entries: Iterable[Entry], query: str) -> str:
    """The clause ` did you mean 'a', 'b'?` naming the suggested ids, or '' when none is close."""
    close = suggest(entries, query)
    return f" did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def find(entries: Sequence[E], query: str) -> E | None:
    """The entry whose id, else alias, matches `query` (see `normalize`); None when none does."""
    key = normalize(query)
    for entry in entries:
        if normalize(entry.id) == key:
            return entry
    for entry in entries:
        if any(normalize(alias) == key for alias in entry.aliases):
            return entry
    return None


def resolve(entries: Sequence[E], query: str, *, kind: str, list_command: str) -> E:
    """The entry whose id, else alias, matches `query` (see `normalize`).

    `kind` names the entry type in messages ('GPU', 'model'); `list_command` is the command that
    lists all of them, quoted in the error so the user knows how to find a valid id.

    Raises:
        InputError: the query is empty.
        UnknownIdError: nothing matches; the message lists close matches.
    """
    if not normalize(query):
        raise InputError(f"empty {kind} id; run '{list_command}' to see all {kind}s.")
    found = find(entries, query)
    if found is not None:
        return found
    hint = did_you_mean(entries, query)
    raise UnknownIdError(f"unknown {kind} '{query.strip()}';{hint} Run '{list_command}' to see all {kind}s.")


def resolve_many(entries: Sequence[E], queries: Iterable[str], *, kind: str, list_command: str) -> list[E]:
    """Resolve each query in order (see `resolve`), keeping the first of any repeated entries."""
    found: dict[str, E] = {}
    for query in queries:
        entry = resolve(entries, query, kind=kind, list_command=list_command)
        found.setdefault(entry.id, entry)
    return list(found.values())
