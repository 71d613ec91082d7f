"""Write measurement entries as YAML, and add them to a measurements file without clobbering it.

The approach of `selfhost catalog import-config --into` (selfhost.catalog.overlay): each entry's
text is inserted at the end of the file's ``measurements:`` list, so comments and layout stay;
the result must parse to the old content plus the new entries and pass the measurement schema
(`selfhost.calibration.loader.read_measurements`) before it replaces the file (atomically, via a
temporary file and a rename). A file without comments that cannot be edited as text is
re-dumped; a file with comments is then left alone and the user told to paste the entries.

Entries are never overwritten: an id the file already holds with the same content is skipped
(the file was imported before); with different content it is an error naming the id.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from selfhost.calibration.loader import read_measurements
from selfhost.catalog.overlay import YAML_WIDTH, _Dumper, _has_comments, _insert_text, _item_lines
from selfhost.errors import InputError, MeasurementError
from selfhost.inputs import read_text

SECTION = "measurements"
ITEM_INDENT = ""  # data/calibration/measurements.yaml: "- id: ..." at column 0
NEW_FILE_HEADER = (
    "# Measurements imported by `selfhost measurements import`; check them with `selfhost validate FILE`.\n"
    "# Schema: selfhost.calibration.schema.Measurement (docs/importers.md).\n"
)


@dataclass(frozen=True)
class AppendResult:
    """How the file was written (created / appended / rewritten / unchanged) and which ids."""

    how: str
    added: tuple[str, ...]
    skipped: tuple[str, ...]


def measurements_yaml(records: Sequence[dict[str, Any]]) -> str:
    """A measurements document holding ``records``: ``measurements:`` and one item per entry."""
    out = ["measurements:"]
    for i, record in enumerate(records):
        if i:
            out.append("")
        out += _item_lines(record, ITEM_INDENT, " ")
    return "\n".join(out) + "\n"


def _parsed_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it reads back from YAML (tuples as lists, floats as written)."""
    entry: dict[str, Any] = yaml.safe_load(measurements_yaml([record]))[SECTION][0]
    return entry


def append_measurements(path: str | Path, records: Sequence[dict[str, Any]]) -> AppendResult:
    """Add ``records`` to the measurements file ``path`` (created if missing).

    Raises:
        InputError: the path is a directory or its directory is missing; the file is not a
            measurements file; an id is already there with different content; the entries
            cannot be added to a commented file without losing its layout.
        MeasurementError: the result would not be a valid measurements file (nothing written).
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"--into '{p}' is a directory; give a YAML file path")
    if not p.parent.is_dir():
        raise InputError(f"--into '{p}': directory '{p.parent}' does not exist")
    if not p.exists():
        _write_validated(p, NEW_FILE_HEADER + measurements_yaml(records))
        return AppendResult("created", tuple(r["id"] for r in records), ())

    text = read_text(p, "--into file")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(
            f"--into file '{p}' is not valid YAML ({str(exc).splitlines()[0]}); fix it first"
        ) from None
    items = document.get(SECTION) if isinstance(document, dict) else None
    if document is not None and (
        not isinstance(document, dict) or set(document) != {SECTION} or not isinstance(items, list | None)
    ):
        raise InputError(
            f"--into file '{p}' is not a measurements file (its top level must be one key, "
            "'measurements:', holding a list); give a new file name or an existing measurements file"
        )
    existing = {item.get("id"): item for item in items or [] if isinstance(item, dict)}
    new: list[dict[str, Any]] = []
    skipped: list[str] = []
    for record in records:
        old = existing.get(record["id"])
        if old is None:
            new.append(record)
        elif old == _parsed_entry(record):
            skipped.append(record["id"])
        else:
            raise InputError(
                f"'{p}' already has a measurement with id '{record['id']}' and different content; "
                "entries are never overwritten: pass --id-prefix to import under new ids"
            )
    if not new:
        return AppendResult("unchanged", (), tuple(skipped))

    expected: dict[str, Any] = copy.deepcopy(document) if isinstance(document, dict) else {}
    expected[SECTION] = [*(expected.get(SECTION) or []), *(_parsed_entry(r) for r in new)]
    inserted: str | None = text
    for record in new:
        inserted = _insert_text(inserted, record, section=SECTION) if inserted is not None else None
    how = "appended"
    if inserted is not None and _parsed(inserted) == expected:
        new_text = inserted
    else:
        if _has_comments(text):
            raise InputError(
                f"cannot add the entries to '{p}' without losing its comments or layout; run the "
                "command without --into and paste the printed entries into its measurements: list"
            )
        new_text = yaml.dump(
            expected,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=YAML_WIDTH,
        )
        how = "rewritten"
    _write_validated(p, new_text)
    return AppendResult(how, tuple(r["id"] for r in new), tuple(skipped))


def _parsed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _write_validated(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, only if it reads as a valid measurements file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.yaml", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        try:
            read_measurements(tmp)
        except MeasurementError as exc:
            message = str(exc).replace(str(tmp), str(path))
            raise MeasurementError(
                f"'{path}' would not be a valid measurements file, so it was left unchanged: {message}"
            ) from None
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
