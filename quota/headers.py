"""OpenAI's rate-limit headers, which tell a client where it stands after each request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from core.money import from_nanos

if TYPE_CHECKING:
    from quota.services import Allowance


def rate_limit_headers(allowance: Allowance) -> dict[str, str]:
    """`x-ratelimit-*` for requests, for tokens where a token limit applies, and for cost (in the currency,
    named by `x-ratelimit-cost-currency`) where a cost limit does: each the binding limit of its metric,
    the one with the least left. A reset of a total (which never comes) is left out."""
    reset = openai_duration(allowance.resets_in)
    headers = {
        "x-ratelimit-limit-requests": str(allowance.request_limit),
        "x-ratelimit-remaining-requests": str(max(0, allowance.requests_remaining)),
        "x-ratelimit-reset-requests": reset,
    }
    if allowance.token_limit is not None:
        headers["x-ratelimit-limit-tokens"] = str(allowance.token_limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, allowance.tokens_remaining or 0))
        tokens_reset = allowance.resets_in if allowance.tokens_resets_in is None else allowance.tokens_resets_in
        headers["x-ratelimit-reset-tokens"] = openai_duration(tokens_reset)
    if allowance.cost_limit is not None:
        headers["x-ratelimit-limit-cost"] = f"{from_nanos(allowance.cost_limit).normalize():f}"
        headers["x-ratelimit-remaining-cost"] = f"{from_nanos(max(0, allowance.cost_remaining or 0)):f}"
        headers["x-ratelimit-cost-currency"] = settings.CHATGATEWAY_CURRENCY
        if allowance.cost_resets_in is not None:
            headers["x-ratelimit-reset-cost"] = openai_duration(allowance.cost_resets_in)
    return headers


def openai_duration(seconds: int) -> str:
    """22331 -> "6h12m11s", as OpenAI writes durations; "0s" for nothing."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
