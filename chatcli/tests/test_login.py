"""Logging in: a hidden password prompt, another try after a wrong password, and the token kept for next time."""

from __future__ import annotations

import stat

from apikeys.services import create_api_key
from chatcli.tests.conftest import log_in, store_for
from conftest import PASSWORD


def test_it_asks_for_the_password_without_showing_it_and_keeps_the_token(terminal, user, cli_env, gateway):
    screen = terminal()
    log_in(screen, user.username)
    screen.wait_for("Chatting with")

    assert PASSWORD not in screen.text()
    assert f"Logged in to {gateway.url} as {user.username}." in screen.text()
    kept = store_for(cli_env, gateway.url).load()
    assert kept.username == user.username
    assert kept.access
    assert kept.refresh


def test_it_keeps_the_token_readable_by_its_owner_only(terminal, user, cli_env, gateway):
    screen = terminal()
    log_in(screen, user.username)
    screen.wait_for("Chatting with")

    path = store_for(cli_env, gateway.url).path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_it_does_not_ask_again_while_the_token_is_kept(terminal, user):
    first = terminal()
    log_in(first, user.username)
    first.wait_for("Chatting with")
    first.type("/exit")
    assert first.exit_status() == 0

    second = terminal()
    welcome = second.wait_for("Chatting with")

    assert "Username:" not in welcome
    assert f"as {user.username}" in welcome


def test_it_says_when_the_password_is_wrong_and_lets_the_user_try_again(terminal, user):
    screen = terminal()
    log_in(screen, user.username, "not the password")
    screen.wait_for("Wrong username or password.")
    log_in(screen, user.username)

    assert "Chatting with" in screen.wait_for("Chatting with")


def test_it_gives_up_after_three_wrong_passwords_with_the_auth_status(terminal, user):
    screen = terminal()
    for _ in range(3):
        log_in(screen, user.username, "not the password")
        screen.wait_for("Wrong username or password.")

    assert screen.exit_status() == 3


def test_it_logs_in_for_good_with_the_login_command_and_forgets_with_logout(terminal, run_cli, user, cli_env, gateway):
    screen = terminal("login", "--user", user.username)
    screen.wait_for("Password:")
    screen.type(PASSWORD)
    screen.wait_for("Logged in")
    assert screen.exit_status() == 0
    assert store_for(cli_env, gateway.url).load().username == user.username

    result = run_cli("logout")

    assert result.returncode == 0
    assert f"Forgot the token for {gateway.url}." in result.stdout
    assert store_for(cli_env, gateway.url).load() is None


def test_it_chats_with_an_api_key_without_logging_in_or_keeping_anything(terminal, user, cli_env, gateway):
    _, raw_key = create_api_key(user=user, name="terminal")
    screen = terminal(env={"CHATGATEWAY_API_KEY": raw_key})

    assert "as the holder of an API key" in screen.wait_for("Chatting with")
    assert "You said: Hello" in screen.send("Hello")
    assert store_for(cli_env, gateway.url).load() is None
