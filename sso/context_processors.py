from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def sso(request: HttpRequest) -> dict:
    """`sso_provider_name` for the log-in pages' "Log in with …" link; None while single sign-on is off."""
    return {"sso_provider_name": settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else None}
