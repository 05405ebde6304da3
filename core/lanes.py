"""The relay's lane: Django without its middleware and without a thread per request, for the
endpoints that only relay and only take bearer credentials (`/v1/…` and the original `/api`).

Django's ASGI handler gives every request a thread of its own for synchronous code
(`ThreadSensitiveContext`) and runs the middleware chain there: the chain's one synchronous
middleware (whitenoise) makes the whole chain synchronous, so the request's thread then blocks while
the async view runs on the event loop, for as long as the upstream takes. That thread, its start and
its end, and the hops between the loop and it cost more than the relay's own work (docs/performance.md).
Nothing in that chain is needed by these endpoints: no session, no CSRF (no cookies are read), no
static files, no messages. What is (the allowed hosts, the security headers, the language) is done here inline,
on the event loop; their database work runs in the database threads (core/db.py).

Every other path (admin, the browsable API, `/api/chat/` which takes a session too, `/token`, which
hashes passwords) goes through Django's handler unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from core.apis import Lane, api_for

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class RelayLaneHandler(ASGIHandler):
    """Django's ASGI handler with the checks below as its only middleware, and no request thread."""

    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware() builds, with `relay_lane_checks` as the only middleware.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        view = convert_exception_to_response(self._get_response_async)
        self._middleware_chain = convert_exception_to_response(relay_lane_checks(view))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Django's, without `async with ThreadSensitiveContext()`: the little synchronous work left (the
        # request signals) runs in the process's one thread for it.
        await self.handle(scope, receive, send)


# Every middleware in settings.MIDDLEWARE runs on both lanes unless settings.MIDDLEWARE_FULL_LANE_ONLY names
# it, with the reason the relay's lane does without it. The relay's lane runs the others itself
# (`relay_lane_checks`), so a middleware added to settings (CORS, request IDs, metrics) reaches every API
# unless it is declared there; the system check `core.E001` (core/checks.py) refuses one the relay's lane
# could not run.


def relay_lane_middleware() -> list[str]:
    """The middleware the relay's lane runs: settings.MIDDLEWARE, in its order, less those declared
    full-lane only."""
    return [path for path in settings.MIDDLEWARE if path not in settings.MIDDLEWARE_FULL_LANE_ONLY]


def relay_lane_checks(get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]):
    """The relay lane's middleware, run on the loop without a thread: ALLOWED_HOSTS (CommonMiddleware
    checks it in the other lane), then each of `relay_lane_middleware()` as Django would run it, its
    `process_request` in order and its `process_response` in reverse (today: the security redirect and
    headers, the language of the answer, X-Frame-Options). Each is a MiddlewareMixin whose hooks are
    pure functions of the request (the check core.E001 makes sure of it)."""
    chain = [import_string(path)(get_response) for path in relay_lane_middleware()]

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # DisallowedHost → 400, as in the other lane
        response, ran = None, []
        for each in chain:
            ran.append(each)
            response = each.process_request(request) if hasattr(each, "process_request") else None
            if response is not None:
                break
        if response is None:
            response = await get_response(request)
        for each in reversed(ran):
            if hasattr(each, "process_response"):
                response = each.process_response(request, response)
        return response

    return middleware


class ByLane:
    """Sends each HTTP request to the relay's lane or to Django's usual handler, as the table of APIs
    (core/apis.py) says for its path."""

    def __init__(self, *, relay: ASGIApp, default: ASGIApp) -> None:
        self.relay = relay
        self.default = default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and api_for(scope["path"]).lane is Lane.RELAY:
            return await self.relay(scope, receive, send)
        return await self.default(scope, receive, send)
