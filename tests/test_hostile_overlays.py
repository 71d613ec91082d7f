"""Hostile catalog overlays (--catalog FILE or DIR, catalog validate, $SELFHOST_CATALOG, --baseline
catalogs): refused in one line naming the file, bounded in time and memory, nothing executed.

Numbers in overlays (booleans, infinities, out-of-range figures, a trillion layers) are the
subject of tests/test_hostile_numbers.py and tests/test_hostile_layers.py; here: the files
themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile import HOSTILE_YAML, assert_ok, assert_refused, hostile_yaml, run, sparse_file, write
from selfhost.inputs import MAX_DOCUMENT_BYTES

CHEAP = ("-m", "llama-3.1-8b", "-g", "h100-sxm-80gb")


def offer(i: int, price: float = 2.0) -> str:
    return (
        f"  - id: my-offer-{i}\n    provider: Mine {i}\n    gpu: h100-sxm-80gb\n"
        f"    usd_per_gpu_hour: {price}\n    source: my own quote\n    as_of: 2026-11-01\n"
    )


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
@pytest.mark.parametrize("how", ["validate", "crossover-catalog", "env"])
def test_a_hostile_overlay_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, how: str
):
    marker = tmp_path / "executed"
    path = write(tmp_path / "overlay.yaml", hostile_yaml(name, marker))
    if how == "validate":
        ran = run("catalog", "validate", path)
    elif how == "crossover-catalog":
        ran = run("crossover", "--rps", "5", *CHEAP, "--catalog", path)
    else:
        monkeypatch.setenv("SELFHOST_CATALOG", str(path))
        ran = run("crossover", "--rps", "5", *CHEAP)
    if how == "validate":  # validate reports the file's errors and exits 1 (its own convention), or 2
        assert ran.code in (1, 2), ran.stderr
        assert str(path) in ran.stdout + ran.stderr and "Traceback" not in ran.stderr
    else:
        assert_refused(ran, str(path))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["nested-flow-100", "alias-bomb", "python-object", "int-of-5000-digits"])
def test_a_hostile_file_in_an_overlay_directory_is_named(tmp_path: Path, name: str):
    directory = tmp_path / "overlays"
    directory.mkdir()
    write(directory / "a-good.yaml", "rental_offers:\n" + offer(1))
    bad = write(directory / "b-bad.yaml", hostile_yaml(name, tmp_path / "executed"))
    assert_refused(run("crossover", "--rps", "5", *CHEAP, "--catalog", directory), str(bad))
    assert not (tmp_path / "executed").exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge", "directory-without-yaml", "not-utf8"])
def test_an_overlay_that_is_not_a_readable_catalog_file(tmp_path: Path, kind: str):
    import os

    if kind == "dev-zero":
        path = tmp_path / "zero.yaml"
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "fifo.yaml"
        os.mkfifo(path)
    elif kind == "huge":
        path = sparse_file(tmp_path / "huge.yaml", MAX_DOCUMENT_BYTES + 1)
    elif kind == "directory-without-yaml":
        path = tmp_path / "empty"
        path.mkdir()
        write(path / "notes.txt", "not a catalog\n")
    else:
        path = tmp_path / "latin1.yaml"
        path.write_bytes(b"rental_offers: []\n# caf\xe9\n")
    message = assert_refused(run("crossover", "--rps", "5", *CHEAP, "--catalog", path), str(path))
    if kind == "huge":
        assert "16 MB" in message


def test_a_bom_and_crlf_line_ends_are_fine(tmp_path: Path):
    path = tmp_path / "windows.yaml"
    path.write_bytes(("\ufeffrental_offers:\r\n" + offer(1).replace("\n", "\r\n")).encode("utf-8"))
    assert_ok(run("crossover", "--rps", "5", *CHEAP, "--catalog", path))


def test_yaml_12_exponents_are_numbers(tmp_path: Path):
    """``2e0`` is a string to PyYAML (YAML 1.1); selfhost's loader reads it as YAML 1.2 does."""
    path = write(tmp_path / "prices.yaml", "rental_offers:\n" + offer(1, price=2.0).replace("2.0", "2e0"))
    assert "usd_per_gpu_hour: 2e0" in path.read_text(encoding="utf-8")
    ran = run("catalog", "show", "my-offer-1", "--catalog", path, "--format", "json")
    assert_ok(ran)
    assert '"usd_per_gpu_hour": 2.0' in ran.stdout


def test_a_catalog_of_thousands_of_offers_is_answered_bounded(tmp_path: Path):
    """Thousands of offers for one GPU: plan and crossover stay within the case's deadline
    (plan keeps only the cheapest offer of each instance size, see selfhost.plan)."""
    path = write(
        tmp_path / "offers.yaml", "rental_offers:\n" + "".join(offer(i, 2 + i / 1000) for i in range(3000))
    )
    workloads = write(
        tmp_path / "w.yaml",
        "workloads:\n  - name: chat\n    requests_per_s: 5\n    input_tokens: 500\n    output_tokens: 100\n"
        "    model: llama-3.1-8b\n",
    )
    assert_ok(run("plan", workloads, "-g", "h100-sxm-80gb", "--catalog", path, seconds=60))
    assert_ok(run("crossover", "--rps", "5", *CHEAP, "--catalog", path, seconds=60))


def test_long_strings_and_many_aliases_are_just_data(tmp_path: Path):
    notes = "x" * 200_000
    path = write(
        tmp_path / "long.yaml",
        "rental_offers:\n" + offer(1) + f"    notes: {notes}\n",
    )
    assert_ok(run("crossover", "--rps", "5", *CHEAP, "--catalog", path))


@pytest.mark.parametrize("name", ["nested-flow-100", "alias-bomb", "python-object"])
def test_a_hostile_baseline_catalog_is_one_line(tmp_path: Path, name: str):
    path = write(tmp_path / "old.yaml", hostile_yaml(name, tmp_path / "executed"))
    assert_refused(run("crossover", "--rps", "5", *CHEAP, "--baseline", path), str(path))
    assert not (tmp_path / "executed").exists()


@pytest.mark.parametrize("shape", ["name-too-long", "under-a-file"])
@pytest.mark.parametrize(
    "command",
    [
        "catalog",
        "baseline",
        "plan",
        "validate",
        "workload",
        "import-config",
        "measurements",
        "catalog-validate",
    ],
)
def test_every_reader_refuses_a_path_that_cannot_be_one(tmp_path: Path, command: str, shape: str):
    plain = write(tmp_path / "a-file", "x\n")
    path = str(tmp_path / ("a" * 300 + ".yaml")) if shape == "name-too-long" else str(plain / "in.yaml")
    args = {
        "catalog": ("crossover", "--rps", "5", *CHEAP, "--catalog", path),
        "baseline": ("crossover", "--rps", "5", *CHEAP, "--baseline", path),
        "plan": ("plan", path),
        "validate": ("validate", path),
        "workload": ("workload", path),
        "import-config": ("catalog", "import-config", path, "--id", "x"),
        "measurements": ("measurements", "import", path, "-m", "llama-3.1-8b", "-g", "l4"),
        "catalog-validate": ("catalog", "validate", path),
    }[command]
    assert_refused(run(*args), path[:40])
