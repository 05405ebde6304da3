"""The admin's actions on users: reset today's counts; revoke API keys and tokens."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with
from quota.services import quota_status, reserve_request


def act(admin_client, action: str, *users) -> str:
    response = admin_client.post(
        "/admin/accounts/user/", {"action": action, "_selected_action": [user.pk for user in users]}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def test_resetting_todays_counts_gives_the_selected_users_their_allowance_afresh(admin_client, make_user):
    ada, bob = make_user("ada", daily_limit=2), make_user("bob")
    for user in (ada, ada, bob):
        reserve_request(user_id=user.pk)

    message = act(admin_client, "reset_todays_counts", ada)

    assert "Reset today&#x27;s requests and tokens of 1 user(s)." in message
    assert quota_status(user_id=ada.pk).remaining == 2
    assert quota_status(user_id=bob.pk).used_today == 1


def test_revoking_keys_and_tokens_locks_the_selected_users_out_at_once(admin_client, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    _, ada_key = create_api_key(user=ada, name="laptop")
    _, bob_key = create_api_key(user=bob, name="laptop")
    ada_token = issue_access_token(ada)

    message = act(admin_client, "revoke_keys_and_tokens", ada)

    assert "Revoked 1 API key(s) and every token of 1 user(s)." in message
    assert quota_with(ada_key).status_code == 401
    assert Client().get("/api/quota/", headers={"Authorization": f"Bearer {ada_token}"}).status_code == 401
    assert quota_with(bob_key).status_code == 200


def test_staff_who_may_only_view_users_can_revoke_nothing(make_user):
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    bob = make_user("bob")
    client = Client()
    client.force_login(viewer)

    for action in ("revoke_tokens", "revoke_keys_and_tokens", "reset_todays_counts"):
        client.post("/admin/accounts/user/", {"action": action, "_selected_action": [bob.pk]})

    bob.refresh_from_db()
    assert bob.token_version == 0
