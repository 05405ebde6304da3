"""The only module that talks to the upstream model, through the official `openai` SDK.

Everything else calls `create_chat_completion()` and catches the domain errors below, never the
SDK's. Error messages here are meant for people; `reason` is a short label for logs and usage
records. Neither ever contains the upstream key or any text the upstream sent.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from django.conf import settings

logger = logging.getLogger(__name__)

_CLIENT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT"}
T = TypeVar("T")
RETRY_BACKOFF = 0.5  # seconds before the first retry, doubling after each
MAX_RETRY_PAUSE = 4.0


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
    """The shared SDK client: built once, it pools its connections across requests.

    Its own retries are off: `create_chat_completion` retries within one deadline instead, so that
    OPENAI_TIMEOUT bounds the whole wait (the SDK would give each retry a full timeout of its own).
    """
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=0,
    )


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _CLIENT_SETTINGS:
        client.cache_clear()


def create_chat_completion(*, messages: list[dict[str, str]], model: str) -> Completion:
    """Ask the upstream for one chat completion, retrying passing failures until OPENAI_TIMEOUT."""
    response = _with_retries(lambda timeout: client().chat.completions.create(
        model=model, messages=messages, timeout=timeout
    ))  # fmt: skip
    if not getattr(response, "choices", None):
        raise UpstreamError("upstream_malformed_response")
    usage = response.usage or Usage()
    return Completion(
        text=response.choices[0].message.content or "",
        model=response.model or model,
        usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
        request_id=response._request_id,
    )


def _with_retries(call: Callable[[float], T]) -> T:
    """`call(timeout)` until it succeeds, OPENAI_MAX_RETRIES run out, or OPENAI_TIMEOUT has passed."""
    deadline = time.monotonic() + settings.OPENAI_TIMEOUT
    for attempt in itertools.count():
        try:
            return call(deadline - time.monotonic())
        except (openai.OpenAIError, ValueError) as exc:
            # ValueError: a 200 whose body is not the JSON it claims to be (the SDK does not wrap that).
            pause = min(RETRY_BACKOFF * 2**attempt, MAX_RETRY_PAUSE)
            if attempt >= settings.OPENAI_MAX_RETRIES or not _retryable(exc) or time.monotonic() + pause >= deadline:
                raise _domain_error(exc) from None
            logger.info("upstream attempt %d failed (%s); retrying in %.1f s", attempt + 1, type(exc).__name__, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def _retryable(exc: Exception) -> bool:
    """Failures that another attempt may not meet: lost connections, overload, upstream 5xx."""
    if isinstance(exc, openai.APITimeoutError):
        return False  # the deadline is spent
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in {408, 409, 429} or exc.status_code >= 500)


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
    elif isinstance(exc, openai.NotFoundError):
        # A wrong OPENAI_BASE_URL or a model name the upstream does not know: the gateway's setup.
        error = UpstreamMisconfigured(
            "upstream_not_found",
            message="The gateway is misconfigured: the upstream does not know this address or model. "
            "Please tell an administrator.",
        )
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
