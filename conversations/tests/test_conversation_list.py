"""GET /api/conversations/: latest activity first, a page at a time."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from conversations.models import Conversation
from conversations.tests.helpers import conversation


def make_at(user, title: str, at: dt.datetime) -> Conversation:
    with time_machine.travel(at, tick=False):
        return conversation(user, title=title)


def test_it_lists_the_latest_activity_first(api, user):
    start = timezone.now() + dt.timedelta(minutes=1)  # later, not earlier: the JWT must be issued already
    first = make_at(user, "first", start)
    make_at(user, "second", start + dt.timedelta(hours=1))
    make_at(user, "third", start + dt.timedelta(hours=2))
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        api.patch(f"/api/conversations/{first.pk}/", {"title": "first, renamed"}, format="json")

    body = api.get("/api/conversations/").json()

    assert body["count"] == 3
    assert [c["title"] for c in body["results"]] == ["first, renamed", "third", "second"]
    assert set(body["results"][0]) == {"id", "title", "model", "system_prompt", "created", "updated"}


def test_it_pages_by_the_configured_size(api, user, settings):
    settings.CHATGATEWAY_CONVERSATIONS_PAGE_SIZE = 2
    start = timezone.now() + dt.timedelta(minutes=1)
    for number in range(5):
        make_at(user, f"c{number}", start + dt.timedelta(minutes=number))

    first = api.get("/api/conversations/").json()
    third = api.get("/api/conversations/?page=3").json()

    assert [c["title"] for c in first["results"]] == ["c4", "c3"]
    assert first["previous"] is None
    assert first["next"].endswith("/api/conversations/?page=2")
    assert [c["title"] for c in api.get(first["next"]).json()["results"]] == ["c2", "c1"]
    assert [c["title"] for c in third["results"]] == ["c0"]
    assert third["next"] is None


def test_it_takes_a_page_size_up_to_100(api, user):
    for number in range(3):
        conversation(user, title=f"c{number}")

    assert len(api.get("/api/conversations/?page_size=2").json()["results"]) == 2
    assert api.get("/api/conversations/?page_size=101").status_code == 400


def test_a_page_that_makes_no_sense_is_a_400(api, user):
    conversation(user)

    for page in ("0", "2", "x", "-1"):
        response = api.get(f"/api/conversations/?page={page}")
        assert response.status_code == 400
        assert "page" in response.json()


def test_an_empty_list_is_one_empty_page(api):
    assert api.get("/api/conversations/").json() == {"count": 0, "next": None, "previous": None, "results": []}
