from django.db import DatabaseError
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.async_views import AsyncAPIView
from core.db import in_db
from core.openapi import relay_headers, rest_errors
from core.parsers import StrictJSONParser
from quota.headers import rate_limit_headers
from quota.services import quota_status_of_request, status_at_reservation
from relay.http import caller_of
from relay.models import UsageRecord
from relay.passthrough import relay_completion
from relay.serializers import ChatRequestSerializer, ChatResponseSerializer


class ChatView(AsyncAPIView):
    """Ask the model: send `prompt` (one question) or `messages` (a conversation), and optionally `model`.

    Each successful answer uses one request of your daily quota; the response shows what is left.
    """

    parser_classes = [StrictJSONParser]

    @extend_schema(
        request=ChatRequestSerializer,
        responses={200: ChatResponseSerializer, **rest_errors(400, 401, 403, 413, 415, 429, 502, 503, 504)},
        parameters=relay_headers(),
        tags=["Chat"],
    )
    async def post(self, request: Request) -> Response:
        chat = ChatRequestSerializer(data=request.data, context={"user": request.user})
        chat.is_valid(raise_exception=True)
        caller = caller_of(request)
        relayed = await relay_completion(
            caller=caller,
            params={"model": chat.validated_data["model"], "messages": chat.validated_data["messages"]},
            endpoint=UsageRecord.Endpoint.CHAT,
        )
        try:
            quota = await in_db(
                quota_status_of_request,
                user_id=caller.user_id,
                api_key_id=caller.api_key_id,
                key_team_id=caller.key_team_id,
                team_asked=caller.team_asked,
            )
        except DatabaseError:  # gone since the answer came: the answer is still the user's
            quota = status_at_reservation(allowance=relayed.allowance)
        body = {
            "reply": relayed.completion.text,
            "model": relayed.completion.model,
            "usage": relayed.completion.usage,
            "quota": quota,
        }
        return Response(ChatResponseSerializer(body).data, headers=rate_limit_headers(relayed.allowance))
