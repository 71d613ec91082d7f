"""A hostile catalog cache, through the real command: whatever is planted in $SELFHOST_CACHE_DIR, the
answer is the one the YAML gives, nothing planted runs, and nothing blocks.

tests/test_catalog_cache.py holds the cache's unit tests (the HMAC, ownership and mode checks,
pruning); here each case plants something and runs `selfhost crossover` as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

from hostile import assert_ok, run
from selfhost.catalog import cache
from selfhost.catalog.loader import builtin_data_dir

QUESTION = ("crossover", "--rps", "5", "-m", "llama-3.1-8b", "-g", "h100-sxm-80gb", "--format", "json")


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(directory))
    return directory


def truth(monkeypatch: pytest.MonkeyPatch) -> str:
    """The answer with the cache off."""
    with monkeypatch.context() as m:
        m.setenv(cache.CACHE_ENV_VAR, "off")
        ran = run(*QUESTION)
    assert_ok(ran)
    return ran.stdout


def builtin_key() -> str:
    key = cache.cache_key(sorted(builtin_data_dir().glob("*.yaml")))
    assert key is not None
    return key


def forge(cache_dir: Path, data: bytes, digest: str) -> None:
    key = builtin_key()
    data_path, meta_path = cache.paths(cache_dir, key)
    data_path.write_bytes(data)
    record = {"format": cache.FORMAT, "selfhost": cache.__version__, "key": key, "bytes": len(data)}
    meta_path.write_text(json.dumps({**record, cache.MAC_FIELD: digest, "sha256": digest}))


def cheaper(cache_dir: Path) -> bytes:
    data_path, _ = cache.paths(cache_dir, builtin_key())
    document = json.loads(data_path.read_bytes())
    for offer in document["rental_offers"]:
        offer["usd_per_gpu_hour"] = 0.01
    return json.dumps(document).encode()


@pytest.mark.parametrize("digest", ["plain-sha256", "keyed-by-someone-else", "garbage"])
def test_a_forged_entry_changes_no_answer(cache_dir: Path, monkeypatch: pytest.MonkeyPatch, digest: str):
    expected = truth(monkeypatch)
    assert_ok(run(*QUESTION))  # the honest entry and its secret exist
    forged = cheaper(cache_dir)
    value = {
        "plain-sha256": hashlib.sha256(forged).hexdigest(),
        "keyed-by-someone-else": cache.payload_digest(builtin_key(), forged, os.urandom(cache.SECRET_BYTES)),
        "garbage": "0" * 64,
    }[digest]
    forge(cache_dir, forged, value)
    ran = run(*QUESTION)
    assert_ok(ran)
    assert ran.stdout == expected


def test_a_planted_pickle_never_runs(cache_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    expected = truth(monkeypatch)
    marker = tmp_path / "executed"
    cache_dir.mkdir()
    bomb = pickle.dumps(Exploit(marker))
    (cache_dir / f"catalog-{builtin_key()}.pickle").write_bytes(bomb)
    forge(cache_dir, bomb, hashlib.sha256(bomb).hexdigest())
    ran = run(*QUESTION)
    assert_ok(ran)
    assert ran.stdout == expected and not marker.exists()


@pytest.mark.parametrize("plant", ["fifo-as-data", "fifo-as-secret", "dev-zero-as-data", "directory-as-meta"])
def test_special_files_in_the_cache_neither_block_nor_change_the_answer(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, plant: str
):
    expected = truth(monkeypatch)
    assert_ok(run(*QUESTION))
    data_path, meta_path = cache.paths(cache_dir, builtin_key())
    target = {
        "fifo-as-data": data_path,
        "fifo-as-secret": cache_dir / cache.SECRET_FILE,
        "dev-zero-as-data": data_path,
        "directory-as-meta": meta_path,
    }[plant]
    target.unlink()
    if plant.startswith("fifo"):
        os.mkfifo(target)
    elif plant.startswith("dev-zero"):
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    ran = run(*QUESTION)
    assert_ok(ran)
    assert ran.stdout == expected


def test_a_cache_directory_full_of_junk(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    expected = truth(monkeypatch)
    cache_dir.mkdir()
    for i in range(50):
        (cache_dir / f"catalog-{i:032x}.json").write_text("not json")
        (cache_dir / f"catalog-{i:032x}.meta.json").write_text("[1, 2, 3]")
    (cache_dir / f"catalog-{builtin_key()}.meta.json").write_text("[" * 100_000)
    ran = run(*QUESTION)
    assert_ok(ran)
    assert ran.stdout == expected
