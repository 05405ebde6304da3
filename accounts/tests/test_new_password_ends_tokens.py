"""A new password ends every token of the user, however it is set: the admin's password form, `manage.py
changepassword`, `import_users --update`, or `set_password()` and `save()`. Tokens from `/token` and from
`/api/token/` (access and refresh) are refused from then on; API keys are separate and keep working."""

from __future__ import annotations

from io import StringIO

import pytest
import requests
from django.contrib.auth.hashers import make_password
from django.core.management import call_command

from accounts.models import User
from apikeys.services import create_api_key
from conftest import PASSWORD

NEW_PASSWORD = "a-new-password-for-ada-42"


def log_in(url: str, password: str = PASSWORD) -> dict[str, str]:
    """Ada's tokens, from both login endpoints, over HTTP."""
    chatapi = requests.post(f"{url}/token", json={"u": "ada", "p": password}, timeout=30)
    pair = requests.post(f"{url}/api/token/", json={"username": "ada", "password": password}, timeout=30)
    assert (chatapi.status_code, pair.status_code) == (201, 200)
    return {"/token": chatapi.json()["message"]["token"], **pair.json()}


def what_works(url: str, tokens: dict[str, str], api_key: str) -> dict[str, int]:
    def quota(credential: str) -> int:
        return requests.get(
            f"{url}/api/quota/", headers={"Authorization": f"Bearer {credential}"}, timeout=30
        ).status_code

    refreshed = requests.post(f"{url}/api/token/refresh/", json={"refresh": tokens["refresh"]}, timeout=30)
    return {
        "/token": quota(tokens["/token"]),
        "access": quota(tokens["access"]),
        "refresh": refreshed.status_code,
        "api key": quota(api_key),
    }


def by_the_admins_password_form(ada: User, admin_client, **_) -> None:
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    response = admin_client.post(f"/admin/accounts/user/{ada.pk}/password/", form)
    assert response.status_code == 302, response.content.decode()[:2000]


def by_manage_py_changepassword(ada: User, monkeypatch, **_) -> None:
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass", lambda *a, **k: NEW_PASSWORD
    )
    call_command("changepassword", "ada", stdout=StringIO())


def by_import_users_update(ada: User, tmp_path, **_) -> None:
    csv = tmp_path / "user.csv"
    csv.write_text(f"ada,{NEW_PASSWORD}\n", encoding="utf-8")
    call_command("import_users", str(csv), "--update", stdout=StringIO())


def by_set_password_and_save(ada: User, **_) -> None:
    ada = User.objects.get(pk=ada.pk)
    ada.set_password(NEW_PASSWORD)
    ada.save()


@pytest.mark.parametrize(
    "change_password",
    [by_the_admins_password_form, by_manage_py_changepassword, by_import_users_update, by_set_password_and_save],
)
def test_a_new_password_ends_every_token_of_the_user_but_not_their_api_keys(
    gateway, user, admin_client, monkeypatch, tmp_path, change_password
):
    tokens = log_in(gateway.url)
    _, api_key = create_api_key(user=user, name="laptop")
    assert what_works(gateway.url, tokens, api_key) == {"/token": 200, "access": 200, "refresh": 200, "api key": 200}

    change_password(user, admin_client=admin_client, monkeypatch=monkeypatch, tmp_path=tmp_path)

    assert what_works(gateway.url, tokens, api_key) == {"/token": 401, "access": 401, "refresh": 401, "api key": 200}
    new_tokens = log_in(gateway.url, NEW_PASSWORD)
    assert what_works(gateway.url, new_tokens, api_key) == {
        "/token": 200,
        "access": 200,
        "refresh": 200,
        "api key": 200,
    }


def test_a_stronger_hash_made_when_the_user_logs_in_is_not_a_new_password(gateway, user, settings):
    settings.CHATGATEWAY_LOGIN_MAX_FAILURES = 100
    User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    tokens = log_in(gateway.url)  # rehashed with the preferred hasher on the way
    _, api_key = create_api_key(user=user, name="laptop")

    log_in(gateway.url)

    assert User.objects.get(pk=user.pk).password.startswith("md5$")
    assert what_works(gateway.url, tokens, api_key) == {"/token": 200, "access": 200, "refresh": 200, "api key": 200}


def test_saving_the_user_without_a_new_password_keeps_their_tokens(gateway, user):
    tokens = log_in(gateway.url)
    _, api_key = create_api_key(user=user, name="laptop")
    ada = User.objects.get(pk=user.pk)
    ada.email = "ada@example.org"
    ada.save()

    assert what_works(gateway.url, tokens, api_key) == {"/token": 200, "access": 200, "refresh": 200, "api key": 200}


def test_turning_password_login_off_in_the_admin_ends_every_token_too(gateway, user, admin_client):
    tokens = log_in(gateway.url)
    _, api_key = create_api_key(user=user, name="laptop")

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == 302
    assert not User.objects.get(pk=user.pk).has_usable_password()
    assert what_works(gateway.url, tokens, api_key) == {"/token": 401, "access": 401, "refresh": 401, "api key": 200}
