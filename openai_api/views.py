"""The OpenAI-compatible API: point any OpenAI client at `http://HOST:PORT/v1` with an API key or a
JWT as its `api_key`. Chat completions, the Responses API, legacy completions, embeddings and models.

The relay endpoints are async views: while a worker waits on the upstream it serves other requests,
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
    EmbeddingListSerializer,
    EmbeddingsRequestSerializer,
    ModelListSerializer,
    ModelSerializer,
    ResponseObjectSerializer,
    ResponseRequestSerializer,
    TextCompletionRequestSerializer,
    TextCompletionSerializer,
)
from quota.headers import rate_limit_headers
from relay.http import caller_of, event_stream_response
from relay.passthrough import (
    Passed,
    open_completion_stream,
    open_text_completion_stream,
    relay_completion,
    relay_embeddings,
    relay_text_completion,
)
from relay.responses import passthrough as responses
from relay.rules import allowed_models, check_model_allowed


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
TEXT_STREAM_DESCRIPTION = STREAM_DESCRIPTION.replace("chat.completion.chunk", "text_completion")
TEXT_STREAM_EVENT = {
    **STREAM_EVENT,
    "properties": {
        "data": {
            **STREAM_EVENT["properties"]["data"],
            "description": "A `text_completion` chunk, an `error` object, or `[DONE]`.",
        }
    },
}
UPSTREAM_REQUEST_ID = OpenApiParameter(
    "x-upstream-request-id",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="The upstream's request id, when it gave one (`x-request-id` is the gateway's, "
    "which the upstream was also sent).",
)


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
        parameters=[*relay_headers(), UPSTREAM_REQUEST_ID],
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request) -> HttpResponse:
        chat = ChatCompletionRequestSerializer(data=request.data)
        chat.is_valid(raise_exception=True)
        check_model_allowed(chat.validated_data["model"], user=request.user, api=apis.OPENAI)
        caller = caller_of(request)
        if chat.validated_data.get("stream"):
            return _answer(await open_completion_stream(caller=caller, params=request.data), stream=True)
        return _answer(await relay_completion(caller=caller, params=request.data))


class CompletionsView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's legacy `POST /v1/completions`, streamed or not; the upstream's answer, unchanged."""

    @extend_schema(
        operation_id="v1_completions",
        request=TextCompletionRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(TextCompletionSerializer, description=TEXT_STREAM_DESCRIPTION),
            (200, "text/event-stream"): OpenApiResponse(TEXT_STREAM_EVENT, description=TEXT_STREAM_DESCRIPTION),
            **openai_errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
        parameters=[*relay_headers(), UPSTREAM_REQUEST_ID],
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request) -> HttpResponse:
        completion = TextCompletionRequestSerializer(data=request.data)
        completion.is_valid(raise_exception=True)
        check_model_allowed(completion.validated_data["model"], user=request.user, api=apis.OPENAI)
        caller = caller_of(request)
        if completion.validated_data.get("stream"):
            return _answer(await open_text_completion_stream(caller=caller, params=request.data), stream=True)
        return _answer(await relay_text_completion(caller=caller, params=request.data))


class EmbeddingsView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `POST /v1/embeddings`; the upstream's answer, unchanged."""

    @extend_schema(
        operation_id="v1_embeddings",
        request=EmbeddingsRequestSerializer,
        responses={
            200: OpenApiResponse(EmbeddingListSerializer, description="The upstream's answer, unchanged."),
            **openai_errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
        parameters=[*relay_headers(), UPSTREAM_REQUEST_ID],
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request) -> HttpResponse:
        embeddings = EmbeddingsRequestSerializer(data=request.data)
        embeddings.is_valid(raise_exception=True)
        check_model_allowed(embeddings.validated_data["model"], user=request.user, api=apis.OPENAI)
        return _answer(await relay_embeddings(caller=caller_of(request), params=request.data))


RESPONSE_STREAM_DESCRIPTION = (
    "A Responses API object: a provider's own, unchanged, or (for a model whose providers speak only chat "
    "completions) the gateway's translation. With `stream: true`, typed server-sent events instead "
    "(`event: response.created` ... `event: response.completed`); a stream that fails midway ends with "
    "`event: error`."
)
RESPONSE_STREAM_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "The event's type, e.g. `response.output_text.delta`."},
        "data": {"type": "string", "pattern": r"^\{.*\}$", "description": "The event, a JSON object."},
    },
    "required": ["data"],
}


