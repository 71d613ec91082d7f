"""Shared test setup: a fixed, colourless terminal, no user catalogs leaking into any test, and the
calibration recomputed once per session for the tests that hold the figures the docs quote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from selfhost.cli.app import app_for

#: Terminal width every test sees; Rich tables are laid out to it.
TERMINAL_COLUMNS = 200


@pytest.fixture(scope="session")
def catalog_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One catalog cache for the whole run, never the user's own (~/.cache/selfhost)."""
    return str(tmp_path_factory.mktemp("selfhost-cache"))


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, catalog_cache_dir: str) -> None:
    """Fix the terminal (width, no colour), drop the user's catalog overlays, private cache.

    SELFHOST_CATALOG would add a user's own offers and prices to every command, so results
    would depend on the machine running the tests.
    """
    monkeypatch.setenv("SELFHOST_CACHE_DIR", catalog_cache_dir)
    monkeypatch.setenv("COLUMNS", str(TERMINAL_COLUMNS))
    monkeypatch.setenv("LINES", "50")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("SELFHOST_CATALOG", raising=False)


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run `selfhost ARGS...` in-process; stdout and stderr are kept apart (result.stdout / .stderr)."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app_for(args), list(args))  # as `selfhost` runs: only the named command

    return invoke


@pytest.fixture(scope="session")
def live_fit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The calibration recomputed now, as `python scripts/calibrate.py --json FILE` reports it:
    every engine profile refitted, in sample and leaving one source out (about 17 s, so once per
    session; tests/live_fit.py). docs/calibration-fit.json, data/engines.yaml and the accuracy
    figures of the docs must equal it."""
    from live_fit import recompute_fit

    return recompute_fit(tmp_path_factory.mktemp("live-fit") / "calibration-fit.json")


@pytest.fixture(scope="session")
def live_validation() -> dict[str, dict[str, Any]]:
    """`selfhost validate` (key "") and `selfhost validate FILE` of every file in data/calibration/."""
    from live_fit import validate_builtin

    return validate_builtin()
