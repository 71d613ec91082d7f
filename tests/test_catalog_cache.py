"""The catalog cache makes loads faster and never changes what is loaded."""

from pathlib import Path

import pytest

from selfhost.catalog import cache
from selfhost.catalog.loader import builtin_data_dir, load_catalog


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(directory))
    return directory


def overlay(tmp_path: Path, price: float) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "rental_offers:\n"
        "  - id: my-h100\n"
        "    provider: Me\n"
        "    gpu: h100-sxm-80gb\n"
        f"    usd_per_gpu_hour: {price}\n"
        "    source: my quote\n"
        "    as_of: 2026-11-01\n",
        encoding="utf-8",
    )
    return path


def test_a_second_load_is_served_from_the_cache_and_equal(cache_dir: Path):
    first = load_catalog(env={})
    assert len(list(cache_dir.glob("catalog-*.pickle"))) == 1
    assert load_catalog(env={}) == first
    assert load_catalog(env={}, use_cache=False) == first


def test_editing_an_overlay_is_seen_at_once(cache_dir: Path, tmp_path: Path):
    path = overlay(tmp_path, 1.23)
    assert {o.id: o.usd_per_gpu_hour for o in load_catalog([path], env={}).rental_offers}["my-h100"] == 1.23
    overlay(tmp_path, 4.56)
    assert {o.id: o.usd_per_gpu_hour for o in load_catalog([path], env={}).rental_offers}["my-h100"] == 4.56


def test_a_corrupt_cache_entry_falls_back_to_a_normal_load(cache_dir: Path):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    for entry in cache_dir.glob("catalog-*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert load_catalog(env={}) == expected


@pytest.mark.parametrize("setting", ["off", "", "0"])
def test_the_cache_can_be_switched_off(setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, setting)
    monkeypatch.chdir(tmp_path)
    load_catalog(env={})
    assert cache.cache_dir({cache.CACHE_ENV_VAR: setting}) is None
    assert not list(tmp_path.rglob("catalog-*.pickle"))


def test_an_unwritable_cache_location_does_not_break_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(blocker / "cache"))
    assert load_catalog(env={}).gpus


def test_the_key_covers_file_contents_and_old_entries_are_pruned(cache_dir: Path, tmp_path: Path):
    files = sorted(builtin_data_dir().glob("*.yaml"))
    assert cache.cache_key(files) == cache.cache_key(files)
    path = overlay(tmp_path, 1.0)
    before = cache.cache_key([*files, path])
    overlay(tmp_path, 2.0)
    assert cache.cache_key([*files, path]) != before
    for price in range(cache.KEEP_ENTRIES + 3):
        load_catalog([overlay(tmp_path, price + 0.5)], env={})
    assert len(list(cache_dir.glob("catalog-*.pickle"))) == cache.KEEP_ENTRIES


def test_default_location_follows_xdg():
    assert cache.cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/selfhost")
