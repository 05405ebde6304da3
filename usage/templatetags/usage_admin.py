"""The usage list's date hierarchy, without a scan of every record."""

from __future__ import annotations

import datetime as dt

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def usage_date_hierarchy(cl) -> dict:
    """Django's date hierarchy, offering every year, month or day between the first record listed and the last
    (found at the ends of the `created` index) rather than only those with records, which takes a DISTINCT over
    all of them: ten million a year. A period without records lists none."""
    return date_hierarchy(_Periods(cl)) or {}


class _Periods:
    """The change list, its queryset answering `datetimes()` from the first and last record's times."""

    def __init__(self, cl) -> None:
        self._cl = cl
        self.queryset = _Spanned(cl.queryset)

    def __getattr__(self, name: str):
        return getattr(self._cl, name)


class _Spanned:
    def __init__(self, queryset: QuerySet) -> None:
        self._queryset = queryset

    def aggregate(self, **aggregates):
        return self._queryset.aggregate(**aggregates)

    def datetimes(self, field_name: str, kind: str) -> list[dt.date]:
        span = self._queryset.aggregate(first=Min(field_name), last=Max(field_name))
        if span["first"] is None:
            return []
        first, last = (timezone.localtime(span[end]).date() for end in ("first", "last"))
        if kind == "year":
            return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
        if kind == "month":
            months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
            return [dt.date(month // 12, month % 12 + 1, 1) for month in months]
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
