"""Browser sessions (the browsable API, admin) need a CSRF token for anything that changes state; the
token endpoints, which take credentials in the body and set no cookie, do not."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD, used_today


@pytest.fixture
def browser(user) -> Client:
    """A logged-in browser that sends no CSRF token unless told to, with the CSRF cookie set."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/api-auth/login/")
    return client


def test_a_session_post_to_the_browsable_api_without_a_csrf_token_is_refused(browser, user):
    response = browser.post("/api/chat/", {"prompt": "hi"}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert used_today(user) == 0


def test_a_session_post_with_the_csrf_token_is_served(browser, user):
    csrf = browser.cookies["csrftoken"].value

    response = browser.post("/api/chat/", {"prompt": "hi"}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)

    assert response.status_code == 200
    assert used_today(user) == 1


def test_an_admin_post_without_a_csrf_token_is_refused(make_user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    target = make_user("ada")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    response = client.post("/admin/accounts/user/", {"action": "revoke_tokens", "_selected_action": [target.pk]})

    assert response.status_code == 403
    target.refresh_from_db()
    assert target.token_version == 0


def test_the_login_form_needs_a_csrf_token(user):
    response = Client(enforce_csrf_checks=True).post("/api-auth/login/", {"username": "ada", "password": PASSWORD})

    assert response.status_code == 403


def test_the_token_endpoints_need_no_csrf_token_even_beside_a_session(browser):
    obtained = browser.post("/api/token/", {"username": "ada", "password": PASSWORD}, content_type="application/json")
    pair = obtained.json()

    assert obtained.status_code == 200
    assert browser.post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json").status_code == 201
    for path, body in [
        ("/api/token/refresh/", {"refresh": pair["refresh"]}),
        ("/api/token/verify/", {"token": pair["access"]}),
        ("/api/token/blacklist/", {"refresh": pair["refresh"]}),
    ]:
        assert browser.post(path, body, content_type="application/json").status_code == 200, path
