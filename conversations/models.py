"""Conversations kept by the gateway: a user's chats with a model, and their messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models

TITLE_MAX_LENGTH = 200
TITLE_FROM_MESSAGE_LENGTH = 80  # a title made from the first message is cut to this many characters


class Conversation(models.Model):
    """A chat of one user with one model; `updated` is its last activity (a message, an edit)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    model = models.CharField(max_length=200)
    system_prompt = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]
        # A user's list, newest activity first, is one index range scan.
        indexes = [models.Index(fields=["user", "-updated", "-id"], name="conversation_user_latest")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    @staticmethod
    def title_from(text: str) -> str:
        """A title made from a message: its first non-blank line, trimmed, cut to a readable length."""
        line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        line = " ".join(line.split())  # tabs and runs of spaces read as one space in a list
        if len(line) <= TITLE_FROM_MESSAGE_LENGTH:
            return line
        return line[: TITLE_FROM_MESSAGE_LENGTH - 1].rstrip() + "…"


class Message(models.Model):
    """One message of a conversation, as it was sent to or received from the model."""

    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["conversation", "created", "id"], name="message_conversation_order")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:50]}"
