"""What the relay's views share, in every API family (`/v1`, `/api`, `/api/chat/`, the conversations
API): the response that carries a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from django.http import StreamingHttpResponse

# Sent with every stream: no cache may keep it, and nginx must not hold events back.
EVENT_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_stream_response(events: AsyncIterator[bytes], *, headers: Mapping[str, str]) -> StreamingHttpResponse:
    """A response of server-sent events (a `Passed` stream's body), with `headers` (the rate-limit ones)."""
    return StreamingHttpResponse(events, content_type="text/event-stream", headers={**EVENT_STREAM_HEADERS, **headers})
