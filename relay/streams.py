"""A streamed relay, from its first upstream event to its settlement: `StreamSettlement` ends the attempt
exactly once however the stream ends, and `settled_events` is the one stream loop of every relay endpoint,
which each API family speaks through a `StreamProtocol` (`OpenAIEvents` for `/v1`, conversations' own
events for a message's reply). `relay.passthrough.open_settled_stream` opens one."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from django.conf import settings

from core.db import in_db
from core.request_end import at_request_end
from quota.services import Allowance
from relay import upstream
from relay.services import RelayAttempt

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request"; only ever in records


class RequestTooLong(upstream.UpstreamTimeout):
    """A stream was still running CHATGATEWAY_MAX_REQUEST_SECONDS after its request started: the gateway
    ends it (and it counts, with what was sent), so that no request outlives its quota lease."""

    def __init__(self) -> None:
        super().__init__("max_request_duration")


class StreamSettlement:
    """Ends one streamed attempt exactly once, however it ends: closes the upstream request, then
    settles (the request counts), fails or refunds it. The database step runs even if a cancellation
    arrives while the upstream request is being closed. `settled_events` drives it; the first of
    `succeed`, `fail`, `refund` or `abandon` to be called ends it, and the others then do nothing."""

    def __init__(self, stream: upstream.UpstreamStream, attempt: RelayAttempt) -> None:
        self._stream = stream
        self._attempt = attempt
        self._model = str(stream.first.chunk.get("model") or attempt.model)
        self._usage: upstream.Usage | None = None
        self.usage: upstream.Usage | None = None  # once it succeeded: as settled, reported or estimated
        self._answer: list[str] = []
        self._done = False
        self._deadline = attempt.started + settings.CHATGATEWAY_MAX_REQUEST_SECONDS

    @property
    def allowance(self) -> Allowance:
        """Where the caller stood once the request was reserved (for the rate-limit headers)."""
        return self._attempt.reservation.allowance

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self._answer)

    @property
    def provider(self) -> str:
        """The name of the provider that is answering."""
        return self._attempt.trail.provider

    @property
    def request_id(self) -> str | None:
        """The upstream's request id, when it gave one."""
        return self._stream.request_id

    def _note(self, event: upstream.StreamEvent) -> None:
        self._usage = event.usage or self._usage
        self._answer.append(event.text)

    def _overdue(self) -> bool:
        return time.monotonic() > self._deadline

    async def succeed(self) -> None:
        """The stream ended well: the request counts, with the usage the upstream reported (or estimated)."""
        await self._finish()

    async def fail(self, error: upstream.UpstreamError) -> None:
        """The upstream failed midway: refunded, and recorded with the reason."""
        await self._finish(error=error)

    async def refund(self) -> None:
        """A bug of ours (or our database) ended it: refunded; it costs the caller nothing."""
        await self._finish(refund=True)

    async def abandon(self) -> None:
        """The client went away: the upstream request is closed at once, and the request counts
        (status 499, with the usage so far)."""
        await self._finish(status_code=CLIENT_CLOSED, reason="client_disconnected")

    async def cut(self, error: RequestTooLong) -> None:
        """The request ran out of time: the upstream request is closed, and the request counts (with
        the usage so far)."""
        await self._finish(status_code=error.status, reason=error.reason)

    async def _finish(
        self, *, status_code: int = 200, reason: str = "", error: upstream.UpstreamError | None = None,
        refund: bool = False,
    ) -> None:  # fmt: skip
        if self._done:
            return
        self._done = True
        try:
            await self._stream.aclose()
        finally:
            if error is not None:
                await in_db(self._attempt.fail, error)
            elif refund:
                await in_db(self._attempt.refund)
            else:
                self.usage = await in_db(
                    self._attempt.succeed,
                    model=self._model,
                    usage=self._usage,
                    answer=self.text,
                    request_id=self._stream.request_id,
                    status_code=status_code,
                    error=reason,
                )


