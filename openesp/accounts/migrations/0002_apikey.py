# The ApiKey model moves from the api app to accounts (the web UI makes keys too, and the faces do
# not import each other). Its table keeps its name, so only Django's record of the model moves:
# nothing is done to the database.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('api', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ApiKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(blank=True, max_length=100)),
                        ('prefix', models.CharField(max_length=16, unique=True)),
                        ('key_hash', models.CharField(max_length=64)),
                        ('scopes', models.JSONField(default=list)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to=settings.AUTH_USER_MODEL)),
                        ('workspace', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to='accounts.workspace')),
                    ],
                    options={
                        'db_table': 'api_apikey',
                        'indexes': [models.Index(fields=['user', 'revoked_at'], name='api_apikey_user_id_58cac9_idx')],
                    },
                ),
            ],
        ),
    ]
