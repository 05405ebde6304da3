"""Sending a message to a conversation: the history sent upstream, and what is kept of the exchange.

A message goes through the relay like any other request (`relay.passthrough`: the same reservation,
settlement, refunds and usage records, endpoint `conversation`). What is kept:
- an answer: the user's message and the reply;
- an upstream failure: nothing (the request is refunded), so that sending the message again is clean;
- a client that leaves mid-stream: the user's message and the reply so far (the request counts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Length
from django.utils import timezone

from accounts.models import User
from conversations.exceptions import StartingConversationsTooFast, SystemPromptsTooLarge, TooManyConversations
from conversations.models import Conversation, Message
from core.db import in_db
from quota.services import Allowance, QuotaStatus, quota_status, quota_status_of_request
from relay.estimates import estimate_prompt_tokens
from relay.models import UsageRecord
from relay.passthrough import Caller, relay_completion
from relay.rules import default_model
from teams.exceptions import TeamNotAllowed

ENDPOINT = UsageRecord.Endpoint.CONVERSATION
START_WINDOW = dt.timedelta(minutes=1)  # CHATGATEWAY_CONVERSATIONS_PER_MINUTE counts the starts in this window


def start_conversation(
    *, user_id: int, title: str = "", model: str | None = None, system_prompt: str = ""
) -> Conversation:
    """A new conversation of the user's, within their caps (they cost no quota, so they are capped):
    how many they keep, how many characters of system prompts those hold, how many they start a minute.
    Raises TooManyConversations, SystemPromptsTooLarge or StartingConversationsTooFast."""
    with transaction.atomic():
        # Under the user's row lock (SQLite: the IMMEDIATE transaction's write lock), two concurrent
        # requests can't both take the last place.
        User.objects.select_for_update().get(pk=user_id)
        now = timezone.now()
        recently = Q(created__gt=now - START_WINDOW)
        held = Conversation.objects.filter(user_id=user_id).aggregate(
            count=Count("id"),
            chars=Coalesce(Sum(Length("system_prompt")), 0),
            recent=Count("id", filter=recently),
            first_recent=Min("created", filter=recently),
        )
        per_minute = settings.CHATGATEWAY_CONVERSATIONS_PER_MINUTE
        if held["recent"] >= per_minute:
            wait = held["first_recent"] + START_WINDOW - now
            raise StartingConversationsTooFast(limit=per_minute, retry_after=max(1, math.ceil(wait.total_seconds())))
        if held["count"] >= settings.CHATGATEWAY_MAX_CONVERSATIONS_PER_USER:
            raise TooManyConversations(limit=settings.CHATGATEWAY_MAX_CONVERSATIONS_PER_USER)
        _check_system_prompts(chars=held["chars"] + len(system_prompt))
        return Conversation.objects.create(
            user_id=user_id, title=title, model=model or default_model(), system_prompt=system_prompt
        )


def edit_conversation(*, conversation: Conversation, changes: dict[str, Any]) -> Conversation:
    """Change a conversation's title, model or system prompt; a longer system prompt must still fit the
    user's cap on system prompts (raises SystemPromptsTooLarge)."""
    with transaction.atomic():
        if len(changes.get("system_prompt", "")) > len(conversation.system_prompt):
            User.objects.select_for_update().get(pk=conversation.user_id)
            others = Conversation.objects.filter(user_id=conversation.user_id).exclude(pk=conversation.pk)
            chars = others.aggregate(chars=Coalesce(Sum(Length("system_prompt")), 0))["chars"]
            _check_system_prompts(chars=chars + len(changes["system_prompt"]))
        for name, value in changes.items():
            setattr(conversation, name, value)
        conversation.save()
    return conversation


