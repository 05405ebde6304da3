"""The original ChatAPI's two endpoints, kept byte-compatible for its existing clients.

`POST /token` with `{"u", "p"}` gives a JWT; `GET /api?q=` asks the model. Every answer, error or
not, is the envelope `{"statu": <bool>, "message": ...}` (see core.errors).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl

from django.contrib.auth import authenticate
from django.utils.timezone import localtime
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import JWTAuthentication
from accounts.tokens import issue_access_token
from chatapi.serializers import AskResponseSerializer, LoginSerializer, TokenResponseSerializer
from core.async_views import AsyncAPIView
from core.openapi import envelope_errors, relay_headers
from core.parsers import AnyContentTypeJSONParser, StrictJSONParser
from quota.headers import rate_limit_headers
from relay.http import caller_of
from relay.models import UsageRecord
from relay.passthrough import relay_completion
from relay.rules import check_prompt_size, default_model


class TokenView(APIView):
    """Log in with `{"u": "<username>", "p": "<password>"}` to get a bearer token for `/api`.

    The body may be JSON (read as JSON whatever its Content-Type), form-encoded or multipart.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [StrictJSONParser, parsers.FormParser, parsers.MultiPartParser, AnyContentTypeJSONParser]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'  # a failed login is a 401, which must name a scheme

    @extend_schema(
        operation_id="chatapi_token",
        # Any other content type is read as JSON too (the original's clients vary).
        request={
            media_type: LoginSerializer
            for media_type in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
        },
        responses={201: TokenResponseSerializer, **envelope_errors(400, 401, 413, 429, 503)},
        tags=["ChatAPI"],
    )
    def post(self, request: Request) -> Response:
        username, password = _credentials(request)
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            raise AuthenticationFailed(gettext("Invalid username or password"))
        token = issue_access_token(user)
        expires = localtime(dt.datetime.fromtimestamp(token["exp"], tz=dt.UTC))
        message = {
            "username": user.get_username(),
            "token": str(token),
            "expiration_time": expires.strftime("%Y-%m-%d %H:%M:%S"),
        }
        return Response({"statu": True, "message": message}, status=status.HTTP_201_CREATED)


def _credentials(request: Request) -> tuple[str, str]:
    data = request.data
    if not hasattr(data, "get"):
        raise ValidationError(gettext('Send a JSON object: {"u": "<username>", "p": "<password>"}.'))
    username, password = data.get("u"), data.get("p")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ValidationError(gettext('Both "u" (username) and "p" (password) are required, as strings.'))
    if "\x00" in username + password:  # PostgreSQL can't even look such a name up
        raise ValidationError(gettext("Null characters are not allowed in a username or password."))
    return username, password


class AskView(AsyncAPIView):
    """Ask the model one question: `GET /api?q=<question>` with `Authorization: Bearer <token>`."""

    # Bearer tokens only: a GET that spends quota must not be triggered by a cross-site link
    # riding on a browser session (GETs get no CSRF check).
    authentication_classes = [JWTAuthentication]
    # No HEAD: it would ask the model and charge the user for an answer they never see.
    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="chatapi_ask",
        parameters=[
            OpenApiParameter("q", str, required=True, description="The question (up to CHATGATEWAY_MAX_PROMPT_CHARS)."),
            *relay_headers(),
        ],
        responses={200: AskResponseSerializer, **envelope_errors(400, 401, 403, 429, 502, 503, 504)},
        tags=["ChatAPI"],
    )
    async def get(self, request: Request) -> Response:
        relayed = await relay_completion(
            caller=caller_of(request),
            params={"model": default_model(), "messages": [{"role": "user", "content": _question(request)}]},
            endpoint=UsageRecord.Endpoint.CHATAPI,
        )
        return Response(
            {"statu": True, "message": relayed.completion.text}, headers=rate_limit_headers(relayed.allowance)
        )


def _question(request: Request) -> str:
    try:  # Django reads bytes that are not UTF-8 as U+FFFD, which would reach the model as the question
        parse_qsl(request.META.get("QUERY_STRING", ""), errors="strict")
    except UnicodeDecodeError:
        raise ValidationError("The question is not valid UTF-8 text; percent-encode it as UTF-8.") from None
    questions = request.query_params.getlist("q")
    if len(questions) > 1:
        raise ValidationError(gettext("Give the question once: ?q=<your question>."))
    if not questions or not questions[0].strip():
        raise ValidationError(gettext("Missing question: add ?q=<your question> to the URL."))
    check_prompt_size(len(questions[0]))
    return questions[0]
