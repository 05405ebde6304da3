"""Changes to API keys end every process's cached view of them (core/access.py); a use's last_used does not."""

from django.db import migrations

from core import access


class Migration(migrations.Migration):
    dependencies = [("apikeys", "0002_apikey_team"), ("core", "0001_access_stamp")]

    operations = [
        access.watch("apikeys_apikey", ignore=["last_used"]),
    ]
