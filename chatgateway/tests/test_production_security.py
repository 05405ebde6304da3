"""With production settings `manage.py check --deploy` finds nothing to warn about, and no production
server starts with a development secret (`make run` and `make serve` both go through the settings)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from chatgateway.env import development_secret

PRODUCTION = {
    "DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "chat.example.org",
    "SECURE_PROXY_SSL": "1",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh interpreter with exactly these variables (and PATH)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings_behind_tls():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_about_a_weak_jwt_signing_key():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, JWT_SIGNING_KEY="short")

    assert result.returncode != 0
    assert "chatgateway.W001" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"DJANGO_SECRET_KEY": "development"},
        {"DJANGO_SECRET_KEY": "django-insecure-" + "x" * 50},
        {"JWT_SIGNING_KEY": "development"},
    ],
    ids=["this-checkouts-development-secret", "djangos-placeholder", "development-secret-as-jwt-key"],
)
def test_make_run_refuses_to_start_in_production_with_a_development_secret(variables):
    dev_secret = development_secret(settings.BASE_DIR / ".dev-secret-key")
    env = {**PRODUCTION, **{name: dev_secret if value == "development" else value for name, value in variables.items()}}

    result = manage("rungateway", "--noreload", **env)

    assert result.returncode != 0
    assert "is a development secret; production needs" in result.stderr
    assert "Serving" not in result.stdout


@pytest.fixture
def behind_tls(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def test_behind_tls_plain_http_is_redirected_and_https_answers_with_hsts(behind_tls, user):
    plain = Client().get("/api/quota/")
    secure = Client().get("/api/quota/", secure=True)  # as uvicorn says of a trusted proxy's https (test_nginx.py)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/api/quota/"
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_behind_tls_the_health_check_still_answers_plain_http(behind_tls, db):
    assert Client().get("/healthz").status_code == 200


def test_the_settings_behind_tls_are_the_ones_the_test_above_uses():
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_REDIRECT_EXEMPT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )

    result = manage("shell", "--verbosity", "0", "-c", code, **PRODUCTION)

    assert result.stdout.strip() == "True ['^healthz$'] 31536000 True True True True None"
