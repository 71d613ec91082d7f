"""What changed since the last review: `crossover` against a baseline, and the catalog changes behind it.

A baseline is one of:

- an **old catalog**: a YAML file or a directory of them (e.g. a copy of data/ kept from the
  last review). `crossover` runs on it *in place of* the current catalog, with the same
  options; it is read on its own, without the built-in files, SELFHOST_CATALOG or --catalog,
  so whatever differs from today's catalog shows as a change;
- a **saved result**: the output of ``selfhost crossover --format json``. Its records hold the
  prices and dates used (``usd_per_gpu_hour``, ``price_as_of``, ``api_usd_per_mtok_*``,
  ``api_price_as_of``) and its ``assumptions`` the options and the ``as_of`` date, source and
  status of every model, quantization, GPU and engine entry considered. Those are compared
  with today's catalog; figures the result does not record (an engine's efficiency, say) show
  as a changed date, with a pointer to compare catalogs for the values.

Comparisons are matched by (model, API); where the cheapest comparable API changed, the old
and new API of the same model and kind (same model hosted, or same-tier proprietary) are
matched. Each result record says how the crossover, both monthly costs and the saving moved,
and lists the changes that touch that comparison (``causes``): catalog entries of its
deployment and API (field, old and new value, old and new ``as_of``), a switch of deployment
or API, a changed option, and the replica capacity the changed figures imply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from selfhost.analysis import Record, Report
from selfhost.errors import InputError, SelfhostError

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog, Entry

BaselineKind = Literal["catalog", "result"]

#: Options echoed in a crossover's assumptions; a baseline run with other values mixes option
#: changes into the catalog's.
OPTION_KEYS = (
    "rps",
    "input_tokens",
    "output_tokens",
    "context_tokens",
    "max_tpot_ms",
    "max_ttft_ms",
    "kv_dtype",
    "hours_per_month",
    "ops_usd_per_month",
    "setup_usd",
    "target_utilization",
    "min_replicas",
    "cached_input_fraction",
    "pricing",
    "providers",
    "measured_only",
)
#: Keys every record of a saved crossover result must have.
RESULT_KEYS = ("model", "api", "crossover_rps", "self_hosted_usd_per_month", "api_usd_per_month")
#: Entry fields that do not change a number: left out of the field-by-field comparison.
#: (measured_gpus is evidence: --measured-only judges an old catalog by today's.)
UNCOMPARED_FIELDS = frozenset({"id", "source", "notes", "aliases", "as_of", "measured_gpus"})
#: Catalog entry kinds, as in `assumptions.catalog_entries` keys ('engine:vllm').
ENTRY_SECTIONS = {
    "model": "models",
    "quant": "quantizations",
    "gpu": "gpus",
    "engine": "engines",
    "offer": "rental_offers",
    "owned": "purchase_options",
    "api": "apis",
}
RELATIVE_TOLERANCE = 1e-9  # numbers closer than this are unchanged (float noise of re-computation)
RESULT_ONLY_NOTE = "the saved result records dates, not these figures; compare the catalogs for values"


@dataclass(frozen=True)
class Baseline:
    """The old side of the comparison.

    path : Where it came from.
    kind : 'catalog' (re-run on an old catalog) or 'result' (a saved crossover JSON).
    results : The old crossover records.
    assumptions : The old crossover's assumptions block.
    catalog : The old catalog (kind 'catalog' only).
    """

    path: Path
    kind: BaselineKind
    results: list[Record]
    assumptions: dict[str, Any]
    catalog: Catalog | None = None


def baseline_kind(path: Path) -> BaselineKind:
    """A directory or a .yaml/.yml file is a catalog; a .json file (or JSON text) a saved result.

    Raises
    ------
    InputError
        The path does not exist.
    """
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as exc:  # a name too long
        raise InputError(f"--baseline {path}: {exc.strerror or exc}") from None
    if is_dir:
        return "catalog"
    if not exists:
        raise InputError(
            f"--baseline {path} does not exist; pass an old catalog (file or directory) "
            "or a saved `selfhost crossover --format json` result"
        )
    if path.suffix.lower() in (".yaml", ".yml"):
        return "catalog"
    if path.suffix.lower() == ".json":
        return "result"
    from selfhost.inputs import first_text

    head = first_text(path, "--baseline file").lstrip()[:1]  # a regular file; only its start is read
    return "result" if head in ("{", "[") else "catalog"


def read_result(path: Path) -> Baseline:
    """A saved ``selfhost crossover --format json`` result as a baseline.

    Raises
    ------
    InputError
        The file is not JSON or not a crossover result (the message says what is missing).
    """
    how = "save one with: selfhost crossover --rps R [options] --format json > baseline.json"
    from selfhost.inputs import MAX_DOCUMENT_BYTES, decode, json_problem, load_json, read_bytes

    text = decode(read_bytes(path, "--baseline file", max_bytes=MAX_DOCUMENT_BYTES), "--baseline file", path)
    try:
        doc = load_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--baseline {path}: not JSON (line {exc.lineno}: {exc.msg}); {how}") from None
    except ValueError as exc:  # nested too deep, a number too long
        raise InputError(f"--baseline {path}: cannot be read: {json_problem(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise InputError(f"--baseline {path}: no 'results' list; it is not a crossover result; {how}")
    assumptions = doc.get("assumptions")
    if not isinstance(assumptions, dict):
        raise InputError(f"--baseline {path}: no 'assumptions' block; it is not a crossover result; {how}")
    for i, record in enumerate(doc["results"]):
        missing = [k for k in RESULT_KEYS if not isinstance(record, dict) or k not in record]
        if missing:
            raise InputError(
                f"--baseline {path}: results[{i}] has no '{missing[0]}'; it is not a crossover result "
                f"(sensitivity, cost and sweep results cannot serve); {how}"
            )
    return Baseline(path=path, kind="result", results=list(doc["results"]), assumptions=assumptions)


def load_baseline(path: Path, run: Callable[[Catalog], Report]) -> Baseline:
    """Read a baseline; for an old catalog, ``run`` computes the crossover on it (same options).

    Raises
    ------
    SelfhostError
        The baseline cannot be read, or the old catalog cannot run the same selection (the
        message is prefixed with the baseline's path).
    """
    from selfhost.catalog.loader import load_catalog

    if baseline_kind(path) == "result":
        return read_result(path)
    try:
        old = load_catalog([path], include_builtin=False, env={})
        report = run(old)
    except SelfhostError as exc:
        raise InputError(f"--baseline {path} (an old catalog): {exc}") from None
    return Baseline(
        path=path, kind="catalog", results=report.results, assumptions=report.assumptions, catalog=old
    )


# --------------------------------------------------------------------------- changes of entries


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
    return bool(a == b)


def change(
    entry: str,
    field: str,
    old: Any,
    new: Any,
    as_of_old: str | None = None,
    as_of_new: str | None = None,
    note: str = "",
) -> Record:
    """One cause: ``{entry, field, old, new, as_of_old, as_of_new, note}``; entry is 'kind:id'."""
    return {
        "entry": entry,
        "field": field,
        "old": old,
        "new": new,
        "as_of_old": as_of_old,
        "as_of_new": as_of_new,
        "note": note,
    }


def entry_changes(kind: str, old: Entry | None, new: Entry | None) -> list[Record]:
    """Field-by-field changes of one catalog entry between two catalogs.

    An entry only in one catalog is 'added' or 'removed'. Source, notes and aliases are not
    compared; an entry whose figures are equal but whose ``as_of`` moved is 're-dated'.
    """
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [change(f"{kind}:{new.id}", "entry", None, "added", None, new.as_of.isoformat())]
    if new is None:
        return [change(f"{kind}:{old.id}", "entry", "present", "removed", old.as_of.isoformat(), None)]
    a_old, a_new = old.as_of.isoformat(), new.as_of.isoformat()
    before = _flatten(old.model_dump(mode="json", exclude=set(UNCOMPARED_FIELDS)))
    after = _flatten(new.model_dump(mode="json", exclude=set(UNCOMPARED_FIELDS)))
    found = [
        change(f"{kind}:{new.id}", key, before.get(key), after.get(key), a_old, a_new)
        for key in dict.fromkeys([*before, *after])
        if not _same(before.get(key), after.get(key))
    ]
    if not found and a_old != a_new:
        found.append(
            change(f"{kind}:{new.id}", "as_of", a_old, a_new, a_old, a_new, "re-dated; figures unchanged")
        )
    return found


def _entry(catalog: Catalog | None, kind: str, entry_id: str | None) -> Entry | None:
    if catalog is None or entry_id is None:
        return None
    entries: Sequence[Entry] = getattr(catalog, ENTRY_SECTIONS[kind])
    return next((e for e in entries if e.id == entry_id), None)


def _used_entries(record: Record | None) -> list[tuple[str, str]]:
    """(kind, id) of every catalog entry a crossover record used, prices first."""
    if record is None:
        return []
    return [
        ("price", record.get("price_option") or ""),
        ("api", record.get("api") or ""),
        ("model", record.get("model") or ""),
        ("quant", record.get("quant") or ""),
        ("gpu", record.get("gpu") or ""),
        ("engine", record.get("engine") or ""),
    ]


def catalog_causes(
    old: Record | None, new: Record | None, old_cat: Catalog, new_cat: Catalog
) -> list[Record]:
    """Changes between two catalogs of every entry either side of one comparison used."""
    found: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for kind, entry_id in [*_used_entries(old), *_used_entries(new)]:
        if not entry_id:
            continue
        if kind == "price":
            kind = "owned" if any(_entry(c, "owned", entry_id) for c in (new_cat, old_cat)) else "offer"
        if (kind, entry_id) in seen:
            continue
        seen.add((kind, entry_id))
        found += entry_changes(kind, _entry(old_cat, kind, entry_id), _entry(new_cat, kind, entry_id))
    return found


def _iso(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def result_causes(
    old: Record | None, new: Record | None, old_assumptions: dict[str, Any], new_cat: Catalog
) -> list[Record]:
    """Changes a saved result can show: its prices and dates against today's catalog."""
    if old is None:
        return []
    found: list[Record] = []
    option = old.get("price_option")
    if isinstance(option, str):
        offer = _entry(new_cat, "offer", option)
        owned = _entry(new_cat, "owned", option)
        old_price, old_date = old.get("usd_per_gpu_hour"), _iso(old.get("price_as_of"))
        if new is not None and new.get("price_option") == option:
            now_price, now_date = new.get("usd_per_gpu_hour"), _iso(new.get("price_as_of"))
        elif offer is not None:
            now_price, now_date = getattr(offer, "usd_per_gpu_hour", None), offer.as_of.isoformat()
        elif owned is not None:
            now_price, now_date = None, owned.as_of.isoformat()
        else:
            found.append(change(f"offer:{option}", "entry", "present", "removed", old_date, None))
            now_price, now_date = old_price, old_date
        kind = "owned" if owned is not None and offer is None else "offer"
        if now_price is not None and not _same(old_price, now_price):
            found.append(
                change(f"{kind}:{option}", "usd_per_gpu_hour", old_price, now_price, old_date, now_date)
            )
        elif old_date != now_date and now_date is not None:
            found.append(change(f"{kind}:{option}", "as_of", old_date, now_date, old_date, now_date))
    api_id = old.get("api")
    api = _entry(new_cat, "api", api_id if isinstance(api_id, str) else None)
    if isinstance(api_id, str):
        old_date = _iso(old.get("api_price_as_of"))
        if api is None:
            found.append(change(f"api:{api_id}", "entry", "present", "removed", old_date, None))
        else:
            now_date = api.as_of.isoformat()
            moved = False
            for key, now in (
                ("usd_per_mtok_input", getattr(api, "usd_per_mtok_input", None)),
                ("usd_per_mtok_output", getattr(api, "usd_per_mtok_output", None)),
            ):
                before = old.get(f"api_{key}")
                if before is not None and not _same(before, now):
                    found.append(change(f"api:{api_id}", key, before, now, old_date, now_date))
                    moved = True
            if not moved and old_date is not None and old_date != now_date:
                found.append(change(f"api:{api_id}", "as_of", old_date, now_date, old_date, now_date))
    entries = old_assumptions.get("catalog_entries")
    entries = entries if isinstance(entries, dict) else {}
    for kind, entry_id in _used_entries(old)[2:]:
        key = f"{kind}:{entry_id}"
        was = entries.get(key)
        if not isinstance(was, dict):
            continue
        now_entry = _entry(new_cat, kind, entry_id)
        if now_entry is None:
            found.append(change(key, "entry", "present", "removed", _iso(was.get("as_of")), None))
            continue
        now_date = now_entry.as_of.isoformat()
        for field, now in (
            ("as_of", now_date),
            ("confirmed", str(now_entry.confirmed).lower()),
            ("source", now_entry.source),
        ):
            if field in was and was[field] != now:
                found.append(
                    change(key, field, was[field], now, _iso(was.get("as_of")), now_date, RESULT_ONLY_NOTE)
                )
    return found


# --------------------------------------------------------------------------- matching comparisons


def _role(api_id: str, model_id: str, catalogs: Iterable[Catalog | None]) -> str | None:
    """'same model' (an API hosting the model) or 'same tier' (a proprietary API), if known."""
    for catalog in catalogs:
        api = _entry(catalog, "api", api_id)
        if api is not None:
            equivalent = getattr(api, "equivalent_model", None)
            return "same model" if equivalent == model_id else "same tier" if equivalent is None else "other"
    return None


def match_pairs(
    old: Sequence[Record], new: Sequence[Record], catalogs: Sequence[Catalog | None]
) -> list[tuple[Record | None, Record | None]]:
    """Old and new comparisons paired: same (model, API) first, then same (model, kind of API).

    Unmatched records pair with None (gone, or new). Order: the new run's, then gone ones.
    """
    old_left = list(old)
    pairs: list[tuple[Record | None, Record | None]] = []
    unmatched_new: list[int] = []
    for r in new:
        hit = next((o for o in old_left if (o["model"], o["api"]) == (r["model"], r["api"])), None)
        if hit is None:
            unmatched_new.append(len(pairs))
            pairs.append((None, r))
        else:
            old_left.remove(hit)
            pairs.append((hit, r))
    for index in unmatched_new:
        current = pairs[index][1]
        assert current is not None
        r = current
        role = _role(r["api"], r["model"], catalogs)
        hit = next(
            (
                o
                for o in old_left
                if o["model"] == r["model"]
                and role is not None
                and _role(o["api"], o["model"], catalogs) == role
            ),
            None,
        )
        if hit is not None:
            old_left.remove(hit)
            pairs[index] = (hit, r)
    pairs += [(o, None) for o in old_left]
    return pairs


# --------------------------------------------------------------------------- the report


def deployment_label(record: Record | None) -> str | None:
    """'2 replicas × 1 mi300x-192gb, fp8, vllm (digitalocean-mi300x-192gb-x1)': the one notation
    of every table (`render.deployment_words`), the engine, the price option."""
    from selfhost.render import replica_words

    if record is None:
        return None
    one = replica_words(record.get("gpus_per_replica") or 1, str(record.get("gpu")), record.get("layout"))
    replicas = record.get("replicas")
    head = (
        f"{replicas} replica{'' if replicas == 1 else 's'} × {one}"
        if replicas is not None
        else f"replicas of {one}"
    )
    return f"{head}, {record.get('quant')}, {record.get('engine')} ({record.get('price_option')})"


def _deployment_key(record: Record | None) -> tuple[Any, ...] | None:
    if record is None:
        return None
    return tuple(record.get(k) for k in ("gpu", "gpus_per_replica", "quant", "engine", "price_option"))


def _value(record: Record | None, key: str) -> float | None:
    if record is None:
        return None
    value = record.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _delta(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else new - old


NUMBERS = ("crossover_rps", "self_hosted_usd_per_month", "api_usd_per_month", "saving_usd_per_month")


def option_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Record]:
    """Options the baseline ran with that differ from today's (keys missing from it are skipped)."""
    return [
        change("option", key, old[key], new.get(key), note="the baseline ran with another option value")
        for key in OPTION_KEYS
        if key in old and not _same(old[key], new.get(key))
    ]


def pair_record(old: Record | None, new: Record | None, causes: list[Record]) -> Record:
    """One comparison's move: old, new and change of crossover, costs and saving, and the causes."""
    either = new if new is not None else old
    assert either is not None
    record: Record = {
        "model": either["model"],
        "api": either["api"],
        "api_old": old["api"] if old is not None else None,
        "api_new": new["api"] if new is not None else None,
        "status": "",
        "deployment_old": deployment_label(old),
        "deployment_new": deployment_label(new),
        "price_option_old": old.get("price_option") if old is not None else None,
        "price_option_new": new.get("price_option") if new is not None else None,
    }
    moved = False
    for key in NUMBERS:
        before, after = _value(old, key), _value(new, key)
        record[f"{key}_old"] = before
        record[f"{key}_new"] = after
        record[f"{key}_change"] = _delta(before, after)
        if (before is None) != (after is None) or (
            before is not None and after is not None and not _same(before, after)
        ):
            moved = True
    record["cheaper_old"] = old.get("cheaper") if old is not None else None
    record["cheaper_new"] = new.get("cheaper") if new is not None else None
    record["capacity_rps_per_replica_old"] = _value(old, "capacity_rps_per_replica")
    record["capacity_rps_per_replica_new"] = _value(new, "capacity_rps_per_replica")
    if old is None:
        record["status"] = "new"
    elif new is None:
        record["status"] = "gone"
    else:
        record["status"] = "changed" if moved or causes else "unchanged"
    record["causes"] = causes
    return record


def switch_causes(old: Record | None, new: Record | None) -> list[Record]:
    """A different cheapest deployment or API."""
    if old is None or new is None:
        return []
    found = []
    if _deployment_key(old) != _deployment_key(new):
        found.append(
            change("deployment", "cheapest deployment", deployment_label(old), deployment_label(new))
        )
    if old["api"] != new["api"]:
        found.append(change("api choice", "cheapest comparable API", old["api"], new["api"]))
    return found


def capacity_cause(old: Record | None, new: Record | None) -> list[Record]:
    """The replica capacity the changed figures imply, when it moved."""
    cap_old, cap_new = _value(old, "capacity_rps_per_replica"), _value(new, "capacity_rps_per_replica")
    if cap_old is None or cap_new is None or _same(cap_old, cap_new):
        return []
    return [
        change(
            "derived",
            "capacity_rps_per_replica",
            cap_old,
            cap_new,
            note="follows from the model, GPU, quantization and engine figures",
        )
    ]


def compare(current: Report, catalog: Catalog, baseline: Baseline) -> Report:
    """The `crossover --baseline` report: per comparison, how the numbers moved and why.

    ``current`` is today's crossover report (with ``catalog``); its notes and stale-price
    fields carry over.
    """
    options = option_changes(baseline.assumptions, current.assumptions)
    results = []
    for old, new in match_pairs(baseline.results, current.results, [catalog, baseline.catalog]):
        causes = [*options, *switch_causes(old, new)]
        if baseline.catalog is not None:
            causes += catalog_causes(old, new, baseline.catalog, catalog)
        else:
            causes += result_causes(old, new, baseline.assumptions, catalog)
        causes += capacity_cause(old, new)
        results.append(pair_record(old, new, causes))
    catalog_changes: list[Record] = []
    for r in results:
        for c in r["causes"]:
            if (
                c["entry"] not in ("option", "deployment", "api choice", "derived")
                and c not in catalog_changes
            ):
                catalog_changes.append(c)
    notes = list(current.notes)
    if options:
        notes.append(
            "the baseline ran with other options ("
            + ", ".join(f"{c['field']} {c['old']} -> {c['new']}" for c in options)
            + "); its changes mix option and catalog changes"
        )
    if baseline.kind == "result":
        notes.append(
            "a saved result records prices and dates, not every figure; pass an old catalog as "
            "--baseline for field-by-field changes of engines, GPUs and models"
        )
    assumptions = {
        **current.assumptions,
        "baseline": {
            "path": str(baseline.path),
            "kind": baseline.kind,
            "option_changes": options,
            "catalog_changes": catalog_changes,
        },
    }
    return Report(
        results=results, assumptions=assumptions, notes=notes, verdict=change_verdict(results, baseline)
    )


def change_verdict(results: Sequence[Record], baseline: Baseline) -> str:
    """One line: how many comparisons changed, and the largest move of the saving."""
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("changed", "new", "gone", "unchanged")}
    head = (
        f"Against {baseline.path} ({'old catalog' if baseline.kind == 'catalog' else 'saved result'}): "
        f"{counts['changed']} of {len(results)} comparisons changed"
        + "".join(f", {counts[s]} {s}" for s in ("new", "gone") if counts[s])
        + "."
    )
    moved = [r for r in results if r["saving_usd_per_month_change"] is not None]
    if not moved:
        return head
    top = max(moved, key=lambda r: abs(r["saving_usd_per_month_change"]))
    if abs(top["saving_usd_per_month_change"]) == 0:
        return head
    return (
        f"{head} Largest move: {top['model']} vs {top['api']}, saving "
        f"{_usd(top['saving_usd_per_month_old'])} -> {_usd(top['saving_usd_per_month_new'])} per month."
    )


def _usd(x: float) -> str:
    return f"${x:,.0f}" if x >= 0 else f"-${-x:,.0f}"


def cause_text(c: Record) -> str:
    """One cause as a line: 'offer:x usd_per_gpu_hour 2.69 -> 2.49 (as_of 2026-05-28 -> 2026-11-28)'."""

    def show(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.4g}"
        return "-" if v is None else str(v)

    text = f"{c['entry']} {c['field']}: {show(c['old'])} -> {show(c['new'])}"
    if (
        c.get("as_of_old")
        and c.get("as_of_new")
        and c["as_of_old"] != c["as_of_new"]
        and c["field"] != "as_of"
    ):
        text += f" (as_of {c['as_of_old']} -> {c['as_of_new']})"
    return text
