"""What the gateway checks of an OpenAI chat request before it costs anything.

Only what the gateway itself needs is checked: the model it may offer, a message list within the
configured limits, and the fields that change how it answers (`stream`, `stream_options`). Every
other field (temperature, tools, response_format, ...) passes to the upstream as the client sent it,
and the upstream judges it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.fields import StrictBooleanField, StrictIntegerField, TextField
from core.openapi import CheckedByCode, allowed_models, message_list
from relay.estimates import DATA_PARTS, TOKEN_CHARS, prompt_chars
from relay.rules import check_message_count, check_prompt_size
from relay.serializers import UsageSerializer

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
MAX_CHOICES = 8  # `n`: one request may ask for this many answers at most
# `dimensions` of an embedding: past any model's (OpenAI's largest has 3,072; others 4,096 or 8,192), and a
# bound, so that no number a client sends is passed on to break an upstream (the schema fuzz run found one).
MAX_DIMENSIONS = 65_536


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
    """OpenAI's chat request. Only these fields are checked; every other (temperature, tools,
    response_format, seed, ...) goes to the upstream as sent, and the upstream judges it. The completion
    caps are checked as OpenAI checks them (an integer of at least 1), since the gateway reads them for
    the budget it reserves, and an upstream that took a negative or a text one would charge an answer
    OpenAI refuses."""

    # Not trimmed: the model is sent upstream exactly as given, so it is checked exactly as given.
    model = TextField(trim_whitespace=False)
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = StrictBooleanField(required=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    n = StrictIntegerField(required=False, min_value=1, max_value=MAX_CHOICES)
    max_tokens = StrictIntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = StrictIntegerField(required=False, allow_null=True, min_value=1)

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


TOKEN_ARRAY = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            TOKEN_ARRAY,
            {"type": "array", "items": TOKEN_ARRAY, "minItems": 1},
        ]
    }
)
class PromptsField(serializers.Field):
    """A legacy completion's `prompt` or an embeddings `input`: a string, a list of strings, a token array
    (a list of integers) or a list of token arrays; as a list of strings or of token arrays, none empty."""

    default_error_messages = {
        "invalid": "Must be a string, a list of strings, an array of tokens (integers) or a list of such arrays.",
        "empty": "Has no text: send a string that is not empty or only spaces, or tokens.",
    }

    def to_internal_value(self, data: Any) -> list[str] | list[list[int]]:
        items = [data] if isinstance(data, str) or _is_tokens(data) else data
        if not isinstance(items, list) or not items:
            self.fail("empty" if items == [] else "invalid")
        if not (all(isinstance(item, str) for item in items) or all(_is_tokens(item) for item in items)):
            self.fail("invalid")
        if any(isinstance(item, str) and not item.strip() for item in items):
            self.fail("empty")
        return items


def _is_tokens(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value)
    )


def _chars(item: str | list[int]) -> int:
    """An input's size by the prompt-size rule: its characters, or TOKEN_CHARS per token."""
    return len(item) if isinstance(item, str) else TOKEN_CHARS * len(item)


@extend_schema_serializer(component_name="Embeddings")  # the request half: "EmbeddingsRequest"
class EmbeddingsRequestSerializer(serializers.Serializer):
    """OpenAI's embeddings request. These fields are checked; any other goes to the upstream as sent."""

    model = TextField(trim_whitespace=False)
    input = PromptsField(
        help_text="Text or tokens to embed: a string, a list of strings, a token array or a list of token arrays. "
        "At most CHATGATEWAY_MAX_EMBEDDING_INPUTS of them, each within CHATGATEWAY_MAX_PROMPT_CHARS characters "
        f"(a token counts as {TOKEN_CHARS})."
    )
    dimensions = StrictIntegerField(required=False, min_value=1, max_value=MAX_DIMENSIONS)
    encoding_format = serializers.ChoiceField(
        choices=["float", "base64"],
        required=False,
        error_messages={"invalid_choice": "Must be one of: float, base64."},
        help_text="`float` (the default) or `base64`: the vectors come as the upstream encodes them.",
    )
    user = TextField(required=False, trim_whitespace=False, allow_blank=True)

    def validate_input(self, value: list[Any]) -> list[Any]:
        limit = settings.CHATGATEWAY_MAX_EMBEDDING_INPUTS
        if len(value) > limit:
            raise serializers.ValidationError(f"{len(value)} inputs is too many; the limit is {limit}.")
        check_prompt_size(max(_chars(item) for item in value))
        return value


