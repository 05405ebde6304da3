"""The only package that talks to the upstream model, through the official `openai` SDK.

Everything else calls the functions below and catches the domain errors below, never the SDK's:
- `create_chat_completion()` (chat.py) for the gateway's own endpoints;
- `pass_through_completion()` and `open_stream()` (raw.py) for `/v1`, bytes unchanged;
- errors.py turns every SDK failure into an `UpstreamError`; clients.py holds the clients and the
  retries within OPENAI_TIMEOUT.
"""

from relay.upstream.chat import Completion, Usage, create_chat_completion
from relay.upstream.clients import forget_client_on_setting_change
from relay.upstream.errors import (
    UpstreamBusy,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRejected,
    UpstreamTimeout,
)
from relay.upstream.raw import RawCompletion, StreamEvent, UpstreamStream, open_stream, pass_through_completion

__all__ = [
    "Completion",
    "RawCompletion",
    "StreamEvent",
    "UpstreamBusy",
    "UpstreamError",
    "UpstreamMisconfigured",
    "UpstreamRejected",
    "UpstreamStream",
    "UpstreamTimeout",
    "Usage",
    "create_chat_completion",
    "forget_client_on_setting_change",
    "open_stream",
    "pass_through_completion",
]
