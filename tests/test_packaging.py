"""The installed package carries every catalog and calibration file of data/, byte for byte.

In a checkout (editable install) the built-in data directory is data/ itself, so this holds
trivially; CI also runs the suite against the wheel built from a clean clone and against the
sdist install (.ci/run sections 7-8), where it checks what users get: a wheel that dropped
data/calibration/*.yaml, or shipped a stale copy, fails here.
"""

from __future__ import annotations

from pathlib import Path

from selfhost.catalog.loader import builtin_data_dir

ROOT = Path(__file__).resolve().parents[1]


def yaml_files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.suffix in (".yaml", ".yml") and "__pycache__" not in p.parts
    }


def test_the_installed_data_is_every_yaml_file_of_data() -> None:
    repository, installed = yaml_files(ROOT / "data"), yaml_files(builtin_data_dir())
    assert any(name.startswith("calibration/") for name in repository)  # the measurements are data too
    assert sorted(installed) == sorted(repository), (
        f"installed in {builtin_data_dir()}: missing {sorted(set(repository) - set(installed))}, "
        f"extra {sorted(set(installed) - set(repository))}"
    )
    stale = [name for name in repository if installed[name] != repository[name]]
    assert not stale, f"installed copies differ from data/: {stale}"
