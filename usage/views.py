"""GET /api/usage/: the caller's own usage records, a page at a time."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import rest_errors
from core.pagination import StrictPagination
from usage.selectors import usage_records_for
from usage.serializers import UsageFiltersSerializer, UsagePageSerializer, UsageRecordSerializer


class UsagePagination(StrictPagination):
    """Pages of 50 usage records, up to 500 with `?page_size=`."""


class UsageView(APIView):
    """Your relayed requests, newest first; filter with `?since=` and `?until=` (YYYY-MM-DD) and `?model=`."""

    pagination_class = UsagePagination

    @extend_schema(
        parameters=[
            UsageFiltersSerializer,
            OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="The page, from 1 to the last."),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": UsagePagination.max_page_size},
                description=f"Records a page ({UsagePagination.page_size} by default).",
            ),
        ],
        responses={200: UsagePageSerializer, **rest_errors(400, 401, 503)},
        tags=["Chat"],
    )
    def get(self, request: Request) -> Response:
        filters = UsageFiltersSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        records = usage_records_for(user_id=request.user.pk, **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(records, request, view=self)
        return paginator.get_paginated_response(UsageRecordSerializer(page, many=True).data)