class StreamProtocol:
    """How an API family speaks a settled stream to its client: what each upstream event becomes,
    and what happens once the stream has ended one way or the other. `settled_events` calls each
    of `succeeded`, `failed` and `abandoned` at most once, and only one of them."""

    def opening(self) -> bytes | None:
        """What to send before the first upstream event, if anything."""
        return None

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        """What to send for one upstream event, or None to send nothing."""
        raise NotImplementedError

    def error(self, error: upstream.UpstreamError) -> bytes:
        """The last thing sent when the upstream fails midway (the request is refunded by then)."""
        raise NotImplementedError

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        """The request has been settled and counts: the last thing to send."""
        raise NotImplementedError

    async def failed(self, settlement: StreamSettlement) -> None:
        """The request has been refunded (the upstream failed, or a bug of ours)."""

    async def abandoned(self, settlement: StreamSettlement) -> None:
        """The stream ended early (the client went away, or the gateway ended it at the longest a request
        may last); the request counts, with `settlement.text` so far."""


def settled_events(settlement: StreamSettlement, protocol: StreamProtocol) -> AsyncIterator[bytes]:
    """The client's stream: each upstream event as `protocol` speaks it, the request settled before
    the last event (so a client holding it finds its request counted and recorded), refunded on an
    upstream failure (then an error event ends the stream) or on a bug of ours (raised), and counted
    as 499 with the usage so far if the client goes away, even before the body starts. A stream still
    running CHATGATEWAY_MAX_REQUEST_SECONDS after its request started is ended with an error event, and
    counts with the usage so far (504)."""
    stream = _SettledStream(settlement, protocol)
    # If the client goes away before the body starts, its `finally` never runs: this does.
    at_request_end(stream.abandon)
    return stream.events()


class _SettledStream:
    """The one stream loop of every relay endpoint."""

    def __init__(self, settlement: StreamSettlement, protocol: StreamProtocol) -> None:
        self.settlement = settlement
        self.protocol = protocol
        self.ended = False  # the protocol has heard how the stream ended (or is hearing it)

    async def events(self) -> AsyncIterator[bytes]:
        settlement, protocol = self.settlement, self.protocol
        try:
            opening = protocol.opening()
            if opening is not None:
                yield opening
            async for event in settlement._stream:
                settlement._note(event)
                data = protocol.event(event)
                if data is not None:
                    yield data
                if settlement._overdue():
                    raise RequestTooLong
        except RequestTooLong as error:
            await settlement.cut(error)
            self.ended = True
            await protocol.abandoned(settlement)
            yield protocol.error(error)
        except upstream.UpstreamError as error:
            await settlement.fail(error)
            await self._failed()
            yield protocol.error(error)
        except Exception:
            await settlement.refund()  # a bug of ours costs nothing
            await self._failed()
            raise
        else:
            # Settled before the client's last event, so that a client holding it finds its request
            # counted and recorded.
            await settlement.succeed()
            self.ended = True
            yield await protocol.succeeded(settlement)
        finally:
            await self.abandon()  # nothing to do unless the client went away mid-stream

    async def _failed(self) -> None:
        self.ended = True
        await self.protocol.failed(self.settlement)

    async def abandon(self) -> None:
        """The client went away: the request counts, and the protocol hears of it unless it has
        heard how the stream ended."""
        await self.settlement.abandon()
        if not self.ended:
            self.ended = True
            await self.protocol.abandoned(self.settlement)


class OpenAIEvents(StreamProtocol):
    """/v1's server-sent events: each chunk as the upstream sent it, then `data: [DONE]`; an
    OpenAI-style error event instead when the upstream fails midway."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage

    def event(self, event: upstream.StreamEvent) -> bytes | None:
        if event.only_usage and not self.include_usage:
            return None  # the gateway asked for it for its own accounting
        return f"data: {event.data}\n\n".encode()

    def error(self, error: upstream.UpstreamError) -> bytes:
        """An in-stream error as OpenAI sends one (its SDK raises APIError on it)."""
        body = {"error": {"message": error.message, "type": "server_error", "param": None, "code": error.reason}}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def succeeded(self, settlement: StreamSettlement) -> bytes:
        return b"data: [DONE]\n\n"
