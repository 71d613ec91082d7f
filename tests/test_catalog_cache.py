"""The catalog cache: plain JSON checked before use; it makes loads faster and never changes what is loaded."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from selfhost.catalog import cache, entries, schema
from selfhost.catalog.loader import builtin_data_dir, load_catalog

BUILTIN_FILES = sorted(builtin_data_dir().glob("*.yaml"))


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


def entry_files(directory: Path) -> tuple[Path, Path]:
    """The data file and meta record of the one entry in ``directory``."""
    (meta,) = directory.glob(f"catalog-*{cache.META_SUFFIX}")
    key = meta.name.removeprefix("catalog-").removesuffix(cache.META_SUFFIX)
    return cache.paths(directory, key)


def secret_of(directory: Path) -> bytes:
    return (directory / cache.SECRET_FILE).read_bytes()


def plant(directory: Path, key: str, data: bytes, digest: str) -> tuple[Path, Path]:
    """An entry for ``key`` with a record that matches ``data`` except, perhaps, for the digest."""
    directory.mkdir(exist_ok=True)
    data_path, meta_path = cache.paths(directory, key)
    data_path.write_bytes(data)
    record = {"format": cache.FORMAT, "selfhost": cache.__version__, "key": key, "bytes": len(data)}
    meta_path.write_text(json.dumps({**record, cache.MAC_FIELD: digest}))
    return data_path, meta_path


def builtin_key() -> str:
    key = cache.cache_key(BUILTIN_FILES)
    assert key is not None
    return key


# --------------------------------------------------------------------------- hits and misses


def test_a_second_load_is_served_from_the_cache_and_equal(cache_dir: Path):
    first = load_catalog(env={})
    data, meta = entry_files(cache_dir)
    digest = cache.payload_digest(builtin_key(), data.read_bytes(), secret_of(cache_dir))
    assert json.loads(meta.read_text())[cache.MAC_FIELD] == digest
    assert load_catalog(env={}) == first
    assert load_catalog(env={}, use_cache=False) == first


def test_cached_entries_are_exactly_the_validated_ones(cache_dir: Path):
    """A hit and a fresh validation give the same plain data, field for field, as pydantic dumped it."""
    validated = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    cached = load_catalog(env={})
    assert cached == validated
    dumped = schema.Catalog.model_validate(
        {name: [e.model_dump() for e in getattr(validated, name)] for name in entries.SECTION_TYPES}
    ).model_dump(mode="json")
    assert cached.model_dump(mode="json") == dumped
    llama = next(m for m in cached.models if m.id == "llama-3.3-70b")
    assert isinstance(llama, entries.Model) and isinstance(llama.architecture, entries.Architecture)
    assert isinstance(llama.as_of, type(validated.models[0].as_of)) and isinstance(llama.tags, tuple)


def test_the_plain_classes_have_the_schema_fields_in_order():
    """A field added to the schema must be added to the plain class too (and the cache key changes)."""
    pairs = [(getattr(schema, c.__name__), c) for c in entries.CLASSES]
    for model, plain in pairs:
        assert list(model.model_fields) == list(plain.model_fields), plain.__name__
        for name, default in plain.model_fields.items():
            info = model.model_fields[name]
            if default is entries.REQUIRED:
                assert info.is_required(), (plain.__name__, name)
            elif isinstance(default, entries.Factory):
                assert info.default_factory is not None and info.default_factory() == default.make()
            else:
                assert info.default == default, (plain.__name__, name)


def test_plain_records_behave_as_frozen_dataclasses():
    gpu = load_catalog(env={}).gpus[0]
    same = gpu.model_copy()
    assert same == gpu and hash(same) == hash(gpu) and same is not gpu
    assert gpu.model_copy(update={"power_w": 1.0}) != gpu
    assert repr(gpu).startswith(f"Gpu(id={gpu.id!r}, ")
    with pytest.raises(dataclasses.FrozenInstanceError):
        gpu.power_w = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="no fields"):
        entries.Gpu(**{**gpu.model_dump(), "watts": 1})
    with pytest.raises(TypeError, match="needs the field 'power_w'"):
        entries.Gpu(**{k: v for k, v in gpu.model_dump().items() if k != "power_w"})
    engines = load_catalog(env={}).engines
    assert (
        engines[0].platform_efficiency
        is not entries.EngineProfile(
            **{**engines[0].model_dump(), "platform_efficiency": {}}
        ).platform_efficiency
    )
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(gpu)) == gpu == copy.deepcopy(gpu)


def test_a_cache_hit_imports_neither_pydantic_nor_yaml(cache_dir: Path):
    load_catalog(env={})
    probe = (
        "import sys; from selfhost.catalog.loader import load_catalog; c = load_catalog(env={}); "
        "print(len(c.gpus), [m for m in ('pydantic', 'yaml') if m in sys.modules])"
    )
    env = {**os.environ, cache.CACHE_ENV_VAR: str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split(" ", 1)[1].strip() == "[]"
    assert int(out.stdout.split(" ", 1)[0]) == len(load_catalog(env={}).gpus)


# --------------------------------------------------------------------------- broken or planted entries


class Exploit:
    """Unpickling this creates the marker file: a pickle that executes code when read."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_is_never_executed(cache_dir: Path, tmp_path: Path):
    load_catalog(env={})  # the directory and its secret exist: the planter does all it can
    key = builtin_key()
    marker = tmp_path / "executed"
    bomb = pickle.dumps(Exploit(marker))
    (cache_dir / f"catalog-{key}.pickle").write_bytes(bomb)  # where the old format lived
    data, _ = plant(cache_dir, key, bomb, cache.payload_digest(key, bomb, secret_of(cache_dir)))
    catalog = load_catalog(env={})  # even with a record that verifies, the bytes are not JSON
    assert not marker.exists()
    assert catalog == load_catalog(env={}, use_cache=False)
    assert json.loads(data.read_bytes())["gpus"]  # rebuilt as JSON
    assert not (cache_dir / f"catalog-{key}.pickle").exists()  # the old format is pruned, never read


