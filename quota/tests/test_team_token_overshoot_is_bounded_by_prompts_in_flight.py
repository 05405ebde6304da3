"""Many streams at once with a large max_tokens against a small token limit of a team: the team can pass
its limit only by the prompts of the requests in flight, never by their completions."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from accounts.tokens import issue_access_token
from quota.models import Counter as LimitCounter
from quota.models import Limit
from relay.models import UsageRecord
from teams.models import Membership, Team

STREAMS = 30
LIMIT = 5000  # small beside 30 answers of MAX_TOKENS: room for five
MAX_TOKENS = 1000
PROMPT = "please write me a long answer about the limits of teams " * 3  # about 30 tokens


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
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": f"{PROMPT} [dev:chunks=1500] [dev:interval=0.001]"}],
    }

    def stream(number: int) -> int:
        headers = {"Authorization": f"Bearer {tokens[number % 3]}"}
        url = f"{gateway.url}/v1/chat/completions"
        with requests.post(url, json=body, headers=headers, stream=True, timeout=60) as response:
            b"".join(response.iter_content(None))
        return response.status_code

    with ThreadPoolExecutor(max_workers=STREAMS) as pool:
        statuses = Counter(pool.map(stream, range(STREAMS)))

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