@extend_schema_serializer(component_name="TextCompletion")  # the request half: "TextCompletionRequest"
class TextCompletionRequestSerializer(serializers.Serializer):
    """OpenAI's legacy completions request. These fields are checked; every other (`suffix`, `temperature`,
    `echo`, `logprobs`, ...) goes to the upstream as sent, and the upstream judges it. `max_tokens` may be
    0 here, as OpenAI allows it with `echo` (the prompt's log probabilities, no completion)."""

    model = TextField(trim_whitespace=False)
    prompt = PromptsField(
        help_text="The prompt, or a list of prompts (each answered): strings or token arrays. At most "
        "CHATGATEWAY_MAX_MESSAGES of them, within CHATGATEWAY_MAX_PROMPT_CHARS characters in all."
    )
    stream = StrictBooleanField(required=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    n = StrictIntegerField(required=False, min_value=1, max_value=MAX_CHOICES)
    best_of = StrictIntegerField(required=False, min_value=1, max_value=MAX_CHOICES)
    max_tokens = StrictIntegerField(required=False, allow_null=True, min_value=0)

    def validate_prompt(self, value: list[Any]) -> list[Any]:
        check_message_count(len(value))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_prompt_size(prompt_chars(self.initial_data))  # every prompt and the suffix
        return attrs


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "object", "additionalProperties": True}, "minItems": 1},
        ]
    }
)
class ResponseInputField(serializers.Field):
    """A Responses request's `input`: text, or a list of input items (messages, function calls and their
    outputs, ...), which the provider or the translation judges."""

    default_error_messages = {
        "invalid": "Must be a string or a list of input items (objects).",
        "empty": "Has no text: send a string that is not empty or only spaces, or input items.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            if not data.strip():
                self.fail("empty")
            return data
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        return data


@extend_schema_serializer(component_name="Response")  # the request half: "ResponseRequest"
class ResponseRequestSerializer(serializers.Serializer):
    """OpenAI's Responses request. These fields are checked; every other (`instructions`, `tools`,
    `tool_choice`, `temperature`, `text`, `reasoning`, `metadata`, ...) goes to a Responses provider as sent,
    or is translated for a chat-only one."""

    model = TextField(trim_whitespace=False)
    input = ResponseInputField()
    stream = StrictBooleanField(required=False)
    store = StrictBooleanField(required=False, allow_null=True)
    background = StrictBooleanField(required=False, allow_null=True)
    max_output_tokens = StrictIntegerField(required=False, allow_null=True, min_value=1)
    previous_response_id = TextField(required=False, allow_null=True, trim_whitespace=False, max_length=200)
    instructions = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    tools = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_prompt_size(prompt_chars(self.initial_data))  # input, instructions, tools, text format
        return attrs


class ModelChecks(CheckedByCode):
    """The model of an embeddings or legacy completions request: one of CHATGATEWAY_MODELS."""

    def amend(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema["properties"]["model"] = {
            **allowed_models(),
            "description": "One of CHATGATEWAY_MODELS; any other is a 404.",
        }
        return schema


class EmbeddingsRequestChecks(ModelChecks):
    target_class = EmbeddingsRequestSerializer


class TextCompletionRequestChecks(ModelChecks):
    target_class = TextCompletionRequestSerializer


class ResponseRequestChecks(ModelChecks):
    target_class = ResponseRequestSerializer


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


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "number"}},
            {"type": "string", "description": "float32 values, little-endian, in base64"},
        ]
    }
)
class VectorField(serializers.Field):
    """An embedding: a list of numbers, or base64 (`encoding_format: base64`)."""


class EmbeddingSerializer(serializers.Serializer):
    object = serializers.CharField(help_text="Always `embedding`.")
    index = serializers.IntegerField()
    embedding = VectorField()


class EmbeddingsUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class EmbeddingListSerializer(serializers.Serializer):
    """The upstream's answer, unchanged: one embedding per input, in order."""

    object = serializers.CharField(help_text="Always `list`.")
    data = EmbeddingSerializer(many=True)
    model = serializers.CharField()
    usage = EmbeddingsUsageSerializer(required=False, allow_null=True)


class TextChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    finish_reason = serializers.CharField(allow_null=True, required=False)


class TextCompletionSerializer(serializers.Serializer):
    """`object: "text_completion"`; streamed, the same chunks as events instead, each with its new text."""

    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = TextChoiceSerializer(many=True)
    usage = UsageSerializer(required=False, allow_null=True)


class ResponseObjectSerializer(serializers.Serializer):
    """`object: "response"`: a provider's own, unchanged, or the gateway's translation of a chat answer;
    streamed, typed events instead (`response.created` ... `response.completed`)."""

    id = serializers.CharField()
    object = serializers.CharField(help_text="Always `response`.")
    created_at = serializers.IntegerField()
    status = serializers.CharField()
    model = serializers.CharField()
    output = serializers.ListField(child=serializers.DictField())
    usage = serializers.DictField(required=False, allow_null=True)