def tempting(document: dict) -> bytes:
    document["rental_offers"][0]["usd_per_gpu_hour"] = 0.01  # valid, well-formed and wrong
    return json.dumps(document, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "digest", ["sha256-of-the-bytes", "sha256-of-key-and-bytes", "hmac-with-another-secret"]
)
def test_a_planted_entry_with_a_valid_looking_digest_is_not_served(cache_dir: Path, digest: str):
    """Whoever plants an entry can compute any unkeyed digest of it; only this user's secret verifies."""
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    key = builtin_key()
    data_path, _ = entry_files(cache_dir)
    forged = tempting(json.loads(data_path.read_bytes()))
    value = {
        "sha256-of-the-bytes": hashlib.sha256(forged).hexdigest(),
        "sha256-of-key-and-bytes": hashlib.sha256(key.encode() + b"\0" + forged).hexdigest(),
        "hmac-with-another-secret": cache.payload_digest(key, forged, b"x" * cache.SECRET_BYTES),
    }[digest]
    plant(cache_dir, key, forged, value)
    assert cache.read(cache_dir, key) is None
    catalog = load_catalog(env={})
    assert catalog == expected and catalog.rental_offers[0].usd_per_gpu_hour != 0.01
    assert cache.read(cache_dir, key) is not None  # rebuilt, and the rebuilt entry verifies


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to plant another user's file"
)
def test_an_entry_owned_by_another_user_is_never_read(cache_dir: Path):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    key = builtin_key()
    data_path, meta_path = entry_files(cache_dir)
    forged = tempting(json.loads(data_path.read_bytes()))
    plant(cache_dir, key, forged, cache.payload_digest(key, forged, secret_of(cache_dir)))
    for path in (data_path, meta_path):
        os.chown(path, 4242, 4242)  # someone else's files with a record made with our secret
    assert cache.read(cache_dir, key) is None
    assert load_catalog(env={}) == expected


@pytest.mark.parametrize("which", ["data", "meta", "secret"])
def test_an_entry_others_may_write_is_not_read(cache_dir: Path, which: str):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    data_path, meta_path = entry_files(cache_dir)
    target = {"data": data_path, "meta": meta_path, "secret": cache_dir / cache.SECRET_FILE}[which]
    target.chmod(0o666)
    assert cache.read(cache_dir, builtin_key()) is None
    assert load_catalog(env={}) == expected


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero", "huge"])
def test_a_fifo_device_or_huge_file_in_place_of_an_entry_is_a_miss_without_blocking(
    cache_dir: Path, kind: str
):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    data_path, _ = entry_files(cache_dir)
    data_path.unlink()
    if kind == "fifo":
        os.mkfifo(data_path)
    elif kind == "link-to-dev-zero":
        data_path.symlink_to("/dev/zero")
    else:
        with data_path.open("wb") as f:
            f.truncate(cache.MAX_ENTRY_BYTES + 1)  # sparse: no disk used
    assert cache.read(cache_dir, builtin_key()) is None  # returns at once: never opened for blocking reads
    assert load_catalog(env={}) == expected


