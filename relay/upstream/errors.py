"""The upstream's failures as the gateway's domain errors; the SDK's own never leave this package.

Messages are meant for people; `reason` is a short label for logs and usage records. Neither ever
contains the upstream key or any text the upstream sent (but for a 400's reason: see `_rejection`).
"""

from __future__ import annotations

import logging
from typing import Any

import openai
from django.conf import settings
from django.utils.translation import gettext, gettext_lazy

from core.errors import ApplicationError
from providers import catalog
from relay.upstream.clients import used_secrets
from relay.upstream.redact import redact_keys

logger = logging.getLogger("relay.upstream")


class UpstreamError(ApplicationError):
    """The upstream did not answer usefully. `status` is what the gateway's client gets; `reason` is its
    code."""

    status = 502
    message = gettext_lazy("The upstream model service failed to answer. Please try again later.")

    def __init__(self, reason: str, *, message: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = str(message or self.message)  # in the language of the request that met the failure
        self.retry_after = retry_after

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.reason


class UpstreamTimeout(UpstreamError):
    status = 504
    message = gettext_lazy("The upstream model service took too long to answer. Please try again later.")


class UpstreamBusy(UpstreamError):
    status = 503
    message = gettext_lazy("The upstream model service is busy. Please try again shortly.")


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (400/422): a parameter it does not accept, a prompt
    longer than the model's context. The client's to fix, so a 400 with the upstream's reason."""

    status = 400
    message = gettext_lazy("The upstream model service refused the request.")


class NotServedOnEndpoint(UpstreamRejected):
    """No provider of the model speaks the endpoint asked (an embeddings model on chat, a chat model on
    embeddings): the client's to fix, a 400 before any upstream is asked, costing nothing."""

    message = gettext_lazy("This model is not served on this endpoint.")

    def __init__(self) -> None:
        super().__init__("model_not_served_on_endpoint")


class UpstreamMisconfigured(UpstreamError):
    message = gettext_lazy(
        "The gateway is misconfigured: the upstream refused its credentials. Please tell an administrator."
    )


def retryable(exc: Exception) -> bool:
    """Failures that another attempt may not meet: lost connections, overload, upstream 5xx."""
    if isinstance(exc, openai.APITimeoutError):
        return False  # the deadline is spent
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in {408, 409, 429} or exc.status_code >= 500)


def domain_error(exc: Exception) -> UpstreamError:
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
            message=gettext(
                "The gateway is misconfigured: the upstream does not know this address or model. "
                "Please tell an administrator."
            ),
        )
    elif isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        error = UpstreamRejected(f"upstream_http_{exc.status_code}", message=_rejection(exc))
    elif isinstance(exc, openai.APIStatusError):
        error = UpstreamError(f"upstream_http_{exc.status_code}")
    else:
        error = UpstreamError("upstream_malformed_response")
    log = logger.error if isinstance(error, UpstreamMisconfigured) else logger.warning
    log("upstream call failed: %s", error.reason)
    return error


def _rejection(exc: openai.APIStatusError) -> str:
    """The upstream's reason for refusing a request, which is about the request (never about the
    upstream's credentials: those refusals are 401/403 and say nothing to the client)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    reason = body.get("message") if isinstance(body.get("message"), str) else ""
    reason = redact_keys(reason, known_keys())[:500]
    return f"{UpstreamRejected.message} {reason}".strip()


def known_keys() -> set[str]:
    """Every provider key this process could have sent: OPENAI_API_KEY, the current catalog's, and every
    one a client was made with (including keys refused or disabled since)."""
    keys = {settings.OPENAI_API_KEY, *used_secrets}
    for provider in catalog.current().providers.values():
        keys.update(key.secret for key in provider.keys)
    keys.discard("")
    return keys


def _retry_after(response: Any) -> int | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(1, int(float(value))) if value else None
    except ValueError:
        return None


def logged(error: UpstreamError) -> UpstreamError:
    logger.warning("upstream call failed: %s", error.reason)
    return error
