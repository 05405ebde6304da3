from __future__ import annotations

import datetime as dt

from apikeys.models import APIKey
from apikeys.services import create_api_key, revoke_api_keys


def test_revoke_is_idempotent_and_keeps_the_first_time(user):
    api_key, _ = create_api_key(user=user, name="laptop")
    first = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    assert api_key.revoke(now=first) is True
    assert api_key.revoke(now=first + dt.timedelta(days=1)) is False
    assert api_key.revoked == first


def test_revoke_api_keys_revokes_only_those_not_yet_revoked(user):
    one, _ = create_api_key(user=user, name="one")
    create_api_key(user=user, name="two")
    one.revoke()

    assert revoke_api_keys(queryset=APIKey.objects.all()) == 1
    assert not APIKey.objects.filter(revoked__isnull=True).exists()


def test_a_key_is_usable_until_revoked_or_expired(user):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    api_key = APIKey(user=user, name="x", expires=now + dt.timedelta(seconds=1))

    assert api_key.is_usable(now)
    assert not api_key.is_usable(now + dt.timedelta(seconds=1))
    api_key.revoked = now
    assert not api_key.is_usable(now)
