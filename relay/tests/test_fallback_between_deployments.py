"""A deployment failing before the first byte reached the client hands the request to the next one, within
the one deadline; after the first byte, or for a request the provider calls wrong (400), never. Several
development upstreams over real HTTP, each its own provider."""

from __future__ import annotations

import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from devtools.testing import free_port
from quota.models import Plan
from relay.models import UsageRecord
from relay.tests.routed import answer, ask, events

FAULTS = [
    # (name, the first upstream's fault or "refused", the reason recorded, the status recorded)
    ("connection refused", "refused", "upstream_unreachable", None),
    ("timeout", "[dev:delay=3]", "upstream_timeout", None),
    ("500", "[dev:status=500]", "upstream_http_500", 500),
    ("429", "[dev:status=429]", "upstream_rate_limited", 429),
]


@pytest.fixture
def two_deployments(routes, upstreams):
    """Model `smart`: provider `first` (priority 1, timeout 1 s) and provider `second` (priority 2)."""

    def make(fault: str = ""):
        first_upstream = upstreams(fault="" if fault == "refused" else fault)
        second_upstream = upstreams()
        target = f"http://127.0.0.1:{free_port()}/v1" if fault == "refused" else first_upstream
        first = routes.provider("first", target, timeout=1.0)
        second = routes.provider("second", second_upstream)
        routes.model("smart", (first, "model-one", 1), (second, "model-two", 2))
        routes.load()
        return first_upstream, second_upstream

    return make


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
@pytest.mark.parametrize(("name", "fault", "reason", "status"), FAULTS, ids=[fault[0] for fault in FAULTS])
def test_a_failing_deployment_hands_the_request_to_the_next(
    gateway, user, two_deployments, stream, name, fault, reason, status
):
    _first, second = two_deployments(fault)

    response = ask(gateway, user, "smart", "Hello there", stream=stream)

    assert response.status_code == 200, response.text
    assert "You said: Hello there" in answer(response)
    assert second.received[-1]["body"]["model"] == "model-two"
    assert used_today(user) == 1
    record = UsageRecord.objects.get(user=user)
    assert (record.status_code, record.error) == (200, "")
    assert (record.provider, record.upstream_model, record.attempts) == ("second", "model-two", 2)
    assert record.failed_attempts == [{"provider": "first", "model": "model-one", "reason": reason, "status": status}]


def test_a_stream_that_failed_after_its_first_chunk_is_not_tried_elsewhere(gateway, user, two_deployments):
    _first, second = two_deployments("[dev:chunks=10] [dev:cut=3]")

    response = ask(gateway, user, "smart", "Hello there", stream=True)

    assert response.status_code == 200
    assert "error" in events(response)[-1]
    assert second.received_count == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.provider, record.attempts, record.error) == ("first", 1, "upstream_stream_cut")


def test_a_request_the_provider_calls_wrong_is_not_tried_elsewhere(gateway, user, two_deployments):
    _first, second = two_deployments("[dev:status=400]")

    response = ask(gateway, user, "smart")

    assert response.status_code == 400
    assert second.received_count == 0
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.attempts, record.error) == (1, "upstream_http_400")


def test_when_every_deployment_fails_the_last_error_is_given_and_nothing_is_charged(gateway, user, two_deployments):
    _first, second = two_deployments("[dev:status=503]")
    second.fault = "[dev:status=502]"

    response = ask(gateway, user, "smart")

    assert response.status_code == 502
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.provider, record.attempts, record.error) == ("", 2, "upstream_http_502")
    assert [failure["reason"] for failure in record.failed_attempts] == ["upstream_http_503", "upstream_http_502"]


def test_the_completion_cap_goes_in_the_providers_own_parameter(gateway, user, routes, upstreams):
    reasoning, older = upstreams(), upstreams()
    routes.model("reasoner", (routes.provider("openai", reasoning, completion_cap="max_completion_tokens"), "o4"))
    routes.model("old", (routes.provider("local", older, completion_cap="max_tokens"), "llama"))
    routes.load()

    assert ask(gateway, user, "reasoner", max_tokens=50).status_code == 200
    assert ask(gateway, user, "old", max_completion_tokens=40).status_code == 200

    sent = reasoning.received[-1]["body"]
    assert (sent["model"], sent["max_completion_tokens"], "max_tokens" in sent) == ("o4", 50, False)
    sent = older.received[-1]["body"]
    assert (sent["model"], sent["max_tokens"], "max_completion_tokens" in sent) == ("llama", 40, False)


def test_the_cap_the_gateway_sets_for_a_token_budget_goes_in_the_providers_parameter(
    gateway, make_user, routes, upstreams
):
    user = make_user()
    user.quota.daily_token_limit = 1000
    user.quota.save()
    reasoning = upstreams()
    routes.model("reasoner", (routes.provider("openai", reasoning, completion_cap="max_completion_tokens"), "o4"))
    routes.load()

    assert ask(gateway, user, "reasoner").status_code == 200

    sent = reasoning.received[-1]["body"]
    assert "max_tokens" not in sent
    assert 0 < sent["max_completion_tokens"] <= 1000


def test_the_client_learns_the_provider_only_if_a_setting_allows_it(gateway, user, two_deployments, settings):
    first, _second = two_deployments()

    response = ask(gateway, user, "smart")
    assert "x-chatgateway-provider" not in response.headers
    for secret in ("first", first.url, str(first.port), first.key):
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())

    settings.CHATGATEWAY_EXPOSE_PROVIDER = True
    assert ask(gateway, user, "smart").headers["x-chatgateway-provider"] == "first"


def test_an_unknown_model_or_one_of_another_plan_is_refused_as_before(gateway, user, two_deployments):
    two_deployments()

    response = ask(gateway, user, "gpt-4o-mini")  # CHATGATEWAY_MODELS no longer counts: the catalog does

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_a_model_restricted_to_a_plan_is_offered_to_that_plans_users_only(gateway, make_user, routes, upstreams):
    plan = Plan.objects.create(name="plus", daily_request_limit=100)
    member, outsider = make_user("member"), make_user("outsider")
    member.quota.plan = plan
    member.quota.save()
    provider = routes.provider("only", upstreams())
    routes.model("open", (provider, "model-open"))
    routes.model("premium", (provider, "model-premium")).plans.add(plan)
    routes.load()

    assert ask(gateway, member, "premium").status_code == 200
    refused = ask(gateway, outsider, "premium")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "model_not_found")
    for user, names in ((member, ["open", "premium"]), (outsider, ["open"])):
        listed = requests.get(
            f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {issue_access_token(user)}"}, timeout=10
        )
        assert [model["id"] for model in listed.json()["data"]] == names


def test_a_model_no_provider_serves_on_an_endpoint_is_a_400_that_costs_nothing(gateway, user, routes, upstreams):
    chat_only = routes.provider("chat-only", upstreams(), endpoints=["chat"])
    routes.model("smart", (chat_only, "model-one", 1))
    routes.load()

    response = requests.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "smart", "input": "hello"},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_served_on_endpoint"
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).attempts == 0
