"""One chat completion, parsed, for the gateway's own endpoints (`/api`, `/api/chat/`)."""

from __future__ import annotations

import dataclasses

from relay.upstream.clients import client, with_retries
from relay.upstream.errors import UpstreamError


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclasses.dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: Usage | None  # None: the upstream reported none
    request_id: str | None


def create_chat_completion(*, messages: list[dict[str, str]], model: str, max_tokens: int | None = None) -> Completion:
    """Ask the upstream for one chat completion, retrying passing failures until OPENAI_TIMEOUT."""
    limit = {"max_tokens": max_tokens} if max_tokens else {}
    response = with_retries(lambda timeout: client().chat.completions.create(
        model=model, messages=messages, timeout=timeout, **limit
    ))  # fmt: skip
    if not getattr(response, "choices", None):
        raise UpstreamError("upstream_malformed_response")
    return Completion(
        text=response.choices[0].message.content or "",
        model=response.model or model,
        usage=_usage(response.usage),
        request_id=response._request_id,
    )


def _usage(usage: object) -> Usage | None:
    """The reported usage, or None (then estimated) when it is missing or not whole counts."""
    counts = [getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(count, int) and count >= 0 for count in counts):
        return None
    return Usage(*counts)
