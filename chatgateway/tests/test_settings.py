import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chatgateway.env import development_secret, envbool, envcurrency, envfloat, envint, envlist


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with exactly these variables (and PATH)."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "chatgateway.settings", "PATH": "/usr/bin:/bin", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("reader", "value", "args"),
    [(envbool, "maybe", (True,)), (envint, "ten", (10,)), (envint, "-1", (10,)), (envfloat, "0", (60.0,))],
)
def test_a_bad_value_fails_loudly_naming_the_variable(monkeypatch, reader, value, args):
    monkeypatch.setenv("SOME_SETTING", value)

    with pytest.raises(ImproperlyConfigured, match="SOME_SETTING"):
        reader("SOME_SETTING", *args, **({"minimum": 0} if reader is envint else {}))


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("SOME_LIST", " a, b ,,c ")

    assert envlist("SOME_LIST", []) == ["a", "b", "c"]


def test_development_defaults_need_no_variables():
    assert load_settings().returncode == 0


def test_production_requires_a_secret_key():
    result = load_settings(DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_the_development_secret_is_random_per_checkout_and_kept(tmp_path):
    first = development_secret(tmp_path / "secret")
    again = development_secret(tmp_path / "secret")
    elsewhere = development_secret(tmp_path / "other")

    assert first == again
    assert first != elsewhere
    assert len(first) >= 50
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0


def test_a_bad_variable_stops_start_up_with_its_name():
    result = load_settings(OPENAI_TIMEOUT="soon")

    assert "OPENAI_TIMEOUT must be a number" in result.stderr


def test_without_an_openai_key_the_gateway_uses_the_development_upstream():
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.OPENAI_BASE_URL)"],
        env={"DJANGO_SETTINGS_MODULE": "chatgateway.settings", "PATH": "/usr/bin:/bin", "DEV_UPSTREAM_PORT": "8123"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "http://127.0.0.1:8123/v1"


@pytest.mark.parametrize("value", ["usd", "US", "DOLLAR", "US$"])
def test_the_currency_must_be_an_iso_code(monkeypatch, value):
    monkeypatch.setenv("CHATGATEWAY_CURRENCY", value)

    with pytest.raises(ImproperlyConfigured, match="CHATGATEWAY_CURRENCY"):
        envcurrency("CHATGATEWAY_CURRENCY", "USD")


def test_the_currency_is_usd_unless_set(monkeypatch):
    monkeypatch.delenv("CHATGATEWAY_CURRENCY", raising=False)
    assert envcurrency("CHATGATEWAY_CURRENCY", "USD") == "USD"
    monkeypatch.setenv("CHATGATEWAY_CURRENCY", "CNY")
    assert envcurrency("CHATGATEWAY_CURRENCY", "USD") == "CNY"
