"""CHATGATEWAY_PASSWORD_LOGIN off: only superusers log in with a password, on every page and token endpoint."""

from __future__ import annotations

import pytest

from conftest import PASSWORD


@pytest.fixture
def passwords_off(settings):
    settings.CHATGATEWAY_PASSWORD_LOGIN = False


def test_by_default_passwords_work_on_the_token_endpoints(client, user):
    assert (
        client.post("/token", {"u": user.username, "p": PASSWORD}, content_type="application/json").status_code == 201
    )
    response = client.post("/api/token/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200


@pytest.mark.usefixtures("passwords_off")
def test_when_off_a_user_is_refused_everywhere(client, user):
    assert (
        client.post("/token", {"u": user.username, "p": PASSWORD}, content_type="application/json").status_code == 401
    )
    assert client.post("/api/token/", {"username": user.username, "password": PASSWORD}).status_code == 401
    client.post("/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("passwords_off")
def test_when_off_a_superuser_still_gets_in(client, make_user):
    admin = make_user("root", is_superuser=True, is_staff=True)

    assert (
        client.post("/token", {"u": admin.username, "p": PASSWORD}, content_type="application/json").status_code == 201
    )
    client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(admin.pk)
