from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import rest_errors
from quota.serializers import QuotaStatusSerializer
from quota.services import quota_status


class QuotaView(APIView):
    """Your daily request and token limits, what you used of them today, and when the counts reset."""

    @extend_schema(responses={200: QuotaStatusSerializer, **rest_errors(401, 503)}, tags=["Chat"])
    def get(self, request: Request) -> Response:
        return Response(QuotaStatusSerializer(quota_status(user_id=request.user.pk)).data)
