from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.models import APIKey
from apikeys.permissions import NotThroughAnAPIKey
from apikeys.serializers import APIKeySerializer, CreatedAPIKeySerializer, NewAPIKeySerializer
from apikeys.services import create_api_key, revoke_api_keys


class APIKeyListView(APIView):
    """Your API keys, newest first, revoked and expired ones included; POST `{"name", "expires"?}` makes one."""

    permission_classes = [IsAuthenticated, NotThroughAnAPIKey]

    def get(self, request: Request) -> Response:
        # Revoked and expired keys stay listed so that their owner can tell what was used when.
        keys = APIKey.objects.filter(user=request.user)
        return Response(APIKeySerializer(keys, many=True).data)

    def post(self, request: Request) -> Response:
        wanted = NewAPIKeySerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        api_key, raw_key = create_api_key(user=request.user, **wanted.validated_data)
        body = CreatedAPIKeySerializer(api_key, context={"raw_key": raw_key}).data
        return Response(body, status=status.HTTP_201_CREATED)


class APIKeyDetailView(APIView):
    """DELETE revokes the key at once; it stays in your list, marked revoked."""

    permission_classes = [IsAuthenticated, NotThroughAnAPIKey]

    def delete(self, request: Request, pk: int) -> Response:
        api_key = get_object_or_404(APIKey.objects.filter(user=request.user), pk=pk)
        revoke_api_keys(queryset=APIKey.objects.filter(pk=api_key.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
