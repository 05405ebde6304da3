from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import rest_errors
from quota.models import Limit
from quota.serializers import QuotaStatusSerializer
from quota.services import quota_status_of_request
from teams.services import HEADER as TEAM_HEADER


class QuotaView(APIView):
    """Your daily request and token limits, what you used of them today, and when the counts reset; and
    every other limit in force (your key's, yours or your plan's, your team's) in its current period."""

    @extend_schema(
        responses={200: QuotaStatusSerializer, **rest_errors(401, 403, 503)},
        parameters=[OpenApiParameter(TEAM_HEADER, str, OpenApiParameter.HEADER, description="One of your teams.")],
        tags=["Chat"],
    )
    def get(self, request: Request) -> Response:
        api_key_model = Limit._meta.get_field("api_key").related_model
        key = request.auth if isinstance(request.auth, api_key_model) else None  # a JWT's or a session's is not
        status = quota_status_of_request(
            user_id=request.user.pk,
            api_key_id=key.pk if key is not None else None,
            key_team_id=key.team_id if key is not None else None,
            team_asked=request.headers.get(TEAM_HEADER),
        )
        return Response(QuotaStatusSerializer(status).data)
