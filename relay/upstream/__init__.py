"""The only package that talks to the upstream model, through the official `openai` SDK.

Everything else calls the functions below and catches the domain errors below, never the SDK's:
- `pass_through_completion()` and `open_stream()` (raw.py) for every relay endpoint, bytes unchanged;
  `pass_through_text_completion()` and `open_text_completion_stream()` for `/v1/completions`,
  `pass_through_embeddings()` for `/v1/embeddings`; `pass_through_response()`, `open_response_stream()` and
  `response_by_id()` for `/v1/responses` to a provider that speaks the Responses API;
- errors.py turns every SDK failure into an `UpstreamError`; clients.py holds the clients and the
  retries within OPENAI_TIMEOUT.
"""

from relay.upstream.clients import forget_client_on_setting_change
from relay.upstream.errors import (
    UpstreamBusy,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRejected,
    UpstreamTimeout,
)
from relay.upstream.raw import (
    RESPONSE_ENDS,
    RawCompletion,
    ResponseStreamEvent,
    StreamEvent,
    UpstreamStream,
    Usage,
    open_response_stream,
    open_stream,
    open_text_completion_stream,
    output_text,
    pass_through_completion,
    pass_through_embeddings,
    pass_through_response,
    pass_through_text_completion,
    response_by_id,
    response_usage,
)
from relay.upstream.routing import Trail

__all__ = [
    "RESPONSE_ENDS",
    "RawCompletion",
    "ResponseStreamEvent",
    "StreamEvent",
    "Trail",
    "UpstreamBusy",
    "UpstreamError",
    "UpstreamMisconfigured",
    "UpstreamRejected",
    "UpstreamStream",
    "UpstreamTimeout",
    "Usage",
    "forget_client_on_setting_change",
    "open_response_stream",
    "open_stream",
    "open_text_completion_stream",
    "output_text",
    "pass_through_completion",
    "pass_through_embeddings",
    "pass_through_response",
    "pass_through_text_completion",
    "response_by_id",
    "response_usage",
]
