"""Read catalog YAML files, apply overlays, cross-check references, and return one frozen Catalog.

A catalog file is a YAML mapping from section names (see `SECTION_TYPES`) to lists of entries.
The built-in files come first, then the paths in SELFHOST_CATALOG, then explicit overlays; a
later entry replaces an earlier one with the same id in the same section. Every problem found
is collected, so one `CatalogError` names each bad file and location at once.

The result is the catalog as plain frozen data (`selfhost.catalog.entries`), the same whether
it was validated now or read from the cache; YAML and pydantic are imported only when the
files are read, so a cache hit loads neither.
"""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from selfhost.catalog import cache
from selfhost.catalog.entries import SECTION_TYPES as SECTIONS
from selfhost.catalog.entries import catalog_from_json
from selfhost.catalog.lookup import did_you_mean, normalize
from selfhost.errors import CatalogError
from selfhost.field_errors import field_message, field_path

if TYPE_CHECKING:
    import pydantic

    from selfhost.catalog.schema import Catalog, Entry

#: Environment variable naming extra catalog files or directories, os.pathsep-separated.
ENV_VAR = "SELFHOST_CATALOG"
#: File suffixes read from a catalog directory.
CATALOG_SUFFIXES = (".yaml", ".yml")

#: (section, field, referenced section): fields that must hold ids of another section.
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("rental_offers", "gpu", "gpus"),
    ("purchase_options", "gpu", "gpus"),
    ("apis", "equivalent_model", "models"),
    ("quantizations", "engines", "engines"),
    ("engines", "measured_gpus", "gpus"),
    ("engines", "gpu_efficiency", "gpus"),  # its keys
)


def _yaml_loader() -> type[Any]:
    """The YAML loader every catalog file is read with: `selfhost.inputs.yaml_loader`."""
    from selfhost.inputs import yaml_loader

    return yaml_loader()


def __getattr__(name: str) -> Any:
    """``_Loader``: the YAML loader class, built on first use."""
    if name == "_Loader":
        return _yaml_loader()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- locating files


def builtin_data_dir() -> Path:
    """Directory of the built-in catalog files.

    Inside an installed wheel it is `selfhost/data` (pyproject force-includes the repository's
    data/ there); in a source checkout or editable install, the repository's data/ directory.

    Raises:
        CatalogError: neither exists, so the installation is incomplete.
    """
    module = Path(__file__).resolve()  # .../selfhost/catalog/loader.py
    packaged = module.parents[1] / "data"  # the package's own directory: no importlib.resources at start-up
    if packaged.is_dir():
        return packaged
    source = module.parents[3] / "data"  # src/selfhost/catalog/loader.py
    if source.is_dir():
        return source
    raise CatalogError(
        f"the built-in catalog is missing (looked for {packaged} and {source}); "
        "the selfhost installation is broken, reinstall it"
    )


def _catalog_files(directory: Path) -> list[Path]:
    """The *.yaml and *.yml files directly inside `directory`, sorted by name, hidden ones skipped."""
    return sorted(
        (
            p
            for p in directory.iterdir()
            if p.suffix in CATALOG_SUFFIXES and p.is_file() and not p.name.startswith(".")
        ),
        key=lambda p: p.name,
    )


def _expand(path: str | Path, origin: str) -> list[Path]:
    """The catalog files a user-given path stands for: itself, or the catalog files inside it.

    `origin` says where the path came from (e.g. 'from SELFHOST_CATALOG') for the error message.
    """
    where = f" ({origin})" if origin else ""
    p = Path(path)
    try:
        if p.is_dir():
            files = _catalog_files(p)
            if not files:
                raise CatalogError(f"catalog directory '{p}'{where} contains no *.yaml or *.yml files")
            return files
        if not p.exists():
            raise CatalogError(f"catalog file '{p}'{where} does not exist")
    except OSError as exc:  # a name too long, a directory that cannot be listed
        raise CatalogError(f"cannot read catalog path '{p}'{where}: {exc.strerror or exc}") from None
    return [p]


def _env_paths(env: Mapping[str, str]) -> list[str]:
    """Non-empty entries of SELFHOST_CATALOG."""
    return [part for part in env.get(ENV_VAR, "").split(os.pathsep) if part.strip()]


# --------------------------------------------------------------------------- reading one file


