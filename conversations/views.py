"""The conversations API: `/api/conversations/` and each conversation's messages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.selectors import conversation_of, conversations_of
from conversations.serializers import (
    ConversationPageSerializer,
    ConversationSerializer,
    ConversationWithMessagesSerializer,
    ExchangeSerializer,
    NewMessageSerializer,
)
from conversations.services import edit_conversation, send_message, start_conversation
from conversations.streaming import open_message_stream
from core.async_views import AsyncAPIView
from core.db import in_db
from core.openapi import relay_headers, rest_errors
from core.pagination import StrictPagination
from core.parsers import StrictJSONParser
from quota.headers import rate_limit_headers
from relay.http import caller_of, event_stream_response


class ConversationPagination(StrictPagination):
    """Pages of CHATGATEWAY_CONVERSATIONS_PAGE_SIZE conversations, up to 100 with `?page_size=`."""

    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        self.page_size = settings.CHATGATEWAY_CONVERSATIONS_PAGE_SIZE
        return super().get_page_size(request)


TAGS = ["Conversations"]
# Each server-sent event of a streamed reply: a JSON object whose `type` is message, delta, error or done.
STREAM_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string", "pattern": r"^\{.*\}$"}},
    "required": ["data"],
}


class ConversationListView(APIView):
    """Your conversations, latest activity first, a page at a time; POST `{"title"?, "model"?,
    "system_prompt"?}` starts one."""

    pagination_class = ConversationPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="The page, from 1 to the last."),
            OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
        ],
        operation_id="api_conversations_list",
        responses={200: ConversationPageSerializer, **rest_errors(400, 401, 503)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(conversations_of(user_id=request.user.pk), request, view=self)
        return paginator.get_paginated_response(ConversationSerializer(page, many=True).data)

    @extend_schema(
        request=ConversationSerializer,
        responses={201: ConversationSerializer, **rest_errors(400, 401, 413, 415, 429, 503)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        new = ConversationSerializer(data=request.data, context={"user": request.user})
        new.is_valid(raise_exception=True)
        conversation = start_conversation(user_id=request.user.pk, **new.validated_data)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailView(APIView):
    """One of your conversations with its messages, oldest first; PATCH its title, model or system
    prompt; DELETE it with its messages."""

    @extend_schema(responses={200: ConversationWithMessagesSerializer, **rest_errors(401, 404, 503)}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        conversation = conversation_of(user_id=request.user.pk, conversation_id=pk)
        return Response(ConversationWithMessagesSerializer(conversation).data)

    @extend_schema(
        request=ConversationSerializer,
        responses={200: ConversationSerializer, **rest_errors(400, 401, 404, 413, 415, 503)},
        tags=TAGS,
    )
    def patch(self, request: Request, pk: int) -> Response:
        conversation = conversation_of(user_id=request.user.pk, conversation_id=pk)
        edit = ConversationSerializer(conversation, data=request.data, partial=True, context={"user": request.user})
        edit.is_valid(raise_exception=True)
        if edit.validated_data:  # an edit of nothing is no activity: the conversation keeps its place
            conversation = edit_conversation(conversation=conversation, changes=edit.validated_data)
        return Response(ConversationSerializer(conversation).data)

    @extend_schema(responses={204: None, **rest_errors(401, 404, 503)}, tags=TAGS)
    def delete(self, request: Request, pk: int) -> Response:
        conversation_of(user_id=request.user.pk, conversation_id=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListView(AsyncAPIView):
    """Send a message `{"content", "stream"?}`: the conversation's history goes to the model with it,
    and the reply is kept and returned (as server-sent events with `"stream": true`). Each reply uses
    one request of your daily quota."""

    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        request=NewMessageSerializer,
        responses={
            (201, "application/json"): ExchangeSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                STREAM_EVENT, description="`stream: true`: the reply as server-sent events."
            ),
            **rest_errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
        parameters=relay_headers(answered=(200, 201)),
        tags=TAGS,
    )
    async def post(self, request: Request, pk: int) -> HttpResponse:
        conversation = await in_db(conversation_of, user_id=request.user.pk, conversation_id=pk)
        new = NewMessageSerializer(data=request.data, context={"conversation": conversation, "user": request.user})
        new.is_valid(raise_exception=True)
        caller = caller_of(request)
        content = new.validated_data["content"]
        if new.validated_data["stream"]:
            passed = await open_message_stream(caller=caller, conversation=conversation, content=content)
            return event_stream_response(passed.body, headers=rate_limit_headers(passed.allowance))
        exchange = await send_message(caller=caller, conversation=conversation, content=content)
        reply = ExchangeSerializer(exchange).data
        return Response(reply, status=status.HTTP_201_CREATED, headers=rate_limit_headers(exchange.allowance))
