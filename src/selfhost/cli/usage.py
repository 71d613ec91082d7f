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

try:  # Typer 0.28 (pinned) parses with its vendored Click: its errors are that Click's
    from typer._click import _textwrap
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - a Typer that uses the installed Click
    from click import _textwrap  # type: ignore[no-redef]
    from click.exceptions import UsageError  # type: ignore[assignment]

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


def one_line(exc: UsageError) -> UsageError:
    """The usage error as one line, ``Error: ... (see: selfhost CMD -h)``.

    Click prints the usage line and a "Try ... for help" line before the error; the README
    promises one line, so the help command moves into the message and the context (which
    makes Click print the rest) is dropped.
    """
    ctx = exc.ctx
    if ctx is None:
        exc.message = printable(exc.message)
        return exc
    text = printable(exc.format_message())  # BadParameter and MissingParameter name the option there
    error = UsageError(f"{' '.join(text.split())} (see: {ctx.command_path} -h)")
    error.exit_code = exc.exit_code
    return error


class HelpWrapper(_textwrap.TextWrapper):
    """Click's help text wrapper, never breaking a word at its hyphens ('self-' / 'hosted',
    '--self-' / 'hosted-base-url') nor a long token (a URL, a path) inside itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(break_on_hyphens=False, break_long_words=False)
        super().__init__(*args, **kwargs)


def wrap_help_at_spaces() -> None:
    """Make --help wrap only at spaces (Click's formatter imports its TextWrapper when it wraps)."""
    _textwrap.TextWrapper = HelpWrapper  # type: ignore[misc]


class SelfhostGroup(TyperGroup):
    """Typer's command group, with one-line usage errors that name the value given, printably."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta.setdefault(_ARGV_KEY, list(args))
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            raise one_line(exc) from None
        except _ClickException as exc:
            exc.message = printable(exc.message)  # type: ignore[attr-defined]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:  # a missing option was not typed: nothing is added
            with_given_value(exc, ctx.meta.get(_ARGV_KEY, []))
            raise one_line(exc) from None
        except UsageError as exc:
            raise one_line(exc) from None
        except _ClickException as exc:
            exc.message = printable(exc.message)  # type: ignore[attr-defined]
            raise


HELP_INDENT = 4  # [characters] Click indents a verbatim paragraph of a command's help by this much
EXAMPLE_WIDTH = 80  # [characters]: examples fit an 80-column terminal whole
VERBATIM = "\b"  # Click's marker: the paragraph after it is printed as written, not rewrapped


def verbatim_examples(doc: str, width: int = EXAMPLE_WIDTH) -> str:
    """``doc`` (a command's docstring) with each example command line kept as written in --help.

    Click rewraps every paragraph to the terminal, which split long examples across lines
    (a pasted command then runs half of itself). Each line starting with ``selfhost`` becomes
    a paragraph Click leaves alone; one longer than ``width`` is split at spaces into lines
    ending in `` \\``, which a shell reads as one command.
    """
    import inspect

    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    for line in lines:
        text = line.lstrip()
        if not text.startswith("selfhost "):
            out.append(line)
            continue
        indent = line[: len(line) - len(text)]
        out.append(indent + VERBATIM)
        room = width - HELP_INDENT - len(indent)
        current = ""
        pieces: list[str] = []
        for word in text.split(" "):
            if current and len(current) + 1 + len(word) + 2 > room:  # + " \"
                pieces.append(current + " \\")
                current = "  " + word
            else:
                current = f"{current} {word}" if current else word
        pieces.append(current)
        out += [indent + piece for piece in pieces]
    return "\n".join(out)


def prepare_help(typer_app: typer.Typer) -> None:
    """Keep the examples of every command of ``typer_app`` (and its groups) verbatim in --help.

    Once per command function: an app built again (`cli.app.build`) shares them."""
    for info in typer_app.registered_commands:
        callback = info.callback
        if callback is not None and callback.__doc__ and not getattr(callback, "_selfhost_verbatim", False):
            callback.__doc__ = verbatim_examples(callback.__doc__)
            callback._selfhost_verbatim = True  # type: ignore[attr-defined]
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            prepare_help(group.typer_instance)


#: Click's type placeholders ('<float range>') as words; a choice reads '[a|b|c]'.
PLACEHOLDER_WORDS = {
    "float": "NUMBER", "float range": "NUMBER", "int": "N", "int range": "N",
    "str": "TEXT", "text": "TEXT", "path": "PATH", "file": "FILE", "boolean": "BOOL",
}  # fmt: skip


def placeholder_word(metavar: str) -> str:
    """'<float range>' -> 'NUMBER', '<int>...' -> 'N...', '<a|b>' -> '[a|b]'; others unchanged."""
    more = "..." if metavar.endswith("...") else ""
    core = metavar.removesuffix("...")
    if not (core.startswith("<") and core.endswith(">")):
        return metavar
    inner = core[1:-1]
    if "|" in inner:
        return f"[{inner}]{more}"
    return PLACEHOLDER_WORDS.get(inner.lower(), inner.upper().replace(" ", "_")) + more


def placeholders_as_words() -> None:
    """Make --help name option values as words (``--gpus N``, ``--rps NUMBER``), not Click's
    type placeholders (``<int range>``); options with a metavar of their own keep it."""
    try:
        from typer._click.core import Parameter
    except ImportError:  # pragma: no cover - a Typer that uses the installed Click
        from click.core import Parameter  # type: ignore[assignment]

    original = Parameter.make_metavar
    if getattr(original, "_selfhost_words", False):
        return

    def make_metavar(self: Any, *args: Any, **kwargs: Any) -> str:
        return placeholder_word(original(self, *args, **kwargs))

    make_metavar._selfhost_words = True  # type: ignore[attr-defined]
    Parameter.make_metavar = make_metavar  # type: ignore[method-assign]
