"""The `selfhost` entry point: the app, built from the command modules. No arithmetic here.

Each command lives in a module of its own (`crossover_cmd`, ...), shared plumbing in
`cli.common`, shared options in `cli.options`; nothing imports this module. A run imports the
module of the command it names, no other (`COMMAND_MODULES`); heavy modules (numpy, pydantic,
yaml, the engine) are imported inside commands so that `selfhost --help` starts fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import typer

from selfhost._version import __version__
from selfhost.cli.usage import SelfhostGroup, placeholders_as_words, prepare_help, wrap_help_at_spaces

wrap_help_at_spaces()
placeholders_as_words()

#: The module of each command and command group (`selfhost.cli.<module>`), by the name a user
#: types, in the order --help lists them (commands, then groups). Each module's ``register(app)``
#: adds its commands; a run imports only the module of the command it names (a test holds this
#: table to what the modules register).
COMMAND_MODULES: dict[str, str] = {
    "crossover": "crossover_cmd",
    "fit": "fit_cmd",
    "estimate": "fit_cmd",
    "cost": "cost_cmd",
    "workload": "workload_cmd",
    "sweep": "sweep_cmd",
    "validate": "validate_cmd",
    "calibrate": "calibrate_cmd",
    "sensitivity": "sensitivity_cmd",
    "plan": "plan_cmd",
    "kv-alert": "kv_cmd",
    "deploy": "deploy_cmd",
    "report": "report_cmd",
    "catalog": "catalog_cmd",
    "measurements": "measurements_cmd",
}


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"selfhost {__version__}")
        raise typer.Exit()


def main_callback(
    version: bool = typer.Option(
        False, "--version", "-V", help="Show the version and exit.", callback=version_callback, is_eager=True
    ),
) -> None:
    """When does running an open-weight LLM on your own GPUs beat paying an API?"""


def build(names: Iterable[str] = COMMAND_MODULES) -> typer.Typer:
    """The app with the commands ``names`` (default: all), each registered by its own module.

    A module that registers several commands (`fit_cmd`: fit and estimate) adds them all.
    """
    built = typer.Typer(
        cls=SelfhostGroup,  # usage errors name the value given
        rich_markup_mode=None,  # help texts carry units in square brackets, which Rich markup would eat
        name="selfhost",
        help="When does running an open-weight LLM on your own GPUs beat paying an API?\n\n"
        "Start with: selfhost crossover --rps 5",
        context_settings={"help_option_names": ["-h", "--help"]},
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,  # --install-completion and --show-completion (README "Shell completion")
    )
    built.callback()(main_callback)
    for module in dict.fromkeys(COMMAND_MODULES[name] for name in names):
        importlib.import_module(f"selfhost.cli.{module}").register(built)
    prepare_help(built)  # examples verbatim in --help: a copied example is the whole command
    return built


_FULL: list[typer.Typer] = []


def _full_app() -> typer.Typer:
    """The whole app, built once."""
    if not _FULL:
        _FULL.append(build())
    return _FULL[0]


def __getattr__(name: str) -> Any:
    """``app``: the whole app, built on first use (a run builds only the command it names)."""
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_name(info: Any) -> str:
    """The name a user types for a registered Typer command (Typer's own rule)."""
    return str(info.name or info.callback.__name__.lower().replace("_", "-"))


def command_names(typer_app: typer.Typer) -> list[str]:
    """The names of the app's commands and command groups, in registration order."""
    return [_command_name(info) for info in typer_app.registered_commands] + [
        str(group.name) for group in typer_app.registered_groups
    ]


def only_command(typer_app: typer.Typer, name: str) -> typer.Typer | None:
    """A copy of ``typer_app`` holding just the command or group called ``name``, else None.

    Typer builds a Click command, with a parser for every option, for every registered command
    before it dispatches (about 15 ms for ours); the invoked one is all a run needs.
    """
    import copy

    if name not in command_names(typer_app):
        return None
    single = copy.copy(typer_app)
    single.registered_commands = [i for i in typer_app.registered_commands if _command_name(i) == name]
    single.registered_groups = [g for g in typer_app.registered_groups if g.name == name]
    return single


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app to run ``selfhost ARGS``: just the command named first, its module alone
    imported, or the whole app for anything else (``--help``, ``--version``, a typo that
    needs "did you mean")."""
    if args and args[0] in COMMAND_MODULES:
        return only_command(build([args[0]]), args[0]) or _full_app()
    return _full_app()


def main() -> None:
    """Console-script entry point, behind one guard (`selfhost.cli.entry`): every failure the
    commands cannot catch (closed or full stdout, encodings, interpreter limits) is one line."""
    from selfhost.cli.entry import run_guarded

    args = sys.argv[1:]
    run_guarded(lambda: app_for(args)(args=args, prog_name="selfhost"))
