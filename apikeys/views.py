from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.models import APIKey
from apikeys.permissions import NotThroughAnAPIKey
from apikeys.serializers import APIKeySerializer, CreatedAPIKeySerializer, NewAPIKeySerializer
from apikeys.services import create_api_key, revoke_api_keys
from core.openapi import rest_errors


class APIKeyListView(APIView):
    """Your API keys, newest first, revoked and expired ones included; POST `{"name", "expires"?}` makes one."""

    permission_classes = [IsAuthenticated, NotThroughAnAPIKey]

    @extend_schema(responses={200: APIKeySerializer(many=True), **rest_errors(401, 403, 503)}, tags=["API keys"])
    def get(self, request: Request) -> Response:
        # Revoked and expired keys stay listed so that their owner can tell what was used when.
        keys = APIKey.objects.filter(user=request.user)
        return Response(APIKeySerializer(keys, many=True).data)

    @extend_schema(
        request=NewAPIKeySerializer,
        responses={201: CreatedAPIKeySerializer, **rest_errors(400, 401, 403, 413, 415, 503)},
        tags=["API keys"],
    )
    def post(self, request: Request) -> Response:
        wanted = NewAPIKeySerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        api_key, raw_key = create_api_key(user=request.user, **wanted.validated_data)
        body = CreatedAPIKeySerializer(api_key, context={"raw_key": raw_key}).data
        return Response(body, status=status.HTTP_201_CREATED)


class APIKeyDetailView(APIView):
    """DELETE revokes the key at once; it stays in your list, marked revoked."""

    permission_classes = [IsAuthenticated, NotThroughAnAPIKey]

    @extend_schema(responses={204: None, **rest_errors(401, 403, 404, 503)}, tags=["API keys"])
    def delete(self, request: Request, pk: int) -> Response:
        api_key = get_object_or_404(APIKey.objects.filter(user=request.user), pk=pk)
        revoke_api_keys(queryset=APIKey.objects.filter(pk=api_key.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