@dataclass
class _FileResult:
    """Entries of one file with their list index, the errors found, and ids of invalid entries.

    The ids of entries that failed validation still count as defined when references are
    checked, so one bad GPU entry does not also make every offer for it an error.
    """

    path: Path
    entries: dict[str, list[tuple[int, Entry]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    invalid_ids: dict[str, set[str]] = field(default_factory=dict)


def _kind_of(value: object) -> str:
    """A YAML-ish name for a value's type, for 'got a ...' messages."""
    if value is None:
        return "null"
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number"}
    return names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)


def _location(path: Path, section: str, index: int, entry_id: str | None) -> str:
    """'<file>: <section>[<index>] (id '<id>')', the prefix of every entry error."""
    named = f" (id '{entry_id}')" if entry_id else ""
    return f"{path}: {section}[{index}]{named}"


def _yaml_error(path: Path, exc: Exception) -> str:
    """One error line for a YAML syntax error (or a value that cannot be read), with its 1-based line and column."""
    from selfhost.inputs import yaml_error_line

    return yaml_error_line(path, exc)


def _submodel(model: type[pydantic.BaseModel], loc: Sequence[str | int]) -> type[pydantic.BaseModel] | None:
    """The pydantic model found by following field names `loc` from `model`, if any."""
    import pydantic

    current: type[pydantic.BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        nested = [
            t
            for t in (info.annotation, *typing.get_args(info.annotation))
            if isinstance(t, type) and issubclass(t, pydantic.BaseModel)
        ]
        if not nested:
            return None
        current = nested[0]
    return current


def _validation_message(model: type[Entry], error: Mapping[str, Any]) -> str:
    """Pydantic's message (`field_message`), an id that breaks the id pattern said in full."""
    if error["type"] == "string_pattern_mismatch":
        return (
            f"'{error.get('input')}' is not a valid id: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return field_message(error, lambda e: _unknown_field(model, tuple(e["loc"])))


def _unknown_field(model: type[Entry], loc: tuple[str | int, ...]) -> str:
    """The closest valid field name at ``loc``, else the valid ones; just 'unknown field' when the
    place is not a schema of its own."""
    parent = _submodel(model, loc[:-1])
    if parent is None:
        return "unknown field"
    valid = list(parent.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    return f"unknown field; valid fields are: {', '.join(valid)}"


def read_source(path: Path) -> bytes:
    """The bytes of one catalog file, bounded (`selfhost.inputs.read_bytes`).

    Raises:
        CatalogError: the file is missing, not a regular file, too large, or cannot be read.
    """
    from selfhost.errors import InputError
    from selfhost.inputs import read_bytes

    if path.is_dir():
        raise CatalogError(f"'{path}' is a directory; expected a YAML catalog file")
    try:
        return read_bytes(path, "catalog file")
    except InputError as exc:
        raise CatalogError(str(exc)) from None


def _read_file(path: Path, raw: bytes | None = None) -> _FileResult:
    """Parse and validate one catalog file (its bytes ``raw`` if already read), collecting
    content errors instead of raising.

    Raises:
        CatalogError: the file is missing, not a regular file, too large, or cannot be read.
    """
    from selfhost.inputs import load_yaml

    result = _FileResult(path)
    raw = read_source(path) if raw is None else raw
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})")
        return result
    try:
        document = load_yaml(text)  # the safe C loader, after the depth and alias guard
    except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
        result.errors.append(_yaml_error(path, exc))
        return result
    if document is None:
        return result
    if not isinstance(document, dict):
        result.errors.append(
            f"{path}: the top level must be a mapping of section names to lists of entries, "
            f"got a {_kind_of(document)}"
        )
        return result
    for section, items in document.items():
        _read_section(result, str(section), items)
    return result


def _read_section(result: _FileResult, section: str, items: object) -> None:
    """Validate one section's entries into `result`."""
    import pydantic

    from selfhost.catalog.schema import SECTION_TYPES

    path = result.path
    model = SECTION_TYPES.get(section)
    if model is None:
        close = difflib.get_close_matches(section, list(SECTION_TYPES), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        result.errors.append(
            f"{path}: unknown section '{section}'{hint}; valid sections are: " + ", ".join(SECTION_TYPES)
        )
        return
    if items is None:  # `gpus:` with nothing under it
        items = []
    if not isinstance(items, list):
        result.errors.append(
            f"{path}: section '{section}' must be a list of entries (each starting with '- '), "
            f"got a {_kind_of(items)}"
        )
        return
    entries = result.entries.setdefault(section, [])
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.errors.append(
                f"{_location(path, section, index, None)}: an entry must be a mapping of "
                f"field names to values, got a {_kind_of(item)}"
            )
            continue
        raw_id = item.get("id")
        entry_id = raw_id if isinstance(raw_id, str) else None
        where = _location(path, section, index, entry_id)
        if entry_id is not None and entry_id in first_index:
            result.errors.append(
                f"{where}: duplicate id; first defined at {section}[{first_index[entry_id]}]"
            )
            continue
        try:
            entry = model.model_validate(item)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                result.errors.append(
                    f"{where}{field_path(error['loc'])}: {_validation_message(model, error)}"
                )
            if entry_id is not None:
                result.invalid_ids.setdefault(section, set()).add(entry_id)
                first_index[entry_id] = index
            continue
        first_index[entry.id] = index
        entries.append((index, entry))


def _summary(subject: str, errors: Sequence[str]) -> str:
    """One message: '<subject> has N errors:' and then each error on its own indented line."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{subject} has {len(errors)} {noun}:\n" + "\n".join(f"  {e}" for e in errors)


def read_catalog_file(path: str | Path) -> dict[str, list[Entry]]:
    """Validated entries of one catalog file, by section, for the sections the file contains.

    An empty file gives an empty mapping. References to other sections are not checked here;
    `load_catalog` does that after merging.

    Raises:
        CatalogError: the file cannot be read, or has any YAML or validation error (all listed).
    """
    result = _read_file(Path(path))
    if result.errors:
        raise CatalogError(_summary(f"catalog file {result.path}", result.errors))
    return {section: [e for _, e in items] for section, items in result.entries.items()}


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class _Placed:
    """An entry and where it was defined, for error messages after merging."""

    entry: Entry
    path: Path
    index: int

    def location(self, section: str) -> str:
        """The '<file>: <section>[<index>] (id '<id>')' prefix of errors about this entry."""
        return _location(self.path, section, self.index, self.entry.id)


@dataclass
class _Merged:
    """Entries by section and id, in first-definition order, plus every error found so far."""

    sections: dict[str, dict[str, _Placed]] = field(default_factory=lambda: {name: {} for name in SECTIONS})
    invalid_ids: dict[str, set[str]] = field(default_factory=lambda: {name: set() for name in SECTIONS})
    errors: list[str] = field(default_factory=list)

    def add(self, result: _FileResult) -> None:
        """Overlay one file: same id replaces in place, new ids are appended."""
        self.errors.extend(result.errors)
        for section, ids in result.invalid_ids.items():
            self.invalid_ids[section] |= ids
        for section, items in result.entries.items():
            for index, entry in items:
                self.sections[section][entry.id] = _Placed(entry, result.path, index)

    def catalog(self) -> Catalog:
        """The merged entries as the validated (pydantic) Catalog."""
        from selfhost.catalog.schema import Catalog

        return Catalog.model_validate(
            {
                section: tuple(placed.entry for placed in by_id.values())
                for section, by_id in self.sections.items()
            }
        )


def _reference_errors(merged: _Merged) -> list[str]:
    """Fields that name an id missing from the section they refer to."""
    errors: list[str] = []
    for section, field_name, target in REFERENCES:
        defined = merged.sections[target]
        known = set(defined) | merged.invalid_ids[target]
        targets = [placed.entry for placed in defined.values()]
        for placed in merged.sections[section].values():
            value = getattr(placed.entry, field_name)
            if value is None:
                continue
            if isinstance(value, str):
                refs = [(f".{field_name}", value)]
            elif isinstance(value, Mapping):  # ids as keys
                refs = [(f".{field_name}.{key}", key) for key in value]
            else:
                refs = [(f".{field_name}[{i}]", v) for i, v in enumerate(value)]
            for path, ref in refs:
                if ref in known:
                    continue
                owner = next((t.id for t in targets if ref in t.aliases), None)
                if owner is not None:
                    hint = f" '{ref}' is an alias of '{owner}'; references must use the id"
                else:
                    hint = did_you_mean(targets, ref) or " add it there or fix the id"
                errors.append(
                    f"{placed.location(section)}{path}: unknown id '{ref}' (not in section '{target}');{hint}"
                )
    return errors


def _alias_errors(merged: _Merged) -> list[str]:
    """Ids and aliases that would be ambiguous in lookups (same key after `normalize`)."""
    errors: list[str] = []
    for section, by_id in merged.sections.items():
        owner: dict[str, tuple[_Placed, str]] = {}
        for placed in by_id.values():
            key = normalize(placed.entry.id)
            if key in owner:
                other = owner[key][0]
                errors.append(
                    f"{placed.location(section)}.id: '{placed.entry.id}' cannot be told apart "
                    f"from id '{other.entry.id}' ({other.path}) in lookups; rename one"
                )
            else:
                owner[key] = (placed, "id")
        for placed in by_id.values():
            for i, alias in enumerate(placed.entry.aliases):
                key = normalize(alias)
                other, what = owner.setdefault(key, (placed, "alias"))
                if other.entry.id != placed.entry.id:
                    errors.append(
                        f"{placed.location(section)}.aliases[{i}]: alias '{alias}' is already "
                        f"the {what} of '{other.entry.id}' ({other.path}); remove or rename it"
                    )
    return errors


def _merge(files: Iterable[Path], sources: Mapping[Path, bytes] | None = None) -> _Merged:
    """Read, overlay in order and cross-check `files` (their bytes from ``sources`` where given);
    every content error ends in `.errors`."""
    merged = _Merged()
    for path in files:
        merged.add(_read_file(path, (sources or {}).get(path)))
    merged.errors.extend(_reference_errors(merged))
    merged.errors.extend(_alias_errors(merged))
    return merged


def _builtin_files() -> list[Path]:
    """The built-in catalog files, sorted by name."""
    return _catalog_files(builtin_data_dir())


def load_catalog(
    overlays: Sequence[str | Path] = (),
    *,
    env: Mapping[str, str] | None = None,
    include_builtin: bool = True,
    use_cache: bool = True,
) -> Catalog:
    """The merged, cross-checked catalog.

    Reads, in order: the built-in files (unless `include_builtin` is False), the paths in the
    SELFHOST_CATALOG variable of `env` (default `os.environ`), then `overlays`. Each path is a
    file or a directory of *.yaml/*.yml files (sorted by name). A later entry replaces an
    earlier one with the same id in the same section, keeping its position; new ids append.
    A validated result is cached as plain data by the hash of every file read (see
    `selfhost.catalog.cache`); what is returned is built from that data either way.

    Raises:
        CatalogError: a path is missing or unreadable, or any file or reference is invalid;
            the message lists every problem with its file and location.
    """
    env = os.environ if env is None else env
    files = _builtin_files() if include_builtin else []
    for part in _env_paths(env):
        files += _expand(part, f"from {ENV_VAR}")
    for overlay in overlays:
        files += _expand(overlay, "")
    sources = {path: read_source(path) for path in files}  # each file read once, bounded
    directory = cache.cache_dir(os.environ) if use_cache else None
    key = cache.cache_key(files, [sources[path] for path in files]) if directory else None
    if directory and key:
        cached = cache.read(directory, key)
        if cached is not None:
            try:
                return cast("Catalog", catalog_from_json(cached))
            except (KeyError, TypeError, ValueError, AttributeError):  # data that builds no catalog: a miss
                pass
    merged = _merge(files, sources)
    if merged.errors:
        raise CatalogError(_summary("the catalog", merged.errors))
    data = merged.catalog().model_dump(mode="json")
    if directory and key:
        cache.write(directory, key, data)
    return cast("Catalog", catalog_from_json(data))


def validate_text(path: Path, text: str, context: Sequence[str | Path] = ()) -> list[str]:
    """Every error of ``text``, read as the overlay file ``path`` on the built-in catalog and the
    ``context`` overlays (read before it): the text of a file about to be written; [] when valid."""
    files = _builtin_files()
    for other in context:
        files += _expand(other, "")
    files = [*files, path]
    return _merge(files, {path: text.encode("utf-8")}).errors


def validate_paths(paths: Sequence[str | Path]) -> list[str]:
    """Every error in `paths` (files or directories), read as overlays on the built-in catalog.

    Used by `selfhost catalog validate`: references may point at built-in entries. Returns []
    when all is valid. Errors in the built-in files themselves are reported too.

    Raises:
        CatalogError: a path does not exist or cannot be read (content errors are returned).
    """
    files = _builtin_files()
    for path in paths:
        files += _expand(path, "")
    return _merge(files).errors
