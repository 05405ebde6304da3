"""CORS for `/v1` (settings: CORS_*), by django-cors-headers, spoken as a MiddlewareMixin so that both lanes
run it (the relay's lane runs only process_request and process_response: core/lanes.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from corsheaders.middleware import CorsMiddleware as LibraryCorsMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin


class CorsMiddleware(MiddlewareMixin):
    """django-cors-headers' own middleware, its two steps as hooks: a preflight from an allowed origin is
    answered at once (200, no credentials asked), and every answer to an allowed origin gets the headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        super().__init__(get_response)
        self.library = LibraryCorsMiddleware(get_response)  # only its two steps below are used

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        return self.library.check_preflight(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        return self.library.add_response_headers(request, response)
