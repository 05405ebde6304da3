"""A conversation's reply as server-sent events: one `data: <json>` line and a blank line each.

`{"type": "message", "message": …}` (the user's message, as kept), then `{"type": "delta", "content": …}`
for each piece of the reply as the upstream sends it, then `{"type": "done", "reply": …, "quota": …}`;
or, when the upstream fails midway, `{"type": "error", "error": {"code", "message"}}` and the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from conversations.models import Conversation, Message
from conversations.serializers import MessageSerializer
from conversations.services import ENDPOINT, forget_message, keep_message, keep_reply, prompt_for
from core.db import in_db
from core.request_end import at_request_end
from quota.serializers import QuotaStatusSerializer
from quota.services import Allowance, quota_status
from relay import upstream
from relay.passthrough import Caller, StreamSettlement, open_settled_stream


async def open_message_stream(*, caller: Caller, conversation: Conversation, content: str) -> MessageStream:
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
        await settlement.finish(refund=True)  # the database failed: the client gets no answer
        raise
    stream = MessageStream(settlement=settlement, conversation=conversation, message=message)
    # The client may leave before the body starts, when its `finally` would never run: this does.
    at_request_end(stream.abandon)
    return stream


class MessageStream:
    """One streamed reply: the relay's settlement of the request, and what the conversation keeps."""

    def __init__(self, *, settlement: StreamSettlement, conversation: Conversation, message: Message) -> None:
        self.settlement = settlement
        self.conversation = conversation
        self.message = message
        self.kept = False  # the reply has been kept, or the message forgotten: nothing left to do

    @property
    def allowance(self) -> Allowance:
        return self.settlement.attempt.reservation.allowance

    async def events(self) -> AsyncIterator[bytes]:
        yield _event({"type": "message", "message": MessageSerializer(self.message).data})
        try:
            async for event in self.settlement.stream:
                self.settlement.note(event)
                if event.text:
                    yield _event({"type": "delta", "content": event.text})
        except upstream.UpstreamError as error:
            await self.settlement.finish(error=error)
            await self._forget()
            yield _event({"type": "error", "error": {"code": error.reason, "message": error.message}})
            return
        except Exception:
            await self.settlement.finish(refund=True)  # a bug of ours costs nothing
            await self._forget()
            raise
        else:
            # Settled and kept before the client's last event: a client holding "done" finds its
            # request counted and its reply in the conversation.
            await self.settlement.finish()
            self.kept = True
            reply, quota = await in_db(self._keep_reply_and_quota)
            yield _event({"type": "done", "reply": reply, "quota": quota})
        finally:
            await self.abandon()  # nothing to do unless the client went away mid-stream

    async def abandon(self) -> None:
        """The client went away: the request counts, so the reply so far, if any, is kept."""
        await self.settlement.abandon()
        if not self.kept:
            self.kept = True
            if self._reply_text():
                await in_db(self._keep_reply)

    def _keep_reply(self) -> Message:
        return keep_reply(conversation=self.conversation, content=self._reply_text(), asked=self.message.content)

    def _keep_reply_and_quota(self) -> tuple[dict[str, Any], dict[str, Any]]:
        reply = self._keep_reply()
        quota = quota_status(user_id=self.conversation.user_id)
        return MessageSerializer(reply).data, QuotaStatusSerializer(quota).data

    def _reply_text(self) -> str:
        return "".join(self.settlement.answer)

    async def _forget(self) -> None:
        self.kept = True
        await in_db(forget_message, message=self.message)


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
