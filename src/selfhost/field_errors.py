"""Pydantic validation errors worded as the file loaders print them, one line each.

The catalog, measurements and workloads loaders say a schema error the same way: where it is
(`field_path`), then what is wrong (`field_message`); each loader words an unknown field its own
way, naming the fields valid at that place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def field_path(loc: Sequence[str | int]) -> str:
    """Pydantic location ('architecture', 'moe') or ('aliases', 1) as '.architecture.moe', '.aliases[1]'."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def field_message(
    error: Mapping[str, Any], unknown_field: Callable[[Mapping[str, Any]], str], *, tuple_as_list: bool = True
) -> str:
    """Pydantic's message for one error, reworded where the default does not say how to fix it.

    A missing field says so; an unknown field gets ``unknown_field(error)``; any other error is
    pydantic's message without its 'Value error, ' prefix (a tuple called a list, as YAML writes
    it, when ``tuple_as_list``), then the offending value unless it is a mapping or a list.
    """
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return unknown_field(error)
    message = str(error["msg"]).removeprefix("Value error, ")
    if tuple_as_list:
        message = message.replace("a valid tuple", "a list")
    value = error.get("input")
    if not isinstance(value, dict | list):
        message += f" (got {value!r})"
    return message
