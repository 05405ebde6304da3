"""What may be relayed, whichever API asks: the model allow-list, the number of messages, the prompt's
size. Each rule is written once here; how a refusal reads follows the API (core/apis.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext
from rest_framework import exceptions, serializers

from core.apis import API, REST
from providers import catalog
from quota.models import Quota


def check_model_allowed(model: str, *, user: Any = None, api: API = REST) -> None:
    """Refuse a model the catalog doesn't offer to `user` (None: a user without a plan): a 404
    `model_not_found` where the API says so (OpenAI's, whose clients look for it), else a 400 naming the
    models that are allowed. The user's plan is read only for a model that plans restrict."""
    entry = catalog.current().model(model)
    if entry is not None and (not entry.plan_ids or entry.allowed_for(plan_of(user))):
        return
    if api.unknown_model_status == 404:
        raise exceptions.NotFound(
            f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )
    allowed = ", ".join(allowed_models(user))
    raise serializers.ValidationError(
        gettext("Model {model} is not available here. Use one of: {allowed}.").format(
            model=repr(model), allowed=allowed
        )
    )


def allowed_models(user: Any = None) -> list[str]:
    """The public model names `user` may ask for (None: a user without a plan): sorted, or with no
    provider configured, in CHATGATEWAY_MODELS' order, as before."""
    current = catalog.current()
    if current.implicit:
        return list(current.models)
    if all(not entry.plan_ids for entry in current.models.values()):
        return current.model_names_for(None)  # no plan restricts anything: no need to know the user's
    return current.model_names_for(plan_of(user))


def default_model() -> str:
    """The model of a request or conversation that names none: CHATGATEWAY_MODEL if the catalog offers
    it, else the catalog's first model by name (CHATGATEWAY_MODEL itself when the catalog is empty, so
    that the check that follows refuses it by name)."""
    current = catalog.current()
    if settings.CHATGATEWAY_MODEL in current.models:
        return settings.CHATGATEWAY_MODEL
    return min(current.models, default=settings.CHATGATEWAY_MODEL)


def plan_of(user: Any) -> int | None:
    """The plan id of `user` (None: no user, or no plan), read once per user object."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_chatgateway_plan_id"):
        user._chatgateway_plan_id = _read_plan(user.pk)
    return user._chatgateway_plan_id


def _read_plan(user_id: int) -> int | None:
    def read() -> int | None:
        return Quota.objects.filter(user_id=user_id).values_list("plan_id", flat=True).first()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return read()

    def read_in_thread() -> int | None:
        try:
            return read()
        finally:
            connections.close_all()

    # From an async view (the ORM may not run on the event loop): only for a model that plans restrict.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan-read") as pool:
        return pool.submit(read_in_thread).result()


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
