"""Fixtures for the terminal client's tests: a clean environment, and the client in a terminal or a pipe."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.models import User
from accounts.tokens import TokenObtainPairSerializer
from chatcli.tests.terminal import REPO, Terminal, run_client
from chatcli.tokens import Credentials, TokenStore
from conftest import PASSWORD


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """The client's environment: its own config folder and home, English, UTC, no credentials inherited."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHATGATEWAY_", "LC_", "LANG", "DJANGO_", "PYTEST_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        LANG="en_US.UTF-8",
        TZ="UTC",
        TERM="xterm-256color",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def terminal(cli_env, gateway):
    """Start the client in a terminal against the live gateway: `terminal("--lang", "zh", env={...})`; other
    options (`rows`, `sigint_ignored`) go to `Terminal`."""
    started: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None, url: str | None = None, **options) -> Terminal:
        started.append(Terminal("--url", url or gateway.url, *args, env={**cli_env, **(env or {})}, **options))
        return started[-1]

    yield start
    for running in started:
        running.close()


@pytest.fixture
def chat(terminal, logged_in):
    """The client in a terminal, already logged in as `user`, past its welcome."""

    def start(user: User, *args: str, **options) -> Terminal:
        logged_in(user)
        screen = terminal(*args, **options)
        screen.wait_for("Chatting with")
        return screen

    return start


@pytest.fixture
def run_cli(cli_env, gateway):
    """Run the client with pipes (no terminal), as a script would; the finished process."""

    def run(*args: str, env: dict[str, str] | None = None, url: str | None = None, stdin: str = ""):
        arguments = ["-m", "chatcli", "--url", url or gateway.url, *args]
        return run_client(arguments, env={**cli_env, **(env or {})}, stdin=stdin)

    return run


@pytest.fixture
def logged_in(cli_env, gateway):
    """Keep a token pair for `user` as a login would have; the store. `expired=True`: an expired access token."""

    def keep(user: User, *, expired: bool = False) -> TokenStore:
        refresh = TokenObtainPairSerializer.get_token(user)
        access = refresh.access_token
        if expired:
            access.set_exp(lifetime=-timedelta(minutes=1))
        store = store_for(cli_env, gateway.url)
        store.save(Credentials(username=user.username, access=str(access), refresh=str(refresh)))
        return store

    return keep


def store_for(env: dict[str, str], url: str) -> TokenStore:
    """The token store the client run with `env` uses for `url`."""
    return TokenStore(url, folder=Path(env["XDG_CONFIG_HOME"]) / "chatgateway")


def log_in(screen: Terminal, username: str, password: str = PASSWORD) -> None:
    screen.wait_for("Username:")
    screen.type(username)
    screen.wait_for("Password:")
    screen.type(password)
