"""A user holds at most CHATGATEWAY_MAX_API_KEYS_PER_USER usable keys; revoked and expired ones don't count."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import create_api_key


def test_it_refuses_a_key_past_the_limit_with_400_in_the_rest_apis_shape(user, api, settings):
    # It was a bare list, which no documented REST error is (found by the schema fuzz).
    settings.CHATGATEWAY_MAX_API_KEYS_PER_USER = 2
    create_api_key(user=user, name="one")
    create_api_key(user=user, name="two")

    response = api.post("/api/keys/", {"name": "three"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "You already have 2 active API keys, the most allowed. Revoke one you no longer use first."
    }
    assert APIKey.objects.count() == 2


def test_revoked_and_expired_keys_leave_room(user, api, settings):
    settings.CHATGATEWAY_MAX_API_KEYS_PER_USER = 2
    first, _ = create_api_key(user=user, name="one")
    create_api_key(user=user, name="two", expires=timezone.now() + dt.timedelta(hours=1))
    first.revoke()

    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        assert api.post("/api/keys/", {"name": "three"}, format="json").status_code == 201
        assert api.post("/api/keys/", {"name": "four"}, format="json").status_code == 201
        assert api.post("/api/keys/", {"name": "five"}, format="json").status_code == 400


def test_other_users_keys_do_not_count(make_user, settings):
    settings.CHATGATEWAY_MAX_API_KEYS_PER_USER = 1
    ada, bob = make_user("ada"), make_user("bob")
    create_api_key(user=ada, name="ada's")

    create_api_key(user=bob, name="bob's")

    assert APIKey.objects.count() == 2
