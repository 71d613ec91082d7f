"""Write a kit into a directory without losing anything the user has there.

Rules, in order:

- Generated files (compose.yaml, nginx.conf, ...) are written only into a directory that holds
  none of them, unless ``force``; an existing file is otherwise reported, never overwritten.
- Secrets (``.env`` with the client key and HF_TOKEN, ``api_keys.map``, the self-signed key and
  certificate) are created with mode 0600 (the certificate 0644) and are never rewritten, even
  with ``force``: only ``new_secrets`` replaces them. ``.env`` and ``api_keys.map`` belong
  together; finding one without the other is an error rather than a silent mismatch.
- Keys come from `secrets` and never reach stdout, JSON or a log: `KitResult` names files only.
- Every file is written to a temporary name in the directory and renamed into place.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from selfhost.deploy.compose import compose_yaml
from selfhost.deploy.nginx import KEYS_FILE, SELF_SIGNED_CERT, SELF_SIGNED_KEY, keys_map, nginx_conf
from selfhost.deploy.prometheus import alerts_yaml, prometheus_yaml
from selfhost.deploy.readme import API_KEY_ENV, client_py, readme_md
from selfhost.deploy.serve import serve_sh
from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.deploy.tls import self_signed_pem
from selfhost.errors import InputError

ENV_FILE = ".env"
KEY_PREFIX = "sk-selfhost-"
KEY_BYTES = 32  # 256 bits of randomness per API key
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
SCRIPT_MODE = 0o755


@dataclass(frozen=True)
class KitFile:
    """One generated, non-secret file: path relative to the kit directory, text, mode."""

    path: str
    text: str
    mode: int = PUBLIC_MODE


@dataclass(frozen=True)
class KitResult:
    """What was written: paths only (never contents), relative to the kit directory."""

    directory: Path
    written: tuple[str, ...]
    secrets_created: tuple[str, ...]
    secrets_kept: tuple[str, ...]


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def generated_files(spec: KitSpec, settings: KitSettings, self_signed: bool) -> list[KitFile]:
    """The kit's non-secret files, in the order a reader would open them."""
    return [
        KitFile("README.md", readme_md(spec, settings, self_signed)),
        KitFile("compose.yaml", compose_yaml(spec, settings)),
        KitFile("serve.sh", serve_sh(spec, settings), SCRIPT_MODE),
        KitFile("nginx.conf", nginx_conf(spec, settings)),
        KitFile("prometheus.yml", prometheus_yaml(spec, settings)),
        KitFile("alerts.yml", alerts_yaml(spec)),
        KitFile("client.py", client_py(spec, settings)),
    ]


def _env_text(api_key: str, nodes: int) -> str:
    text = (
        "# Secrets of this kit (mode 0600). Keep out of version control.\n"
        f"{API_KEY_ENV}={api_key}\n"
        "# Hugging Face token for gated models (e.g. Llama); empty if not needed\n"
        "HF_TOKEN=\n"
    )
    if nodes > 1:
        text += f"# Address of this replica's head node (rank 0 of {nodes}), reachable from the others\nHEAD_ADDR=\n"
    return text


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (`selfhost.files.write_file`: replaced in
    one rename, a link followed to its existing target, the bits set before a byte is written)."""
    from selfhost.files import make_directory, write_file

    make_directory(path.parent, "kit directory")
    write_file(path, data, what="kit file", force=True, mode=mode)


def write_kit(
    directory: Path,
    spec: KitSpec,
    settings: KitSettings,
    *,
    self_signed: bool,
    force: bool = False,
    new_secrets: bool = False,
    make_certificate: Callable[[str, tuple[str, ...]], tuple[bytes, bytes]] = self_signed_pem,
) -> KitResult:
    """Write the kit for ``spec`` into ``directory`` (created if missing).

    Raises:
        InputError: ``directory`` is a file; it holds generated files and ``force`` is not set;
            only one of .env / api_keys.map exists; or the certificate cannot be made.
    """
    from selfhost.files import check_directory, make_directory

    check_directory(directory, "-o")  # a file, a dangling link or an unusable path: refused here
    if directory.exists() and not directory.is_dir():
        raise InputError(f"-o {directory} is a file; give a directory for the kit")

    files = generated_files(spec, settings, self_signed)
    existing = [f.path for f in files if (directory / f.path).exists()]
    if existing and not force:
        raise InputError(
            f"{directory} already holds {', '.join(existing)}; pass --force to replace them "
            "(secrets in .env and api_keys.map are kept), or choose another -o directory"
        )
    env, keys = directory / ENV_FILE, directory / KEYS_FILE
    if env.exists() != keys.exists() and not new_secrets:
        have, missing = (ENV_FILE, KEYS_FILE) if env.exists() else (KEYS_FILE, ENV_FILE)
        raise InputError(
            f"{directory} has {have} but not {missing}: restore it, or pass --new-secrets to make new keys"
        )
    tls_files = (SELF_SIGNED_CERT, SELF_SIGNED_KEY) if self_signed else ()
    tls_present = all((directory / p).exists() for p in tls_files)
    cert_key: tuple[bytes, bytes] | None = None
    if self_signed and (new_secrets or not tls_present):
        cert_key = make_certificate(settings.server_name, settings.extra_names)  # before anything is written

    make_directory(directory, "-o")
    created: list[str] = []
    kept: list[str] = []
    if new_secrets or not env.exists():
        key = new_api_key()
        _write(env, _env_text(key, spec.nodes).encode(), SECRET_MODE)
        _write(keys, keys_map([key]).encode(), SECRET_MODE)
        created += [ENV_FILE, KEYS_FILE]
    else:
        kept += [ENV_FILE, KEYS_FILE]
    if cert_key is not None:
        cert, private = cert_key
        _write(directory / SELF_SIGNED_KEY, private, SECRET_MODE)
        _write(directory / SELF_SIGNED_CERT, cert, PUBLIC_MODE)
        created += [SELF_SIGNED_CERT, SELF_SIGNED_KEY]
    elif self_signed:
        kept += [SELF_SIGNED_CERT, SELF_SIGNED_KEY]
    for f in files:
        _write(directory / f.path, f.text.encode(), f.mode)
    return KitResult(
        directory=directory,
        written=tuple(f.path for f in files),
        secrets_created=tuple(created),
        secrets_kept=tuple(kept),
    )
