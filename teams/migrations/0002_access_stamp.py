"""Changes to teams and their members end every process's cached view of them (core/access.py)."""

from django.db import migrations

from core import access


class Migration(migrations.Migration):
    dependencies = [("teams", "0001_initial"), ("core", "0001_access_stamp")]

    operations = [
        access.watch("teams_team"),
        access.watch("teams_membership"),
    ]
