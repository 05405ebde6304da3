from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from accounts.exceptions import LoginThrottled


class LoginThrottleMiddleware(MiddlewareMixin):
    """Answers the login throttle on Django's own login pages (admin, browsable API) with 429.

    DRF views answer it themselves (core.errors), in each API's error shape.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, LoginThrottled):
            return None
        response = HttpResponse(str(exception.detail), status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(exception.wait)
        return response