def _check_system_prompts(*, chars: int) -> None:
    if chars > settings.CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER:
        raise SystemPromptsTooLarge(limit=settings.CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """A message and its reply, as kept, and where the user stands after it."""

    message: Message
    reply: Message
    quota: QuotaStatus
    allowance: Allowance


def context_tokens_needed(*, conversation: Conversation, content: str) -> int:
    """Estimated tokens of what is always sent: the system prompt and the new message."""
    return estimate_prompt_tokens(_fixed_context(conversation, content))


def prompt_for(*, conversation: Conversation, content: str) -> list[dict[str, str]]:
    """What goes upstream: the system prompt, as much of the history as the context budget holds
    (the oldest left out first), and the new message. The history kept starts with a user message."""
    system, new = _fixed_context(conversation, content)[:-1], {"role": Message.Role.USER, "content": content}
    budget = settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS - estimate_prompt_tokens([*system, new])
    room = settings.CHATGATEWAY_MAX_MESSAGES - len(system) - 1
    history: list[dict[str, str]] = []
    newest_first = Message.objects.filter(conversation=conversation).order_by("-created", "-id")
    for message in newest_first.values("role", "content")[: max(room, 0)]:
        budget -= estimate_prompt_tokens([message])
        if budget < 0:
            break
        history.append(message)
    history.reverse()
    while history and history[0]["role"] == Message.Role.ASSISTANT:
        history.pop(0)  # a reply whose question was left out would only confuse the model
    return [*system, *history, new]


def _fixed_context(conversation: Conversation, content: str) -> list[dict[str, str]]:
    system = [{"role": "system", "content": conversation.system_prompt}] if conversation.system_prompt else []
    return [*system, {"role": Message.Role.USER, "content": content}]


async def send_message(*, caller: Caller, conversation: Conversation, content: str) -> Exchange:
    """Send a message and keep it with its reply; raises QuotaExceeded, or UpstreamError (refunded,
    nothing kept)."""
    prompt = await in_db(prompt_for, conversation=conversation, content=content)
    passed = await relay_completion(
        caller=caller, params={"model": conversation.model, "messages": prompt}, endpoint=ENDPOINT
    )
    message, reply, quota = await in_db(
        keep_exchange, conversation=conversation, content=content, reply=passed.completion.text, caller=caller
    )
    return Exchange(message=message, reply=reply, quota=quota, allowance=passed.allowance)


def keep_exchange(
    *, conversation: Conversation, content: str, reply: str, caller: Caller
) -> tuple[Message, Message, QuotaStatus]:
    """Store a message and its reply; where the caller stands now."""
    message = Message(conversation=conversation, role=Message.Role.USER, content=content)
    answer = Message(conversation=conversation, role=Message.Role.ASSISTANT, content=reply)
    _keep(conversation, [message, answer], title_from=content)
    return message, answer, quota_after(caller=caller)


def quota_after(*, caller: Caller) -> QuotaStatus:
    """Where the caller stands after an answer: on their key's and team's limits too, the team decided as
    for the request (the page shows them after each answer); only the user's if they have left that team
    meanwhile."""
    try:
        return quota_status_of_request(
            user_id=caller.user_id,
            api_key_id=caller.api_key_id,
            key_team_id=caller.key_team_id,
            team_asked=caller.team_asked,
        )
    except TeamNotAllowed:
        return quota_status(user_id=caller.user_id)


def keep_message(*, conversation: Conversation, content: str) -> Message:
    """Store the user's message, whose reply is on its way."""
    message = Message(conversation=conversation, role=Message.Role.USER, content=content)
    _keep(conversation, [message])
    return message


def keep_reply(*, conversation: Conversation, content: str, asked: str) -> Message:
    """Store the model's reply to the message `asked`; the conversation takes its title from `asked`
    if it has none."""
    reply = Message(conversation=conversation, role=Message.Role.ASSISTANT, content=content)
    _keep(conversation, [reply], title_from=asked)
    return reply


def _keep(conversation: Conversation, messages: list[Message], *, title_from: str | None = None) -> None:
    """Store `messages` and move the conversation to the top of its user's list. If it was deleted
    while its reply was coming, nothing is stored: the messages are returned to the client unsaved
    (without an id)."""
    conversation.updated = timezone.now()
    changes: dict[str, object] = {"updated": conversation.updated}
    if title_from is not None:
        # Conditional: a title set meanwhile (a PATCH) is never overwritten.
        changes["title"] = Case(When(title="", then=Value(Conversation.title_from(title_from))), default=F("title"))
    with transaction.atomic():
        # First, so that the row is locked (PostgreSQL) and a DELETE waits for these messages.
        if not Conversation.objects.filter(pk=conversation.pk).update(**changes):
            for message in messages:
                message.created = conversation.updated
            return
        Message.objects.bulk_create(messages)  # one INSERT; the ids come back (RETURNING)


def forget_message(*, message: Message) -> None:
    """Delete a message whose reply failed: the user sends it again, cleanly."""
    Message.objects.filter(pk=message.pk).delete()
