"""Read and check a measurements file: YAML, schema, and the catalog ids it names.

Every problem is collected, so one `MeasurementError` names the file and each bad location
(``<file>: measurements[3] (id 'x').scope: ...``) at once, as the catalog loader does.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from selfhost.calibration.schema import Measurement
from selfhost.catalog.lookup import did_you_mean, find
from selfhost.catalog.schema import Catalog, EngineGeneration, EngineProfile, Entry, Gpu, Model, Quantization
from selfhost.errors import MeasurementError
from selfhost.field_errors import field_message, field_path

#: The built-in file, relative to the catalog data directory.
BUILTIN_RELATIVE_PATH = ("calibration", "measurements.yaml")


def builtin_measurements_path() -> Path:
    """The measurements shipped with selfhost (data/calibration/measurements.yaml).

    Raises:
        MeasurementError: the file is missing, so the installation is incomplete.
    """
    packaged = importlib.resources.files("selfhost") / "data"
    candidates = [Path(str(packaged)), Path(__file__).resolve().parents[3] / "data"]
    for base in candidates:
        path = base.joinpath(*BUILTIN_RELATIVE_PATH)
        if path.is_file():
            return path
    raise MeasurementError(
        "the built-in measurements file is missing (data/calibration/measurements.yaml); "
        "the selfhost installation is broken, reinstall it"
    )


def _yaml_error(path: Path, exc: Exception) -> str:
    from selfhost.inputs import yaml_error_line

    return yaml_error_line(path, exc)


def _unknown_field(error: Any) -> str:
    return f"unknown field; valid fields are: {', '.join(Measurement.model_fields)}"


def _summary(path: Path, errors: Sequence[str]) -> str:
    noun = "error" if len(errors) == 1 else "errors"
    return f"measurements file {path} has {len(errors)} {noun}:\n" + "\n".join(f"  {e}" for e in errors)


def read_measurements(path: str | Path) -> list[Measurement]:
    """Validated measurements of one file, in file order.

    Raises:
        MeasurementError: the file cannot be read, is not valid YAML, or has entries that do not
            match the schema; the message lists every problem with its location.
    """
    result, errors = check_measurements(path)
    if errors:
        raise MeasurementError(_summary(Path(path), errors))
    return result


def _read_document(p: Path, text: str | None = None) -> Any:
    """The parsed YAML of the measurements file ``p`` (or of ``text``, its content about to be
    written), read with the bounded reader and the C loader."""
    from selfhost.errors import InputError
    from selfhost.inputs import decode, load_yaml, read_bytes

    if text is None:
        try:
            text = decode(read_bytes(p, "measurements file"), "measurements file", p)
        except InputError as exc:
            raise MeasurementError(str(exc)) from None
    try:
        return load_yaml(text)
    except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
        raise MeasurementError(_summary(p, [_yaml_error(p, exc)])) from None


def check_measurements(path: str | Path) -> tuple[list[Measurement], list[str]]:
    """The entries of one file that match the schema, and a located problem for each that does not.

    Raises:
        MeasurementError: the file cannot be read, is not valid YAML, or is not a measurements
            file at all (no entry can be told apart).
    """
    valid, problems, _ = _checked(Path(path))
    return valid, problems


def check_measurements_text(path: Path, text: str) -> tuple[list[Measurement], list[str]]:
    """`check_measurements` of ``text`` as the content of the file ``path``."""
    valid, problems, _ = _checked(path, text)
    return valid, problems


def _checked(p: Path, text: str | None = None) -> tuple[list[Measurement], list[str], list[int]]:
    """`check_measurements`, plus the position in the file of each valid entry."""
    document = _read_document(p, text)
    if not isinstance(document, dict) or set(document) != {"measurements"}:
        raise MeasurementError(
            f"{p}: the top level must be a mapping with one key, 'measurements', holding a list of entries"
        )
    items = document["measurements"] or []
    if not isinstance(items, list):
        raise MeasurementError(f"{p}: 'measurements' must be a list of entries (each starting with '- ')")
    errors: list[str] = []
    result: list[Measurement] = []
    positions: list[int] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        entry_id = item.get("id") if isinstance(item, dict) else None
        named = f" (id '{entry_id}')" if isinstance(entry_id, str) else ""
        where = f"{p}: measurements[{index}]{named}"
        if not isinstance(item, dict):
            errors.append(f"{where}: an entry must be a mapping of field names to values")
            continue
        if isinstance(entry_id, str) and entry_id in first:
            errors.append(f"{where}: duplicate id; first defined at measurements[{first[entry_id]}]")
            continue
        if isinstance(entry_id, str):
            first[entry_id] = index  # an invalid entry still claims its id
        try:
            m = Measurement.model_validate(item)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                errors.append(
                    f"{where}{field_path(error['loc'])}: {field_message(error, _unknown_field, tuple_as_list=False)}"
                )
            continue
        result.append(m)
        positions.append(index)
    return result, errors, positions


@dataclass(frozen=True)
class ResolvedMeasurement:
    """A measurement with its catalog entries looked up, and the engine generation of its release."""

    measurement: Measurement
    model: Model
    gpu: Gpu
    quant: Quantization
    engine: EngineProfile

    @property
    def generation(self) -> EngineGeneration | None:
        """The older engine generation the measured release belongs to; None: the current one."""
        return generation_of(self.engine, self.measurement.engine_version)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def generation_of(engine: EngineProfile, version: str) -> EngineGeneration | None:
    """The first (oldest) generation whose ``before_version`` is after ``version``; None for the
    current releases and for an unknown version."""
    if not version:
        return None
    for generation in engine.generations:
        if _version_key(version) < _version_key(generation.before_version):
            return generation
    return None


def resolve_measurements(
    measurements: Sequence[Measurement], catalog: Catalog, path: str | Path = "measurements"
) -> list[ResolvedMeasurement]:
    """Look up each measurement's model, GPU, quantization and engine (ids or aliases).

    Raises:
        MeasurementError: an id is not in the catalog; every one is listed with close matches.
    """
    resolved, errors = check_resolution(measurements, catalog, path)
    if errors:
        raise MeasurementError(_summary(Path(str(path)), errors))
    return resolved


@dataclass(frozen=True)
class LoadedMeasurements:
    """The measurements of a file that could be predicted, and why the others were skipped.

    skipped : One line per skipped entry, with its location (``<file>: measurements[3] (id 'x')...``).
    """

    resolved: list[ResolvedMeasurement]
    skipped: list[str]


def load_measurements(path: str | Path, catalog: Catalog, *, strict: bool = True) -> LoadedMeasurements:
    """Read, validate and resolve a measurements file.

    ``strict``: any invalid entry or unknown id is an error (nothing is predicted). Otherwise the
    good entries are kept and each bad one is reported in ``skipped``; a file in which no entry is
    good is an error as with ``strict`` (there is nothing to validate).

    Raises:
        MeasurementError: the file cannot be read or parsed; with ``strict``, any bad entry; without
            it, bad entries and no good one.
    """
    if strict:
        return LoadedMeasurements(resolve_measurements(read_measurements(path), catalog, path), [])
    valid, problems, positions = _checked(Path(path))
    resolved, unknown = check_resolution(valid, catalog, path, indices=positions)
    if not resolved and (problems or unknown):
        return load_measurements(path, catalog, strict=True)  # raises, naming every bad entry
    return LoadedMeasurements(resolved, problems + unknown)


def check_resolution(
    measurements: Sequence[Measurement],
    catalog: Catalog,
    path: str | Path = "measurements",
    indices: Sequence[int] | None = None,
) -> tuple[list[ResolvedMeasurement], list[str]]:
    """The measurements whose ids the catalog knows, resolved, and a located problem for each other.

    ``indices`` are the entries' positions in their file, for the locations (default: their order).
    """
    sections: list[tuple[str, str, Sequence[Entry]]] = [
        ("model", "models", catalog.models),
        ("gpu", "gpus", catalog.gpus),
        ("quant", "quants", catalog.quantizations),
        ("engine", "engines", catalog.engines),
    ]
    errors: list[str] = []
    resolved: list[ResolvedMeasurement] = []
    for position, m in enumerate(measurements):
        index = indices[position] if indices is not None else position
        found: dict[str, Any] = {}
        for field_name, listing, entries in sections:
            query = getattr(m, field_name)
            entry = find(entries, query)
            if entry is None:
                hint = did_you_mean(entries, query)
                errors.append(
                    f"{path}: measurements[{index}] (id '{m.id}').{field_name}: unknown id '{query}';"
                    f"{hint} run 'selfhost catalog list {listing}' to see all, or add it with --catalog"
                )
            found[field_name] = entry
        if all(v is not None for v in found.values()):
            resolved.append(ResolvedMeasurement(m, **found))
    return resolved, errors
