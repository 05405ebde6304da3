"""The base of the gateway's async DRF views."""

from __future__ import annotations

from inspect import iscoroutinefunction
from typing import Any

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase
from rest_framework.request import Request

from core.db import in_db


class AsyncAPIView(APIView):
    """adrf's async APIView, with `initial()` (authentication, permissions, throttles: database work)
    run in the database threads (core/db.py) instead of a thread made for the request.

    `async_dispatch` is adrf's own (adrf 0.1.14) with that one change; `initial` is DRF's with its steps
    reordered. Both are pinned by core/tests/test_pinned_private_apis.py.
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

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's `initial()`, with the credentials checked before the content is negotiated: a client
        with a wrong key gets 401 whatever its Accept header says (DRF negotiates first, so it got 406
        for an Accept it had no renderer for). The error is then rendered by DRF's forced negotiation
        (`finalize_response`), as any error before negotiation is."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        self.check_permissions(request)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.check_throttles(request)
