"""The installed package carries every catalog and calibration file of data/, byte for byte.

In a checkout (editable install) the built-in data directory is data/ itself, so this holds
trivially; CI also runs the suite against the wheel built from a clean clone and against the
sdist install (.ci/run sections 6-7), where it checks what users get: a wheel that dropped
data/calibration/*.yaml, or shipped a stale copy, fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from selfhost.catalog.loader import builtin_data_dir

ROOT = Path(__file__).resolve().parents[1]


def yaml_files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.suffix in (".yaml", ".yml") and "__pycache__" not in p.parts
    }


def data_problems(repository: Path, installed: Path) -> list[str]:
    """How the installed data directory differs from the repository's data/ (empty: not at all)."""
    want, have = yaml_files(repository), yaml_files(installed)
    problems = [f"missing from {installed}: {name}" for name in sorted(set(want) - set(have))]
    problems += [f"not in data/: {name}" for name in sorted(set(have) - set(want))]
    problems += [
        f"differs from data/: {name}" for name in sorted(set(want) & set(have)) if want[name] != have[name]
    ]
    return problems


def test_the_installed_data_is_every_yaml_file_of_data() -> None:
    assert any(name.startswith("calibration/") for name in yaml_files(ROOT / "data"))  # measurements too
    problems = data_problems(ROOT / "data", builtin_data_dir())
    assert not problems, "\n".join(problems)


def test_a_missing_or_stale_data_file_is_reported(tmp_path: Path) -> None:
    installed = tmp_path / "data"
    shutil.copytree(ROOT / "data", installed)
    assert data_problems(ROOT / "data", installed) == []
    [calibration_file, *_] = sorted((installed / "calibration").glob("*.yaml"))
    calibration_file.unlink()
    (installed / "engines.yaml").write_text("engines: []\n", encoding="utf-8")
    assert data_problems(ROOT / "data", installed) == [
        f"missing from {installed}: calibration/{calibration_file.name}",
        "differs from data/: engines.yaml",
    ]
