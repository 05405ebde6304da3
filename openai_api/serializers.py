"""What the gateway checks of an OpenAI chat request before it costs anything.

Only what the gateway itself needs is checked: the model it may offer, a message list within the
configured limits, and the fields that change how it answers (`stream`, `stream_options`). Every
other field (temperature, tools, response_format, ...) passes to the upstream as the client sent it,
and the upstream judges it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from relay.serializers import TextField, check_prompt_size

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false only (DRF's would take "yes" or 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ContentField(serializers.Field):
    """A message's content: text, a list of content parts, or null (an assistant's tool call)."""

    default_error_messages = {"invalid": "Must be a string, a list of content parts, or null."}

    def to_internal_value(self, data: Any) -> Any:
        if data is None or isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(part, dict) for part in data):
            return data
        self.fail("invalid")
        return None


class ChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=ROLES, error_messages={"invalid_choice": f"Must be one of: {', '.join(ROLES)}."}
    )
    content = ContentField(required=False, allow_null=True)


class ChatCompletionRequestSerializer(serializers.Serializer):
    model = TextField()
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = StrictBooleanField(required=False)
    stream_options = serializers.DictField(required=False, allow_null=True)

    def validate_messages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > settings.CHATGATEWAY_MAX_MESSAGES:
            raise serializers.ValidationError(
                f"{len(value)} messages is too many; the limit is {settings.CHATGATEWAY_MAX_MESSAGES}."
            )
        check_prompt_size(sum(_text_length(message.get("content")) for message in value))
        return value


def _text_length(content: Any) -> int:
    """Characters of text in a message's content (the text parts of a list of parts)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part["text"]) for part in content if isinstance(part.get("text"), str))
    return 0
