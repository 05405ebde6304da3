"""Relaying the Responses API (`/v1/responses`): to a provider that speaks it, as sent and byte for byte; to
one that speaks only chat completions, translated (translate.py). Either way the steps and promises of
relay/passthrough.py: reserved (the completion cap in `max_output_tokens`, or chat's `max_tokens`), refunded
on failure, settled with the usage reported, one usage record (`responses`) per attempt.

Which way a request goes: natively if a deployment of its model speaks `responses`, else translated; a
request that continues a response (`previous_response_id`) goes where that one was made, once its owner is
checked (services.py). The ids of responses kept (`store`, on unless CHATGATEWAY_RESPONSES_FORCE_NO_STORE)
are noted with their owner; a translated one is kept by the gateway itself.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError
from rest_framework import serializers

from core.db import in_db
from providers import catalog
from relay import upstream
from relay.models import UsageRecord
from relay.passthrough import (
    Budget,
    Caller,
    Passed,
    _attempt,
    _chat_budget,
    _positive_int,
    _relay,
    _reserve,
    open_settled_stream,
)
from relay.responses import services, translate
from relay.streams import StreamProtocol, StreamSettlement, settled_events

logger = logging.getLogger(__name__)
RESPONSES = UsageRecord.Endpoint.RESPONSES
NOT_CANCELLABLE = "Only responses created with background=true can be cancelled."


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a request goes: `params` as they go natively (store forced off if so set), or `chat`, its
    translation, with its conversation's `context` and own `items`; `provider`: the one that keeps the
    previous response, if any; `store`: whether the response is kept (and its owner noted)."""

    params: dict[str, Any]
    store: bool
    chat: dict[str, Any] | None = None
    context: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    provider: str = ""


def speaks_responses(model: str) -> bool:
    """Whether a provider of `model` speaks the Responses API (the implicit provider speaks everything)."""
    entry = catalog.current().model(model)
    return entry is not None and any("responses" in d.provider.endpoints for d in entry.deployments)


async def plan(*, caller: Caller, params: dict[str, Any]) -> Plan:
    """Check what costs nothing to check (the previous response's owner, what a chat provider cannot be
    asked: 404 and 400), and decide how the request goes."""
    check_servable(params)
    store = params.get("store") is not False and not settings.CHATGATEWAY_RESPONSES_FORCE_NO_STORE
    if settings.CHATGATEWAY_RESPONSES_FORCE_NO_STORE:
        params = {**params, "store": False}
    previous = params.get("previous_response_id")
    owner = None
    if previous:
        owner = await in_db(services.owned_response, user_id=caller.user_id, response_id=str(previous))
    native = speaks_responses(str(params["model"])) and not (owner is not None and owner.translated)
    if native:
        return Plan(params=params, store=store, provider=owner.provider if owner is not None else "")
    if owner is not None and not owner.translated:
        raise serializers.ValidationError(
            {"previous_response_id": ["That response was made by a provider this model no longer reaches."]}
        )
    translate.check_translatable(params)
    context = services.conversation_of(owner) if owner is not None else []
    items = translate.input_items(params.get("input"))
    chat = translate.chat_request({**params, "stream": bool(params.get("stream"))}, [*context, *items])
    return Plan(params=params, store=store, chat=chat, context=context, items=items)


def check_servable(params: dict[str, Any]) -> None:
    """Refuse (400, naming it) what no provider may be asked through a shared key and a per-answer quota:
    a background response (its usage is known only after the answer, so it could not be charged), and
    references to what the provider keeps outside a response id (`conversation`, `item_reference` items),
    whose owner the gateway cannot check."""
    if params.get("background"):
        _refuse("background", "`background` responses are not supported: the gateway charges each answer's usage.")
    if params.get("conversation"):
        _refuse("conversation", "`conversation` is not supported here: send `previous_response_id` or the input.")
    items = params.get("input") if isinstance(params.get("input"), list) else []
    if any(isinstance(item, dict) and item.get("type") == "item_reference" for item in items):
        _refuse("input", "`item_reference` items are not supported here: send the items themselves.")


def _refuse(param: str, message: str) -> None:
    raise serializers.ValidationError({param: [message]})


