"""System checks of the gateway's own settings, run by `manage.py check --deploy`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

MIN_JWT_KEY_LENGTH = 32  # bytes of an HS256 key, as RFC 7518 asks (at least the hash's size)


@register(Tags.security, deploy=True)
def check_jwt_signing_key(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    if len(key) >= MIN_JWT_KEY_LENGTH and len(set(key)) >= 5:
        return []
    return [
        Warning(
            f"JWT_SIGNING_KEY (or DJANGO_SECRET_KEY, which signs tokens when it is unset) is shorter than "
            f"{MIN_JWT_KEY_LENGTH} characters or too repetitive, so tokens could be forged by guessing it.",
            hint="Set it to 50 random characters: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
            id="chatgateway.W001",
        )
    ]
