from __future__ import annotations

from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with


def test_it_revokes_a_key_at_once(user, api):
    api_key, raw_key = create_api_key(user=user, name="laptop")

    response = api.delete(f"/api/keys/{api_key.pk}/")

    assert response.status_code == 204
    assert quota_with(raw_key).status_code == 401
    api_key.refresh_from_db()
    assert api_key.revoked is not None


def test_revoking_again_is_harmless_and_keeps_the_first_time(user, api):
    api_key, _ = create_api_key(user=user, name="laptop")
    api.delete(f"/api/keys/{api_key.pk}/")
    first = APIKey.objects.get().revoked

    assert api.delete(f"/api/keys/{api_key.pk}/").status_code == 204
    assert APIKey.objects.get().revoked == first


def test_another_users_key_is_not_found(make_user, api):
    bobs, raw_key = create_api_key(user=make_user("bob"), name="bob's")

    assert api.delete(f"/api/keys/{bobs.pk}/").status_code == 404
    assert quota_with(raw_key).status_code == 200


def test_a_key_that_does_not_exist_is_not_found(api):
    assert api.delete("/api/keys/999/").status_code == 404
