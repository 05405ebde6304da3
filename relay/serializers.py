from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers

from quota.serializers import QuotaStatusSerializer
from relay.models import UsageRecord


def check_prompt_size(total_chars: int) -> None:
    """Refuse prompts past CHATGATEWAY_MAX_PROMPT_CHARS (shared by every relay endpoint)."""
    limit = settings.CHATGATEWAY_MAX_PROMPT_CHARS
    if total_chars > limit:
        raise serializers.ValidationError(
            gettext("The prompt is {chars} characters long; the limit is {limit}.").format(
                chars=total_chars, limit=limit
            )
        )


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings (DRF's would turn 42 or true into text)."""

    default_error_messages = {"invalid": gettext_lazy("Must be a string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=["system", "user", "assistant"],
        error_messages={"invalid_choice": gettext_lazy("Must be one of: system, user, assistant.")},
    )
    content = TextField()


class ChatRequestSerializer(serializers.Serializer):
    prompt = TextField(required=False, help_text="A single question.")
    messages = MessageSerializer(
        many=True, required=False, allow_empty=False, help_text="A conversation, oldest first."
    )
    model = TextField(required=False, help_text="One of the models this gateway allows.")

    def validate_model(self, value: str) -> str:
        if value not in settings.CHATGATEWAY_MODELS:
            allowed = ", ".join(settings.CHATGATEWAY_MODELS)
            raise serializers.ValidationError(
                gettext("Model {model} is not available here. Use one of: {allowed}.").format(
                    model=repr(value), allowed=allowed
                )
            )
        return value

    def validate_messages(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
        if len(value) > settings.CHATGATEWAY_MAX_MESSAGES:
            raise serializers.ValidationError(
                gettext("{count} messages is too many; the limit is {limit}.").format(
                    count=len(value), limit=settings.CHATGATEWAY_MAX_MESSAGES
                )
            )
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
        attrs.setdefault("model", settings.CHATGATEWAY_MODEL)
        return attrs


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatResponseSerializer(serializers.Serializer):
    reply = serializers.CharField()
    model = serializers.CharField()
    usage = UsageSerializer()
    quota = QuotaStatusSerializer()


class UsageFiltersSerializer(serializers.Serializer):
    """The query string of GET /api/usage/ (the page and page size are the paginator's)."""

    since = serializers.DateField(required=False, help_text="The first day to list, YYYY-MM-DD in TIME_ZONE.")
    until = serializers.DateField(required=False, help_text="The last day to list, YYYY-MM-DD in TIME_ZONE.")
    model = serializers.CharField(required=False, max_length=200, help_text="Only records of this model.")

    def validate(self, attrs: dict) -> dict:
        if "since" in attrs and "until" in attrs and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError(gettext("'since' is after 'until': give the earlier day as 'since'."))
        return attrs


class UsageRecordSerializer(serializers.ModelSerializer):
    """One relay attempt as its user sees it: never the texts or the upstream's request id."""

    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "created",
            "endpoint",
            "model",
            "stream",
            "status_code",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "estimated",
            "latency_ms",
            "ttfb_ms",
            "error",
        ]
        read_only_fields = fields
