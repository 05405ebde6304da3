"""A conversation without a title takes one from its first message."""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from conversations.tests.helpers import conversation


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("What is a gateway?", "What is a gateway?"),
        ("\n\n   Plan a trip to Kyoto  \nin April, for two.", "Plan a trip to Kyoto"),
        ("tabs\tand   runs   of spaces", "tabs and runs of spaces"),
        ("w" * 80, "w" * 80),
        ("word " * 30, ("word " * 16).strip() + "…"),
        ("给我讲一个关于长城的故事" * 10, ("给我讲一个关于长城的故事" * 10)[:79] + "…"),
    ],
)
def test_a_title_is_the_first_line_trimmed_and_cut_to_80_characters(text, title):
    assert Conversation.title_from(text) == title
    assert len(Conversation.title_from(text)) <= 80


def test_the_first_message_names_an_untitled_conversation(api, user):
    chat = conversation(user)

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Recipes for rainy days\nwith kids"}, format="json")
    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Something else"}, format="json")

    assert api.get(f"/api/conversations/{chat.pk}/").json()["title"] == "Recipes for rainy days"


def test_a_title_given_by_the_user_is_kept(api, user):
    chat = conversation(user, title="Mine")

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Not a title"}, format="json")

    chat.refresh_from_db()
    assert chat.title == "Mine"


def test_a_failed_message_names_nothing(api, user):
    chat = conversation(user)

    api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Broken [dev:status=500]"}, format="json")

    chat.refresh_from_db()
    assert chat.title == ""
