from __future__ import annotations

from apikeys.models import APIKey
from apikeys.services import create_api_key


def test_the_list_shows_and_finds_keys(admin_client, make_user):
    ada_key, _ = create_api_key(user=make_user("ada"), name="laptop")
    create_api_key(user=make_user("bob"), name="server")

    page = admin_client.get("/admin/apikeys/apikey/", {"q": "ada"}).content.decode()

    assert ada_key.prefix in page
    assert "laptop" in page
    assert "server" not in page
    assert ada_key.hashed_secret not in page


def test_the_list_filters_by_status(admin_client, user):
    usable, _ = create_api_key(user=user, name="usable")
    revoked, _ = create_api_key(user=user, name="revoked")
    revoked.revoke()

    page = admin_client.get("/admin/apikeys/apikey/", {"status": "revoked"}).content.decode()

    assert revoked.prefix in page
    assert usable.prefix not in page


NO_LIMITS = {"limits-TOTAL_FORMS": "0", "limits-INITIAL_FORMS": "0"}  # the key's limits inline, left empty


def test_only_the_name_and_the_team_can_change(admin_client, user):
    api_key, _ = create_api_key(user=user, name="laptop")
    url = f"/admin/apikeys/apikey/{api_key.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="name"' in page
    assert 'name="team"' in page  # whose shared limits it draws on: one of its user's teams
    assert 'name="expires_0"' not in page
    assert 'name="user"' not in page

    response = admin_client.post(url, {"name": "old laptop", "expires_0": "2099-01-01", "user": "999", **NO_LIMITS})

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.expires, api_key.user) == ("old laptop", None, user)


def test_saving_the_page_keeps_a_revocation_made_meanwhile(admin_client, user):
    api_key, _ = create_api_key(user=user, name="laptop")
    url = f"/admin/apikeys/apikey/{api_key.pk}/change/"
    admin_client.get(url)
    api_key.revoke()

    admin_client.post(url, {"name": "old laptop", **NO_LIMITS})

    saved = APIKey.objects.get()
    assert saved.name == "old laptop"
    assert saved.revoked == api_key.revoked


def test_the_users_page_lists_their_keys(admin_client, user):
    api_key, _ = create_api_key(user=user, name="laptop")

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()

    assert "API keys" in page
    assert api_key.prefix in page
    assert f"/admin/apikeys/apikey/{api_key.pk}/change/" in page
