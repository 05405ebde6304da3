"""OpenAI's rate-limit headers, which tell a client where it stands after each request."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quota.services import Allowance


def rate_limit_headers(allowance: Allowance) -> dict[str, str]:
    """`x-ratelimit-*` for requests, and for tokens where a token limit applies."""
    reset = openai_duration(allowance.resets_in)
    headers = {
        "x-ratelimit-limit-requests": str(allowance.request_limit),
        "x-ratelimit-remaining-requests": str(max(0, allowance.requests_remaining)),
        "x-ratelimit-reset-requests": reset,
    }
    if allowance.token_limit is not None:
        headers["x-ratelimit-limit-tokens"] = str(allowance.token_limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, allowance.tokens_remaining or 0))
        headers["x-ratelimit-reset-tokens"] = reset
    return headers


def openai_duration(seconds: int) -> str:
    """22331 -> "6h12m11s", as OpenAI writes durations; "0s" for nothing."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
