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

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfhost.calibration.loader import _summary, check_measurements_text
from selfhost.catalog.overlay import _has_comments, _insert_text, _item_lines, _parsed, dump_yaml
from selfhost.errors import InputError, MeasurementError

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
    entry: dict[str, Any] = _parsed(measurements_yaml([record]))[SECTION][0]
    return entry


def append_measurements(path: str | Path, records: Sequence[dict[str, Any]]) -> AppendResult:
    """Add ``records`` to the measurements file ``path`` (created if missing).

    The read, the check and the replacement happen under one lock (`selfhost.files.update_file`),
    so two runs adding to the same file at once both land; a link is followed to its file.

    Raises:
        InputError: the path is a directory, a dangling link, or its directory is missing; the
            file is not a measurements file; an id is already there with different content;
            the entries cannot be added to a commented file without losing its layout.
        MeasurementError: the result would not be a valid measurements file (nothing written).
        OutputError: the file system refused the write.
    """
    from selfhost.files import update_file
    from selfhost.inputs import decode, read_bytes

    results: list[AppendResult] = []

    def change(text: str | None, target: Path) -> str | None:
        result, new_text = _appended(Path(path), text, records)
        if new_text is not None:
            _check_valid(Path(path), target, new_text)
        results.append(result)
        return new_text

    def read(target: Path) -> str:
        return decode(read_bytes(target, "--into file"), "--into file", target)

    update_file(path, change, what="--into", read=read)
    return results[0]


def _appended(
    p: Path, text: str | None, records: Sequence[dict[str, Any]]
) -> tuple[AppendResult, str | None]:
    """How the file changes and its new text (None: unchanged), from its text now (None: no file)."""
    from selfhost.inputs import load_yaml, yaml_problem

    if text is None:
        return AppendResult(
            "created", tuple(r["id"] for r in records), ()
        ), NEW_FILE_HEADER + measurements_yaml(records)
    try:
        document = load_yaml(text)
    except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
        raise InputError(f"--into file '{p}' is not valid YAML ({yaml_problem(exc)}); fix it first") from None
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
        return AppendResult("unchanged", (), tuple(skipped)), None

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
        new_text = dump_yaml(expected)
        how = "rewritten"
    return AppendResult(how, tuple(r["id"] for r in new), tuple(skipped)), new_text


def _check_valid(path: Path, target: Path, text: str) -> None:
    """Refuse ``text`` unless it reads as a valid measurements file (nothing is written)."""
    _, errors = check_measurements_text(target, text)
    if errors:
        message = _summary(target, errors).replace(str(target), str(path))
        raise MeasurementError(
            f"'{path}' would not be a valid measurements file, so it was left unchanged: {message}"
        )
