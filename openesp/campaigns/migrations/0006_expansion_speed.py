# Cheaper campaign expansion: the recipient's campaign index goes (recipient_unique_contact
# starts with the campaign) and the link's reminder and response references lose their
# database constraints (PostgreSQL fired a check per inserted invitation, NULL or not).


import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0005_automations_category_messages'),
    ]

    operations = [
        migrations.AlterField(
            model_name='campaignmessage',
            name='reminder',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='campaigns.reminder'),
        ),
        migrations.AlterField(
            model_name='campaignmessage',
            name='response',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='campaigns.response'),
        ),
        migrations.AlterField(
            model_name='recipient',
            name='campaign',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='recipients', to='campaigns.campaign'),
        ),
    ]
