"""The only package that talks to the upstream model, through the official `openai` SDK.

Everything else calls the functions below and catches the domain errors below, never the SDK's:
- `pass_through_completion()` and `open_stream()` (raw.py) for every relay endpoint, bytes unchanged;
  `pass_through_text_completion()` and `open_text_completion_stream()` for `/v1/completions`,
  `pass_through_embeddings()` for `/v1/embeddings`;
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
    RawCompletion,
    StreamEvent,
    UpstreamStream,
    Usage,
    open_stream,
    open_text_completion_stream,
    pass_through_completion,
    pass_through_embeddings,
    pass_through_text_completion,
)
from relay.upstream.routing import Trail

__all__ = [
    "RawCompletion",
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
    "open_stream",
    "open_text_completion_stream",
    "pass_through_completion",
    "pass_through_embeddings",
    "pass_through_text_completion",
]
