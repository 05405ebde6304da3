import pytest
from django.test import Client

from accounts.models import User
from accounts.tokens import issue_access_token


@pytest.fixture
def admin_client(db) -> Client:
    admin = User.objects.create_superuser("root", password="admin-pass-123")
    client = Client()
    client.force_login(admin)
    return client


def test_an_admin_creates_a_user_with_a_hashed_password_and_the_default_quota(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "ada",
            "password1": "Quite-long-pass-42",
            "password2": "Quite-long-pass-42",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    ada = User.objects.get(username="ada")
    assert ada.check_password("Quite-long-pass-42")
    assert ada.quota.daily_limit is None  # follows the default
    assert ada.quota.request_limit() == 10


def change_form(user: User, **fields) -> dict:
    """The user's admin change form as a browser would post it."""
    form = {
        "username": user.username, "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "quota-TOTAL_FORMS": "1", "quota-INITIAL_FORMS": "1", "quota-MIN_NUM_FORMS": "0",
        "quota-MAX_NUM_FORMS": "1", "quota-0-user": str(user.pk), "quota-0-daily_limit": "10",
        "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0", "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        "limits-TOTAL_FORMS": "0", "limits-INITIAL_FORMS": "0",
    }  # fmt: skip
    form.update(fields)
    return {key: value for key, value in form.items() if value is not None}


def test_the_user_page_shows_and_edits_the_quota_inline(admin_client, make_user):
    ada = make_user("ada")
    page = admin_client.get(f"/admin/accounts/user/{ada.pk}/change/")
    assert b"Daily request limit" in page.content
    assert b"Requests used" in page.content

    response = admin_client.post(
        f"/admin/accounts/user/{ada.pk}/change/", change_form(ada, **{"quota-0-daily_limit": "25"})
    )

    assert response.status_code == 302, response.content[:2000]
    ada.quota.refresh_from_db()
    assert ada.quota.daily_limit == 25


def test_saving_the_user_page_keeps_requests_and_revocations_made_meanwhile(admin_client, make_user):
    """The admin form was read before; a request counted and a revocation made since must stay."""
    from quota.services import quota_status, reserve_request

    ada = make_user("ada")
    admin_client.get(f"/admin/accounts/user/{ada.pk}/change/")
    reserve_request(user_id=ada.pk)
    ada.revoke_tokens()

    admin_client.post(f"/admin/accounts/user/{ada.pk}/change/", change_form(ada, **{"quota-0-daily_limit": "25"}))

    assert quota_status(user_id=ada.pk).used_today == 1
    assert User.objects.get(pk=ada.pk).token_version == 1


def test_the_user_list_shows_limits_and_todays_use(admin_client, make_user):
    make_user("ada", daily_limit=12)

    response = admin_client.get("/admin/accounts/user/")

    assert response.status_code == 200
    assert b"12" in response.content


def test_revoking_tokens_in_admin_refuses_the_users_jwts_at_once(admin_client, make_user):
    ada = make_user("ada")
    token = issue_access_token(ada)

    admin_client.post("/admin/accounts/user/", {"action": "revoke_tokens", "_selected_action": [ada.pk]})

    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    fresh = issue_access_token(User.objects.get(pk=ada.pk))
    assert Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_deactivating_a_user_in_admin_refuses_their_token(admin_client, make_user):
    ada = make_user("ada")
    token = issue_access_token(ada)

    saved = admin_client.post(f"/admin/accounts/user/{ada.pk}/change/", change_form(ada, is_active=None))

    assert saved.status_code == 302
    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "inactive" in response.json()["message"]


def test_deleting_a_user_in_admin_refuses_their_token(admin_client, make_user):
    ada = make_user("ada")
    token = issue_access_token(ada)

    admin_client.post(f"/admin/accounts/user/{ada.pk}/delete/", {"post": "yes"})

    assert not User.objects.filter(pk=ada.pk).exists()
    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
