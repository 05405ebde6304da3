"""Changes to users end every process's cached view of them (core/access.py); a login's last_login does not."""

from django.db import migrations

from core import access


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_login_throttle"), ("core", "0001_access_stamp")]

    operations = [
        access.watch("accounts_user", ignore=["last_login"]),
    ]
