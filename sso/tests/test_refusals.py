"""A login through the provider that must fail does, with a clear page and no user made: a wrong state, a replayed
code, an ID token for another audience or expired, a provider that is down."""

from __future__ import annotations

import pytest
import requests

from accounts.models import User
from sso.models import SSOIdentity
from sso.tests.conftest import PROVIDER_PASSWORD
from sso.tests.flow import callback_url

pytestmark = pytest.mark.usefixtures("sso_settings")


def is_logged_in(session: requests.Session, gateway) -> bool:
    return session.get(f"{gateway.url}/api/quota/", timeout=10).status_code == 200


def test_the_flow_with_plain_http_logs_the_user_in(gateway):
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)

    response = session.get(back, allow_redirects=False, timeout=10)

    assert response.status_code == 302
    assert is_logged_in(session, gateway)
    assert User.objects.get(username="stu").email == "stu@example.org"


def test_a_wrong_state_is_refused(gateway):
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)
    wrong = back.replace("state=", "state=x")

    response = session.get(wrong, timeout=10)

    assert response.status_code == 400
    assert "could not be checked" in response.text
    assert not is_logged_in(session, gateway)
    assert not User.objects.filter(username="stu").exists()


def test_a_replayed_code_is_refused(gateway):
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)
    assert session.get(back, timeout=10).status_code == 200
    session.post(f"{gateway.url}/logout/", headers={"X-CSRFToken": session.cookies.get("csrftoken", "")}, timeout=10)

    replay_same_state = session.get(back, timeout=10)  # the state was used up
    assert replay_same_state.status_code == 400

    # With a fresh state in the session, the old code goes to the provider, which refuses it.
    fresh = session.get(f"{gateway.url}/sso/login/", allow_redirects=False, timeout=10).headers["Location"]
    new_state = requests.utils.urlparse(fresh).query.split("state=")[1].split("&")[0]
    old_code = back.split("code=")[1].split("&")[0]
    replayed = session.get(f"{gateway.url}/sso/callback/?code={old_code}&state={new_state}", timeout=10)

    assert replayed.status_code == 502
    assert "Test IdP" in replayed.text
    assert not is_logged_in(requests.Session(), gateway)


@pytest.mark.parametrize("username", ["fault-audience", "fault-expired"])
def test_an_id_token_for_another_audience_or_expired_is_refused_and_makes_no_user(gateway, username):
    session, back = callback_url(gateway.url, username, PROVIDER_PASSWORD)

    response = session.get(back, timeout=10)

    assert response.status_code == 400
    assert "could not be checked" in response.text
    assert "Traceback" not in response.text
    assert not is_logged_in(session, gateway)
    assert not User.objects.filter(username=username).exists()


def test_a_provider_that_is_down_gets_a_clear_page(gateway, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9/o"  # nothing listens on the discard port

    response = requests.get(f"{gateway.url}/sso/login/", timeout=20)

    assert response.status_code == 502
    assert "Test IdP could not be reached" in response.text
    assert User.objects.count() == 0


def test_only_existing_users_may_log_in_when_so_set(gateway, settings):
    settings.OIDC_CREATE_USER = False
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)

    response = session.get(back, timeout=10)

    assert response.status_code == 403
    assert "no account for you here" in response.text
    assert not User.objects.filter(username="stu").exists()


def test_a_provider_that_goes_down_before_the_code_is_exchanged_gets_a_clear_page(gateway, settings):
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/o/token/"  # the provider went away meanwhile

    response = session.get(back, timeout=20)

    assert response.status_code == 502
    assert "Test IdP could not be reached" in response.text
    assert not is_logged_in(session, gateway)
    assert not User.objects.filter(username="stu").exists()


def test_a_local_superuser_of_the_same_username_is_not_taken_over(gateway, make_user):
    make_user("stu", is_superuser=True, is_staff=True)
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)

    response = session.get(back, timeout=10)

    assert response.status_code == 403
    assert "local administrator" in response.text
    assert not is_logged_in(session, gateway)
    assert not SSOIdentity.objects.exists()
