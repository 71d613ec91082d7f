"""A cache of validated catalogs, so a run skips YAML parsing and pydantic validation.

The key hashes everything the result depends on: the bytes of every catalog file read, the
schema's source, and the versions of selfhost, Python and pydantic. Any change to a price, an
overlay or the schema gives a new key, so a stale entry is never read; old entries are pruned.

The cache lives in ``$SELFHOST_CACHE_DIR`` if set (``off`` or empty disables it), else
``$XDG_CACHE_HOME/selfhost`` or ``~/.cache/selfhost``. It holds pickles this program wrote
itself; anyone able to write there can already run code as you. Every failure to read or
write it falls back silently to a normal load: the cache can make a run faster, never wrong.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from selfhost._version import __version__

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog

CACHE_ENV_VAR = "SELFHOST_CACHE_DIR"
KEEP_ENTRIES = 16  # enough for a few overlay combinations; each entry is ~100 KB
# the code that decides what a valid catalog is: a change to either invalidates every entry
_VALIDATION_SOURCES = (Path(__file__).with_name("schema.py"), Path(__file__).with_name("loader.py"))


def cache_dir(env: Mapping[str, str]) -> Path | None:
    """Where cached catalogs go, or None when caching is switched off."""
    configured = env.get(CACHE_ENV_VAR)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false") else Path(configured)
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "selfhost"


def cache_key(files: Sequence[Path]) -> str | None:
    """Hash of the inputs of a load; None if a file cannot be read (the load will say why)."""
    from pydantic.version import VERSION as pydantic_version

    digest = hashlib.sha256()
    for part in (__version__, sys.version, pydantic_version):
        digest.update(part.encode())
    try:
        for source in _VALIDATION_SOURCES:
            digest.update(source.read_bytes())
        for path in files:
            digest.update(str(path.resolve()).encode() + b"\0")
            digest.update(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()[:32]


def read(directory: Path, key: str) -> Catalog | None:
    """The cached catalog for ``key``, or None on a miss or any problem."""
    from selfhost.catalog.schema import Catalog

    try:
        with (directory / f"catalog-{key}.pickle").open("rb") as handle:
            catalog = pickle.load(handle)
    except Exception:  # a missing, truncated or foreign file is a miss, never an error
        return None
    return catalog if isinstance(catalog, Catalog) else None


def write(directory: Path, key: str, catalog: Catalog) -> None:
    """Store ``catalog`` under ``key`` atomically and prune old entries; errors are ignored."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"catalog-{key}.pickle"
        temporary = directory / f".catalog-{key}.{os.getpid()}.tmp"
        with temporary.open("wb") as handle:
            pickle.dump(catalog, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, target)
        entries = sorted(directory.glob("catalog-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        return
