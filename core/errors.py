"""Domain errors become HTTP responses here, and only here.

Each app raises `ApplicationError` subclasses, which carry their status, code, message and headers;
`exception_handler` gives them the shape of the API the request belongs to (core/apis.py):
`api_exception_handler` serves the DRF API (`/api/...`); `envelope_exception_handler` serves the
ChatAPI-compatible endpoints, whose clients expect `{"statu": false, "message": "..."}`;
`openai_exception_handler` serves `/v1`, in OpenAI's `{"error": {...}}` shape and status codes, so
that OpenAI's SDKs raise their own error classes.
Unexpected errors are logged as one line (type and place, see core.logfilters) and answered
with a plain 500: nothing from inside the gateway reaches a client.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext, gettext_lazy
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_simplejwt.exceptions import InvalidToken

from core.apis import Shape, api_for

logger = logging.getLogger("chatgateway.errors")


class ApplicationError(Exception):
    """A domain error that knows its answer: the apps raise subclasses of it (`QuotaExceeded`,
    `UpstreamError`, `TooManyAPIKeys`, …), and the handlers below give each API its own shape of it,
    without knowing the apps. Subclasses set these as class attributes or properties; `message` is read
    when the answer is made, so a lazily translated one speaks the request's language."""

    status: int = 400
    code: str = "invalid"
    message: str = gettext_lazy("The request cannot be served.")
    retry_after: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {}


class ApplicationFailure(exceptions.APIException):
    """An `ApplicationError` as DRF's exception, so DRF's handler makes the response."""

    def __init__(self, error: ApplicationError) -> None:
        super().__init__(detail=str(error.message), code=error.code)
        self.status_code = error.status
        self.retry_after = error.retry_after


def _as_drf_exception(error: ApplicationError) -> exceptions.APIException:
    # A 429 is DRF's Throttled, which says when to come back in its detail too.
    if error.status == status.HTTP_429_TOO_MANY_REQUESTS:
        failure = exceptions.Throttled(wait=error.retry_after, detail=str(error.message), code=error.code)
    else:
        failure = ApplicationFailure(error)
    failure.headers = error.headers
    return failure


INTERNAL_ERROR = gettext_lazy("Something went wrong inside the gateway. Please try again later.")
TOKEN_EXPIRED = gettext_lazy("The token has expired. Get a new one from /token or /api/token/.")
TOKEN_INVALID = gettext_lazy("The token is not valid. Get a new one from /token or /api/token/.")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        super().__init__(gettext("The request body is too large; the limit is {limit} KiB.").format(limit=limit))


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("The gateway's database is unavailable. Please try again shortly.")
    default_code = "database_unavailable"


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, ApplicationError):
        return _as_drf_exception(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return DatabaseUnavailable()
    if isinstance(exc, InvalidToken):
        # SimpleJWT's detail lists token classes and parser internals; say it plainly.
        expired = "expired" in str(exc.detail)
        plain = exceptions.AuthenticationFailed(TOKEN_EXPIRED if expired else TOKEN_INVALID, code="token_not_valid")
        plain.auth_header = getattr(exc, "auth_header", None)  # keeps WWW-Authenticate
        return plain
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):  # too many fields, a malformed multipart body, …
        return exceptions.ValidationError(gettext("The request is malformed or has too many fields."))
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.error("unhandled error in %s", type(context.get("view")).__name__, exc_info=exc)
        return Response({"detail": INTERNAL_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: the error in the shape of the API the request's path belongs to
    (core/apis.py)."""
    request = context.get("request")
    shape = api_for(request.path).shape if request is not None else Shape.REST
    if shape is Shape.OPENAI:
        return openai_exception_handler(exc, context)
    if shape is Shape.ENVELOPE:
        return envelope_exception_handler(exc, context)
    return api_exception_handler(exc, context)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    response = api_exception_handler(exc, context)
    response.data = {"statu": False, "message": _one_message(response.data)}
    return response


def _one_message(data: Any) -> str:
    """Flatten DRF's error detail (a string, a list, or a dict of fields) into one sentence."""
    if isinstance(data, dict):
        if "detail" in data:  # SimpleJWT adds "code" and "messages" beside it: internals
            return _one_message(data["detail"])
        return " ".join(
            f"{_one_message(value)}" if key in {"detail", "non_field_errors"} else f"{key}: {_one_message(value)}"
            for key, value in data.items()
        )
    if isinstance(data, list):
        return " ".join(_one_message(item) for item in data)
    return str(data)


# OpenAI's SDKs retry 429 and 5xx on their own, up to a minute apart; a daily (weekly, monthly) limit or
# the gateway's own misconfiguration does not pass in a minute, so those answers tell the SDK not to retry.
# A per-minute limit does: the SDK waits its Retry-After.
NOT_WORTH_RETRYING = {
    "daily_limit_reached",
    "daily_token_limit_reached",
    *(
        f"{period}_{metric}_limit_reached"
        for period in ("day", "week", "month")
        for metric in ("requests", "tokens", "cost")
    ),
    "upstream_auth_401",
    "upstream_auth_403",
    "upstream_not_found",
}


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    exc = _as_api_exception(exc)
    response = api_exception_handler(exc, context)
    param, message = _first_problem(response.data)
    message = f"{param}: {message}" if param else message
    code = _first_code(exc.get_codes()) if isinstance(exc, exceptions.APIException) else "internal_error"
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        code = "invalid_api_key"  # what OpenAI's clients look for
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        kind = "requests"
    elif response.status_code >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    response.data = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    if code in NOT_WORTH_RETRYING:
        response["x-should-retry"] = "false"
    return response


def _first_problem(data: Any, path: str = "") -> tuple[str | None, str]:
    """The first error in DRF's detail, and the dotted path of the field it is about (OpenAI's
    `param`, e.g. `messages.0.role`)."""
    if isinstance(data, dict):
        if "detail" in data:
            return None, _one_message(data["detail"])
        items = [("" if key == "non_field_errors" else str(key), value) for key, value in data.items()]
    elif isinstance(data, list):
        items = [(str(index) if isinstance(value, dict) else "", value) for index, value in enumerate(data)]
    else:
        return path or None, str(data)
    for key, value in items:
        param, message = _first_problem(value, ".".join(part for part in (path, key) if part))
        if message:
            return param, message
    return None, ""


def error_body(*, path: str, message: str, code: str) -> dict[str, Any]:
    """An error answered outside a view (by middleware, or for a URL no view takes) in the shape of the
    API that `path` belongs to (core/apis.py)."""
    shape = api_for(path).shape
    if shape is Shape.OPENAI:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    if shape is Shape.ENVELOPE:
        return {"statu": False, "message": message}
    return {"detail": message}


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no route takes (`/api/keys/abc/`): JSON for the APIs, whose clients read JSON; an HTML page
    elsewhere (the admin)."""
    if api_for(request.path).json_errors:
        body = error_body(path=request.path, message="Not found: no endpoint has this URL.", code="not_found")
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def _first_code(codes: Any) -> str:
    if isinstance(codes, dict):
        return _first_code(next(iter(codes.values()), "invalid"))
    if isinstance(codes, list):
        return next((_first_code(item) for item in codes if item), "invalid")
    return str(codes)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500, for the paths outside DRF (the admin, the browsable API's login): a
    database that is gone is a 503 like everywhere else, anything else a plain 500; never a trace."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return HttpResponse(DatabaseUnavailable.default_detail, status=503, content_type="text/plain")
    return HttpResponse(INTERNAL_ERROR, status=500, content_type="text/plain")
