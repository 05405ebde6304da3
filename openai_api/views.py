"""The OpenAI-compatible API: point any OpenAI client at `http://HOST:PORT/v1` with an API key or a
JWT as its `api_key`.

The chat endpoint is an async view: while a worker waits on the upstream it serves other requests,
and no thread is busy while a stream waits. Its database work (authentication, the quota, the usage
record) runs in the database threads (core/db.py).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import JWTAuthentication
from apikeys.authentication import APIKeyAuthentication
from core import apis
from core.async_views import AsyncAPIView
from core.openapi import openai_errors, relay_headers
from core.parsers import StrictJSONParser
from openai_api.serializers import (
    ChatCompletionRequestSerializer,
    ChatCompletionSerializer,
    ModelListSerializer,
    ModelSerializer,
)
from quota.headers import rate_limit_headers
from relay.http import caller_of, event_stream_response
from relay.passthrough import open_completion_stream, relay_completion
from relay.rules import check_model_allowed


class OpenAIStyleMixin:
    """Bearer credentials only (an API key or a JWT), JSON only (or server-sent events for a stream,
    to a client that accepts only those), and OpenAI's error shape."""

    authentication_classes = [APIKeyAuthentication, JWTAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]


STREAM_DESCRIPTION = (
    "The upstream's answer, unchanged. With `stream: true`, server-sent events instead: "
    "`data: <chat.completion.chunk>` each, then `data: [DONE]`; a stream that fails midway ends with "
    '`data: {"error": ...}`.'
)


# The schema of each server-sent event of a stream (as OpenAPI 3.2 and schemathesis read a schema of
# text/event-stream): a JSON object on one line, or the final `[DONE]`.
STREAM_EVENT = {
    "type": "object",
    "properties": {
        "data": {
            "type": "string",
            "pattern": r"^(\{.*\}|\[DONE\])$",
            "description": "A `chat.completion.chunk`, an `error` object, or `[DONE]`.",
        }
    },
    "required": ["data"],
}


class ChatCompletionsView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `POST /v1/chat/completions`, streamed or not; the upstream's answer, unchanged."""

    @extend_schema(
        operation_id="v1_chat_completions",
        request=ChatCompletionRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(ChatCompletionSerializer, description=STREAM_DESCRIPTION),
            (200, "text/event-stream"): OpenApiResponse(STREAM_EVENT, description=STREAM_DESCRIPTION),
            **openai_errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
        parameters=[
            *relay_headers(),
            OpenApiParameter(
                "x-upstream-request-id",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description="The upstream's request id, when it gave one (`x-request-id` is the gateway's, "
                "which the upstream was also sent).",
            ),
        ],
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request) -> HttpResponse:
        chat = ChatCompletionRequestSerializer(data=request.data)
        chat.is_valid(raise_exception=True)
        check_model_allowed(chat.validated_data["model"], api=apis.OPENAI)
        caller = caller_of(request)
        if chat.validated_data.get("stream"):
            passed = await open_completion_stream(caller=caller, params=request.data)
            response = event_stream_response(passed.body, headers=rate_limit_headers(passed.allowance))
        else:
            passed = await relay_completion(caller=caller, params=request.data)
            headers = rate_limit_headers(passed.allowance)
            response = HttpResponse(passed.body, content_type="application/json", headers=headers)
        if passed.request_id:  # x-request-id is the gateway's own (core/requestid.py), which the upstream got too
            response["x-upstream-request-id"] = passed.request_id
        return response


class ModelListView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET /v1/models`: the models this gateway lets its users ask."""

    @extend_schema(
        operation_id="v1_models_list",
        responses={200: ModelListSerializer, **openai_errors(401, 503)},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": [_model(name) for name in settings.CHATGATEWAY_MODELS]})


class ModelView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET /v1/models/{model}`."""

    @extend_schema(
        operation_id="v1_models_retrieve",
        responses={200: ModelSerializer, **openai_errors(401, 404, 503)},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request, model: str) -> Response:
        check_model_allowed(model, api=apis.OPENAI)
        return Response(_model(model))


@csrf_exempt  # it changes nothing, and API clients send no CSRF token
def unknown_url(request: HttpRequest) -> JsonResponse:
    """What OpenAI answers for an endpoint it does not have; the gateway offers only the ones above."""
    message = (
        f"Unknown request URL: {request.method} {request.path}. "
        "This gateway offers /v1/chat/completions and /v1/models."
    )
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": "unknown_url"}
    return JsonResponse({"error": error}, status=404)


def _model(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "chatgateway"}
