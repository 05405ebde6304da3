from __future__ import annotations

import datetime as dt

from apikeys.models import APIKey
from apikeys.tests.helpers import RAW_KEY, quota_with


def test_it_creates_a_key_and_shows_it_once(user, api):
    response = api.post("/api/keys/", {"name": "laptop"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "key", "created", "expires"}
    assert RAW_KEY.fullmatch(body["key"])
    assert body["prefix"] == body["key"][:11]
    assert body["name"] == "laptop"
    assert body["expires"] is None
    api_key = APIKey.objects.get(pk=body["id"])
    assert api_key.user == user
    assert api_key.matches(body["key"])


def test_the_new_key_authenticates_at_once(api):
    raw_key = api.post("/api/keys/", {"name": "laptop"}, format="json").json()["key"]

    assert quota_with(raw_key).status_code == 200


def test_it_takes_an_expiry_in_the_future(api):
    response = api.post("/api/keys/", {"name": "ci", "expires": "2099-08-01T00:00:00Z"}, format="json")

    assert response.status_code == 201
    assert response.json()["expires"] == "2099-08-01T00:00:00Z"
    assert APIKey.objects.get().expires == dt.datetime(2099, 8, 1, tzinfo=dt.UTC)


def test_it_trims_the_name(api):
    response = api.post("/api/keys/", {"name": "  laptop  "}, format="json")

    assert response.json()["name"] == "laptop"
