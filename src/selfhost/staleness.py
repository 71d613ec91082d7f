"""Stale prices: catalog prices older than a number of days, and the ones a result used.

Every price in the catalog (a rental offer, an owned-hardware option, an API) carries the date
it applies to (``as_of``). Prices move every quarter, so a figure older than
``DEFAULT_STALE_DAYS`` is flagged wherever it is used: in JSON as ``assumptions.stale_prices``,
in table and CSV mode as one note on stderr.

``today`` is a parameter everywhere, so tests can pin it; it defaults to ``current_date()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.catalog.schema import Catalog

DEFAULT_STALE_DAYS = 90  # prices move every quarter
LISTED_IN_NOTE = 5  # ids named in the stderr note before "and N more"

#: Catalog section -> the kind word used in the output.
PRICE_SECTIONS = {"rental_offers": "offer", "purchase_options": "owned", "apis": "api"}


def current_date() -> dt.date:
    """The local date: the default ``today`` of every function here."""
    return dt.date.today()


@dataclass(frozen=True)
class PriceDate:
    """One catalog price and its date.

    id : Catalog id of the offer, purchase option or API.
    kind : 'offer', 'owned' or 'api'.
    provider : Who sells it ('owned' for purchase options).
    item : The GPU id (offers, owned) or the provider's model name (APIs).
    as_of : Date the price applies to.
    source : Where it came from.
    """

    id: str
    kind: str
    provider: str
    item: str
    as_of: dt.date
    source: str


def price_dates(catalog: Catalog) -> dict[str, PriceDate]:
    """Every price entry of the catalog by id: rental offers, purchase options, APIs."""
    dates: dict[str, PriceDate] = {}
    for offer in catalog.rental_offers:
        dates[offer.id] = PriceDate(offer.id, "offer", offer.provider, offer.gpu, offer.as_of, offer.source)
    for own in catalog.purchase_options:
        dates[own.id] = PriceDate(own.id, "owned", "owned", own.gpu, own.as_of, own.source)
    for api in catalog.apis:
        dates[api.id] = PriceDate(api.id, "api", api.provider, api.api_model, api.as_of, api.source)
    return dates


def age_days(as_of: dt.date, today: dt.date) -> int:
    """Whole days from ``as_of`` to ``today`` (negative for a future date). [days]"""
    return (today - as_of).days


def stale_record(price: PriceDate, today: dt.date) -> dict[str, Any]:
    """The output record of one stale price: ``{id, kind, provider, item, as_of, age_days, source}``."""
    return {
        "id": price.id,
        "kind": price.kind,
        "provider": price.provider,
        "item": price.item,
        "as_of": price.as_of.isoformat(),
        "age_days": age_days(price.as_of, today),
        "source": price.source,
    }


def stale_prices(
    catalog: Catalog,
    days: int = DEFAULT_STALE_DAYS,
    today: dt.date | None = None,
    ids: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Catalog prices older than ``days`` days on date ``today``, oldest first.

    ``ids`` restricts the check to those catalog ids (the prices a result used); ids that are
    not price entries are ignored. A price exactly ``days`` old is not stale.
    """
    when = today or current_date()
    dates = price_dates(catalog)
    wanted = list(dates) if ids is None else [i for i in dict.fromkeys(ids) if i in dates]
    stale = [dates[i] for i in wanted if age_days(dates[i].as_of, when) > days]
    stale.sort(key=lambda p: (p.as_of, p.id))
    return [stale_record(p, when) for p in stale]


def used_price_ids(records: Sequence[dict[str, Any]]) -> list[str]:
    """Catalog price ids a command's result records name, in first-seen order.

    Deployments name their price in ``price_option``; comparisons name their API in ``api``;
    `sweep`'s API rows name it in ``option`` (with ``option_kind`` 'api').
    """
    ids: list[str] = []
    for r in records:
        for key in ("price_option", "api"):
            if isinstance(r.get(key), str):
                ids.append(r[key])
        if r.get("option_kind") == "api" and isinstance(r.get("option"), str):
            ids.append(r["option"])
    return list(dict.fromkeys(ids))


def counted_note(labels: Sequence[str], limit: int, *, one: str, many: str, then: str) -> str | None:
    """One stderr line counting and naming what a result used: ``'<n> <one|many>: a, b and 3 more;
    <then>'``, the first ``limit`` of ``labels`` named; None when there are none."""
    if not labels:
        return None
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"{len(labels)} {one if len(labels) == 1 else many}: {', '.join(labels[:limit])}{more}; {then}"


def stale_note(stale: Sequence[dict[str, Any]], days: int) -> str | None:
    """One stderr line naming the stale prices a result used, or None when there are none."""
    return counted_note(
        [f"{s['id']} ({s['as_of']})" for s in stale],
        LISTED_IN_NOTE,
        one=f"price used is older than {days} days",
        many=f"prices used are older than {days} days",
        then="check them, pass --catalog with newer ones (see: selfhost catalog stale)",
    )


def flag_stale(
    report: Report,
    catalog: Catalog,
    days: int = DEFAULT_STALE_DAYS,
    today: dt.date | None = None,
    records: Sequence[dict[str, Any]] | None = None,
) -> Report:
    """Add ``assumptions.stale_prices`` (list of {id, as_of, age_days, ...}) and a note to ``report``.

    Only prices the records used are checked: ``records``, by default all of the report's
    (a command that shows only some rows passes those). The report is changed in place and
    returned.
    """
    used = report.results if records is None else records
    stale = stale_prices(catalog, days, today, ids=used_price_ids(used))
    report.assumptions["stale_after_days"] = days
    report.assumptions["stale_prices"] = stale
    note = stale_note(stale, days)
    if note:
        report.notes.append(note)
    return report
