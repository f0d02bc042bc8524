# Joins the IMAP bounce mailbox's source (0002_imap_source) and one inbox row per batch
# (0002_inbox_batches): a batch may come from a bounce mailbox too.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_imap_source"),
        ("events", "0002_inbox_batches"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboxbatch",
            name="source",
            field=models.CharField(
                choices=[("sendgrid", "Sendgrid"), ("mailjet", "Mailjet"), ("mx", "Mx"), ("imap", "Imap")],
                max_length=12,
            ),
        ),
    ]
