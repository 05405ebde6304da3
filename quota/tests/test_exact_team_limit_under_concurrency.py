"""With one request left on a team's daily limit and 20 requests from several of its members at once,
exactly one succeeds: in one threaded server, and across several server processes sharing the database
(SQLite or PostgreSQL, whichever the suite runs on)."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
import requests

from accounts.tokens import issue_access_token
from devtools.testing import GatewayServer
from quota.models import Counter as LimitCounter
from quota.models import Limit, Quota
from relay.models import UsageRecord
from teams.models import Membership, Team

CLIENTS = 20
MEMBERS = 4


def ask_all_at_once(url: str, tokens: list[str], clients: int = CLIENTS) -> Counter:
    """`clients` threads, released together by a barrier, each asking once with the next member's token
    in turn; the statuses seen."""
    barrier = threading.Barrier(clients)
    statuses: list[int | str] = []

    def one(number: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {tokens[number % len(tokens)]}"}
        barrier.wait()
        try:
            response = session.get(f"{url}/api", params={"q": "race"}, headers=headers, timeout=60)
        except requests.RequestException as exc:
            statuses.append(type(exc).__name__)
        else:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(statuses)


@pytest.mark.django_db(transaction=True)
def test_one_request_left_on_a_teams_limit_and_twenty_from_its_members_at_once_grants_exactly_one(
    live_server, make_user
):
    team = Team.objects.create(name="course-101")
    Limit.objects.create(team=team, metric="requests", period="day", amount=3)
    tokens = []
    for number in range(MEMBERS):
        member = make_user(f"member{number}", daily_limit=100)
        Membership.objects.create(team=team, user=member)
        tokens.append(str(issue_access_token(member)))
    assert ask_all_at_once(live_server.url, tokens, clients=2) == Counter({200: 2})

    statuses = ask_all_at_once(live_server.url, tokens)

    assert statuses == Counter({200: 1, 429: CLIENTS - 1})
    assert LimitCounter.objects.get(team=team, period="day").requests == 3
    assert UsageRecord.objects.filter(team="course-101", error="").count() == 3
    assert sum(Quota.objects.values_list("used", flat=True)) == 3, "the refused took nothing of their users'"


SETUP = f"""
import json
from accounts.models import User
from accounts.tokens import issue_access_token
from quota.models import Limit
from teams.models import Membership, Team
team = Team.objects.create(name="course-101")
Limit.objects.create(team=team, metric="requests", period="day", amount=3)
tokens = []
for number in range({MEMBERS}):
    user = User.objects.create_user(f"member{{number}}", password="x")
    user.quota.daily_limit = 100
    user.quota.save()
    Membership.objects.create(team=team, user=user)
    tokens.append(str(issue_access_token(user)))
print(json.dumps(tokens))
"""

COUNTS = """
import json
from quota.models import Counter, Quota
from relay.models import UsageRecord
print(json.dumps([
    Counter.objects.get(team__name="course-101", period="day").requests,
    UsageRecord.objects.filter(team="course-101", error="").count(),
    sum(Quota.objects.values_list("used", flat=True)),
]))
"""


def test_one_request_left_on_a_teams_limit_and_twenty_at_once_across_server_processes_grants_exactly_one(
    tmp_path, dev_upstream
):
    with GatewayServer(tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key) as server:
        tokens = json.loads(server.python(SETUP))
        assert ask_all_at_once(server.url, tokens, clients=2) == Counter({200: 2})

        statuses = ask_all_at_once(server.url, tokens)

        counts = json.loads(server.python(COUNTS))
    assert statuses == Counter({200: 1, 429: CLIENTS - 1})
    assert counts == [3, 3, 3]