class ResponsesView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `POST /v1/responses`, streamed or not: passed on to a provider that speaks it, translated
    for one that speaks only chat completions."""

    @extend_schema(
        operation_id="v1_responses_create",
        request=ResponseRequestSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                ResponseObjectSerializer, description=RESPONSE_STREAM_DESCRIPTION
            ),
            (200, "text/event-stream"): OpenApiResponse(RESPONSE_STREAM_EVENT, description=RESPONSE_STREAM_DESCRIPTION),
            **openai_errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
        parameters=[*relay_headers(), UPSTREAM_REQUEST_ID],
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request) -> HttpResponse:
        asked = ResponseRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        check_model_allowed(asked.validated_data["model"], user=request.user, api=apis.OPENAI)
        caller = caller_of(request)
        plan = await responses.plan(caller=caller, params=request.data)
        if asked.validated_data.get("stream"):
            return _answer(await responses.open_response_stream(caller=caller, plan=plan), stream=True)
        return _answer(await responses.relay_response(caller=caller, plan=plan))


RESPONSE_BY_ID = {**openai_errors(400, 401, 404, 502, 503, 504)}
DELETED = '`{"id": "resp_...", "object": "response", "deleted": true}`'
INPUT_ITEMS_QUERY = ("limit", "order", "after")


class ResponseView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET` and `DELETE /v1/responses/{id}`: only for the user who made the response."""

    @extend_schema(
        operation_id="v1_responses_retrieve",
        responses={200: ResponseObjectSerializer, **RESPONSE_BY_ID},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request, response_id: str) -> HttpResponse:
        return await _by_id(request, response_id, "GET")

    @extend_schema(
        operation_id="v1_responses_delete",
        responses={200: OpenApiResponse(description=DELETED), **RESPONSE_BY_ID},
        tags=["OpenAI-compatible"],
    )
    async def delete(self, request: Request, response_id: str) -> HttpResponse:
        return await _by_id(request, response_id, "DELETE")


class ResponseInputItemsView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET /v1/responses/{id}/input_items` (`limit`, `order`, `after`): for its owner alone."""

    @extend_schema(
        operation_id="v1_responses_input_items",
        responses={200: OpenApiResponse(description="A list of input items."), **RESPONSE_BY_ID},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request, response_id: str) -> HttpResponse:
        query = {name: request.query_params[name] for name in INPUT_ITEMS_QUERY if name in request.query_params}
        return await _by_id(request, response_id, "GET", suffix="/input_items", query=query)


class ResponseCancelView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `POST /v1/responses/{id}/cancel` (background responses): for its owner alone."""

    @extend_schema(
        operation_id="v1_responses_cancel",
        request=None,
        responses={200: ResponseObjectSerializer, **RESPONSE_BY_ID},
        tags=["OpenAI-compatible"],
    )
    async def post(self, request: Request, response_id: str) -> HttpResponse:
        return await _by_id(request, response_id, "POST", suffix="/cancel")


async def _by_id(
    request: Request, response_id: str, method: str, *, suffix: str = "", query: dict[str, str] | None = None
) -> HttpResponse:
    status, body = await responses.response_call(
        caller=caller_of(request), response_id=response_id, method=method, suffix=suffix, query=query
    )
    return HttpResponse(body, status=status, content_type="application/json")


class ModelListView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET /v1/models`: the models this gateway lets its users ask."""

    @extend_schema(
        operation_id="v1_models_list",
        responses={200: ModelListSerializer, **openai_errors(401, 503)},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": [_model(name) for name in allowed_models(request.user)]})


class ModelView(OpenAIStyleMixin, AsyncAPIView):
    """OpenAI's `GET /v1/models/{model}`."""

    @extend_schema(
        operation_id="v1_models_retrieve",
        responses={200: ModelSerializer, **openai_errors(401, 404, 503)},
        tags=["OpenAI-compatible"],
    )
    async def get(self, request: Request, model: str) -> Response:
        check_model_allowed(model, user=request.user, api=apis.OPENAI)
        return Response(_model(model))


@csrf_exempt  # it changes nothing, and API clients send no CSRF token
def unknown_url(request: HttpRequest) -> JsonResponse:
    """What OpenAI answers for an endpoint it does not have; the gateway offers only the ones above."""
    message = (
        f"Unknown request URL: {request.method} {request.path}. "
        "This gateway offers /v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings and /v1/models."
    )
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": "unknown_url"}
    return JsonResponse({"error": error}, status=404)


def _answer(passed: Passed, *, stream: bool = False) -> HttpResponse:
    """The relayed answer, with the rate-limit headers and the upstream's request id (`x-request-id` is the
    gateway's own, core/requestid.py, which the upstream got too)."""
    headers = rate_limit_headers(passed.allowance)
    if stream:
        response = event_stream_response(passed.body, headers=headers)
    else:
        response = HttpResponse(passed.body, content_type="application/json", headers=headers)
    if passed.request_id:
        response["x-upstream-request-id"] = passed.request_id
    if settings.CHATGATEWAY_EXPOSE_PROVIDER and passed.provider:
        response["x-chatgateway-provider"] = passed.provider
    return response


def _model(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "chatgateway"}
