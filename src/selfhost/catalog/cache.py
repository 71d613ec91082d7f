"""A cache of validated catalogs as plain JSON, checked before use, so a run skips YAML and pydantic.

An entry is two files, in the manner of mypy's cache: ``catalog-KEY.json`` holds the validated
catalog as plain data (``Catalog.model_dump(mode="json")``) and ``catalog-KEY.meta.json`` a small
record: format, selfhost version, the key and the SHA-256 digest of the data file's bytes
(with the key). A read checks the record against the key and the digest against the bytes
before it parses anything; any mismatch, a truncated or foreign file, or data that does not
build a catalog is a miss, and the caller rebuilds the entry from the YAML. JSON executes
nothing when read (this cache never unpickles), and the digest catches a corrupted or
replaced data file. It is not a signature: whoever can write both files can also edit the
catalog overlays themselves.

The key hashes everything the result depends on: the bytes and paths of every catalog file
read, the code that validates them (schema, loader, this module and the plain classes), and
the versions of selfhost and pydantic. A changed price, overlay or schema gives a new key, so
a stale entry is never read; old entries are pruned.

The cache lives in ``$SELFHOST_CACHE_DIR`` if set (``off`` or empty disables it), else
``$XDG_CACHE_HOME/selfhost`` or ``~/.cache/selfhost``. Every failure to read or write it falls
back silently to a normal load: the cache can make a run faster, never wrong.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selfhost._version import __version__

CACHE_ENV_VAR = "SELFHOST_CACHE_DIR"
KEEP_ENTRIES = 16  # enough for a few overlay combinations; each entry is ~150 KB
FORMAT = 2  # 1 was a pickle of the pydantic catalog (never read any more)
# the code that decides what a valid catalog is and how it is read back: a change invalidates every entry
_HERE = Path(__file__).parent
_CODE = tuple(_HERE / name for name in ("schema.py", "loader.py", "cache.py", "entries.py"))
DATA_SUFFIX = ".json"
META_SUFFIX = ".meta.json"


def cache_dir(env: Mapping[str, str]) -> Path | None:
    """Where cached catalogs go, or None when caching is switched off."""
    configured = env.get(CACHE_ENV_VAR)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false") else Path(configured)
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "selfhost"


def _pydantic_version_file() -> bytes:
    """pydantic's version module, read without importing pydantic (a cache hit must not)."""
    spec = importlib.util.find_spec("pydantic")
    if spec is None or spec.origin is None:
        return b"no pydantic"
    return (Path(spec.origin).parent / "version.py").read_bytes()


def cache_key(files: Sequence[Path]) -> str | None:
    """Hash of the inputs of a load; None if a file cannot be read (the load will say why)."""
    digest = hashlib.sha256(f"selfhost {__version__} cache format {FORMAT}\0".encode())
    try:
        digest.update(_pydantic_version_file())
        for source in _CODE:
            digest.update(source.read_bytes())
        for path in files:
            digest.update(str(path.resolve()).encode() + b"\0")
            digest.update(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()[:32]


def payload_digest(key: str, data: bytes) -> str:
    """The digest stored beside a data file: SHA-256 of the key and the file's bytes."""
    return hashlib.sha256(key.encode() + b"\0" + data).hexdigest()


def paths(directory: Path, key: str) -> tuple[Path, Path]:
    """The data file and the meta record of the entry ``key``."""
    stem = directory / f"catalog-{key}"
    return stem.with_name(stem.name + DATA_SUFFIX), stem.with_name(stem.name + META_SUFFIX)


def read(directory: Path, key: str) -> dict[str, Any] | None:
    """The cached catalog data for ``key``, checked against its record, or None on a miss or any problem."""
    data_path, meta_path = paths(directory, key)
    try:
        meta = json.loads(meta_path.read_bytes())
        data = data_path.read_bytes()
        expected = {"format": FORMAT, "selfhost": __version__, "key": key, "bytes": len(data)}
        if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
            return None
        if meta.get("sha256") != payload_digest(key, data):
            return None
        catalog = json.loads(data)
    except (OSError, ValueError):  # missing, unreadable, truncated or not JSON: a miss
        return None
    return catalog if isinstance(catalog, dict) else None


def write(directory: Path, key: str, catalog: Mapping[str, Any]) -> None:
    """Store the catalog data under ``key`` (data first, then its record) and prune old entries.

    Each file is written to a temporary name and renamed into place, so a reader sees a whole
    file or none; a record without matching data (a crash between the two) fails the digest.
    Errors are ignored.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(catalog, separators=(",", ":"), allow_nan=False).encode()
        meta = {"format": FORMAT, "selfhost": __version__, "key": key, "bytes": len(data)}
        meta["sha256"] = payload_digest(key, data)
        data_path, meta_path = paths(directory, key)
        _replace(data_path, data)
        _replace(meta_path, json.dumps(meta).encode())
        _prune(directory)
    except (OSError, ValueError):
        return


def _replace(target: Path, content: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, target)


def _prune(directory: Path) -> None:
    """Keep the newest entries; remove older ones and pickles of the old format (never read)."""
    for old_format in directory.glob("catalog-*.pickle"):
        old_format.unlink(missing_ok=True)
    metas = sorted(directory.glob(f"catalog-*{META_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for meta in metas[KEEP_ENTRIES:]:
        key = meta.name.removeprefix("catalog-").removesuffix(META_SUFFIX)
        for path in paths(directory, key):
            path.unlink(missing_ok=True)
    kept = {meta.name.removesuffix(META_SUFFIX) for meta in metas[:KEEP_ENTRIES]}
    for data in directory.glob(f"catalog-*{DATA_SUFFIX}"):
        if not data.name.endswith(META_SUFFIX) and data.name.removesuffix(DATA_SUFFIX) not in kept:
            data.unlink(missing_ok=True)  # data without a record
