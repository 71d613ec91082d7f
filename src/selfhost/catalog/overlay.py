"""Write catalog entries as YAML, and add one to a user's overlay file without clobbering it.

`models_yaml` renders entries in the layout of data/models.yaml. `append_model` (and
`append_engine`, which `selfhost calibrate` uses) adds an entry to an overlay file: it inserts
the entry's text at the end of the file's `models:` (`engines:`) section, so the file's comments
and layout stay as they were. The result is checked twice before the file is
replaced (atomically, via a temporary file and a rename): parsed, it must equal the old content
plus the new entry, and `validate_paths` must find no error in it. When the text cannot be
inserted that way, a file without comments is rewritten with `yaml.safe_dump`; a file with
comments is left alone and the user is told to paste the entry by hand.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from selfhost.catalog.loader import validate_text
from selfhost.catalog.lookup import normalize
from selfhost.catalog.schema import EngineProfile, Entry, Model
from selfhost.errors import CatalogError

#: Field order of a written model entry: as in data/models.yaml, provenance last.
MODEL_FIELD_ORDER = (
    "id",
    "aliases",
    "name",
    "hf_repo",
    "architecture",
    "params_total_b",
    "params_active_b",
    "max_context_tokens",
    "native_dtype",
    "license",
    "license_allows_production",
    "tags",
    "quality_tier",
    "release_date",
    "source",
    "as_of",
    "confirmed",
    "notes",
)
ITEM_INDENT = "  "  # data/models.yaml: "  - id: ..."
YAML_WIDTH = 100  # wrap long prose near this line length, indentation included
FOLD_OVER_CHARS = 80  # strings longer than this are written as folded block scalars
NEW_FILE_HEADER = "# selfhost catalog overlay; use it with --catalog FILE or SELFHOST_CATALOG.\n"


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes lists of scalars inline (``aliases: [a, b]``), as data/*.yaml do."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # long prose (notes, source) folded like data/*.yaml: `notes: >-` and wrapped lines
    style = ">" if len(data) > FOLD_OVER_CHARS and "\n" not in data and data == data.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any, width: int = YAML_WIDTH) -> str:
    """``data`` as block YAML in the style of data/*.yaml (`_Dumper`), keys in their given order,
    prose wrapped near ``width`` characters."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=width
    )


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively; None-valued mapping keys dropped (they are the defaults)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def model_record(model: Model) -> dict[str, Any]:
    """The entry as plain YAML-ready data in `MODEL_FIELD_ORDER`; None fields left out."""
    data = _plain(model.model_dump())
    return {key: data[key] for key in MODEL_FIELD_ORDER if key in data}


def _item_lines(record: dict[str, Any], indent: str, gap: str) -> list[str]:
    """One block-sequence item: ``<indent>-<gap>key: ...`` then the rest aligned under the key."""
    under = indent + " " * (1 + len(gap))
    body = dump_yaml(record, width=YAML_WIDTH - len(under))
    lines = body.rstrip("\n").split("\n")
    return [indent + "-" + gap + lines[0], *(under + line if line else line for line in lines[1:])]


def models_yaml(models: Sequence[Model]) -> str:
    """A catalog document holding `models`: ``models:`` and one item per entry, blank lines between."""
    return _document([model_record(m) for m in models])


#: The fields every entry has, written last (provenance), as in data/*.yaml.
PROVENANCE_FIELDS = ("source", "as_of", "confirmed", "notes")


def engine_record(engine: EngineProfile) -> dict[str, Any]:
    """An engine profile as plain YAML-ready data in the schema's field order, provenance last;
    None fields and empty lists or mappings (the defaults) left out."""
    data = _plain(engine.model_dump(mode="json"))
    order = [name for name in EngineProfile.model_fields if name not in PROVENANCE_FIELDS]
    return {
        key: data[key]
        for key in (*order, *PROVENANCE_FIELDS)
        if key in data and data[key] != [] and data[key] != {}
    }


def engines_yaml(engines: Sequence[EngineProfile]) -> str:
    """A catalog document holding `engines`, as `models_yaml` does models."""
    return _document([engine_record(e) for e in engines], "engines")


def _document(records: Sequence[dict[str, Any]], section: str = "models") -> str:
    out = [f"{section}:"]
    for i, record in enumerate(records):
        if i:
            out.append("")
        out += _item_lines(record, ITEM_INDENT, " ")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- appending


def _has_comments(text: str) -> bool:
    """True when the YAML text holds a comment (a '#' at line start or after whitespace)."""
    return re.search(r"(^|\s)#", text) is not None


def _insert_text(text: str, record: dict[str, Any], section: str = "models") -> str | None:
    """`text` with `record` added at the end of its `section:` block sequence, or None if unsure.

    The caller checks the result by parsing it; None (or a wrong result) means: do not edit text.
    (`selfhost measurements import --into` uses it with section "measurements".)
    """
    eol = "\r" if "\r\n" in text else ""  # lines are split on "\n"; keep CRLF files CRLF
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the text ended with a newline; `joined` puts it back (and adds one if missing)

    def joined(new_lines: list[str]) -> str:
        return "\n".join(new_lines) + "\n"

    def fresh_item() -> list[str]:
        return [line + eol for line in _item_lines(record, ITEM_INDENT, " ")]

    try:
        from selfhost.inputs import yaml_loader

        root = yaml.compose(text, Loader=yaml_loader())  # libyaml; text already through load_yaml's guard
    except yaml.YAMLError:
        return None
    if root is None:  # empty, or only comments
        separator = [eol] if lines else []
        return joined([*lines, *separator, f"{section}:" + eol, *fresh_item()])
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    keys = [k for k, _ in root.value]
    index = next(
        (i for i, k in enumerate(keys) if isinstance(k, yaml.ScalarNode) and k.value == section), None
    )
    if index is None:
        if any(line.startswith(("---", "...")) for line in lines):
            return None
        return joined([*lines, eol, f"{section}:" + eol, *fresh_item()])

    key, value = root.value[index]
    if key.start_mark.column != 0:
        return None
    if isinstance(value, yaml.ScalarNode):
        # `models:` with nothing after it on its line (a null): the entry goes right below
        if value.value != "" or lines[key.start_mark.line].split("#")[0].rstrip() != f"{section}:":
            return None
        at = key.start_mark.line + 1
        return joined([*lines[:at], *fresh_item(), *lines[at:]])
    if not isinstance(value, yaml.SequenceNode) or value.flow_style or not value.value:
        return None

    first = value.value[0]
    match = re.match(r"^( *)-( +)", lines[first.start_mark.line])
    if match is None:
        return None
    indent, gap = match.group(1), match.group(2)
    # The section ends before the next top-level key (or at the end of the document); comments
    # and blank lines just above that key belong to it, so the entry goes above them.
    end = keys[index + 1].start_mark.line if index + 1 < len(keys) else len(lines)
    at = end
    while at > value.value[-1].start_mark.line + 1:
        line = lines[at - 1].rstrip("\r")
        if line.strip() == "" or line.startswith("#"):
            at -= 1
        else:
            break
    item = [line + eol for line in _item_lines(record, indent, gap)]
    return joined([*lines[:at], eol, *item, *lines[at:]])


def _expected(document: Any, record: dict[str, Any], section: str = "models") -> dict[str, Any]:
    """What the file must parse to after the append: the old content plus the new entry."""
    entry = _parsed(_document([record], section))[section][0]
    expected: dict[str, Any] = copy.deepcopy(document) if isinstance(document, dict) else {}
    expected[section] = [*(expected.get(section) or []), entry]
    return expected


def _existing_ids(document: Any, section: str = "models") -> dict[str, str]:
    """Lookup key -> id of every entry id and alias already in the section of the parsed file."""
    found: dict[str, str] = {}
    items = document.get(section) if isinstance(document, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        found[normalize(item["id"])] = item["id"]
        aliases = item.get("aliases")
        for alias in aliases if isinstance(aliases, list) else []:
            if isinstance(alias, str):
                found.setdefault(normalize(alias), item["id"])
    return found


def existing_ids(path: str | Path, section: str) -> set[str]:
    """The ids of the entries in ``section`` of the overlay file ``path`` (empty when the file does
    not exist or cannot be read as a catalog: appending will then say why)."""
    p = Path(path)
    if not p.is_file():
        return set()
    try:
        return set(_existing_ids(_parsed(_read_into(p)), section).values())
    except CatalogError:
        return set()


def append_model(path: str | Path, model: Model) -> str:
    """Add `model` to the `models` section of the overlay file `path`, creating the file if needed.

    Returns how the file was written: ``"created"``, ``"appended"`` (text inserted, comments
    and layout kept) or ``"rewritten"`` (a file without comments re-dumped with safe_dump).
    The read, the check and the replacement happen under one lock (`selfhost.files.update_file`),
    so two runs adding to the same file at once both land; a link is followed to its file.

    Raises
    ------
    CatalogError : the file already has a model with this id or alias (the file is not
        touched); the file is not a YAML mapping, or its `models:` is not a list; the text
        cannot be added safely to a file with comments; or the resulting file fails
        `validate_paths` (the file is not touched).
    InputError : the path is a directory, a dangling link, or its directory is missing.
    OutputError : the file system refused the write.
    """

    def taken(path: Path, owner: str) -> str:
        what = "a model with id" if owner == model.id else f"model '{owner}' with id or alias"
        return (
            f"'{path}' already has {what} '{model.id}'; entries are never overwritten, "
            "so choose a different --id (or edit the file by hand)"
        )

    return _append(Path(path), "models", model, model_record(model), taken)


def append_engine(
    path: str | Path, engine: EngineProfile, *, header: str = "", context: Sequence[str | Path] = ()
) -> str:
    """Add `engine` to the `engines` section of the overlay file `path`, creating it if needed.

    As `append_model`: never overwrites an entry (an engine of that id already in the file is an
    error), keeps comments and layout, validates before replacing the file. ``header`` is written
    as comment lines at the top of a new file; ``context`` are the other overlays the entry is
    validated with (catalog files the user passed with --catalog: the GPUs they add).
    """

    def taken(path: Path, owner: str) -> str:
        return (
            f"'{path}' already has engine '{owner}'; entries are never overwritten: write to a new "
            "file with --into, or calibrate every measurement file in one run (each GPU gets its own "
            "override in one entry)"
        )

    return _append(
        Path(path), "engines", engine, engine_record(engine), taken, header=header, context=context
    )


def _append(
    path: Path,
    section: str,
    entry: Entry,
    record: dict[str, Any],
    taken: Any,
    *,
    header: str = "",
    context: Sequence[str | Path] = (),
) -> str:
    """Add ``record`` (the YAML data of ``entry``) to ``section`` of the overlay file ``path``,
    under one lock (`selfhost.files.update_file`); returns how the file was written.

    ``taken(path, owner_id)`` is the message when the file already has the id."""
    from selfhost.files import update_file

    how: list[str] = []

    def change(text: str | None, target: Path) -> str:
        new_text, kind = _appended(path, text, section, entry, record, taken, header)
        _check_valid(path, target, new_text, context)
        how.append(kind)
        return new_text

    update_file(path, change, what="--into", read=_read_into)
    return how[0]


def _read_into(target: Path) -> str:
    """The current text of the --into file, bounded (`selfhost.inputs.read_bytes`)."""
    from selfhost.errors import InputError
    from selfhost.inputs import decode, read_bytes

    try:
        return decode(read_bytes(target, "--into file"), "--into file", target)
    except InputError as exc:
        raise CatalogError(str(exc)) from None


def _appended(
    path: Path,
    text: str | None,
    section: str,
    entry: Entry,
    record: dict[str, Any],
    taken: Any,
    header: str,
) -> tuple[str, str]:
    """The new text of the file (``text`` now, None if it does not exist) and how it was made."""
    if text is None:
        comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        return NEW_FILE_HEADER + comments + _document([record], section), "created"
    from selfhost.inputs import load_yaml, yaml_problem

    try:
        document = load_yaml(text)
    except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
        raise CatalogError(
            f"--into file '{path}' is not valid YAML ({yaml_problem(exc)}); fix it first"
        ) from None
    if document is not None and not isinstance(document, dict):
        raise CatalogError(
            f"--into file '{path}' is not a catalog: its top level must be a mapping of sections"
        )
    items = document.get(section) if isinstance(document, dict) else None
    if items is not None and not isinstance(items, list):
        raise CatalogError(
            f"--into file '{path}': its '{section}:' section must be a list of entries (each "
            f"starting with '- '), not a {type(items).__name__}; fix it first"
        )
    owner = _existing_ids(document, section).get(normalize(entry.id))
    if owner is not None:
        raise CatalogError(taken(path, owner))
    new_text = _insert_text(text, record, section)
    expected = _expected(document, record, section)
    if new_text is not None and _parsed(new_text) == expected:
        return new_text, "appended"
    if _has_comments(text):
        raise CatalogError(
            f"cannot add the entry to '{path}' without losing its comments or layout; "
            f"run the command without --into and paste the printed entry into its {section}: section"
        )
    return dump_yaml(expected), "rewritten"


def _parsed(text: str) -> Any:
    from selfhost.inputs import load_yaml

    try:
        return load_yaml(text)
    except Exception:  # yaml.YAMLError or ValueError: not what was expected
        return None


def _check_valid(path: Path, target: Path, text: str, context: Sequence[str | Path] = ()) -> None:
    """Refuse ``text`` unless it is a valid overlay on the built-in catalog and the ``context``
    overlays (nothing is written)."""
    errors = [e.replace(str(target), str(path)) for e in validate_text(target, text, context)]
    if errors:
        more = (
            f" (and {len(errors) - 1} more; run 'selfhost catalog validate {path}')"
            if len(errors) > 1
            else ""
        )
        raise CatalogError(
            f"'{path}' would not be a valid catalog with the new entry, so it was left unchanged: "
            f"{errors[0].strip()}{more}"
        )
