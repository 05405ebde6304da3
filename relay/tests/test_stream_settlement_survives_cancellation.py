"""A client leaving while its finished (or failed) stream is being closed upstream still leaves the
request settled (or refunded) and recorded: the accounting runs even when the close is interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from quota.models import Quota
from relay import upstream
from relay.models import UsageRecord
from relay.services import RelayAttempt
from relay.streams import OpenAIEvents, StreamSettlement, settled_events
from relay.upstream.raw import StreamEvent


class FakeStream:
    def __init__(self, events, fail: bool):
        self.first = events[0]
        self._rest = events[1:]
        self.fail = fail
        self.request_id = "req_1"
        self.closing = asyncio.Event()

    async def __aiter__(self):
        yield self.first
        for event in self._rest:
            yield event
        if self.fail:
            raise upstream.UpstreamError("upstream_stream_cut")

    async def aclose(self):
        self.closing.set()
        await asyncio.sleep(0.2)  # closing an HTTP response awaits (pool lock, socket close)


def _event(text, finish=None):
    chunk = {"model": "m", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return StreamEvent(data=json.dumps(chunk), chunk=chunk)


@pytest.mark.parametrize("fail", [False, True])
def test_a_cancellation_while_the_upstream_closes_still_settles(transactional_db, user, fail):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)
    attempt = RelayAttempt(
        user_id=user.pk, endpoint="v1", model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    attempt.reserve(completion_tokens=300)

    async def main():
        stream = FakeStream([_event("a"), _event("b", "stop")], fail=fail)
        gen = settled_events(StreamSettlement(stream, attempt), OpenAIEvents(include_usage=False))

        async def consume():  # what Django's send_response does
            async with contextlib.aclosing(gen) as content:
                async for _ in content:
                    pass

        task = asyncio.create_task(consume())
        await stream.closing.wait()
        task.cancel()  # Django's listen_for_disconnect: the client went away
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)

    asyncio.run(main())
    quota = Quota.objects.get(user=user)
    assert quota.tokens_reserved == 0, "budget leaked"
    assert UsageRecord.objects.count() == 1, "attempt not recorded"
    if fail:
        assert quota.used == 0, "an upstream failure was charged"
