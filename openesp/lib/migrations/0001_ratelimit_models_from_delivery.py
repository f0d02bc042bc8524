# The rate-limit models move from delivery to lib. Their tables stay where they are (same names,
# via db_table), so this migration only changes Django's idea of which app owns them; delivery's
# 0006_ratelimit_models_to_lib removes them from delivery's state.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("delivery", "0003_concurrencyslot"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="RateLimitBucket",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=100, unique=True)),
                        ("tokens", models.FloatField(default=0)),
                        ("refilled_at", models.FloatField(default=0)),
                        ("window_start", models.FloatField(default=0)),
                        ("window_count", models.PositiveIntegerField(default=0)),
                        ("previous_count", models.PositiveIntegerField(default=0)),
                    ],
                    options={"db_table": "delivery_ratelimitbucket"},
                ),
                migrations.CreateModel(
                    name="ConcurrencySlot",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=100)),
                        ("holder", models.CharField(max_length=64)),
                        ("expires_at", models.FloatField()),
                    ],
                    options={
                        "db_table": "delivery_concurrencyslot",
                        "indexes": [models.Index(fields=["key", "expires_at"], name="delivery_co_key_697679_idx")],
                    },
                ),
            ],
        ),
    ]
