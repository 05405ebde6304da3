"""Which team a request draws on: the one its X-ChatGateway-Team header names among its user's, its API
key's whatever it names, else the user's default team or the one they joined first; none for a user in
no team. The usage record keeps the team's name."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from quota.models import Counter, Limit, Quota
from relay.models import UsageRecord
from teams.models import Membership, Team

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def _client(credential: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return client


@pytest.fixture
def ada(user):
    return user  # whose JWT `api` sends


@pytest.fixture
def teams(ada):
    """Ada joined "first" a minute before "second"; each team has a weekly request limit."""
    first, second, other = (Team.objects.create(name=name) for name in ("first", "second", "other"))
    Membership.objects.create(team=first, user=ada)
    Membership.objects.create(team=second, user=ada)
    Membership.objects.filter(team=first).update(joined=timezone.now() - dt.timedelta(minutes=1))
    for team in (first, second, other):
        Limit.objects.create(team=team, metric="requests", period="week", amount=10)
    return {"first": first, "second": second, "other": other}


def _ask(client: APIClient, team: str | None = None):
    headers = {} if team is None else {"HTTP_X_CHATGATEWAY_TEAM": team}
    return client.post("/v1/chat/completions", BODY, format="json", **headers)


def _drawn_on() -> dict[str, int]:
    return {c.team.name: c.requests for c in Counter.objects.filter(team__isnull=False).select_related("team")}


def test_the_header_picks_one_of_the_users_teams(ada, teams, api):
    assert _ask(api, "second").status_code == 200

    assert _drawn_on() == {"second": 1}
    assert UsageRecord.objects.get(user=ada).team == "second"


def test_a_team_the_user_is_not_in_is_refused_and_nothing_is_taken(ada, teams, api):
    response = _ask(api, "other")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "team_not_allowed"
    assert Quota.objects.get(user=ada).used == 0
    assert sum(_drawn_on().values()) == 0


def test_an_unknown_team_is_refused_like_one_the_user_is_not_in(ada, teams, api):
    response = _ask(api, "no-such-team")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "team_not_allowed"
    assert Quota.objects.get(user=ada).used == 0


def test_a_key_given_a_team_always_draws_on_it(ada, teams):
    key, raw_key = create_api_key(user=ada, name="course key")
    key.team = teams["second"]
    key.save()

    assert _ask(_client(raw_key)).status_code == 200
    assert _ask(_client(raw_key), "second").status_code == 200

    assert _drawn_on() == {"second": 2}
    assert set(UsageRecord.objects.values_list("team", flat=True)) == {"second"}


def test_a_key_given_a_team_refuses_a_header_naming_another_and_takes_nothing(ada, teams):
    key, raw_key = create_api_key(user=ada, name="course key")
    key.team = teams["second"]
    key.save()

    response = _ask(_client(raw_key), "first")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "team_not_allowed"
    assert Quota.objects.get(user=ada).used == 0
    assert sum(_drawn_on().values()) == 0


def test_a_key_of_a_team_its_user_has_left_draws_on_it_no_more(ada, teams):
    key, raw_key = create_api_key(user=ada, name="course key")
    key.team = teams["second"]
    key.save()
    Membership.objects.filter(user=ada, team=teams["second"]).delete()

    response = _ask(_client(raw_key))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "team_not_allowed"
    assert "second" in response.json()["error"]["message"]
    assert sum(_drawn_on().values()) == 0


def test_without_a_header_a_request_draws_on_the_first_team_joined(ada, teams, api):
    assert _ask(api).status_code == 200

    assert _drawn_on() == {"first": 1}
    assert UsageRecord.objects.get(user=ada).team == "first"


def test_without_a_header_the_default_team_wins_over_the_first_joined(ada, teams, api):
    Membership.objects.filter(user=ada, team=teams["second"]).update(is_default=True)

    assert _ask(api).status_code == 200

    assert _drawn_on() == {"second": 1}


def test_a_user_in_no_team_draws_on_no_team(ada, api):
    Limit.objects.create(team=Team.objects.create(name="lonely"), metric="requests", period="week", amount=10)

    assert _ask(api).status_code == 200

    assert not Counter.objects.filter(team__isnull=False).exists()
    assert UsageRecord.objects.get(user=ada).team == ""


def test_a_stream_naming_a_team_the_user_is_not_in_is_refused_before_it_starts(ada, teams, gateway):
    token = str(issue_access_token(ada))
    headers = {"Authorization": f"Bearer {token}", "X-ChatGateway-Team": "other"}

    response = requests.post(
        f"{gateway.url}/v1/chat/completions", json={**BODY, "stream": True}, headers=headers, timeout=10
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "team_not_allowed"
    assert Quota.objects.get(user=ada).used == 0
