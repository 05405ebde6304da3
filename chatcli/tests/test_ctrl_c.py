"""Ctrl-C stops the answer that is arriving and leaves the user at the prompt; at the prompt, it leaves."""

from __future__ import annotations

import time

from conftest import used_today
from relay.models import UsageRecord


def wait_until(condition, *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


def test_ctrl_c_stops_the_answer_hangs_up_and_keeps_the_chat_going(chat, user, dev_upstream):
    screen = chat(user)
    abandoned = dev_upstream.streams_abandoned

    screen.type("Long one [dev:chunks=100] [dev:interval=0.1]")
    screen.wait_for(" word3 ")
    screen.press_ctrl_c()
    stopped = screen.wait_for("(stopped)")

    assert " word3 " in stopped  # what arrived stays on the screen
    assert " word90" not in stopped
    assert stopped.count("You said: Long one") == 1
    # The client hung up, so the gateway closed the upstream request at once, and counted it (it was asked).
    wait_until(lambda: dev_upstream.streams_abandoned == abandoned + 1)
    wait_until(lambda: UsageRecord.objects.filter(user=user).exists())
    assert used_today(user) == 1

    assert "You said: Still here?" in screen.send("Still here?")


def test_ctrl_c_at_the_prompt_leaves_cleanly(chat, user):
    screen = chat(user)
    screen.wait_for_prompt()

    screen.press_ctrl_c()

    assert screen.exit_status() == 0
    assert "Bye." in screen.text()
    assert "Traceback" not in screen.text()


def test_ctrl_c_stops_the_answer_of_a_client_started_with_sigint_ignored(chat, user):
    """A client started from a background job (or by a CI job started in the background) inherits
    SIGINT ignored; Ctrl-C must still stop its answer, and at the prompt, the client."""
    screen = chat(user, sigint_ignored=True)

    screen.type("Long one [dev:chunks=100] [dev:interval=0.1]")
    screen.wait_for(" word3 ")
    screen.press_ctrl_c()
    stopped = screen.wait_for("(stopped)")
    assert " word90" not in stopped

    screen.wait_for_prompt()
    screen.press_ctrl_c()
    assert screen.exit_status() == 0
    assert "Traceback" not in screen.text()
