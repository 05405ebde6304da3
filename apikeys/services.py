"""Creating and revoking API keys; the API and the admin both come through here."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from apikeys.exceptions import TooManyAPIKeys
from apikeys.models import APIKey, APIKeyQuerySet, digest_of, new_raw_key, prefix_of

# A new key's prefix clashes with one of n existing keys with odds of n in 62^8 (2e14): draw again then.
PREFIX_ATTEMPTS = 5


def ensure_room_for_api_key(*, user: User) -> None:
    """Raise TooManyAPIKeys if `user` already holds the most usable keys allowed."""
    limit = settings.CHATGATEWAY_MAX_API_KEYS_PER_USER
    if APIKey.objects.filter(user=user).usable(timezone.now()).count() >= limit:
        raise TooManyAPIKeys(limit=limit)


def create_api_key(*, user: User, name: str, expires: dt.datetime | None = None) -> tuple[APIKey, str]:
    """A new key for `user`: its row, and the raw key, which exists only in this return value."""
    with transaction.atomic():
        # Counting and inserting under the user's row lock keeps two concurrent requests from both
        # taking the last place (on SQLite, whose transactions begin IMMEDIATE here, the transaction
        # itself holds the write lock).
        User.objects.select_for_update().get(pk=user.pk)
        ensure_room_for_api_key(user=user)
        for _ in range(PREFIX_ATTEMPTS - 1):
            try:
                with transaction.atomic():  # a savepoint: a clash must not spoil the outer transaction
                    return _insert_new_key(user=user, name=name, expires=expires)
            except IntegrityError:
                continue
        return _insert_new_key(user=user, name=name, expires=expires)


def _insert_new_key(*, user: User, name: str, expires: dt.datetime | None) -> tuple[APIKey, str]:
    raw_key = new_raw_key()
    api_key = APIKey.objects.create(
        user=user, name=name, expires=expires, prefix=prefix_of(raw_key), hashed_secret=digest_of(raw_key)
    )
    return api_key, raw_key


def revoke_api_keys(*, queryset: APIKeyQuerySet) -> int:
    """Revoke the keys in `queryset` that are not revoked yet; how many were."""
    return queryset.revoke(now=timezone.now())
