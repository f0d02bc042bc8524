"""Message bodies stored apart from the queue's rows (decision 027): each message that had a body
gets a MessageBody row of its own, with the message's id as the body's id, in two set-wise
statements; then the columns go."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

_HAS_BODY = "text_body <> '' OR html_body <> ''"


def move_bodies(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_messagebody (id, text, html, created_at) "
            f"SELECT id, text_body, html_body, created_at FROM messaging_message WHERE {_HAS_BODY}"
        )
        cursor.execute(f"UPDATE messaging_message SET body_id = id WHERE {_HAS_BODY}")
        if connection.vendor == "postgresql":
            # The ids were given, not drawn: new bodies must be numbered after them.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('messaging_messagebody', 'id'), "
                "COALESCE((SELECT MAX(id) FROM messaging_messagebody), 1), "
                "(SELECT COUNT(*) > 0 FROM messaging_messagebody))"
            )


def bring_bodies_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_message SET "
            "text_body = (SELECT text FROM messaging_messagebody b WHERE b.id = messaging_message.body_id), "
            "html_body = (SELECT html FROM messaging_messagebody b WHERE b.id = messaging_message.body_id) "
            "WHERE body_id IS NOT NULL"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0010_address_headers"),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageBody",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField(blank=True)),
                ("html", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="message",
            name="body",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="messaging.messagebody",
            ),
        ),
        migrations.RunPython(move_bodies, bring_bodies_back, elidable=False),
        migrations.RemoveField(model_name="message", name="html_body"),
        migrations.RemoveField(model_name="message", name="text_body"),
    ]
