"""Content negotiation for every API view (REST_FRAMEWORK's DEFAULT_CONTENT_NEGOTIATION_CLASS)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.utils.mediatypes import media_type_matches

EVENT_STREAM = "text/event-stream"


class EventStreamNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with two exceptions, for clients that SSE libraries and curl build:

    - A client accepting `text/event-stream` is never refused. SSE clients (httpx-sse's `connect_sse`,
      EventSource) send `Accept: text/event-stream` alone, stream request or not. It gets the first
      renderer's JSON, as OpenAI answers it. A stream's body is a `StreamingHttpResponse` of
      `text/event-stream` that no renderer touches; errors and non-streamed answers stay JSON.
    - Credentials come before a 406. DRF negotiates before it authenticates, so a wrong key used to get
      406 for an Accept the view has no renderer for. Before refusing, this checks the caller as the
      view would: a wrong key is a 401, a caller the view does not take a 401 or 403. Only an accepted
      caller gets the 406.
    """

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> Any:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if self.accepts_event_stream(request):
                return renderers[0], renderers[0].media_type
            view = (getattr(request, "parser_context", None) or {}).get("view")
            if view is not None:
                request.user  # noqa: B018  (authenticates: a wrong credential raises its 401 here)
                view.check_permissions(request)
            raise

    def accepts_event_stream(self, request: Request) -> bool:
        return any(media_type_matches(EVENT_STREAM, accepted) for accepted in self.get_accept_list(request))
