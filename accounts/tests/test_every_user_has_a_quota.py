from django.core.management import call_command

from accounts.models import User
from quota.models import Quota


def test_a_user_made_in_code_gets_the_default_limit(db, settings):
    settings.CHATGATEWAY_DAILY_LIMIT = 7

    user = User.objects.create_user("ada", password="x")

    assert user.quota.request_limit() == 7


def test_createsuperuser_gets_a_quota(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "admin-pass-123")

    call_command("createsuperuser", interactive=False, username="root", email="", verbosity=0)

    assert Quota.objects.get(user__username="root").request_limit() == 10


def test_the_demo_fixture_loads_users_with_their_quotas_and_can_load_twice(db):
    call_command("loaddata", "users", verbosity=0)
    call_command("loaddata", "users", verbosity=0)

    limits = {quota.user.username: (quota.plan.name, quota.request_limit(), quota.token_limit()) for quota in
              Quota.objects.select_related("user", "plan")}  # fmt: skip
    assert limits == {"alice": ("demo", 10, 20000), "bob": ("demo-plus", 50, None)}
    assert User.objects.get(username="alice").check_password("alice-demo-1")
    assert User.objects.get(username="bob").check_password("bob-demo-2")
