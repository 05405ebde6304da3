"""`Authorization: Bearer sk-…`: a user's API key, for programs that should not hold a password or a JWT."""

from __future__ import annotations

import copy

from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import User
from apikeys.models import KEY_PREFIX, APIKey, looks_like_a_key, prefix_of
from core import access

# One message for every refusal: which check failed, or whether the prefix exists, is no one's business.
INVALID_KEY = gettext_lazy("Invalid API key: it may be mistyped, revoked or expired. Create a new one at /api/keys/.")


class APIKeyAuthentication(BaseAuthentication):
    """Bearer credentials starting with `sk-` are API keys; any other is left to the next class (JWTs).

    Success gives `(user, api_key)`, so a view can tell from `request.auth` which key was used.
    """

    def authenticate(self, request: Request) -> tuple[User, APIKey] | None:
        credential = _bearer_credential(request)
        if credential is None or not credential.startswith(KEY_PREFIX.encode()):
            return None
        raw_key = credential.decode("ascii", errors="replace")
        if not looks_like_a_key(raw_key):
            raise AuthenticationFailed(INVALID_KEY, code="api_key_invalid")
        api_key = _key_with_prefix(prefix_of(raw_key))
        now = timezone.now()
        if api_key is None or not api_key.matches(raw_key) or not api_key.is_usable(now) or not api_key.user.is_active:
            raise AuthenticationFailed(INVALID_KEY, code="api_key_invalid")
        api_key.mark_used(now=now)
        api_key = copy.copy(api_key)  # the request's own: the cached one is every request's
        api_key.user = user = copy.copy(api_key.user)
        return user, api_key

    def authenticate_header(self, request: Request) -> str:
        # Being first among the authentication classes, this header is what makes DRF answer a
        # request without credentials 401 (with WWW-Authenticate) rather than 403.
        return 'Bearer realm="api"'


def _key_with_prefix(prefix: str) -> APIKey | None:
    """The key with this prefix, and its user: from the process's cache (core/access.py), which any change
    to a key or a user ends at once; a prefix no key has is read each time (nothing to fill the cache with).
    The prefix is unique and indexed: one row is read, never the table."""
    return access.cached(
        "api_key", prefix, lambda: APIKey.objects.select_related("user").filter(prefix=prefix).first(), keep_none=False
    )


def _bearer_credential(request: Request) -> bytes | None:
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    return parts[1]
