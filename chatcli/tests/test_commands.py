"""The chat loop's commands: /new, /list, /open N, /quota, /model, /help, and one it does not know."""

from __future__ import annotations

from conversations.models import Conversation
from conversations.tests.helpers import conversation


def test_list_shows_the_conversations_newest_first_and_open_continues_one(chat, user, dev_upstream):
    conversation(user, title="Older", messages=[("user", "Plants?"), ("assistant", "They **grow**.")])
    conversation(user, title="Newer", messages=[("user", "Hi"), ("assistant", "Hello")])
    screen = chat(user)

    screen.type("/list")
    listing = screen.wait_for("2. Older")
    assert listing.index("1. Newer") < listing.index("2. Older")
    assert "[gpt-4o-mini, " in listing

    screen.type("/open 2")
    opened = screen.wait_for("They grow.")
    assert "Continuing “Older” (gpt-4o-mini), 2 messages." in opened
    assert "You: Plants?" in opened

    assert "You said: And trees?" in screen.send("And trees?")
    sent = dev_upstream.received[-1]["body"]["messages"]
    assert [message["content"] for message in sent] == ["Plants?", "They **grow**.", "And trees?"]


def test_new_starts_another_conversation(chat, user):
    screen = chat(user)
    assert "You said: First topic" in screen.send("First topic")

    screen.type("/new")
    screen.wait_for("New conversation.")
    assert "You said: Second topic" in screen.send("Second topic")  # after "done": all is stored

    titles = list(Conversation.objects.filter(user=user).values_list("title", flat=True))
    assert titles == ["Second topic", "First topic"]


def test_open_without_a_listed_number_says_how_to_use_it(chat, user):
    conversation(user, title="Only one")
    screen = chat(user)

    screen.type("/open 7")

    assert "Use /open N with a number from /list." in screen.wait_for("/list.")


def test_list_says_when_there_is_nothing_yet(chat, user):
    screen = chat(user)

    screen.type("/list")

    assert "You have no conversations yet." in screen.wait_for("yet.")


def test_quota_shows_what_is_left_and_when_it_resets(chat, make_user):
    screen = chat(make_user("grace", daily_limit=5))
    screen.type("One question")
    screen.wait_for("left today")

    screen.type("/quota")

    shown = screen.wait_for("Resets at")
    assert "Today: 1 of 5 requests used, 4 left. Resets at " in shown
    assert "00:00 UTC." in shown


def test_model_lists_the_models_and_switches_the_conversation(chat, user, settings, dev_upstream):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]
    screen = chat(user)
    assert "You said: Hello" in screen.send("Hello")

    screen.type("/model")
    assert "Models (current: gpt-4o-mini): gpt-4o-mini, gpt-4o" in screen.wait_for("Models")
    screen.type("/model gpt-4o")
    screen.wait_for("Model set to gpt-4o.")
    assert "You said: Again" in screen.send("Again")

    assert dev_upstream.received[-1]["body"]["model"] == "gpt-4o"
    assert Conversation.objects.get(user=user).model == "gpt-4o"


def test_model_refuses_a_model_the_gateway_does_not_offer(chat, user):
    screen = chat(user)

    screen.type("/model gpt-9")

    assert "There is no model gpt-9 here. Models: gpt-4o-mini" in screen.wait_for("Models:")


def test_model_chosen_before_the_first_message_applies_to_the_new_conversation(chat, user, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]
    screen = chat(user, "--model", "gpt-4o")

    assert "You said: Hi" in screen.send("Hi")

    assert Conversation.objects.get(user=user).model == "gpt-4o"


def test_help_lists_the_commands_and_an_unknown_one_points_to_it(chat, user):
    screen = chat(user)

    screen.type("/help")
    shown = screen.wait_for("Ctrl-C stops")
    for command in ("/new", "/list", "/open N", "/quota", "/model", "/help", "/exit"):
        assert command in shown
    screen.type("/frobnicate")
    assert "Unknown command /frobnicate. Type /help for the list." in screen.wait_for("for the list.")


def test_exit_and_ctrl_d_leave_with_status_zero(chat, user):
    by_command = chat(user)
    by_command.type("/exit")
    assert by_command.exit_status() == 0

    by_eof = chat(user)
    by_eof.press_ctrl_d()
    assert by_eof.exit_status() == 0
    assert "Bye." in by_eof.text()


def test_continue_starts_in_the_latest_conversation(chat, user, dev_upstream):
    conversation(user, title="Older", messages=[("user", "Old"), ("assistant", "Old answer")])
    conversation(user, title="From the web page", messages=[("user", "Remember 42"), ("assistant", "Noted")])

    screen = chat(user, "--continue")
    screen.wait_for("Noted")
    assert "Continuing “From the web page” (gpt-4o-mini), 2 messages." in screen.text()
    screen.send("What number?")

    assert [m["content"] for m in dev_upstream.received[-1]["body"]["messages"]] == [
        "Remember 42",
        "Noted",
        "What number?",
    ]
