"""What may be relayed, whichever API asks: the model allow-list, the number of messages, the prompt's
size. Each rule is written once here; how a refusal reads follows the API (core/apis.py)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import exceptions, serializers

from core.apis import API, REST


def check_model_allowed(model: str, *, api: API = REST) -> None:
    """Refuse a model outside CHATGATEWAY_MODELS: a 404 `model_not_found` where the API says so (OpenAI's,
    whose clients look for it), else a 400 naming the models that are allowed."""
    if model in settings.CHATGATEWAY_MODELS:
        return
    if api.unknown_model_status == 404:
        raise exceptions.NotFound(
            f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )
    allowed = ", ".join(settings.CHATGATEWAY_MODELS)
    raise serializers.ValidationError(
        gettext("Model {model} is not available here. Use one of: {allowed}.").format(
            model=repr(model), allowed=allowed
        )
    )


def check_message_count(count: int) -> None:
    """Refuse a conversation of more than CHATGATEWAY_MAX_MESSAGES messages."""
    if count > settings.CHATGATEWAY_MAX_MESSAGES:
        raise serializers.ValidationError(
            gettext("{count} messages is too many; the limit is {limit}.").format(
                count=count, limit=settings.CHATGATEWAY_MAX_MESSAGES
            )
        )


def check_prompt_size(total_chars: int) -> None:
    """Refuse prompts past CHATGATEWAY_MAX_PROMPT_CHARS."""
    limit = settings.CHATGATEWAY_MAX_PROMPT_CHARS
    if total_chars > limit:
        raise serializers.ValidationError(
            gettext("The prompt is {chars} characters long; the limit is {limit}.").format(
                chars=total_chars, limit=limit
            )
        )
