from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import serializers

from conversations.models import TITLE_MAX_LENGTH, Conversation, Message
from conversations.services import context_tokens_needed
from core.fields import StrictBooleanField, TextField
from quota.serializers import QuotaStatusSerializer
from relay.rules import check_model_allowed, check_prompt_size


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ("id", "role", "content", "created")
        read_only_fields = fields


class ExchangeSerializer(serializers.Serializer):
    """A message sent and its reply, as kept, and the user's quota after it."""

    message = MessageSerializer()
    reply = MessageSerializer()
    quota = QuotaStatusSerializer()


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation as listed, made or edited: every field optional (the model defaults to CHATGATEWAY_MODEL)."""

    title = TextField(max_length=TITLE_MAX_LENGTH, allow_blank=True, required=False)
    model = TextField(required=False, help_text="One of the models this gateway allows; the default model if unset.")
    system_prompt = TextField(
        allow_blank=True, required=False, trim_whitespace=False, help_text="Sent first with every message."
    )

    class Meta:
        model = Conversation
        fields = ("id", "title", "model", "system_prompt", "created", "updated")
        read_only_fields = ("id", "created", "updated")

    def validate_model(self, value: str) -> str:
        check_model_allowed(value, user=self.context.get("user"))
        return value

    def validate_system_prompt(self, value: str) -> str:
        check_prompt_size(len(value))
        return value


class ConversationPageSerializer(serializers.Serializer):
    """One page of GET /api/conversations/ (DRF's page-number pagination)."""

    count = serializers.IntegerField(help_text="Your conversations, on all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null on the first.")
    results = ConversationSerializer(many=True)


class ConversationWithMessagesSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = (*ConversationSerializer.Meta.fields, "messages")


class NewMessageSerializer(serializers.Serializer):
    """A user's message to a conversation (given in the context): checked before it costs anything."""

    content = TextField(trim_whitespace=False, help_text="The message; not empty, not only whitespace.")
    stream = StrictBooleanField(default=False, help_text="true: the reply comes as server-sent events.")

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(gettext("The message is empty."))
        check_prompt_size(len(value))
        conversation: Conversation = self.context["conversation"]
        needed, budget = context_tokens_needed(conversation=conversation, content=value), _budget()
        if needed > budget:
            raise serializers.ValidationError(
                gettext(
                    "The message (with the conversation's system prompt) is about {needed} tokens; "
                    "a conversation's context holds {budget}. Send a shorter message."
                ).format(needed=f"{needed:,}", budget=f"{budget:,}")
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            check_model_allowed(self.context["conversation"].model, user=self.context.get("user"))
        except serializers.ValidationError as error:
            raise serializers.ValidationError(
                {
                    "model": [
                        gettext("{problem} Change the conversation's model with PATCH.").format(problem=error.detail[0])
                    ]
                }
            ) from None
        return attrs


def _budget() -> int:
    return settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS
