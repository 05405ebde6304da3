from django.db import migrations, models
from django.db.models.functions import TruncDate
from django.utils import timezone


def date_existing_records(apps, schema_editor):
    """Records made before they kept their day: the day they were made on, in TIME_ZONE (the day they
    were charged to, but for the rare request in flight at midnight, which nothing recorded)."""
    UsageRecord = apps.get_model("relay", "UsageRecord")
    UsageRecord.objects.filter(day__isnull=True).update(
        day=TruncDate("created", tzinfo=timezone.get_current_timezone())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0005_usagerecord_outbox_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerecord",
            name="day",
            field=models.DateField(
                blank=True,
                db_index=True,
                help_text="The day (in TIME_ZONE) whose quota the request was charged to: the day it was reserved on, even when it ended after midnight. Reports count by it.",
                null=True,
            ),
        ),
        migrations.RunPython(date_existing_records, migrations.RunPython.noop),
    ]
