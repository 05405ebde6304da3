"""The only module that talks to the upstream model, through the official `openai` SDK.

Everything else calls `create_chat_completion()` and catches the domain errors below, never the
SDK's. Error messages here are meant for people; `reason` is a short label for logs and usage
records. Neither ever contains the upstream key or the upstream's raw error text for auth errors.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

import openai
from django.conf import settings

logger = logging.getLogger(__name__)

_CLIENT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT", "OPENAI_MAX_RETRIES"}


class UpstreamError(Exception):
    """The upstream did not answer usefully. `status` is what the gateway's client gets."""

    status = 502
    message = "The upstream model service failed to answer. Please try again later."

    def __init__(self, reason: str, *, message: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if message:
            self.message = message
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status = 504
    message = "The upstream model service took too long to answer. Please try again later."


class UpstreamBusy(UpstreamError):
    status = 503
    message = "The upstream model service is busy. Please try again shortly."


class UpstreamMisconfigured(UpstreamError):
    message = "The gateway is misconfigured: the upstream refused its credentials. Please tell an administrator."


class UpstreamRejected(UpstreamError):
    """The upstream refused this particular request (too long for the model, say)."""

    status = 400
    message = "The model service rejected this request."


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclasses.dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: Usage
    request_id: str | None


@functools.cache
def client() -> openai.OpenAI:
    """The shared SDK client: built once, it pools its connections across requests."""
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _CLIENT_SETTINGS:
        client.cache_clear()


def create_chat_completion(*, messages: list[dict[str, str]], model: str) -> Completion:
    """Ask the upstream for one chat completion."""
    try:
        response = client().chat.completions.create(model=model, messages=messages)
    except (openai.OpenAIError, ValueError) as exc:
        # ValueError: a 200 whose body is not the JSON it claims to be (the SDK does not wrap that).
        raise _domain_error(exc) from None
    if not getattr(response, "choices", None):
        raise UpstreamError("upstream_malformed_response")
    usage = response.usage
    return Completion(
        text=response.choices[0].message.content or "",
        model=response.model or model,
        usage=Usage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
        if usage
        else Usage(),
        request_id=response._request_id,
    )


def _domain_error(exc: Exception) -> UpstreamError:
    """Translate an SDK error; log one line that names the kind of failure, not its text."""
    if isinstance(exc, openai.APITimeoutError):
        error: UpstreamError = UpstreamTimeout("upstream_timeout")
    elif isinstance(exc, openai.APIConnectionError):
        error = UpstreamError("upstream_unreachable")
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        error = UpstreamMisconfigured(f"upstream_auth_{exc.status_code}")
    elif isinstance(exc, openai.RateLimitError):
        error = UpstreamBusy("upstream_rate_limited", retry_after=_retry_after(exc.response))
    elif isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError | openai.NotFoundError):
        error = UpstreamRejected(f"upstream_rejected_{exc.status_code}", message=_rejection_message(exc))
    elif isinstance(exc, openai.APIStatusError):
        error = UpstreamError(f"upstream_http_{exc.status_code}")
    else:
        error = UpstreamError("upstream_malformed_response")
    log = logger.error if isinstance(error, UpstreamMisconfigured) else logger.warning
    log("upstream call failed: %s", error.reason)
    return error


def _retry_after(response: Any) -> int | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(1, int(float(value))) if value else None
    except ValueError:
        return None


def _rejection_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("message") if isinstance(body.get("message"), str) else None
    if not detail:
        return UpstreamRejected.message
    return f"{UpstreamRejected.message} It said: {detail[:300]}"
