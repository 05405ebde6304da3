"""The quota an answer carries is read for the request's team, as /api/quota/ reads it: the chat page shows
the team's limits from it after each answer."""

from __future__ import annotations

from decimal import Decimal

from conversations.tests.helpers import conversation
from conversations.tests.test_streamed_send import events, send
from quota.models import Limit
from teams.models import Membership, Team


def test_an_answer_carries_the_limits_of_the_team_it_drew_on(api, user):
    course = Team.objects.create(name="course-101")
    Membership.objects.create(team=course, user=user)
    Limit.objects.create(team=course, metric="requests", period="month", amount=Decimal(50))
    chat = conversation(user)

    body = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": "Hi"}, format="json").json()

    [team_limit] = body["quota"]["limits"]
    assert (team_limit["whose"], team_limit["team"], team_limit["used"], team_limit["remaining"]) == (
        "team",
        "course-101",
        1,
        49,
    )
    assert body["quota"] == api.get("/api/quota/").json()


def test_a_streamed_answer_carries_the_limits_of_the_team_named_by_the_header(gateway, user):
    Membership.objects.create(team=Team.objects.create(name="default"), user=user, is_default=True)
    research = Team.objects.create(name="research")
    Membership.objects.create(team=research, user=user)
    Limit.objects.create(team=research, metric="requests", period="day", amount=Decimal(5))
    chat = conversation(user)

    response = send(gateway, user, chat, "Hi", headers={"X-ChatGateway-Team": "research"})

    done = events(response)[-1]
    assert done["type"] == "done"
    [team_limit] = done["quota"]["limits"]
    assert (team_limit["team"], team_limit["used"], team_limit["remaining"]) == ("research", 1, 4)
