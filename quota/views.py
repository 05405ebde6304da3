from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quota.serializers import QuotaStatusSerializer
from quota.services import quota_status


class QuotaView(APIView):
    """Your daily request and token limits, what you used of them today, and when the counts reset."""

    def get(self, request: Request) -> Response:
        return Response(QuotaStatusSerializer(quota_status(user_id=request.user.pk)).data)