def test_one_changed_price_in_the_cache_file_is_detected_and_the_entry_rebuilt(cache_dir: Path):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    data, _ = entry_files(cache_dir)
    data.write_bytes(tempting(json.loads(data.read_bytes())))  # the JSON still valid and well formed
    assert cache.read(cache_dir, builtin_key()) is None  # the digest no longer matches
    catalog = load_catalog(env={})
    assert catalog == expected
    assert catalog.rental_offers[0].usd_per_gpu_hour == expected.rental_offers[0].usd_per_gpu_hour != 0.01
    rebuilt = json.loads(data.read_bytes())["rental_offers"][0]["usd_per_gpu_hour"]
    assert rebuilt == expected.rental_offers[0].usd_per_gpu_hour
    assert cache.read(cache_dir, builtin_key()) is not None  # the rebuilt entry verifies


@pytest.mark.parametrize("which", ["data", "meta"])
def test_a_truncated_file_is_a_miss(cache_dir: Path, which: str):
    expected = load_catalog(env={}, use_cache=False)
    load_catalog(env={})
    data, meta = entry_files(cache_dir)
    target = data if which == "data" else meta
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
    assert cache.read(cache_dir, builtin_key()) is None
    assert load_catalog(env={}) == expected


def test_data_that_builds_no_catalog_is_a_miss(cache_dir: Path):
    """Even with a matching record (a bug or a newer writer), data of the wrong shape is rebuilt."""
    expected = load_catalog(env={}, use_cache=False)
    key = builtin_key()
    cache.write(cache_dir, key, {"gpus": [{"id": "only-an-id"}]})
    assert cache.read(cache_dir, key) is not None
    assert load_catalog(env={}) == expected


def test_a_record_of_another_key_or_version_is_a_miss(cache_dir: Path):
    load_catalog(env={})
    _, meta = entry_files(cache_dir)
    record = json.loads(meta.read_text())
    for field, value in (("key", "0" * 32), ("selfhost", "0.0.0"), ("format", 1)):
        meta.write_text(json.dumps({**record, field: value}))
        assert cache.read(cache_dir, builtin_key()) is None, field


# --------------------------------------------------------------------------- keys, switches, pruning


def test_editing_an_overlay_is_seen_at_once(cache_dir: Path, tmp_path: Path):
    path = overlay(tmp_path, 1.23)
    assert {o.id: o.usd_per_gpu_hour for o in load_catalog([path], env={}).rental_offers}["my-h100"] == 1.23
    overlay(tmp_path, 4.56)
    assert {o.id: o.usd_per_gpu_hour for o in load_catalog([path], env={}).rental_offers}["my-h100"] == 4.56


@pytest.mark.parametrize("setting", ["off", "", "0"])
def test_the_cache_can_be_switched_off(setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, setting)
    monkeypatch.chdir(tmp_path)
    load_catalog(env={})
    assert cache.cache_dir({cache.CACHE_ENV_VAR: setting}) is None
    assert not list(tmp_path.rglob("catalog-*"))


def test_an_unwritable_cache_location_does_not_break_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(blocker / "cache"))
    assert load_catalog(env={}).gpus


def test_the_key_covers_file_contents_and_old_entries_are_pruned(cache_dir: Path, tmp_path: Path):
    assert cache.cache_key(BUILTIN_FILES) == cache.cache_key(BUILTIN_FILES)
    path = overlay(tmp_path, 1.0)
    before = cache.cache_key([*BUILTIN_FILES, path])
    overlay(tmp_path, 2.0)
    assert cache.cache_key([*BUILTIN_FILES, path]) != before
    for price in range(cache.KEEP_ENTRIES + 3):
        load_catalog([overlay(tmp_path, price + 0.5)], env={})
    assert len(list(cache_dir.glob(f"catalog-*{cache.META_SUFFIX}"))) == cache.KEEP_ENTRIES
    data_files = [p for p in cache_dir.glob("catalog-*.json") if not p.name.endswith(cache.META_SUFFIX)]
    assert len(data_files) == cache.KEEP_ENTRIES


def test_default_location_follows_xdg():
    assert cache.cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/selfhost")


def test_the_headline_command_on_a_cache_hit_imports_neither_pydantic_nor_yaml(cache_dir: Path):
    """The whole `selfhost crossover --rps 5 --format json`, as the console script runs it."""
    probe = (
        "import sys\n"
        "from selfhost.cli.app import main\n"
        "sys.argv = ['selfhost', 'crossover', '--rps', '5', '--format', 'json']\n"
        "try:\n    main()\n"
        "finally:\n"
        "    sys.stderr.write('IMPORTED ' + repr(sorted(m for m in ('pydantic', 'yaml') if m in sys.modules)))\n"
    )
    env = {**os.environ, cache.CACHE_ENV_VAR: str(cache_dir)}
    first = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "IMPORTED ['pydantic', 'yaml']" in first.stderr  # a miss validates the YAML
    second = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert second.returncode == 0, second.stderr
    assert "IMPORTED []" in second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
