# Cheaper queueing of many messages at once (a campaign queues a million in one statement):
# the references lose their database constraints (PostgreSQL checked each with a trigger per
# row at commit), the workspace index goes (two indexes start with the workspace), and the
# provider and lease indexes hold only the rows they are looked up by (a queued message has
# no provider and no lease).


import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('esp', '0003_provider_registry_and_failover'),
        ('messaging', '0004_sendingdomain_from_delivery'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='message',
            name='message_lease_idx',
        ),
        migrations.AlterField(
            model_name='message',
            name='organization',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='accounts.organization'),
        ),
        migrations.AlterField(
            model_name='message',
            name='provider_config',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='esp.espconfig'),
        ),
        migrations.AlterField(
            model_name='message',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='messages', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='message',
            name='workspace',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='accounts.workspace'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('status', 'sending')), fields=['lease_until', 'id'], name='message_lease_idx'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('provider_config__isnull', False)), fields=['provider_config'], name='message_provider_config_idx'),
        ),
    ]
