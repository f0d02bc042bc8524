# SendingDomain moves to messaging (its 0004 takes it into messaging's state, same table).
# Here delivery's DKIM keys point at it there and delivery forgets the model. No SQL runs: the
# table, its rows and the foreign key stay exactly as they are.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("delivery", "0004_sending_domain_verified"),
        ("messaging", "0004_sendingdomain_from_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="dkimkeyrecord",
                    name="domain",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="dkim_keys",
                        to="messaging.sendingdomain",
                    ),
                ),
                migrations.DeleteModel(name="SendingDomain"),
            ],
        ),
    ]
