"""The submission server's certificate: the operator's (``OPENESP_SMTP_TLS_CERT_FILE`` and
``_KEY_FILE``) or, without one, a self-signed pair made in the data directory on first start.

A self-signed certificate still encrypts; clients that verify certificates must be told its
SHA-256 fingerprint (printed at start) or given a real certificate instead.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

CERT_NAME = "smtp-cert.pem"
KEY_NAME = "smtp-key.pem"


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path
    self_signed: bool

    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), as ``AB:CD:…``."""
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def self_signed(directory: Path, hostname: str) -> Certificate:
    """The pair in ``directory``, made first when missing (ECDSA P-256, ten years)."""
    cert_file, key_file = directory / CERT_NAME, directory / KEY_NAME
    if cert_file.exists() and key_file.exists():
        return Certificate(cert_file, key_file, self_signed=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a reader that finds the certificate finds its key too.
    _write_private(
        key_file,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    _write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return Certificate(cert_file, key_file, self_signed=True)


def server_certificate() -> Certificate:
    if settings.OPENESP_SMTP_TLS_CERT_FILE:
        return Certificate(
            Path(settings.OPENESP_SMTP_TLS_CERT_FILE), Path(settings.OPENESP_SMTP_TLS_KEY_FILE), self_signed=False
        )
    return self_signed(Path(settings.DATA_DIR), socket.getfqdn() or "localhost")
