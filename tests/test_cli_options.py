"""Shared options: declared once, attached by `question_options`, listed once and in one order."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import typer
import typer.core
from typer.testing import Result

from selfhost.cli import options as o
from selfhost.cli.app import app
from selfhost.cli.crossover_cmd import crossover

Cli = Callable[..., Result]

#: Each command that asks a question, and the shared options it takes.
QUESTIONS = {
    "crossover": o.CROSSOVER,
    "cost": o.COST,
    "sensitivity": o.SENSITIVITY,
    "report": o.REPORT,
    "sweep": (*o.SWEEP, "rates"),
    "plan": o.PLAN,
    "fit": o.FIT,
    "estimate": o.DEPLOYMENT,
    "kv-alert": o.DEPLOYMENT,
}


def click_command(name: str) -> Any:
    """The command Typer builds for ``name`` (a Click command; Typer vendors Click)."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group.commands[name]


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_help_lists_each_shared_option_once_in_the_one_order_then_the_commands_own(name: str):
    params = [p.name for p in click_command(name).params if p.name != "help"]
    assert len(params) == len(set(params)), params
    shared = [p for p in params if p in QUESTIONS[name]]
    assert set(shared) == set(QUESTIONS[name])
    assert shared == sorted(shared, key=o.ORDER.index)  # the same order in every command
    assert params[: len(shared)] == shared  # then the command's own options


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_help_shows_every_shared_flag_once(cli: Cli, name: str):
    result = cli(name, "--help")
    assert result.exit_code == 0, result.output
    options = result.stdout.split("Options:", 1)[1]
    for param in click_command(name).params:
        if param.name in QUESTIONS[name] and param.opts[0].startswith("--"):
            flag = max(param.opts, key=len)
            lines = [line for line in options.splitlines() if f"{flag} " in line or line.endswith(flag)]
            assert len(lines) == 1, (flag, lines)


def test_a_command_signature_names_only_its_own_options():
    own = inspect.signature(crossover.__wrapped__).parameters  # type: ignore[attr-defined]
    assert list(own) == ["scenario", "baseline", "chart", "fmt", "wide"]
    attached = inspect.signature(crossover).parameters
    assert list(attached) == [*sorted(o.CROSSOVER, key=o.ORDER.index), "baseline", "chart", "fmt", "wide"]


def test_shared_options_are_declared_once_with_the_library_defaults():
    rps = o.PARAMETERS["rps"]
    assert rps.default is o.REQUIRED and rps.kind is inspect.Parameter.KEYWORD_ONLY
    assert o.PARAMETERS["max_tpot_ms"].default == 100.0
    assert o.PARAMETERS["model"].default is None  # repeatable: not given
    assert set(o.PARAMETERS) == set(o.ORDER) - {"rates"}  # sweep's --rps list is a variant


def test_attaching_an_option_twice_or_an_unknown_one_fails_at_definition():
    def command(scenario: Any, rps: float = 1.0) -> None: ...

    with pytest.raises(TypeError, match="declares shared options itself"):
        o.question_options(("rps",))(command)
    with pytest.raises(TypeError, match="distinct names"):
        o.question_options(("rps", "no_such_option"))
    with pytest.raises(TypeError, match="distinct names"):
        o.question_options(("rps", "rps"))


def test_a_variant_replaces_the_shared_parameter_for_one_command():
    assert click_command("fit").params[0].name == "model"
    assert isinstance(click_command("fit").params[0], typer.core.TyperArgument)
    estimate_model = next(p for p in click_command("estimate").params if p.name == "model")
    assert estimate_model.required and not estimate_model.multiple
    kv_model = next(p for p in click_command("kv-alert").params if p.name == "model")
    assert kv_model.required and kv_model.multiple
    report_samples = next(p for p in click_command("report").params if p.name == "uncertainty")
    assert report_samples.default == o.DEFAULT_REPORT_SAMPLES


def test_a_bad_value_is_one_line_naming_it(cli: Cli):
    result = cli("crossover", "--rps", "5", "--kv-dtype", "int4")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: unknown --kv-dtype 'int4'; use one of: auto, bf16, fp8"
    ]
