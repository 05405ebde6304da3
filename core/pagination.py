"""Pages of results, for every list the APIs serve."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

# At most nine digits: Python refuses to parse very long digit strings, and no page is that far anyway.
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class StrictPagination(PageNumberPagination):
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
