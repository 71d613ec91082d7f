"""Read the user's files with bounds: the one reader of every input file selfhost opens.

Every file a command reads (catalog files and overlays, $SELFHOST_CATALOG, configs, workloads,
measurement files, traffic profiles, usage logs, benchmark results, baselines, plans) comes
through here, so the same promises hold for all of them:

- regular files only: a directory, FIFO, socket or device (``/dev/zero``) is refused before a
  byte is read (the file is opened non-blocking and checked with ``fstat``, so a FIFO swapped
  in after the check cannot block the run either);
- at most `MAX_DOCUMENT_BYTES` for a document parsed whole (YAML or JSON), `MAX_INPUT_BYTES`
  for logs that are streamed; the limit is named in the error;
- text is UTF-8 (a leading BOM dropped);
- YAML is parsed by one loader (`load_yaml`): libyaml's C parser where built, safe tags only,
  duplicate keys refused, ``1e-3`` read as a number (YAML 1.2) rather than a string, and a
  guard that refuses nesting deeper than `MAX_DEPTH` and aliases that expand to more than
  `MAX_ALIAS_NODES` extra nodes before anything is built (libyaml composes recursively in C:
  a deep enough document would crash the interpreter, not raise);
- JSON (`load_json`) gets the same depth limit, and a number too long to convert is an error.

Errors are `InputError` (exit code 2) naming the file; parse errors are ``yaml.YAMLError``
(with line and column) or ``ValueError`` from `load_yaml` / `load_json`, which each reader
words for its own kind of file.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from selfhost.errors import InputError

#: Largest log or result file read (streamed or parsed as JSON). [bytes]
MAX_INPUT_BYTES = 200 * 1024 * 1024
#: Largest YAML document read whole: the published measurements file is 0.4 MB (150 entries of
#: ~2.4 kB); 16 MB holds 6,000 such entries, which libyaml parses in some seconds. [bytes]
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Deepest nesting of lists and mappings in a document; selfhost's own formats need under 10. [levels]
MAX_DEPTH = 64
#: Extra nodes YAML aliases may expand to, beyond the nodes written (stops "billion laughs"). [count]
MAX_ALIAS_NODES = 1_000_000
BYTES_PER_MB = 1024 * 1024


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / BYTES_PER_MB:,.0f} MB"


def _refusal(what: str, p: Path, mode: int) -> InputError:
    if stat.S_ISDIR(mode):
        return InputError(f"{what} '{p}' is a directory; give the path of one file")
    return InputError(
        f"{what} '{p}' is not a regular file (a pipe, socket or device); copy it to a file first"
    )


def _too_large(what: str, p: Path, size: int, max_bytes: int) -> InputError:
    return InputError(
        f"{what} '{p}' is {_mb(size)}; the limit is {_mb(max_bytes)} (split it or filter it first)"
    )


def check_input_file(path: str | Path, what: str, *, max_bytes: int | None = None) -> Path:
    """``path`` if it is a regular file of at most ``max_bytes``; ``what`` names it in errors.

    Raises:
        InputError: missing, not a regular file (directory, FIFO, device) or too large.
    """
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = Path(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        raise InputError(f"{what} '{p}' does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InputError(f"cannot read {what} '{p}': {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _refusal(what, p, info.st_mode)
    if info.st_size > max_bytes:
        raise _too_large(what, p, info.st_size, max_bytes)
    return p


def _open_regular(p: Path, what: str, max_bytes: int) -> int:
    """A read-only descriptor of the regular file ``p`` (at most ``max_bytes``), opened without blocking."""
    check_input_file(p, what, max_bytes=max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise InputError(f"{what} '{p}' does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None
    info = os.fstat(fd)  # the file opened, which may not be the one checked a moment ago
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refusal(what, p, info.st_mode)
    if info.st_size > max_bytes:
        os.close(fd)
        raise _too_large(what, p, info.st_size, max_bytes)
    return fd


def read_bytes(path: str | Path, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole regular file ``path``, at most ``max_bytes``; ``what`` names it in errors.

    Raises:
        InputError: missing, unreadable, not a regular file, or larger than ``max_bytes``.
    """
    p = Path(path)
    fd = _open_regular(p, what, max_bytes)
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since fstat()
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{what} '{p}' is larger than the {_mb(max_bytes)} limit")
    return data


def decode(data: bytes, what: str, path: str | Path) -> str:
    """``data`` as UTF-8 text (a leading BOM dropped). Raises InputError naming the offset of a bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} '{path}' is not UTF-8 text (byte {exc.start}); is it compressed?") from None


def read_text(path: str | Path, what: str, *, max_bytes: int | None = None) -> str:
    """The whole file as text (UTF-8, a leading BOM dropped), read with `read_bytes`.

    ``max_bytes`` defaults to `MAX_INPUT_BYTES` (logs and benchmark results).
    """
    data = read_bytes(path, what, max_bytes=MAX_INPUT_BYTES if max_bytes is None else max_bytes)
    return decode(data, what, path)


def iter_lines(path: str | Path, what: str, *, max_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) of the file, streamed; blank lines skipped. Bounded as `read_bytes`."""
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = Path(path)
    fd = _open_regular(p, what, max_bytes)
    read = 0
    try:
        with os.fdopen(fd, "r", encoding="utf-8-sig", errors="strict", newline=None) as f:
            for number, line in enumerate(f, start=1):
                read += len(line)
                if read > max_bytes:
                    raise InputError(f"{what} '{p}' is larger than the {_mb(max_bytes)} limit")
                if line.strip():
                    yield number, line
    except UnicodeDecodeError:
        raise InputError(f"{what} '{p}' is not UTF-8 text; is it compressed?") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None


