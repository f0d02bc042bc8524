# RateLimitBucket and ConcurrencySlot now belong to openesp.lib (see lib's
# 0001_ratelimit_models_from_delivery). Only Django's state changes: the tables and their rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0005_sendingdomain_moves_to_messaging"),
        ("lib", "0001_ratelimit_models_from_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="RateLimitBucket"),
                migrations.DeleteModel(name="ConcurrencySlot"),
            ],
        ),
    ]
