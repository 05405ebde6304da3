"""Admin query strings with a NUL character are refused with a 400, in one place for every admin page.

Every list of the admin takes its search (`q`), its filters, its date drill-down and its ordering from
the query string and puts them in SQL as given. PostgreSQL's text cannot hold NUL, so `?model=%00` was a
DataError, a 500 (SQLite took it). No search or filter can mean a NUL, so the request is refused before
any admin view runs: the lists, the usage export, the autocomplete, and the admins of other packages
alike, whatever filters they gain later.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.deprecation import MiddlewareMixin

NUL = "\x00"


class NulInAdminQuery(SuspiciousOperation):
    """Django answers it with its 400 page and logs it to `django.security.NulInAdminQuery`."""


class RefuseNulInAdminQueries(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> None:
        if not request.META.get("QUERY_STRING"):
            return
        prefix = _admin_prefix()
        if prefix is None or not request.path.startswith(prefix):
            return
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                raise NulInAdminQuery(f"A NUL character in the admin query parameter {name!r}")


def _admin_prefix() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:  # a URLconf without the admin
        return None
