"""A conversation's reply as server-sent events: one `data: <json>` line and a blank line each.

`{"type": "message", "message": …}` (the user's message, as kept), then `{"type": "delta", "content": …}`
for each piece of the reply as the upstream sends it, then `{"type": "done", "reply": …, "quota": …}`;
or, when the upstream fails midway, `{"type": "error", "error": {"code", "message"}}` and the end.
The relay's stream loop (`relay.streams.settled_events`) sends them and settles the request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conversations.models import Conversation, Message
from conversations.serializers import MessageSerializer
from conversations.services import ENDPOINT, forget_message, keep_message, keep_reply, prompt_for, quota_after
from core.db import in_db
from quota.serializers import QuotaStatusSerializer
from relay import upstream
from relay.passthrough import Caller, Passed, open_settled_stream
from relay.streams import StreamProtocol, StreamSettlement, settled_events


async def open_message_stream(*, caller: Caller, conversation: Conversation, content: str) -> Passed:
    """Send a message with its reply streamed. Raises QuotaExceeded or UpstreamError (refunded,
    nothing kept) before the reply's first piece; after that, the user's message is kept."""
    prompt = await in_db(prompt_for, conversation=conversation, content=content)
    params = {"model": conversation.model, "messages": prompt, "stream": True}
    settlement = await open_settled_stream(caller=caller, params=params, endpoint=ENDPOINT)
    try:
        message = await in_db(keep_message, conversation=conversation, content=content)
    except asyncio.CancelledError:
        await settlement.abandon()  # the client left once the upstream was asked: it counts
        raise
    except BaseException:
        await settlement.refund()  # the database failed: the client gets no answer
        raise
    events = settled_events(settlement, ReplyEvents(conversation=conversation, message=message, caller=caller))
    return Passed(body=events, allowance=settlement.allowance, request_id=settlement.request_id)


class ReplyEvents(StreamProtocol):
    """One streamed reply's events, and what the conversation keeps: the reply once the request is
    settled (before `done`), the reply so far if the client goes away, and not even the message if
    the request is refunded."""

    def __init__(self, *, conversation: Conversation, message: Message, caller: Caller) -> None:
        self.conversation = conversation
        self.message = message
        self.caller = caller

    def opening(self) -> bytes:
        return _event({"type": "message", "message": MessageSerializer(self.message).data})

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        return _event({"type": "delta", "content": event.text}) if event.text else None

    def error(self, error: upstream.UpstreamError) -> bytes:
        return _event({"type": "error", "error": {"code": error.reason, "message": error.message}})

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        # Kept before the client's last event: a client holding "done" finds its reply in the conversation.
        reply, quota = await in_db(self._keep_reply_and_quota, settlement.text)
        return _event({"type": "done", "reply": reply, "quota": quota})

    async def failed(self, settlement: StreamSettlement) -> None:
        await in_db(forget_message, message=self.message)

    async def abandoned(self, settlement: StreamSettlement) -> None:
        """The request counts, so the reply so far, if any, is kept."""
        if settlement.text:
            await in_db(self._keep_reply, settlement.text)

    def _keep_reply(self, text: str) -> Message:
        return keep_reply(conversation=self.conversation, content=text, asked=self.message.content)

    def _keep_reply_and_quota(self, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
        reply = self._keep_reply(text)
        quota = quota_after(caller=self.caller)
        return MessageSerializer(reply).data, QuotaStatusSerializer(quota).data


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
