"""The base of the gateway's async DRF views."""

from __future__ import annotations

from inspect import iscoroutinefunction
from typing import Any

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase

from core.db import in_db


class AsyncAPIView(APIView):
    """adrf's async APIView, with `initial()` (authentication, permissions, throttles: database work)
    run in the database threads (core/db.py) instead of a thread made for the request.

    `async_dispatch` is adrf's own (adrf 0.1.14) with that one change, pinned by
    core/tests/test_pinned_private_apis.py.
    """

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await in_db(self.initial, request, *args, **kwargs)
            if request.method.lower() in self.http_method_names:
                handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            if iscoroutinefunction(handler):
                response = await handler(request, *args, **kwargs)
            else:
                response = await sync_to_async(handler)(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response
