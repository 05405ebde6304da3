from __future__ import annotations

from apikeys.services import create_api_key


def test_it_lists_the_callers_keys_newest_first_revoked_ones_included(user, make_user, api):
    old, _ = create_api_key(user=user, name="old")
    create_api_key(user=user, name="new")
    create_api_key(user=make_user("bob"), name="bob's")
    old.revoke()

    response = api.get("/api/keys/")

    assert response.status_code == 200
    keys = response.json()
    assert [key["name"] for key in keys] == ["new", "old"]
    assert set(keys[0]) == {"id", "name", "prefix", "created", "last_used", "expires", "revoked"}
    assert keys[0]["revoked"] is None
    assert keys[1]["revoked"] is not None


def test_it_never_shows_a_key_or_its_hash(user, api):
    api_key, raw_key = create_api_key(user=user, name="laptop")

    content = api.get("/api/keys/").content.decode()

    assert raw_key not in content
    assert api_key.hashed_secret not in content


def test_it_is_empty_for_a_user_without_keys(api):
    assert api.get("/api/keys/").json() == []
