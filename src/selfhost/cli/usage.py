"""Usage errors that name the value the user typed.

Typer 0.28 (the version selfhost pins, see pyproject.toml) checks option types with its
vendored Click, whose type messages quote the value ("'abc' is not a valid float."), and
ranges with messages that give the converted number ("2.0 is not in the range 0.01<=x<=1.0.").
Typer 0.29 checks both with pydantic, whose messages say what is accepted but not what was
given ("Input should be a valid number"). The command group below puts the value as typed
in front wherever the message does not already quote it ("got '2'; 2.0 is not in the range
..."), and drops pydantic's "Value error, " prefix, so the error is one line naming the value
under either version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

_ARGV_KEY = "selfhost.argv"
_PYDANTIC_PREFIX = "Value error, "  # pydantic's prefix for a ValueError raised by a validator
#: Characters an error line must not pass to the terminal: C0 controls but tab and line feed,
#: DEL, C1 controls, and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


#: Click's base exception (Typer 0.28 vendors Click; its class is reached through BadParameter's).
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def printable(text: str) -> str:
    """``text`` with every control character as a visible escape (``\\x1b``, ``\\r``): an error
    echoes what the user typed (``-m $'\\e]0;title\\a'``), which must not drive the terminal."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}",
        text,
    )


def given_values(args: Sequence[str], opts: Sequence[str]) -> list[str]:
    """The values given on the command line for an option spelled any of ``opts``, in order.

    Understands ``--opt VALUE``, ``--opt=VALUE`` and ``-oVALUE``; stops at ``--``.
    """
    values = []
    tokens = list(args)
    for i, token in enumerate(tokens):
        if token == "--":
            break
        for opt in opts:
            if token == opt:
                if i + 1 < len(tokens):
                    values.append(tokens[i + 1])
            elif opt.startswith("--") and token.startswith(opt + "="):
                values.append(token[len(opt) + 1 :])
            elif not opt.startswith("--") and len(opt) == 2 and token.startswith(opt) and len(token) > 2:
                values.append(token[2:])
    return values


def with_given_value(exc: typer.BadParameter, args: Sequence[str]) -> None:
    """Add the value(s) typed for ``exc``'s option to its message, in place."""
    message = exc.message.removeprefix(_PYDANTIC_PREFIX)
    param = exc.param
    if param is not None and getattr(param, "param_type_name", "") == "option" and param.opts:
        values = given_values(args, [*param.opts, *param.secondary_opts])
        if values and not any(f"'{v}'" in message for v in values):
            message = f"got {', '.join(repr(v) for v in values)}; {message}"
    exc.message = message


class SelfhostGroup(TyperGroup):
    """Typer's command group, with usage errors that name the value given, printably."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta.setdefault(_ARGV_KEY, list(args))
        try:
            return super().parse_args(ctx, args)
        except _ClickException as exc:
            exc.message = printable(exc.message)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:  # a missing option was not typed: nothing is added
            with_given_value(exc, ctx.meta.get(_ARGV_KEY, []))
            exc.message = printable(exc.message)
            raise
        except _ClickException as exc:
            exc.message = printable(exc.message)
            raise
