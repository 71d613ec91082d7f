"""The calibration recomputed now: what the shipped profiles and the docs' accuracy figures must equal.

`recompute_fit` runs ``python scripts/calibrate.py --json FILE`` in-process: every engine profile is
refitted to every built-in measurement file, in sample and leaving one source out, and the report it
returns is the document ``--write`` stores in docs/calibration-fit.json. Nothing about the engines,
the datasets or the files is assumed here, so new engines, datasets and measurement files are
covered as the script covers them.

`validate_builtin` runs ``selfhost validate`` on its default file and on every measurement file in
data/calibration/: the shipped profiles' in-sample errors, per point, that the docs quote.

conftest.py turns both into session fixtures (`live_fit`, `live_validation`): the fit takes about
17 s, so it runs once per test session.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_DIR = ROOT / "data" / "calibration"


def script(name: str) -> ModuleType:
    """scripts/NAME.py as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(f"selfhost_script_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader, name
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recompute_fit(report_path: Path) -> dict[str, Any]:
    """The fit report of ``python scripts/calibrate.py --json REPORT_PATH``, computed now."""
    calibrate = script("calibrate")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = calibrate.main(["--json", str(report_path)])
    assert status == 0, "scripts/calibrate.py failed"
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return report


def measurement_files() -> list[Path]:
    """Every YAML file in data/calibration/ that holds a `measurements:` list."""
    files = []
    for path in sorted(CALIBRATION_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "measurements" in document:
            files.append(path)
    assert files, f"no measurement files in {CALIBRATION_DIR}"
    return files


def validate_json(*args: str) -> dict[str, Any]:
    """``selfhost validate ARGS --format json --worst 10``, run as a user runs it (a subprocess)."""
    done = subprocess.run(
        [sys.executable, "-m", "selfhost", "validate", *args, "--format", "json", "--worst", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "SELFHOST_CATALOG"},  # built-in catalog only
    )
    assert done.returncode == 0, f"selfhost validate {' '.join(args)} failed:\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def validate_builtin() -> dict[str, dict[str, Any]]:
    """`selfhost validate` (key ``""``: the default file) and ``selfhost validate FILE`` for every
    measurement file in data/calibration/ (key: its path from the repository root, as the docs
    write it). Each value is the command's JSON document: ``results`` and ``summary``."""
    reports = {"": validate_json()}
    for path in measurement_files():
        relative = path.relative_to(ROOT).as_posix()
        reports[relative] = validate_json(relative)
    return reports
