"""DKIM signing (RFC 6376, relaxed/relaxed) with the ``cryptography`` library.

dkimpy's RSA is pure Python (about 100 signatures/s); here canonicalisation and hashing use
hashlib and the signature uses OpenSSL through ``cryptography`` (RSA-2048 about 0.5 ms,
Ed25519 per RFC 8463 about 0.06 ms). dkimpy is used only to verify, in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

# Headers we sign when present. From is required by RFC 6376 and always signed.
SIGNED_HEADERS = (
    "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
    "mime-version", "content-type", "content-transfer-encoding",
    "in-reply-to", "references", "list-id", "list-unsubscribe", "list-unsubscribe-post",
)  # fmt: skip

_WSP_RUN = re.compile(rb"[\t ]+")
_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")
_FOLD = re.compile(rb"\r?\n")


class DkimError(ValueError):
    """The key or the message cannot be used for signing."""


def canonical_body(body: bytes) -> bytes:
    """Relaxed body canonicalisation (RFC 6376 §3.4.4)."""
    # The regexes cost about 1 ms on a 10 KB body even when they change nothing; encoded
    # bodies (quoted-printable, base64) rarely have runs of whitespace, so test first.
    if b" \r\n" in body or b"\t" in body:
        body = _TRAILING_WSP.sub(b"\r\n", body)
    if b"  " in body or b"\t" in body:
        body = _WSP_RUN.sub(b" ", body)
    stripped = body.rstrip(b"\r\n")
    # rstrip also ate a lone trailing CR/LF that was not a CRLF pair; messages we sign are
    # CRLF-normalised, so only whole empty lines are removed here.
    return stripped + b"\r\n" if stripped else b""


def canonical_header(name: bytes, value: bytes) -> bytes:
    """Relaxed header canonicalisation (RFC 6376 §3.4.2)."""
    # Most values are short, unfolded and single-spaced: skip the regexes for them.
    if b"\n" in value:
        value = _FOLD.sub(b"", value)
    if b"  " in value or b"\t" in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.strip().lower() + b":" + value.strip() + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Header fields (name, raw value incl. folding) in order, and the body."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, body = message, b""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        elif line:
            name, colon, value = line.partition(b":")
            if not colon:
                raise DkimError(f"malformed header line {line[:40]!r}")
            fields.append((name, value))
    return fields, body


_LOADED: dict[tuple[str, str, bytes], DkimKey] = {}


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    pem: bytes = b""

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> DkimKey:
        """Parsed once per process: loading an RSA key costs far more than a signature."""
        cache_key = (domain.lower(), selector.lower(), hashlib.sha256(pem).digest())
        loaded = _LOADED.get(cache_key)
        if loaded is None:
            # Our keys are generated here and stored encrypted; the expensive RSA consistency
            # checks (~0.1 s a key) are for keys of unknown origin.
            key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
            if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
                raise DkimError("DKIM keys must be RSA or Ed25519")
            if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 1024:
                raise DkimError("RSA DKIM keys must have at least 1024 bits")
            loaded = _LOADED[cache_key] = cls(domain.lower(), selector.lower(), key, pem)
        return loaded

    def __reduce__(self) -> tuple[object, tuple[str, str, bytes]]:
        # Key objects do not pickle; a build process gets the PEM and its own cached parse.
        return (DkimKey.from_pem, (self.domain, self.selector, self.pem))

    @property
    def algorithm(self) -> str:
        return "ed25519-sha256" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) else "rsa-sha256"

    def dns_record(self) -> str:
        """The TXT record to publish at ``<selector>._domainkey.<domain>``."""
        public = self.private_key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            # RFC 8463: Ed25519 signs the SHA-256 hash of the canonicalised data.
            return self.private_key.sign(hashlib.sha256(data).digest())
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def signature_header(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """A ``DKIM-Signature:`` header line (CRLF-terminated) to put on top of ``message``.

        ``message`` must use CRLF line endings, as it will be sent.
        """
        fields, body = split_message(message)
        by_name: dict[bytes, list[tuple[bytes, bytes]]] = {}
        for name, value in fields:
            by_name.setdefault(name.strip().lower(), []).append((name, value))
        if b"from" not in by_name:
            raise DkimError("the message has no From header")
        signed: list[bytes] = []
        canonical: list[bytes] = []
        for wanted in SIGNED_HEADERS:
            # Several instances are signed bottom-up, as verifiers read them (§5.4.2).
            for name, value in reversed(by_name.get(wanted.encode(), [])):
                signed.append(wanted.encode())
                canonical.append(canonical_header(name, value))
        body_hash = base64.b64encode(hashlib.sha256(canonical_body(body)).digest())
        stamp = int(time.time()) if timestamp is None else timestamp
        value = (
            f" v=1; a={self.algorithm}; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f"\tt={stamp}; h={':'.join(h.decode() for h in signed)};\r\n"
            f"\tbh={body_hash.decode()};\r\n"
            f"\tb="
        ).encode()
        data = b"".join(canonical) + canonical_header(b"DKIM-Signature", value).rstrip(b"\r\n")
        signature = base64.b64encode(self._sign(data))
        folded = b"\r\n\t".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return b"DKIM-Signature:" + value + folded + b"\r\n"

    def sign(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        return self.signature_header(message, timestamp=timestamp) + message


def generate_private_key(algorithm: str = "rsa") -> bytes:
    """A new private key in PEM (PKCS#8): RSA-2048 or Ed25519."""
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise DkimError("algorithm must be rsa or ed25519")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
