"""Reads of conversations, always within one user's own."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from conversations.models import Conversation


def conversations_of(*, user_id: int) -> QuerySet[Conversation]:
    """`user_id`'s conversations, latest activity first (the (user, -updated) index)."""
    return Conversation.objects.filter(user_id=user_id).order_by("-updated", "-id")


def conversation_of(*, user_id: int, conversation_id: int) -> Conversation:
    """One of `user_id`'s conversations; Http404 for any other, so that others' ids reveal nothing."""
    return get_object_or_404(conversations_of(user_id=user_id), pk=conversation_id)
