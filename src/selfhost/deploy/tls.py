"""A self-signed TLS certificate for the kit, made on request (``--self-signed``).

With the `cryptography` package when it is installed (``pip install 'selfhost-llm[deploy]'``), else
with the ``openssl`` command if it is on PATH. ECDSA P-256, valid for the kit's server name (and
127.0.0.1 / ::1 when that name is localhost), one year. Clients must be told to trust it (the kit
README: ``SSL_CERT_FILE=tls/cert.pem``); for a public endpoint use a real certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
import tempfile
from pathlib import Path

from selfhost.errors import InputError

VALID_DAYS = 365


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def subject_names(server_name: str, extra: tuple[str, ...] = ()) -> list[str]:
    """DNS names and IP addresses the certificate is valid for."""
    names = [server_name, *extra]
    if server_name == "localhost":
        names += ["127.0.0.1", "::1"]
    return list(dict.fromkeys(names))


def self_signed_pem(server_name: str, extra: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for ``server_name``.

    Raises:
        InputError: neither the cryptography package nor the openssl command is available.
    """
    names = subject_names(server_name, extra)
    try:
        return _with_cryptography(names)
    except ImportError:
        pass
    if shutil.which("openssl"):
        return _with_openssl(names)
    raise InputError(
        "--self-signed needs the cryptography package (pip install 'selfhost-llm[deploy]') or the openssl "
        "command; or pass --tls-cert and --tls-key"
    )


def _with_cryptography(names: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n) for n in names
    ]
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _with_openssl(names: list[str]) -> tuple[bytes, bytes]:
    san = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in names)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cmd = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(VALID_DAYS),
            "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise InputError(f"openssl could not make a self-signed certificate: {done.stderr.strip()[:300]}")
        return cert.read_bytes(), key.read_bytes()
