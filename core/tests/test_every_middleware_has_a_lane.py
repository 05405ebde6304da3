"""A middleware in settings.MIDDLEWARE runs on both lanes unless settings.MIDDLEWARE_FULL_LANE_ONLY names it, and
the system check core.E001 refuses one the relay's lane could not run: nobody can add CORS or metrics to
half the API by accident."""

from __future__ import annotations

import pytest
import requests
from django.core.checks import run_checks
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from core.lanes import ByLane, RelayLaneHandler
from devtools.testing import InProcessGateway


class StampsEveryAnswer(MiddlewareMixin):
    """What a request-ID or metrics middleware would do: touch every request and answer."""

    def process_request(self, request: HttpRequest) -> None:
        request.stamped = True

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Stamped"] = "yes" if getattr(request, "stamped", False) else "answer only"
        return response


class NeedsTheView(MiddlewareMixin):
    def process_view(self, request, view, args, kwargs):
        return None


STAMP = f"{__name__}.StampsEveryAnswer"


def _lane_errors() -> list:
    return [message for message in run_checks() if message.id == "core.E001"]


def test_the_shipped_middleware_is_all_accounted_for(settings):
    assert _lane_errors() == []
    assert set(settings.MIDDLEWARE_FULL_LANE_ONLY) <= set(settings.MIDDLEWARE), "a declaration for one that is gone"


def test_the_check_refuses_a_middleware_the_relay_lane_could_not_run(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.NeedsTheView"]

    [error] = _lane_errors()

    assert "NeedsTheView" in error.msg
    assert "process_view" in error.msg


def test_a_middleware_declared_full_lane_only_passes_the_check(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.NeedsTheView"]
    settings.MIDDLEWARE_FULL_LANE_ONLY = {**settings.MIDDLEWARE_FULL_LANE_ONLY, f"{__name__}.NeedsTheView": "a test"}

    assert _lane_errors() == []


@pytest.mark.django_db(transaction=True)
def test_a_middleware_added_to_settings_runs_on_both_lanes(settings, user):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, STAMP]
    app = ByLane(relay=RelayLaneHandler(), default=ASGIHandler())  # built after the change, as at start-up

    with InProcessGateway(app) as gateway:
        relay = requests.get(f"{gateway.url}/v1/models", timeout=10)  # the relay's lane (a 401: no key)
        usual = requests.get(f"{gateway.url}/api/quota/", timeout=10)  # Django's lane (a 401 too)

    assert relay.headers.get("X-Stamped") == usual.headers.get("X-Stamped") == "yes"
