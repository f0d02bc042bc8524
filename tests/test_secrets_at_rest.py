"""Custom SMTP passwords are encrypted at rest and survive key rotation."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from openesp.esp.models import EspConfig
from openesp.lib import secretbox

pytestmark = pytest.mark.django_db

PASSWORD = "hunter2-but-longer"


@pytest.fixture
def keyfile(settings, tmp_path):
    """A private data directory whose key file is the source of the keys."""
    settings.DATA_DIR = tmp_path
    key = Fernet.generate_key().decode()
    (tmp_path / "encryption.keys").write_text(key + "\n")
    settings.OPENESP_ENCRYPTION_KEYS = [key]
    settings.OPENESP_ENCRYPTION_KEYS_FROM_FILE = True
    secretbox.reset_cache()
    yield tmp_path / "encryption.keys"
    secretbox.reset_cache()


def _stored(config: EspConfig) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM esp_espconfig WHERE id = %s", [config.pk])
        return str(cursor.fetchone()[0])


def _config(alice) -> EspConfig:
    config = EspConfig(user=alice, kind="smtp", host="smtp.example.com", port=587, security="starttls")
    config.set_password(PASSWORD)
    config.save()
    return config


def test_it_stores_only_ciphertext(keyfile, alice):
    config = _config(alice)
    raw = _stored(config)
    assert PASSWORD not in raw
    assert EspConfig.objects.get(pk=config.pk).get_password() == PASSWORD


def test_it_rotates_to_a_new_key_and_drops_the_old(keyfile, alice, settings):
    config = _config(alice)
    before = _stored(config)
    old_key = settings.OPENESP_ENCRYPTION_KEYS[0]
    out = StringIO()
    call_command("rotatekeys", "--new-key", "--drop-old", stdout=out)
    assert "re-encrypted 1 secret" in out.getvalue()
    after = _stored(config)
    assert after != before
    keys = keyfile.read_text().split()
    assert len(keys) == 1 and keys[0] != old_key
    # Only the new key is left, and it opens the re-encrypted value.
    settings.OPENESP_ENCRYPTION_KEYS = keys
    secretbox.reset_cache()
    assert EspConfig.objects.get(pk=config.pk).get_password() == PASSWORD
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(after.encode())


def test_it_refuses_to_edit_keys_given_in_the_environment(keyfile, settings):
    settings.OPENESP_ENCRYPTION_KEYS_FROM_FILE = False
    with pytest.raises(CommandError, match="OPENESP_ENCRYPTION_KEYS"):
        call_command("rotatekeys", "--new-key")


def test_the_bounce_mailbox_password_is_stored_and_rotated_like_the_smtp_password(keyfile, alice, settings):
    config = _config(alice)
    config.imap_host, config.imap_username = "imap.example.com", "bounces"
    config.set_imap_password("imap-" + PASSWORD)
    config.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT imap_password_encrypted FROM esp_espconfig WHERE id = %s", [config.pk])
        before = str(cursor.fetchone()[0])
    assert PASSWORD not in before
    out = StringIO()
    call_command("rotatekeys", "--new-key", "--drop-old", stdout=out)
    assert "re-encrypted 2 secret" in out.getvalue()
    settings.OPENESP_ENCRYPTION_KEYS = keyfile.read_text().split()
    secretbox.reset_cache()
    rotated = EspConfig.objects.get(pk=config.pk)
    assert rotated.imap_password_encrypted != before
    assert (rotated.get_password(), rotated.get_imap_password()) == (PASSWORD, "imap-" + PASSWORD)
