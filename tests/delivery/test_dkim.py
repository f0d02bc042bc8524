"""DKIM signatures made with `cryptography` verify with dkimpy (the reference implementation)."""

from __future__ import annotations

import dkim
import pytest

from openesp.delivery.dkim import DkimError, DkimKey, canonical_body, generate_private_key

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.net,\r\n"
    b"  carol@example.net\r\n"
    b"Subject:   A   folded\r\n\tsubject  \r\n"
    b"Date: Fri, 27 Nov 2026 11:00:00 +0000\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"X-Unsigned: kept\r\n"
    b"\r\n"
    b"Hello  world \t\r\n"
    b"second line\r\n"
    b"\r\n"
    b"\r\n"
)


def _verify(signed: bytes, key: DkimKey) -> bool:
    record = key.dns_record().encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{key.selector}._domainkey.{key.domain}.".encode()
        return record

    return bool(dkim.verify(signed, dnsfunc=dns))


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_it_signs_so_that_dkimpy_verifies(algorithm):
    key = DkimKey.from_pem("example.org", "s1", generate_private_key(algorithm))
    signed = key.sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature: v=1; a=" + key.algorithm.encode())
    assert _verify(signed, key)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m.replace(b"Hello", b"Jello"),
        lambda m: m.replace(b"A   folded", b"Another"),
        lambda m: m.replace(b"alice@example.org>", b"mallory@example.org>"),
    ],
)
def test_it_fails_verification_when_signed_parts_change(tamper):
    key = DkimKey.from_pem("example.org", "s1", generate_private_key("ed25519"))
    assert not _verify(tamper(key.sign(MESSAGE)), key)


def test_it_survives_changes_relaxed_canonicalisation_allows():
    key = DkimKey.from_pem("example.org", "s1", generate_private_key("rsa"))
    signed = key.sign(MESSAGE)
    # Trailing blank lines and whitespace runs in the body, an unsigned header added by a relay.
    relayed = b"Received: by relay\r\n" + signed.replace(b"Hello  world", b"Hello world") + b"\r\n"
    assert _verify(relayed, key)


def test_it_canonicalises_empty_bodies_to_nothing():
    assert canonical_body(b"") == b""
    assert canonical_body(b"\r\n\r\n") == b""
    assert canonical_body(b"x \r\n\r\n") == b"x\r\n"


def test_it_needs_a_from_header():
    key = DkimKey.from_pem("example.org", "s1", generate_private_key("ed25519"))
    with pytest.raises(DkimError, match="no From"):
        key.sign(b"To: a@example.org\r\n\r\nbody\r\n")


@pytest.mark.django_db
def test_it_manages_keys_from_the_command_line(capsys):
    from django.core.management import call_command

    from openesp.delivery.domains import signers_for
    from openesp.delivery.models import DkimKeyRecord

    call_command("dkim", "add", "Mail.Example.org", "--selector", "s1")
    call_command("dkim", "add", "mail.example.org", "--algorithm", "ed25519", "--selector", "s2")
    out = capsys.readouterr().out
    assert 's1._domainkey.mail.example.org. IN TXT "v=DKIM1; k=rsa; p=' in out
    assert 's2._domainkey.mail.example.org. IN TXT "v=DKIM1; k=ed25519; p=' in out
    # The private key is stored encrypted.
    assert all(b"PRIVATE KEY" not in r.private_key_encrypted.encode() for r in DkimKeyRecord.objects.all())
    signers = signers_for("news@mail.example.org", None)
    assert [s.algorithm for s in signers] == ["ed25519-sha256", "rsa-sha256"]
    signed = MESSAGE.replace(b"alice@example.org>", b"news@mail.example.org>")
    for signer in signers:
        signed = signer.sign(signed)
        assert _verify(signed, signer)
    call_command("dkim", "deactivate", "mail.example.org", "s1")
    assert [s.selector for s in signers_for("news@mail.example.org", None)] == ["s2"]
    assert signers_for("news@other.example", None) == []
