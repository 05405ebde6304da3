"""Every refusal the gateway can give reads as a sentence in the chat, and the chat goes on where it can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devtools.testing import free_port


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")


def test_it_says_when_the_daily_limit_is_reached_and_when_it_resets(chat, make_user):
    screen = chat(make_user("grace", daily_limit=1))
    screen.type("One")
    screen.wait_for("0 requests left today")

    screen.type("Two")

    shown = screen.wait_for("It resets at")
    assert f"Daily limit of requests reached. It resets at {tomorrow()} 00:00 UTC." in shown
    screen.type("/quota")
    assert "1 of 1 requests used" in screen.wait_for("Resets at")  # still chatting


def test_it_says_when_an_administrator_has_blocked_the_user(chat, make_user):
    screen = chat(make_user("mallory", daily_limit=0))

    screen.type("Hello?")

    assert "An administrator has blocked your use of the model" in screen.wait_for("blocked")


def test_it_says_when_the_gateway_cannot_be_reached_before_asking_for_a_password(terminal):
    screen = terminal(url=f"http://127.0.0.1:{free_port()}")

    shown = screen.wait_for("Is it running?")

    assert "Cannot reach the gateway at http://127.0.0.1:" in shown
    assert "Username:" not in shown
    assert screen.exit_status() == 5


def test_it_says_when_the_gateway_goes_away_during_the_chat(chat, user, gateway):
    screen = chat(user)
    gateway.__exit__(None, None, None)  # the server stops; the client is still at its prompt

    screen.type("Anyone there?")

    assert f"Cannot reach the gateway at {gateway.url}. Is it running?" in screen.wait_for("Is it running?")


def test_it_says_when_the_model_fails_and_the_chat_goes_on(chat, user):
    screen = chat(user)

    screen.type("Break [dev:status=500]")
    assert "The model is unavailable right now (502): " in screen.wait_for("unavailable")
    assert "You said: Better now" in screen.send("Better now")


def test_it_says_when_an_answer_breaks_off_midway(chat, user):
    screen = chat(user)

    screen.type("Half [dev:chunks=6] [dev:error_event]")

    shown = screen.wait_for("The answer broke off:")
    assert "(development upstream," in shown  # the two pieces that came stay
    screen.type("/quota")
    screen.wait_for("Resets at")


def test_it_passes_on_why_the_gateway_refused_a_message(chat, user, settings):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 20
    screen = chat(user)

    screen.type("x" * 30)

    assert "The gateway refused the request (400): content: " in screen.wait_for("refused")
