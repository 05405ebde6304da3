"""Changes to limits, and to which plan a user is on, end every process's cached view of them (core/access.py); a quota row's counts do not."""

from django.db import migrations

from core import access


class Migration(migrations.Migration):
    dependencies = [("quota", "0004_limits_counters_and_charges"), ("core", "0001_access_stamp")]

    operations = [
        access.watch("quota_limit"),
        access.watch("quota_quota", only=["plan_id"]),
    ]
