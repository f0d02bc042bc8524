"""``openesp rotatekeys``: re-encrypt every stored secret (SMTP passwords in esp, DKIM keys in
delivery) with the newest key. An operator's command over several layers, hence the ops app."""

from __future__ import annotations

import argparse
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from openesp.delivery.models import DkimKeyRecord
from openesp.esp.models import EspConfig
from openesp.hooksout.models import WebhookEndpoint
from openesp.lib import secretbox
from openesp.lib.datadir import encryption_keys_file, read_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the newest encryption key. With --new-key (key file "
        "only), first add a fresh key in front of the key file; with --drop-old, afterwards keep "
        "only the newest key in the key file."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--new-key", action="store_true", help="generate a new primary key first")
        parser.add_argument("--drop-old", action="store_true", help="remove older keys after re-encrypting")

    def handle(self, *args: Any, **options: Any) -> None:
        from_file = settings.OPENESP_ENCRYPTION_KEYS_FROM_FILE
        if (options["new_key"] or options["drop_old"]) and not from_file:
            raise CommandError(
                "the keys come from OPENESP_ENCRYPTION_KEYS: put the new key first there, run "
                "rotatekeys, then remove the old keys from the variable yourself"
            )
        path = encryption_keys_file(settings.DATA_DIR)
        if options["new_key"]:
            keys = [Fernet.generate_key().decode(), *read_keys(path.read_text(encoding="utf-8"))]
            path.write_text("\n".join(keys) + "\n", encoding="utf-8")
            settings.OPENESP_ENCRYPTION_KEYS = keys
            secretbox.reset_cache()
        count = 0
        with transaction.atomic():
            for config in EspConfig.objects.select_for_update().exclude(
                password_encrypted="", imap_password_encrypted=""
            ):
                fields = []
                if config.password_encrypted:
                    config.password_encrypted = secretbox.rotate(config.password_encrypted)
                    fields.append("password_encrypted")
                if config.imap_password_encrypted:  # the bounce mailbox's
                    config.imap_password_encrypted = secretbox.rotate(config.imap_password_encrypted)
                    fields.append("imap_password_encrypted")
                config.save(update_fields=fields)
                count += len(fields)
            for dkim_key in DkimKeyRecord.objects.select_for_update():
                dkim_key.private_key_encrypted = secretbox.rotate(dkim_key.private_key_encrypted)
                dkim_key.save(update_fields=["private_key_encrypted"])
                count += 1
            for endpoint in WebhookEndpoint.objects.select_for_update():
                endpoint.secret_encrypted = secretbox.rotate(endpoint.secret_encrypted)
                endpoint.save(update_fields=["secret_encrypted"])
                count += 1
        if options["drop_old"]:
            newest = settings.OPENESP_ENCRYPTION_KEYS[0]
            path.write_text(newest + "\n", encoding="utf-8")
        self.stdout.write(f"re-encrypted {count} secret(s) with the newest key")
