"""Many streams at once with a large max_tokens against a small token limit of a team: the team can pass
its limit only by the prompts of the requests in flight, never by their completions."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from accounts.tokens import issue_access_token
from devtools.testing import GatewayServer
from quota.models import Counter as LimitCounter
from quota.models import Limit
from relay.models import UsageRecord
from teams.models import Membership, Team

STREAMS = 30
LIMIT = 5000  # small beside 30 answers of MAX_TOKENS: room for five
MAX_TOKENS = 1000
PROMPT = "please write me a long answer about the limits of teams " * 3  # about 30 tokens
BODY = {
    "model": "gpt-4o-mini",
    "stream": True,
    "max_tokens": MAX_TOKENS,
    # An answer longer than any budget, streamed for seconds: every granted request is in flight at once.
    "messages": [{"role": "user", "content": f"{PROMPT} [dev:chunks=1500] [dev:interval=0.001]"}],
}


def _stream(url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    with requests.post(f"{url}/v1/chat/completions", json=BODY, headers=headers, stream=True, timeout=60) as response:
        b"".join(response.iter_content(None))
    return response.status_code


@pytest.mark.django_db(transaction=True)
def test_a_teams_tokens_pass_its_limit_by_at_most_the_prompts_of_the_requests_in_flight(gateway, make_user):
    """Each request reserves a completion budget of at most what the limit leaves after the tokens used
    and the budgets of the requests in flight, and the upstream is asked for no more than that budget
    (max_tokens). So with L the limit and P_r the prompt of each granted request r:

        tokens used  <=  L + sum over the granted requests of P_r

    (every granted request was in flight with the others here: all 30 start at once and stream for
    seconds). The budgets fill the limit exactly and each answer, longer than any budget, is cut at its
    budget, so the prompts are the whole overshoot."""
    team = Team.objects.create(name="course-101")
    Limit.objects.create(team=team, metric="tokens", period="day", amount=LIMIT)
    tokens = []
    for number in range(3):
        member = make_user(f"member{number}", daily_limit=100)
        Membership.objects.create(team=team, user=member)
        tokens.append(str(issue_access_token(member)))

    with ThreadPoolExecutor(max_workers=STREAMS) as pool:
        statuses = Counter(pool.map(lambda n: _stream(gateway.url, tokens[n % 3]), range(STREAMS)))

    granted = UsageRecord.objects.filter(team="course-101", status_code=200)
    prompts = sum(record.prompt_tokens for record in granted)
    counter = LimitCounter.objects.get(team=team, period="day")
    assert statuses[200] == granted.count() >= 1
    assert statuses[200] + statuses[429] == STREAMS
    assert counter.tokens == sum(record.total_tokens for record in granted)
    assert counter.tokens <= LIMIT + prompts
    assert counter.tokens > LIMIT, "the budgets filled the limit: the prompts went past it"
    assert counter.tokens_reserved == 0
    assert all(record.completion_tokens <= MAX_TOKENS for record in granted)


SETUP = f"""
import json
from accounts.models import User
from accounts.tokens import issue_access_token
from devtools.testing import GatewayServer
from quota.models import Limit
from teams.models import Membership, Team
team = Team.objects.create(name="course-101")
Limit.objects.create(team=team, metric="tokens", period="day", amount={LIMIT})
tokens = []
for number in range(3):
    user = User.objects.create_user(f"member{{number}}", password="x")
    user.quota.daily_limit = 100
    user.quota.save()
    Membership.objects.create(team=team, user=user)
    tokens.append(str(issue_access_token(user)))
print(json.dumps(tokens))
"""

STORED = """
import json
from quota.models import Counter
from relay.models import UsageRecord
granted = UsageRecord.objects.filter(team="course-101", status_code=200)
counter = Counter.objects.get(team__name="course-101", period="day")
print(json.dumps({
    "granted": granted.count(),
    "prompts": sum(r.prompt_tokens for r in granted),
    "completions": [r.completion_tokens for r in granted],
    "recorded": sum(r.total_tokens for r in granted),
    "tokens": counter.tokens,
    "reserved": counter.tokens_reserved,
}))
"""


def test_across_server_processes_too_the_overshoot_is_at_most_the_prompts_in_flight(tmp_path, dev_upstream):
    """The same bound, tokens used <= L + sum of the granted requests' prompts, with the streams spread
    over several server processes that share the team's counter in the database."""
    with GatewayServer(tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key) as server:
        tokens = json.loads(server.python(SETUP))
        with ThreadPoolExecutor(max_workers=STREAMS) as pool:
            statuses = Counter(pool.map(lambda n: _stream(server.url, tokens[n % 3]), range(STREAMS)))
        stored = json.loads(server.python(STORED))

    assert statuses[200] == stored["granted"] >= 1
    assert statuses[200] + statuses[429] == STREAMS
    assert stored["tokens"] == stored["recorded"]
    assert stored["tokens"] <= LIMIT + stored["prompts"]
    assert stored["tokens"] > LIMIT, "the budgets filled the limit: the prompts went past it"
    assert all(completion <= MAX_TOKENS for completion in stored["completions"])
    assert stored["reserved"] == 0
