"""A cache of validated catalogs as plain JSON, checked before use, so a run skips YAML and pydantic.

An entry is two files, in the manner of mypy's cache: ``catalog-KEY.json`` holds the validated
catalog as plain data (``Catalog.model_dump(mode="json")``) and ``catalog-KEY.meta.json`` a small
record: format, selfhost version, the key, the data file's size and a MAC (keyed BLAKE2b) of
the key and the data file's bytes. A read checks the record against the key and the MAC against
the bytes before it parses anything; any mismatch, a truncated or foreign file, or data that does
not build a catalog is a miss, and the caller rebuilds the entry from the YAML.

What makes a planted entry fail, not just a corrupted one:

- JSON executes nothing when read (this cache never unpickles; old pickles are deleted unread);
- the MAC is keyed with a random secret (``cache.secret``, 32 bytes, mode 0600) that selfhost
  makes on the first write, so a record with a digest anyone can compute (a plain SHA-256 of
  the planted bytes) does not verify;
- the secret and both files of an entry must be owned by the user running selfhost and
  writable by no one else (as ssh checks its keys), checked on the file opened (without
  following links, without blocking, at most `MAX_ENTRY_BYTES`): on a shared machine another
  user's file in the cache, a FIFO, a device or a link to one is never read, even in a
  directory others may write to (a directory selfhost creates is private, mode 0700).

It is not a defence against the same user: whoever can write the secret can edit the catalog
overlays themselves.

The key hashes everything the result depends on: the bytes and paths of every catalog file
read, the code that validates them (schema, loader, this module and the plain classes), and
the versions of selfhost and pydantic. A changed price, overlay or schema gives a new key, so
a stale entry is never read; old entries are pruned.

The cache lives in ``$SELFHOST_CACHE_DIR`` if set (``off`` or empty disables it), else
``$XDG_CACHE_HOME/selfhost`` or ``~/.cache/selfhost``. Every failure to read or write it falls
back silently to a normal load: the cache can make a run faster, never wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selfhost._version import __version__

# BLAKE2b, keyed, is a MAC by design (RFC 7693), as fast as SHA-256 and, imported from the module
# hashlib takes it from, free of hashlib's OpenSSL load (~10 ms of every run, a cache hit included);
# _operator's compare is the one hmac.compare_digest falls back to (hmac imports hashlib).
try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without CPython's _blake2
    from hashlib import blake2b
try:
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest  # type: ignore[no-redef]

CACHE_ENV_VAR = "SELFHOST_CACHE_DIR"
KEEP_ENTRIES = 16  # enough for a few overlay combinations; each entry is ~150 KB
FORMAT = 4  # 1 was a pickle (never read any more); 2 had an unkeyed SHA-256, 3 an HMAC-SHA256
MAC_FIELD = "mac_blake2b"  # the meta record's MAC of the key and the data
MAX_ENTRY_BYTES = 16 * 1024 * 1024  # an entry of the built-in catalog is ~150 KB
SECRET_FILE = "cache.secret"
SECRET_BYTES = 32
PRIVATE_DIR_MODE = 0o700
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


def cache_key(files: Sequence[Path], contents: Sequence[bytes] | None = None) -> str | None:
    """Hash of the inputs of a load: the files' paths and bytes (``contents``, read now if not
    given); None if a file cannot be read (the load will say why)."""
    digest = blake2b(f"selfhost {__version__} cache format {FORMAT}\0".encode(), digest_size=16)
    try:
        digest.update(_pydantic_version_file())
        for source in _CODE:
            digest.update(source.read_bytes())
        for i, path in enumerate(files):
            digest.update(str(path.resolve()).encode() + b"\0")
            digest.update(contents[i] if contents is not None else _read_input(path))
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def _read_input(path: Path) -> bytes:
    from selfhost.errors import InputError
    from selfhost.inputs import read_bytes

    try:
        return read_bytes(path, "catalog file")
    except InputError as exc:
        raise OSError(str(exc)) from None


def payload_digest(key: str, data: bytes, secret: bytes) -> str:
    """The MAC stored beside a data file: BLAKE2b keyed with ``secret``, of the key and the bytes."""
    return blake2b(key.encode() + b"\0" + data, key=secret, digest_size=32).hexdigest()


def paths(directory: Path, key: str) -> tuple[Path, Path]:
    """The data file and the meta record of the entry ``key``."""
    stem = directory / f"catalog-{key}"
    return stem.with_name(stem.name + DATA_SUFFIX), stem.with_name(stem.name + META_SUFFIX)


def _private(info: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (always true where there are no user ids)."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or (info.st_uid == getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read_private(path: Path, max_bytes: int = MAX_ENTRY_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of ours, writable only by us, at most ``max_bytes``.

    Opened without following a link and without blocking (a FIFO planted here cannot hang the
    run). Raises OSError (a miss) otherwise.
    """
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _private(info) or info.st_size > max_bytes:
            raise OSError(f"{path} is not a private regular file of at most {max_bytes} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OSError(f"{path} grew past {max_bytes} bytes")
    return data


def _secret(directory: Path, *, create: bool) -> bytes | None:
    """The directory's MAC secret; made (mode 0600) when ``create`` and missing. None if unusable."""
    path = directory / SECRET_FILE
    try:
        secret = _read_private(path, SECRET_BYTES)
    except FileNotFoundError:
        if not create:
            return None
        secret = os.urandom(SECRET_BYTES)  # what secrets.token_bytes returns
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:  # another run made it a moment ago: use theirs
            return _secret(directory, create=False)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret
    except OSError:
        return None
    return secret if len(secret) == SECRET_BYTES else None


def read(directory: Path, key: str) -> dict[str, Any] | None:
    """The cached catalog data for ``key``, checked against its record, or None on a miss or any problem."""
    secret = _secret(directory, create=False)
    if secret is None:
        return None
    data_path, meta_path = paths(directory, key)
    try:
        meta = json.loads(_read_private(meta_path, 4096))
        data = _read_private(data_path)
        expected = {"format": FORMAT, "selfhost": __version__, "key": key, "bytes": len(data)}
        if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
            return None
        digest = meta.get(MAC_FIELD)
        if not isinstance(digest, str) or not compare_digest(digest, payload_digest(key, data, secret)):
            return None
        catalog = json.loads(data)
    except (OSError, ValueError, RecursionError):  # missing, foreign, truncated or not JSON: a miss
        return None
    return catalog if isinstance(catalog, dict) else None


def write(directory: Path, key: str, catalog: Mapping[str, Any]) -> None:
    """Store the catalog data under ``key`` (data first, then its record) and prune old entries.

    A directory selfhost creates is private (0700). Each file is written to a temporary name
    and renamed into place, so a reader sees a whole file or none; a record without matching
    data (a crash between the two) fails the MAC. Errors are ignored.
    """
    try:
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        secret = _secret(directory, create=True)
        if secret is None:
            return
        data = json.dumps(catalog, separators=(",", ":"), allow_nan=False).encode()
        meta = {"format": FORMAT, "selfhost": __version__, "key": key, "bytes": len(data)}
        meta[MAC_FIELD] = payload_digest(key, data, secret)
        data_path, meta_path = paths(directory, key)
        _replace(data_path, data)
        _replace(meta_path, json.dumps(meta).encode())
        _prune(directory)
    except (OSError, ValueError):
        return


def _replace(target: Path, content: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(temporary, target)


def _prune(directory: Path) -> None:
    """Keep the newest entries; remove older ones and pickles of the old format (never read)."""
    for old_format in directory.glob("catalog-*.pickle"):
        old_format.unlink(missing_ok=True)
    metas = sorted(directory.glob(f"catalog-*{META_SUFFIX}"), key=lambda p: p.lstat().st_mtime, reverse=True)
    for meta in metas[KEEP_ENTRIES:]:
        key = meta.name.removeprefix("catalog-").removesuffix(META_SUFFIX)
        for path in paths(directory, key):
            path.unlink(missing_ok=True)
    kept = {meta.name.removesuffix(META_SUFFIX) for meta in metas[:KEEP_ENTRIES]}
    for data in directory.glob(f"catalog-*{DATA_SUFFIX}"):
        if not data.name.endswith(META_SUFFIX) and data.name.removesuffix(DATA_SUFFIX) not in kept:
            data.unlink(missing_ok=True)  # data without a record
