"""Every refused key gets the same 401 and the same words, whichever check failed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apikeys.authentication import INVALID_KEY
from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with


def wrong_secret(raw_key: str) -> str:
    last = "A" if raw_key[-1] != "A" else "B"
    return raw_key[:-1] + last


def unknown_prefix(raw_key: str) -> str:
    return "sk-" + ("x" if raw_key[3] != "x" else "y") + raw_key[4:]


def revoked(raw_key: str) -> str:
    APIKey.objects.get().revoke()
    return raw_key


def expired(raw_key: str) -> str:
    APIKey.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    return raw_key


def inactive_user(raw_key: str) -> str:
    user = APIKey.objects.get().user
    user.is_active = False
    user.save()
    return raw_key


def malformed(raw_key: str) -> str:
    return raw_key[:-1] + "!"


def truncated(raw_key: str) -> str:
    return raw_key[:20]


@pytest.mark.parametrize("spoil", [wrong_secret, unknown_prefix, revoked, expired, inactive_user, malformed, truncated])
def test_it_refuses_with_401_and_one_message(user, spoil):
    _, raw_key = create_api_key(user=user, name="laptop")

    response = quota_with(spoil(raw_key))

    assert response.status_code == 401
    assert response.json() == {"detail": INVALID_KEY}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_refuses_a_key_from_the_moment_it_expires(user):
    expires = timezone.now() + dt.timedelta(days=1)
    _, raw_key = create_api_key(user=user, name="laptop", expires=expires)

    with time_machine.travel(expires - dt.timedelta(seconds=1), tick=False):
        assert quota_with(raw_key).status_code == 200
    with time_machine.travel(expires, tick=False):
        assert quota_with(raw_key).status_code == 401


def test_it_refuses_a_key_whose_user_was_deleted(user):
    _, raw_key = create_api_key(user=user, name="laptop")
    user.delete()

    assert quota_with(raw_key).status_code == 401
