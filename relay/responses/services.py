"""Who owns which Responses API response id (`relay.models.ResponseOwner`), and what the gateway keeps of a
translated response. Synchronous: the relay runs them in the database threads (`core.db.in_db`)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions

from relay.models import ResponseOwner


def not_found(response_id: str) -> exceptions.NotFound:
    """OpenAI's 404 for a response id: the same for an unknown id and another user's, so that neither
    tells anything."""
    return exceptions.NotFound(f"Response with id '{response_id}' not found.", code="not_found")


def owned_response(*, user_id: int, response_id: str) -> ResponseOwner:
    """The record of `response_id` if `user_id` made it; else OpenAI's 404."""
    owner = ResponseOwner.objects.filter(response_id=response_id[:200], user_id=user_id).first()
    if owner is None:
        raise not_found(response_id)
    return owner


def keep_response(
    *, user_id: int, response_id: str, model: str, provider: str = "", translated: bool = False,
    input_items: list[dict[str, Any]] | None = None, context: list[dict[str, Any]] | None = None,
    response: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Note that `user_id` made `response_id` (and, translated, what serves it later): one INSERT. An id
    already noted (a provider's answer seen twice) keeps its first owner."""
    owner = ResponseOwner(
        response_id=response_id[:200], user_id=user_id, model=model[:200], provider=provider[:100],
        translated=translated, input_items=input_items, context=context, response=response,
    )  # fmt: skip
    ResponseOwner.objects.bulk_create([owner], ignore_conflicts=True)


def forget_response(*, owner: ResponseOwner) -> None:
    """The response is deleted: its record goes too, so the id is unknown from now on."""
    ResponseOwner.objects.filter(pk=owner.pk).delete()


def conversation_of(owner: ResponseOwner) -> list[dict[str, Any]]:
    """A translated response's whole conversation, for one that continues it: what went before it, its
    input, and its output."""
    return [*(owner.context or []), *(owner.input_items or []), *((owner.response or {}).get("output") or [])]
