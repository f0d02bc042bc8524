# An index for segments' engagement conditions: a contact's messages by workspace and address,
# compared case-insensitively (openesp.audience.segments).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_attachments_headers_idempotency"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                models.F("workspace"),
                django.db.models.functions.text.Lower("to_email"),
                name="message_ws_address_idx",
            ),
        ),
    ]
