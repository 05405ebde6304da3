"""The log-out link: a POST (with the CSRF token) ends the session."""

from __future__ import annotations


def test_logging_out_ends_the_session_and_leads_back_to_the_log_in_form(client, user):
    client.force_login(user)

    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "_auth_user_id" not in client.session
    assert b'id="login-form"' in client.get("/").content


def test_a_get_does_not_log_out(client, user):
    client.force_login(user)

    assert client.get("/logout/").status_code == 405  # a link or an image elsewhere can't log you out
    assert "_auth_user_id" in client.session
