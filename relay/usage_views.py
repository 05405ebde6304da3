"""GET /api/usage/: the caller's own usage records, a page at a time."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from relay.selectors import usage_records_for
from relay.serializers import UsageFiltersSerializer, UsageRecordSerializer

# At most nine digits: Python refuses to parse very long digit strings, and no page is that far anyway.
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class UsagePagination(PageNumberPagination):
    """Pages of 50 records, up to 500 with `?page_size=`; a page or page size that makes no sense is a 400."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    # DRF would answer a bad page with 404 and quietly replace a bad page size with the default; a
    # client that asked for something impossible should be told so.
    def get_page_size(self, request: Request) -> int:
        return _whole_number(request, self.page_size_query_param, default=self.page_size, maximum=self.max_page_size)

    def get_page_number(self, request: Request, paginator: Paginator) -> int:
        # num_pages counts the records once; the paginator keeps the count, so this costs no extra query.
        return _whole_number(request, self.page_query_param, default=1, maximum=paginator.num_pages)


def _whole_number(request: Request, name: str, *, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise ValidationError({name: [gettext("Must be a whole number from 1 to {maximum}.").format(maximum=maximum)]})
    return int(raw)


class UsageView(APIView):
    """Your relayed requests, newest first; filter with `?since=` and `?until=` (YYYY-MM-DD) and `?model=`."""

    pagination_class = UsagePagination

    def get(self, request: Request) -> Response:
        filters = UsageFiltersSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        records = usage_records_for(user_id=request.user.pk, **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(records, request, view=self)
        return paginator.get_paginated_response(UsageRecordSerializer(page, many=True).data)
