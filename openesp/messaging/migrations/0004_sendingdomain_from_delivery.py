# SendingDomain moves from delivery to messaging: the sender rules that accept or refuse a From
# address live here now. Only Django's model state changes; the table keeps its name
# (delivery_sendingdomain) and its rows. delivery's 0005 removes the model from delivery's state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("delivery", "0004_sending_domain_verified"),
        ("messaging", "0003_message_address_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="SendingDomain",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("domain", models.CharField(max_length=253)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("verified_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "workspace",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sending_domains",
                                to="accounts.workspace",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "delivery_sendingdomain",
                        "constraints": [
                            models.UniqueConstraint(fields=("workspace", "domain"), name="sendingdomain_unique"),
                            models.UniqueConstraint(
                                condition=models.Q(("workspace__isnull", True)),
                                fields=("domain",),
                                name="sendingdomain_unique_operator",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
