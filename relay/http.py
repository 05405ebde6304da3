"""What the relay's views share, in every API family (`/v1`, `/api`, `/api/chat/`, the conversations
API): who is asking, and the response that carries a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from django.http import StreamingHttpResponse
from rest_framework.request import Request

from relay.models import UsageRecord
from relay.passthrough import Caller
from teams.services import HEADER as TEAM_HEADER

# Sent with every stream: no cache may keep it, and nginx must not hold events back.
EVENT_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def caller_of(request: Request) -> Caller:
    """The authenticated user of a DRF request, and the API key they used if `request.auth` is one:
    the kind of object a usage record names as its `api_key` (a JWT's or a session's is not); the team
    the request names, and its key's. Which team it draws on is decided with its reservation
    (teams.services.team_for_request), in the database's thread."""
    api_key_model = UsageRecord._meta.get_field("api_key").related_model
    key = request.auth if isinstance(request.auth, api_key_model) else None
    return Caller(
        user_id=request.user.pk,
        api_key_id=key.pk if key is not None else None,
        team_asked=request.headers.get(TEAM_HEADER),
        key_team_id=key.team_id if key is not None else None,
    )


def event_stream_response(events: AsyncIterator[bytes], *, headers: Mapping[str, str]) -> StreamingHttpResponse:
    """A response of server-sent events (a `Passed` stream's body), with `headers` (the rate-limit ones)."""
    return StreamingHttpResponse(events, content_type="text/event-stream", headers={**EVENT_STREAM_HEADERS, **headers})
