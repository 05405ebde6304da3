import datetime as dt

import time_machine
from rest_framework.test import APIClient

from conftest import bearer_client


def test_it_shows_the_callers_limit_use_and_reset_time(user, settings):
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC), tick=False):
        api = bearer_client(user)  # a token issued in the travelled-to time
        api.get("/api", {"q": "hi"})

        response = api.get("/api/quota/")

    assert response.status_code == 200
    assert response.json() == {
        "plan": None,
        "daily_limit": 10,
        "used_today": 1,
        "remaining": 9,
        "daily_token_limit": None,
        "tokens_used_today": response.json()["tokens_used_today"],
        "tokens_remaining": None,
        "resets_at": "2026-07-02T00:00:00-04:00",
        "limits": [],  # none beyond the daily ones
        "currency": "USD",
    }
    assert response.json()["tokens_used_today"] > 0


def test_it_refuses_an_anonymous_caller_with_401(db):
    response = APIClient().get("/api/quota/")

    assert response.status_code == 401
    assert "WWW-Authenticate" in response
