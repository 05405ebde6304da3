"""What the gateway checks of an OpenAI chat request before it costs anything.

Only what the gateway itself needs is checked: the model it may offer, a message list within the
configured limits, and the fields that change how it answers (`stream`, `stream_options`). Every
other field (temperature, tools, response_format, ...) passes to the upstream as the client sent it,
and the upstream judges it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.fields import StrictBooleanField, StrictIntegerField, TextField
from core.openapi import CheckedByCode, allowed_models, message_list
from relay.estimates import DATA_PARTS, prompt_chars
from relay.rules import check_message_count, check_prompt_size
from relay.serializers import UsageSerializer

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
MAX_CHOICES = 8  # `n`: one request may ask for this many answers at most


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object", "additionalProperties": True}}],
        "nullable": True,
    }
)
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


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = StrictBooleanField(required=False)


@extend_schema_serializer(component_name="ChatCompletion")  # the request half: "ChatCompletionRequest"
class ChatCompletionRequestSerializer(serializers.Serializer):
    """OpenAI's chat request. Only these fields are checked; every other (temperature, max_tokens, tools,
    response_format, seed, ...) goes to the upstream as sent, and the upstream judges it."""

    # Not trimmed: the model is sent upstream exactly as given, so it is checked exactly as given.
    model = TextField(trim_whitespace=False)
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = StrictBooleanField(required=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    n = StrictIntegerField(required=False, min_value=1, max_value=MAX_CHOICES)

    def validate_messages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        check_message_count(len(value))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Every string the model reads counts: message contents, tool-call arguments, names, tool
        # descriptions (the validated messages hold only role and content, so the request is read).
        raw = self.initial_data
        check_prompt_size(prompt_chars(raw))
        if not any(_says_something(message) for message in raw["messages"]):
            raise serializers.ValidationError(
                {"messages": "The messages have no text: send a prompt that is not empty or only spaces."}
            )
        return attrs


class ChatCompletionRequestChecks(CheckedByCode):
    target_class = ChatCompletionRequestSerializer

    def amend(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties = schema["properties"]
        properties["messages"] = message_list(properties["messages"])
        properties["model"] = {**allowed_models(), "description": "One of CHATGATEWAY_MODELS; any other is a 404."}
        return schema


def _says_something(message: dict[str, Any]) -> bool:
    """Whether a message gives the model anything: text that is not blank, a data part, or a tool call."""
    if message.get("tool_calls") or message.get("function_call"):
        return True
    content = message.get("content")
    if isinstance(content, str):
        return bool(content.strip())
    return isinstance(content, list) and any(
        part.get("type") in DATA_PARTS or (isinstance(part.get("text"), str) and part["text"].strip())
        for part in content
    )


# What the gateway answers, as OpenAI documents it: used to describe /v1 in the schema. A completion is
# the upstream's own body, passed on unchanged, so only what every OpenAI-compatible upstream sends is
# required; anything more it sends passes too.


class CompletionMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_null=True, required=False)


class CompletionChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = CompletionMessageSerializer()
    finish_reason = serializers.CharField(allow_null=True, required=False)


class ChatCompletionSerializer(serializers.Serializer):
    """`object: "chat.completion"`; streamed, the same comes as `chat.completion.chunk` events instead."""

    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = CompletionChoiceSerializer(many=True)
    usage = UsageSerializer(required=False, allow_null=True)


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text="Always `model`.")
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField(help_text="Always `list`.")
    data = ModelSerializer(many=True)
