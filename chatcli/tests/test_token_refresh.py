"""An expired token is refreshed without a word; when the refresh token is refused too, the client asks again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from chatcli.tests.conftest import store_for
from conftest import PASSWORD


def test_it_refreshes_an_expired_token_and_keeps_the_new_one(terminal, logged_in, user, cli_env, gateway):
    expired = logged_in(user, expired=True).load().access
    screen = terminal()

    welcome = screen.wait_for("Chatting with")
    assert "You said: Hello" in screen.send("Hello")

    assert "Password:" not in welcome
    kept = store_for(cli_env, gateway.url).load()
    assert kept.access != expired


def test_it_asks_for_the_password_again_when_the_session_is_over(terminal, logged_in, user, cli_env, gateway):
    logged_in(user, expired=True)
    user.revoke_tokens()  # what "Revoke all tokens" in admin does: the refresh token is refused too
    screen = terminal()

    screen.wait_for("Your session has expired; please log in again.")
    screen.wait_for("Password:")  # the username is remembered
    screen.type(PASSWORD)

    assert f"as {user.username}" in screen.wait_for("Chatting with")
    assert store_for(cli_env, gateway.url).load().username == user.username


def test_it_refreshes_a_token_that_expires_during_the_chat(terminal, logged_in, user, cli_env, gateway):
    first = logged_in(user).load().access
    screen = terminal()
    screen.wait_for("Chatting with")

    # The gateway (in this process) moves past the access token's 30 days, within the refresh token's 60.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        answer = screen.send("Hello")

    assert "You said: Hello" in answer
    assert "Password:" not in answer
    assert store_for(cli_env, gateway.url).load().access != first
