from __future__ import annotations

from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with


def test_the_revoke_action_refuses_the_selected_keys_at_once(admin_client, user):
    chosen, chosen_raw = create_api_key(user=user, name="leaked")
    _, kept_raw = create_api_key(user=user, name="kept")

    response = admin_client.post(
        "/admin/apikeys/apikey/", {"action": "revoke_selected", "_selected_action": [chosen.pk]}, follow=True
    )

    assert "Revoked 1 API key(s)." in response.content.decode()
    assert quota_with(chosen_raw).status_code == 401
    assert quota_with(kept_raw).status_code == 200


def test_revoking_revoked_keys_again_keeps_their_first_time(admin_client, user):
    api_key, _ = create_api_key(user=user, name="leaked")
    api_key.revoke()

    response = admin_client.post(
        "/admin/apikeys/apikey/", {"action": "revoke_selected", "_selected_action": [api_key.pk]}, follow=True
    )

    assert "Revoked 0 API key(s)." in response.content.decode()
    assert APIKey.objects.get().revoked == api_key.revoked
