"""Admin shows who is blocked and why: each limit of a plan, user, API key or team, with what is used in its
current period, what requests in flight have set aside and what is left."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apikeys.services import create_api_key
from quota.limits import Pricing
from quota.models import Limit, Plan
from quota.services import reserve_request, settle_request
from teams.models import Membership, Team

PRICING = Pricing(prompt_cost=1_000_000, output_per_token=Decimal(1000))  # $0.001 a prompt, $0.000001 a token


@pytest.fixture
def course(user) -> Team:
    team = Team.objects.create(name="course-101")
    Membership.objects.create(team=team, user=user)
    Limit.objects.create(team=team, metric="cost", period="month", amount=Decimal("50"))
    return team


def test_a_teams_page_shows_its_members_and_its_limits_use_in_flight_and_left(admin_client, user, course):
    settled = reserve_request(user_id=user.pk, team_id=course.pk, pricing=PRICING, completion_tokens=1000)
    settle_request(reservation=settled, tokens=300, cost=1_250_000_000)
    reserve_request(user_id=user.pk, team_id=course.pk, pricing=PRICING, completion_tokens=1000)  # in flight

    page = admin_client.get(f"/admin/teams/team/{course.pk}/change/").content.decode()

    assert user.username in page
    assert "Used this period" in page
    assert "$1.25" in page  # used: the settled request's cost
    assert "$0.002" in page  # set aside: a prompt ($0.001) and 1,000 tokens ($0.001)
    assert "$48.75" in page  # left: $50 - $1.25 - $0.002


def test_a_keys_page_shows_its_own_limits(admin_client, user):
    key, _ = create_api_key(user=user, name="nightly")
    Limit.objects.create(api_key=key, metric="requests", period="minute", amount=60)
    reserve_request(user_id=user.pk, api_key_id=key.pk)

    page = admin_client.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()

    assert "per minute" in page
    assert ">1<" in page  # used
    assert ">59<" in page  # left


def test_a_users_page_shows_every_limit_in_force_and_whose_it_is(admin_client, user, course):
    plan = Plan.objects.create(name="student", daily_request_limit=30)
    user.quota.plan = plan
    user.quota.save()
    Limit.objects.create(plan=plan, metric="cost", period="month", amount=Decimal("2"))
    Limit.objects.create(user=user, metric="tokens", period="week", amount=100_000)

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()

    assert "Every other limit in force" in page
    assert "the team course-101&#x27;s" in page or "the team course-101's" in page
    assert "$50.00" in page
    assert "$2.00" in page
    assert "100,000" in page


def test_a_plans_page_edits_its_limits(admin_client):
    plan = Plan.objects.create(name="student", daily_request_limit=30)
    form = {
        "name": "student", "daily_request_limit": "30", "daily_token_limit": "",
        "limits-TOTAL_FORMS": "1", "limits-INITIAL_FORMS": "0",
        "limits-0-metric": "cost", "limits-0-period": "month", "limits-0-amount": "2.00",
    }  # fmt: skip

    response = admin_client.post(f"/admin/quota/plan/{plan.pk}/change/", form)

    assert response.status_code == 302
    assert Limit.objects.get(plan=plan).amount == Decimal("2.00")


def test_a_plans_daily_request_limit_as_a_row_is_refused_for_its_field(admin_client):
    plan = Plan.objects.create(name="student", daily_request_limit=30)
    form = {
        "name": "student", "daily_request_limit": "30", "daily_token_limit": "",
        "limits-TOTAL_FORMS": "1", "limits-INITIAL_FORMS": "0",
        "limits-0-metric": "requests", "limits-0-period": "day", "limits-0-amount": "5",
    }  # fmt: skip

    response = admin_client.post(f"/admin/quota/plan/{plan.pk}/change/", form)

    assert response.status_code == 200
    assert "daily” fields" in response.content.decode()
    assert not Limit.objects.exists()