def _budget(params: dict[str, Any]) -> Budget:
    """A native Responses request's: its `max_output_tokens`, in which the lowered cap goes too."""
    cap = params.get("max_output_tokens")
    return Budget(wanted=cap if _positive_int(cap) else None, caps=("max_output_tokens",))


async def relay_response(*, caller: Caller, plan: Plan) -> Passed:
    """Relay one non-streamed Responses request; raises QuotaExceeded or UpstreamError (refunded)."""
    if plan.chat is None:
        attempt = _attempt(caller, plan.params, stream=False, endpoint=RESPONSES)
        params = await _reserve(attempt, plan.params, _budget(plan.params))
        call = functools.partial(upstream.pass_through_response, provider=plan.provider)
        passed = await _relay(attempt, params, call)
        response_id = _id_of(passed.body)
        if plan.store and response_id:
            await _keep(caller, plan, response_id=response_id, provider=passed.provider)
        return passed
    attempt = _attempt(caller, plan.chat, stream=False, endpoint=RESPONSES)
    chat = await _reserve(attempt, plan.chat, _chat_budget(plan.chat))
    passed = await _relay(attempt, chat, upstream.pass_through_completion)
    completion = json.loads(passed.body)
    shown = _as_asked(plan.params, chat)
    response = translate.response_from_chat(shown, completion, response_id=translate.new_id("resp"), store=plan.store)
    if response["usage"] is None and passed.completion is not None and passed.completion.usage is not None:
        response["usage"] = _usage(passed.completion.usage)  # estimated, as the record says
    if plan.store:
        await _keep(caller, plan, response_id=response["id"], response=response)
    return dataclasses.replace(passed, body=json.dumps(response).encode())


async def open_response_stream(*, caller: Caller, plan: Plan) -> Passed:
    """Reserve a request and open its stream: the provider's typed events as they come, or the chat
    stream's chunks translated into them; raises QuotaExceeded or UpstreamError (refunded) before the first."""
    protocol: StreamProtocol
    if plan.chat is None:
        opener = functools.partial(upstream.open_response_stream, provider=plan.provider)
        settlement = await open_settled_stream(
            caller=caller, params=plan.params, endpoint=RESPONSES, opener=opener, budget=_budget(plan.params)
        )
        protocol = NativeEvents(caller, plan)
    else:
        sent: dict[str, Any] = {}

        async def opener(chat: dict[str, Any], trail: upstream.Trail) -> upstream.UpstreamStream:
            sent.update(chat)  # as reserved: with the cap lowered, if it was
            return await upstream.open_stream(chat, trail)

        settlement = await open_settled_stream(caller=caller, params=plan.chat, endpoint=RESPONSES, opener=opener)
        protocol = TranslatedEvents(caller, plan, sent)
    return Passed(
        body=settled_events(settlement, protocol),
        allowance=settlement.allowance,
        request_id=settlement.request_id,
        provider=settlement.provider,
    )


