"""Tokens are signed with JWT_SIGNING_KEY from the environment, a key of their own when it is set, so
rotating it ends every token without touching DJANGO_SECRET_KEY (sessions, password resets)."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest
from django.conf import settings

SECRET = "a-django-secret-key-for-this-test-only-0123456789abcdef"
JWT_KEY = "a-jwt-signing-key-for-this-test-only-0123456789abcdef"
OLD_JWT_KEY = "the-jwt-signing-key-before-rotation-0123456789abcdef"


def run(code: str, **env: str) -> str:
    """Python with the gateway's settings, in a fresh interpreter with exactly these variables."""
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        env={"DJANGO_SETTINGS_MODULE": "chatgateway.settings", "PATH": "/usr/bin:/bin", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


MINT = "from rest_framework_simplejwt.tokens import AccessToken\nt = AccessToken()\nt['user_id'] = 1\nprint(t)"
CHECK = (
    "from rest_framework_simplejwt.exceptions import InvalidToken\n"
    "from accounts.authentication import JWTAuthentication\n"
    "for token in {tokens!r}:\n"
    "    try:\n        JWTAuthentication().get_validated_token(token)\n"
    "    except InvalidToken:\n        print('refused')\n    else:\n        print('accepted')"
)


def test_tokens_are_signed_with_the_jwt_key_not_the_django_secret():
    token = run(MINT, DJANGO_SECRET_KEY=SECRET, JWT_SIGNING_KEY=JWT_KEY)

    assert jwt.decode(token, JWT_KEY, algorithms=["HS256"])["user_id"] == 1
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_without_a_jwt_key_tokens_are_signed_with_the_django_secret():
    token = run(MINT, DJANGO_SECRET_KEY=SECRET)

    assert jwt.decode(token, SECRET, algorithms=["HS256"])["user_id"] == 1


def test_rotating_the_jwt_key_refuses_every_token_signed_with_the_old_one():
    old = run(MINT, DJANGO_SECRET_KEY=SECRET, JWT_SIGNING_KEY=OLD_JWT_KEY)
    new = run(MINT, DJANGO_SECRET_KEY=SECRET, JWT_SIGNING_KEY=JWT_KEY)

    verdicts = run(CHECK.format(tokens=[old, new]), DJANGO_SECRET_KEY=SECRET, JWT_SIGNING_KEY=JWT_KEY).split()

    assert verdicts == ["refused", "accepted"]
