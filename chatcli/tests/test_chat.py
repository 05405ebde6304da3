"""The chat loop: answers stream in as Markdown, and each message goes upstream with the turns before it."""

from __future__ import annotations

import re

from conversations.models import Conversation


def test_it_sends_the_earlier_turns_with_the_next_message(chat, user, dev_upstream):
    screen = chat(user)

    assert "You said: What is a gateway?" in screen.send("What is a gateway?")
    assert "You said: And a relay?" in screen.send("And a relay?")  # after "done": all is stored

    sent = dev_upstream.received[-1]["body"]["messages"]
    assert [(message["role"], message["content"]) for message in sent] == [
        ("user", "What is a gateway?"),
        ("assistant", "(development upstream, not a real model) You said: What is a gateway?"),
        ("user", "And a relay?"),
    ]
    conversation = Conversation.objects.get(user=user)
    assert conversation.messages.count() == 4


def test_it_renders_the_answer_as_markdown(chat, user):
    screen = chat(user)

    answer = screen.send("Say **loud** and `code`")

    assert "You said: Say loud and code" in answer  # the asterisks and backquotes became styles
    bold = [char for line in screen.screen.buffer.values() for char in line.values() if char.bold]
    assert "loud" in "".join(char.data for char in bold)


def test_it_shows_what_is_left_of_the_day_after_each_answer(chat, make_user):
    screen = chat(make_user("grace", daily_limit=5))

    screen.type("Hello")

    assert "4 requests left today" in screen.wait_for("left today")


def test_it_shows_a_long_answer_as_it_arrives_and_whole_at_the_end(chat, user):
    """An answer of some 20 lines in a terminal of 12: the live view shows its newest lines, then it is
    printed whole, each word once (no redraw left a copy behind)."""
    screen = chat(user, rows=12)

    screen.type("Go [dev:chunks=300] [dev:interval=0.01]")
    partial = screen.wait_for(" word20 ")
    whole = screen.wait_for("requests left today")

    assert " word290" not in partial
    numbers = [int(number) for number in re.findall(r"\bword(\d+)\b", whole)]
    assert numbers == list(range(1, 292))