def _as_asked(params: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    """The request as its response shows it: with the cap the gateway lowered it to, if it did."""
    cap = chat.get("max_tokens")
    return {**params, "max_output_tokens": cap} if isinstance(cap, int) else params


def _usage(usage: upstream.Usage) -> dict[str, Any] | None:
    counts = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    return translate.response_usage(counts)


def _id_of(body: Any) -> str:
    try:
        response_id = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return ""
    return response_id if isinstance(response_id, str) else ""


async def _keep(caller: Caller, plan: Plan, *, response_id: str, provider: str = "", response: Any = None) -> None:
    """Note the response's owner (and, translated, keep it). The answer is the client's whatever happens:
    if the database fails now, the id is only unusable later."""
    try:
        await in_db(
            services.keep_response,
            user_id=caller.user_id,
            response_id=response_id,
            model=str(plan.params["model"]),
            provider=provider,
            translated=plan.chat is not None,
            input_items=plan.items if plan.chat is not None else None,
            context=plan.context if plan.chat is not None else None,
            response=response,
        )
    except DatabaseError:
        logger.warning("response owner not recorded: database_error")


def _error_event(error: upstream.UpstreamError) -> bytes:
    body = {"message": error.message, "type": "server_error", "param": None, "code": error.reason}
    event = {"type": "error", "code": error.reason, "message": error.message, "param": None, "error": body}
    return translate.sse(event)


class NativeEvents(StreamProtocol):
    """A Responses provider's typed events as it sent them; its last (`response.completed`) held back until
    the request is settled and the response's owner noted, so that a client holding it finds both done."""

    def __init__(self, caller: Caller, plan: Plan) -> None:
        self.caller = caller
        self.plan = plan
        self.response_id = ""
        self.last = b""

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        response = event.chunk.get("response")
        if not self.response_id and isinstance(response, dict) and isinstance(response.get("id"), str):
            self.response_id = response["id"]
        name = getattr(event, "name", "") or str(event.chunk.get("type") or "message")
        sent = f"event: {name}\ndata: {event.data}\n\n".encode()
        if event.chunk.get("type") in upstream.RESPONSE_ENDS:
            self.last = sent
            return None
        return sent

    def error(self, error: upstream.UpstreamError) -> bytes:
        return _error_event(error)

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        await self._note(settlement)
        return self.last

    async def abandoned(self, settlement: StreamSettlement) -> None:
        await self._note(settlement)  # the provider may keep what it wrote so far

    async def _note(self, settlement: StreamSettlement) -> None:
        if self.plan.store and self.response_id:
            await _keep(self.caller, self.plan, response_id=self.response_id, provider=settlement.provider)


class TranslatedEvents(StreamProtocol):
    """A chat stream's chunks as the Responses API's typed events, each as it arrives; the response kept
    (if stored) once it is done."""

    def __init__(self, caller: Caller, plan: Plan, chat: dict[str, Any]) -> None:
        self.caller = caller
        self.plan = plan
        self.translation = translate.EventTranslation(
            _as_asked(plan.params, chat), response_id=translate.new_id("resp"), store=plan.store
        )

    def opening(self) -> bytes:
        return self.translation.opening()

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        return self.translation.chunk(event.chunk) or None

    def error(self, error: upstream.UpstreamError) -> bytes:
        return self.translation.error(code=error.reason, message=error.message)

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        usage = _usage(settlement.usage) if settlement.usage is not None else None
        closing = self.translation.closing(usage)
        if self.plan.store:
            await _keep(
                self.caller, self.plan, response_id=self.translation.response_id, response=self.translation.response
            )
        return closing


# --- A response by its id ------------------------------------------------------------------------------


async def response_call(
    *, caller: Caller, response_id: str, method: str, suffix: str = "", query: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """`GET`/`DELETE /v1/responses/{id}`, `GET .../input_items`, `POST .../cancel`, for the response's owner
    alone (anyone else: 404): from the provider that keeps it, or, translated, from what the gateway kept."""
    owner = await in_db(services.owned_response, user_id=caller.user_id, response_id=response_id)
    if owner.translated:
        return await _kept_response_call(owner, method=method, suffix=suffix, query=query or {})
    path = f"/responses/{owner.response_id}{suffix}"
    if query:
        path += "?" + urlencode(query)
    status, body = await upstream.response_by_id(provider=owner.provider, method=method, path=path)
    if status == 404:
        raise services.not_found(response_id)
    if method == "DELETE" and not suffix and status == 200:
        await in_db(services.forget_response, owner=owner)
    return status, body


async def _kept_response_call(owner: Any, *, method: str, suffix: str, query: dict[str, str]) -> tuple[int, bytes]:
    if suffix == "/cancel":
        raise serializers.ValidationError(NOT_CANCELLABLE)
    if suffix == "/input_items":
        return 200, json.dumps(_listing(owner.input_items or [], query)).encode()
    if method == "DELETE":
        await in_db(services.forget_response, owner=owner)
        return 200, json.dumps({"id": owner.response_id, "object": "response", "deleted": True}).encode()
    return 200, json.dumps(owner.response).encode()


def _listing(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """A page of input items as OpenAI lists them: newest first unless `order=asc`, `limit` (20; 1 to 100)
    after the item `after`."""
    ordered = items if query.get("order") == "asc" else items[::-1]
    after = query.get("after")
    if after:
        ids = [item.get("id") for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = min(100, max(1, int(query.get("limit") or 20)))
    except ValueError:
        limit = 20
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(ordered) > limit,
    }
