from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, renderer_classes
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    database = serializers.CharField(required=False, help_text="`unreachable`, when it is.")


@extend_schema(
    responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, description="The database is down.")},
    tags=["Health"],
)
@api_view(["GET", "HEAD"])  # any other method is a 405
@authentication_classes([])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer])
def healthz(request: Request) -> Response:
    """200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return Response({"status": "unavailable", "database": "unreachable"}, status=503)
    return Response({"status": "ok"})
