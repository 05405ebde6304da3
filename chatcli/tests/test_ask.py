"""`ask`, the one-shot mode for scripts: the answer on standard output, or a sentence on standard error and
an exit status that says what went wrong (documented in --help)."""

from __future__ import annotations

import subprocess
import sys
import time

from apikeys.services import create_api_key
from chatcli.tests.conftest import store_for
from chatcli.tests.terminal import REPO
from conftest import PASSWORD
from conversations.models import Conversation
from conversations.tests.helpers import conversation
from devtools.testing import free_port


def test_it_prints_the_answer_as_plain_text_and_exits_zero(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask", "Name **three** colours")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "(development upstream, not a real model) You said: Name **three** colours\n"
    assert result.stderr == ""
    assert Conversation.objects.get(user=user).title == "Name **three** colours"


def test_it_reads_the_question_from_standard_input(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask", "-", stdin="From a pipe\n")

    assert result.returncode == 0, result.stderr
    assert "You said: From a pipe" in result.stdout


def test_it_continues_the_latest_conversation_when_asked(run_cli, logged_in, user, dev_upstream):
    conversation(user, title="Earlier", messages=[("user", "Remember 42"), ("assistant", "Noted")])
    logged_in(user)

    result = run_cli("ask", "--continue", "What number?")

    assert result.returncode == 0, result.stderr
    assert [m["content"] for m in dev_upstream.received[-1]["body"]["messages"]] == [
        "Remember 42",
        "Noted",
        "What number?",
    ]


def test_it_logs_in_from_the_environment(run_cli, user, cli_env, gateway):
    result = run_cli("ask", "Hi", env={"CHATGATEWAY_USERNAME": user.username, "CHATGATEWAY_PASSWORD": PASSWORD})

    assert result.returncode == 0, result.stderr
    assert "You said: Hi" in result.stdout
    assert f"Logged in to {gateway.url} as {user.username}." in result.stderr  # said once, where scripts log
    assert store_for(cli_env, gateway.url).load().username == user.username


def test_it_takes_an_api_key_from_the_environment_and_keeps_nothing(run_cli, user, cli_env, gateway):
    _, raw_key = create_api_key(user=user, name="script")

    result = run_cli("ask", "Hi", env={"CHATGATEWAY_API_KEY": raw_key})

    assert result.returncode == 0, result.stderr
    assert "You said: Hi" in result.stdout
    assert store_for(cli_env, gateway.url).load() is None


def test_it_exits_2_without_a_question(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask")

    assert result.returncode == 2
    assert "No question given." in result.stderr


def test_it_exits_3_when_not_logged_in(run_cli, gateway):
    result = run_cli("ask", "Hi")

    assert result.returncode == 3
    assert f"Not logged in to {gateway.url}" in result.stderr
    assert result.stdout == ""


def test_it_exits_3_on_a_wrong_password(run_cli, user):
    result = run_cli("ask", "Hi", env={"CHATGATEWAY_USERNAME": user.username, "CHATGATEWAY_PASSWORD": "wrong"})

    assert result.returncode == 3
    assert "Wrong username or password." in result.stderr


def test_it_exits_3_on_a_revoked_api_key(run_cli, user):
    key, raw_key = create_api_key(user=user, name="script")
    key.delete()

    result = run_cli("ask", "Hi", env={"CHATGATEWAY_API_KEY": raw_key})

    assert result.returncode == 3
    assert "The gateway refused your credentials:" in result.stderr


def test_it_exits_4_when_the_daily_limit_is_reached(run_cli, logged_in, make_user):
    logged_in(make_user("grace", daily_limit=1))
    assert run_cli("ask", "One").returncode == 0

    result = run_cli("ask", "Two")

    assert result.returncode == 4
    assert "Daily limit of requests reached. It resets at " in result.stderr
    assert Conversation.objects.filter(messages__isnull=True).count() == 0, "no empty conversation is left"


def test_it_exits_4_when_blocked(run_cli, logged_in, make_user):
    logged_in(make_user("mallory", daily_limit=0))

    result = run_cli("ask", "Hi")

    assert result.returncode == 4
    assert "blocked" in result.stderr


def test_it_exits_5_when_the_gateway_is_down(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask", "Hi", url=f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 5
    assert "Cannot reach the gateway" in result.stderr


def test_it_exits_5_when_the_model_fails(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask", "Hi [dev:status=500]")

    assert result.returncode == 5
    assert "The model is unavailable right now (502)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Conversation.objects.filter(user=user).exists(), "the gateway kept nothing, nor does the client"


def test_it_exits_5_when_the_answer_breaks_off(run_cli, logged_in, user):
    logged_in(user)

    result = run_cli("ask", "Hi [dev:chunks=6] [dev:error_event]")

    assert result.returncode == 5
    assert "The answer broke off:" in result.stderr
    assert not Conversation.objects.filter(user=user).exists(), "the gateway kept nothing, nor does the client"


def test_it_stops_quietly_when_its_reader_goes_away(cli_env, logged_in, user, gateway, dev_upstream):
    logged_in(user)
    abandoned = dev_upstream.streams_abandoned
    arguments = ["-m", "chatcli", "--url", gateway.url, "ask", "Long [dev:chunks=200] [dev:interval=0.02]"]
    client = subprocess.Popen(  # like `… ask "…" | head -c 40`
        [sys.executable, *arguments], env=cli_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert client.stdout.read(40)
    client.stdout.close()

    assert client.wait(timeout=30) == 1
    assert client.stderr.read() == b""
    deadline = time.monotonic() + 10
    while dev_upstream.streams_abandoned == abandoned:  # it hung up: the gateway closed the upstream request
        assert time.monotonic() < deadline
        time.sleep(0.05)
