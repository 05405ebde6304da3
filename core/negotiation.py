"""Content negotiation for the endpoints that stream server-sent events."""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import media_type_matches

EVENT_STREAM = "text/event-stream"


class EventStreamNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that a client accepting `text/event-stream` is never refused.

    Clients built on SSE libraries (httpx-sse's `connect_sse`, EventSource) send `Accept:
    text/event-stream` alone, with a stream request or not. DRF's renderers offer only JSON, and
    negotiation runs before authentication, so such a client got 406 before even its key was checked.
    Here it gets the first renderer's JSON, as OpenAI answers it: a stream's body is a
    `StreamingHttpResponse` of `text/event-stream` that no renderer touches, and errors and
    non-streamed answers stay JSON. Any other unacceptable Accept still gets 406.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if not self.accepts_event_stream(request):
                raise
            return renderers[0], renderers[0].media_type

    def accepts_event_stream(self, request) -> bool:
        return any(media_type_matches(EVENT_STREAM, accepted) for accepted in self.get_accept_list(request))
