"""Self-signed certificates that browsers accept for ``serverCertificateHashes`` pinning."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Browsers refuse hash pinning for certificates valid longer than 14 days.
MAX_PINNED_VALIDITY = datetime.timedelta(days=14)


@dataclass(frozen=True)
class Certificate:
    """A certificate and key on disk, with the SHA-256 fingerprint of the DER certificate."""

    certfile: Path
    keyfile: Path
    fingerprint: str


def fingerprint_of(certfile: Path) -> str:
    """Lowercase hex SHA-256 of the first certificate in a PEM file."""
    cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def generate(directory: Path, hostnames: list[str] | None = None) -> Certificate:
    """Write a fresh ECDSA P-256 self-signed certificate valid for under 14 days into ``directory``."""
    names = hostnames or ["localhost", "127.0.0.1", "::1"]
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now - datetime.timedelta(days=1) + MAX_PINNED_VALIDITY - datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile = directory / "cert.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    keyfile.chmod(0o600)
    return Certificate(certfile, keyfile, fingerprint_of(certfile))
