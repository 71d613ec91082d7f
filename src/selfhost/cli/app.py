"""The `selfhost` entry point: the app, built from the command modules. No arithmetic here.

Each command lives in a module of its own (`crossover_cmd`, ...), shared plumbing in
`cli.common`, shared options in `cli.options`; nothing imports this module. Heavy modules
(numpy, pydantic, yaml, the engine) are imported inside commands so that `selfhost --help`
starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer

from selfhost._version import __version__
from selfhost.cli import (
    calibrate_cmd,
    catalog_cmd,
    cost_cmd,
    crossover_cmd,
    deploy_cmd,
    fit_cmd,
    kv_cmd,
    measurements_cmd,
    plan_cmd,
    report_cmd,
    sensitivity_cmd,
    stale_cmd,
    sweep_cmd,
    validate_cmd,
    workload_cmd,
)
from selfhost.cli.usage import SelfhostGroup, placeholders_as_words, prepare_help, wrap_help_at_spaces

wrap_help_at_spaces()
placeholders_as_words()

app = typer.Typer(
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


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"selfhost {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(
        False, "--version", "-V", help="Show the version and exit.", callback=version_callback, is_eager=True
    ),
) -> None:
    """When does running an open-weight LLM on your own GPUs beat paying an API?"""


# --------------------------------------------------------------------------- commands

# Every command lives in a module of its own and registers itself, in the order --help lists them.
crossover_cmd.register(app)
fit_cmd.register(app)
cost_cmd.register(app)
stale_cmd.register(catalog_cmd.catalog_app)
app.add_typer(catalog_cmd.catalog_app, name="catalog")
app.add_typer(measurements_cmd.measurements_app, name="measurements")
workload_cmd.register(app)
sweep_cmd.register(app)
validate_cmd.register(app)
calibrate_cmd.register(app)
sensitivity_cmd.register(app)
plan_cmd.register(app)
kv_cmd.register(app)
deploy_cmd.register(app)
report_cmd.register(app)
prepare_help(app)  # examples verbatim in --help: a copied example is the whole command


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
    """The app to run ``selfhost ARGS``: just the command named first, or the whole app for
    anything else (``--help``, ``--version``, a typo that needs "did you mean")."""
    return (only_command(app, args[0]) if args else None) or app


def main() -> None:
    """Console-script entry point, behind one guard (`selfhost.cli.entry`): every failure the
    commands cannot catch (closed or full stdout, encodings, interpreter limits) is one line."""
    from selfhost.cli.entry import run_guarded

    args = sys.argv[1:]
    run_guarded(lambda: app_for(args)(args=args, prog_name="selfhost"))