def first_text(path: str | Path, what: str, n_bytes: int = 4096) -> str:
    """The first ``n_bytes`` of the file as text (for format detection). Bounded as `read_bytes`."""
    p = Path(path)
    fd = _open_regular(p, what, MAX_INPUT_BYTES)
    try:
        with os.fdopen(fd, "rb") as f:
            head = f.read(n_bytes)
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror or exc}") from None
    return head.decode("utf-8-sig", errors="replace")


# --------------------------------------------------------------------------- YAML

#: YAML 1.2 floats that YAML 1.1 (PyYAML) reads as strings: ``1e-3``, ``5E+6``, ``2.e3``.
_YAML12_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


@functools.cache
def yaml_loader() -> type[Any]:
    """The one YAML loader: libyaml's safe loader where built (else PyYAML's), duplicate keys
    refused (PyYAML would keep the last silently), YAML 1.2 exponent floats read as numbers.
    Built on first use: a run that reads no YAML never imports it."""
    import yaml
    from yaml.constructor import ConstructorError

    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses several times faster

    class Loader(base):  # type: ignore[misc]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"found duplicate key '{key_node.value}'",
                            key_node.start_mark,
                        )
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))
    return Loader


def _limit_error(problem: str, mark: Any) -> Exception:
    import yaml

    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


def check_yaml_shape(text: str) -> None:
    """Refuse, from the event stream alone (nothing is built), a document nested deeper than
    `MAX_DEPTH` or whose aliases expand to more than `MAX_ALIAS_NODES` nodes beyond those written.

    Raises:
        yaml.YAMLError: a syntax error, or one of the limits (with its line and column).
    """
    import yaml

    depth = 0
    written = expanded = 0
    starts: list[tuple[int, str | None]] = []  # (expanded count at the start, anchor) of open collections
    sizes: dict[str, int] = {}  # expanded nodes of each anchored node
    for event in yaml.parse(text, Loader=yaml_loader()):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit_error(
                    f"lists and mappings nested more than {MAX_DEPTH} levels deep (the limit)",
                    event.start_mark,
                )
            starts.append((expanded, event.anchor))
            written += 1
            expanded += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            begun, anchor = starts.pop()
            if anchor is not None:
                sizes[anchor] = expanded - begun
        elif isinstance(event, yaml.ScalarEvent):
            written += 1
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            expanded += sizes.get(event.anchor, 1) if event.anchor is not None else 1
            if expanded - written > MAX_ALIAS_NODES:
                raise _limit_error(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes beyond those written "
                    "(the limit; an alias bomb?)",
                    event.start_mark,
                )


def load_yaml(text: str) -> Any:
    """The one YAML document in ``text``, with `yaml_loader`, after `check_yaml_shape`.

    Raises:
        yaml.YAMLError: invalid YAML, a duplicate key, a tag that is not safe, or a limit;
            ValueError for a value Python cannot build (an integer of more than 4,300 digits).
    """
    import yaml

    check_yaml_shape(text)
    try:
        return yaml.load(text, Loader=yaml_loader())
    except (ValueError, OverflowError, RecursionError) as exc:  # int("9" * 5000), a date out of range
        if isinstance(exc, yaml.YAMLError):
            raise
        raise ValueError(f"a value cannot be read: {str(exc).splitlines()[0]}") from None


def yaml_problem(exc: BaseException) -> str:
    """One line for a YAML error or unreadable value: 'line L, column C: problem' where known."""
    import yaml

    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or str(exc)
        if problem.startswith("mapping values are not allowed"):
            problem += " (a plain value may not contain ': '; put the value in quotes)"
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def yaml_error_line(path: str | Path, exc: BaseException) -> str:
    """'<path>: line L, column C: invalid YAML: <problem>', the error line of every YAML reader."""
    import yaml

    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        where, _, problem = yaml_problem(exc).partition(": ")
        return f"{path}: {where}: invalid YAML: {problem}"
    return f"{path}: invalid YAML: {yaml_problem(exc)}"


def read_document(
    path: str | Path,
    what: str,
    max_bytes: int,
    parse: Callable[[str], Any],
    errors: type[Exception],
    invalid: str,
    problem: Callable[[Any], str],
) -> Any:
    """The document in the file ``path``: its text (bounded as `read_bytes`) parsed by ``parse``.

    Raises:
        InputError: the file cannot be read, or ``parse`` raised one of ``errors``: the message
            is ``invalid`` followed by ``problem(exc)`` (where in the file, and what).
    """
    text = read_text(path, what, max_bytes=max_bytes)
    try:
        return parse(text)
    except errors as exc:
        raise InputError(invalid + problem(exc)) from None


def read_yaml(path: str | Path, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """The YAML document in the file ``path``, parsed by `load_yaml` (see `read_document`)."""
    invalid = f"{what} '{path}' is not valid YAML: "  # yaml.YAMLError or ValueError from load_yaml
    return read_document(path, what, max_bytes, load_yaml, Exception, invalid, yaml_problem)


# --------------------------------------------------------------------------- JSON


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_json(text: str | bytes) -> Any:
    """The JSON value in ``text``, nested at most `MAX_DEPTH` levels.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, with line and column), nested too
            deep, or a number too long to convert.
    """
    import json

    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep (the limit)") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # Python's 4,300-digit limit for int()
        raise ValueError(f"a value cannot be read: {str(exc).splitlines()[0]}") from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep (the limit)")
    return value


def json_problem(exc: ValueError) -> str:
    """One line for an error of `load_json`."""
    import json

    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    return str(exc)


def read_json(path: str | Path, what: str, *, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    """The JSON document in the file ``path``, parsed by `load_json` (see `read_document`)."""
    invalid = f"cannot read {what} '{path}' as JSON: "
    return read_document(path, what, max_bytes, load_json, ValueError, invalid, json_problem)
