from io import StringIO

from django.core.management import call_command

from accounts.models import User


def run() -> str:
    out = StringIO()
    call_command("setup_users", stdout=out, stderr=out)
    return out.getvalue()


def test_it_loads_the_demo_users_on_the_first_run_only(db, settings):
    settings.DEBUG = True
    assert "Loaded demo users: alice, bob" in run()
    User.objects.filter(username="alice").update(first_name="Changed")
    User.objects.filter(username="bob").delete()

    assert "first run only" in run()
    assert User.objects.get(username="alice").first_name == "Changed"
    assert not User.objects.filter(username="bob").exists()


def test_it_never_loads_demo_users_in_production(db, settings):
    settings.DEBUG = False

    run()

    assert not User.objects.exists()


def test_it_creates_the_administrator_from_the_environment_once(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "boss-pass-123")

    assert "Created administrator 'boss'" in run()
    assert "already exists" in run()
    boss = User.objects.get(username="boss")
    assert boss.is_superuser
    assert boss.check_password("boss-pass-123")


def test_it_creates_no_administrator_without_a_password(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    assert "no admin created" in run()
    assert not User.objects.filter(username="boss").exists()
