"""Conversations made directly, for the tests."""

from __future__ import annotations

from accounts.models import User
from conversations.models import Conversation, Message


def conversation(user: User, *, messages: list[tuple[str, str]] = (), **fields) -> Conversation:
    """A conversation of `user` with `messages` as (role, content) pairs, oldest first."""
    made = Conversation.objects.create(user=user, model=fields.pop("model", "gpt-4o-mini"), **fields)
    for role, content in messages:
        Message.objects.create(conversation=made, role=role, content=content)
    return made
