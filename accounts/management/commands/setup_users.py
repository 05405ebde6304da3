from __future__ import annotations

import json
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "First-run users: load the demo users of fixtures/users.json into an empty user table (DEBUG only), "
        "and create the administrator named by DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD if missing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo users")

    def handle(self, *args, no_demo: bool, **options) -> None:
        User = get_user_model()
        if no_demo or not settings.DEBUG:
            pass  # demo users, whose passwords are public, never come to a production gateway
        elif User.objects.exists():
            self.stdout.write("Users exist already: demo users not loaded (they come on the first run only).")
        else:
            call_command("loaddata", "users", verbosity=0)
            self.stdout.write(f"Loaded demo users: {', '.join(_demo_usernames())} (passwords in the README).")
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        if not username:
            return
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Administrator {username!r} already exists.")
            return
        if not os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            self.stderr.write("DJANGO_SUPERUSER_USERNAME is set, DJANGO_SUPERUSER_PASSWORD is not: no admin created.")
            return
        call_command("createsuperuser", interactive=False, username=username, email="", verbosity=0)
        self.stdout.write(f"Created administrator {username!r}.")


def _demo_usernames() -> list[str]:
    fixture = settings.BASE_DIR / "fixtures" / "users.json"
    return [row["fields"]["username"] for row in json.loads(fixture.read_text()) if row["model"] == "accounts.user"]
