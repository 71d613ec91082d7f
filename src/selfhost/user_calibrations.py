"""User calibrations in use: a result that rests on the user's own measurements says so.

`selfhost calibrate --into FILE` writes an engine profile with a per-GPU override
(`EngineProfile.gpu_efficiency`) fitted to the user's runs; `--catalog FILE` makes every command
use it on that GPU. As for stale prices and unconfirmed entries, every output whose records name
such an engine on such a GPU says so: in JSON as ``assumptions.user_calibrations`` (engine, GPU,
fields, points, source naming the measurement files), in table and CSV mode as one note.

Light on purpose (no NumPy): it runs for every costed question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.catalog.schema import Catalog

#: The per-GPU fields a calibration may set (`selfhost.scenarios.PLATFORM_FIELDS`).
FIELDS = ("memory_bandwidth_utilization", "compute_utilization", "step_overhead_s")


def user_calibrations(catalog: Catalog, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The user calibrations behind the records (each naming an ``engine`` and a ``gpu``), once
    each in first-seen order: ``[{engine, gpu, fields, points, source}]``."""
    engines = {e.id: e for e in catalog.engines if e.gpu_efficiency}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        engine = engines.get(r.get("engine"))  # type: ignore[arg-type]
        gpu = r.get("gpu")
        if engine is None or not isinstance(gpu, str) or (engine.id, gpu) in found:
            continue
        override = engine.gpu_efficiency.get(gpu)
        if override is None:
            continue
        found[(engine.id, gpu)] = {
            "engine": engine.id,
            "gpu": gpu,
            "fields": {n: getattr(override, n) for n in FIELDS if getattr(override, n) is not None},
            "points": override.points,
            "source": override.source,
        }
    return list(found.values())


def user_calibration_note(calibrations: Sequence[Mapping[str, Any]]) -> str | None:
    """One line naming the user calibrations a result used, or None when there are none."""
    if not calibrations:
        return None
    named = "; ".join(f"{c['engine']} on {c['gpu']} ({c['source']})" for c in calibrations)
    return f"throughput uses your calibration, not the catalog's profile, for {named}"


def flag_user_calibrations(
    report: Report, catalog: Catalog, records: Sequence[Mapping[str, Any]] | None = None
) -> Report:
    """Add ``assumptions.user_calibrations`` and a note when the records use a user calibration."""
    found = user_calibrations(catalog, report.results if records is None else records)
    if found:
        report.assumptions["user_calibrations"] = found
        note = user_calibration_note(found)
        assert note is not None
        report.notes.append(note)
    return report
