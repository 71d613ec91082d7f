"""scripts/mutants.py stays able to check something: every mutant's text is still in the code.

Kept apart from the engine's unit tests, and left out of the mutants' own runs (a mutated copy
fails this test by construction, which would count every mutant as caught).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def test_every_mutant_of_the_mutation_script_still_applies_exactly_once(monkeypatch: pytest.MonkeyPatch):
    """scripts/mutants.py breaks the engine on purpose and expects an engine unit test to fail; a
    mutant whose text a refactor changed would silently stop checking anything (the script stops
    at it), so each one's text must still occur exactly once in its file."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("mutants", root / "scripts" / "mutants.py")
    assert spec is not None and spec.loader is not None
    mutants = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutants", mutants)  # its dataclasses look their module up there
    spec.loader.exec_module(mutants)
    assert len(mutants.MUTANTS) >= 27
    import selfhost

    package = Path(selfhost.__file__).resolve().parent  # the code under test: src/ or the installed wheel
    for m in mutants.MUTANTS:
        assert m.path.startswith("src/selfhost/"), m.path
        source = package / m.path.removeprefix("src/selfhost/")
        assert source.read_text(encoding="utf-8").count(m.old) == 1, m.name
