from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.fields import TextField
from core.openapi import CheckedByCode, allowed_models, message_list
from quota.serializers import QuotaStatusSerializer
from relay.rules import check_message_count, check_model_allowed, check_prompt_size, default_model


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=["system", "user", "assistant"],
        error_messages={"invalid_choice": gettext_lazy("Must be one of: system, user, assistant.")},
    )
    content = TextField()


@extend_schema_serializer(component_name="Chat")  # the request half: "ChatRequest"
class ChatRequestSerializer(serializers.Serializer):
    prompt = TextField(required=False, help_text="A single question.")
    messages = MessageSerializer(
        many=True, required=False, allow_empty=False, help_text="A conversation, oldest first."
    )
    model = TextField(required=False, help_text="One of the models this gateway allows.")

    def validate_model(self, value: str) -> str:
        check_model_allowed(value, user=self.context.get("user"))
        return value

    def validate_messages(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
        check_message_count(len(value))
        check_prompt_size(sum(len(message["content"]) for message in value))
        return value

    def validate_prompt(self, value: str) -> str:
        check_prompt_size(len(value))
        return value

    def validate(self, attrs: dict) -> dict:
        if ("prompt" in attrs) == ("messages" in attrs):
            raise serializers.ValidationError(gettext("Send either 'prompt' or 'messages', not both or neither."))
        if "prompt" in attrs:
            attrs["messages"] = [{"role": "user", "content": attrs.pop("prompt")}]
        attrs.setdefault("model", default_model())
        return attrs


class ChatRequestChecks(CheckedByCode):
    target_class = ChatRequestSerializer

    def amend(self, schema: dict) -> dict:
        properties = schema["properties"]
        properties["prompt"]["maxLength"] = settings.CHATGATEWAY_MAX_PROMPT_CHARS
        properties["messages"] = message_list(properties["messages"])
        properties["model"] = allowed_models()
        return {**schema, "oneOf": [{"required": ["prompt"]}, {"required": ["messages"]}]}


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatResponseSerializer(serializers.Serializer):
    reply = serializers.CharField()
    model = serializers.CharField()
    usage = UsageSerializer()
    quota = QuotaStatusSerializer()
