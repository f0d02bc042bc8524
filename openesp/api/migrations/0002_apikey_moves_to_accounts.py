# The ApiKey model now belongs to accounts (accounts.0002_apikey), with the same table: the api
# app forgets it without touching the database.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_initial'),
        ('accounts', '0002_apikey'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='ApiKey')],
        ),
    ]
