"""What /metrics counts (core/metrics.py): each request in its series, on both lanes, its duration and
time to first byte, tokens, upstream failures, quota refusals, streams open; never a user or a key."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from core.metrics import forget_dead_processes, model_label, reason_label, use_fresh_directory
from providers import catalog
from providers.models import Price
from quota.models import Limit
from relay.models import UsageRecord

TOKEN = "metrics-scraper-token"


@pytest.fixture(autouse=True)
def scraping_allowed(settings):
    settings.CHATGATEWAY_METRICS_TOKEN = TOKEN


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_of(**labels: str) -> float:
    return value("chatgateway_requests_total", **labels)


def eventually(check, seconds: float = 5.0) -> None:
    """A request is counted once its response is sent, a moment after the client has it."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            counted = {tuple(sorted(sample.labels.items())): sample.value for family in REGISTRY.collect()
                       if family.name == "chatgateway_requests" for sample in family.samples
                       if sample.name.endswith("_total")}  # fmt: skip
            raise AssertionError(f"not counted; the requests counted: {counted}")
        time.sleep(0.01)


def scrape(url: str) -> str:
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    return response.text


def chat(url: str, credential: str, content: str = "Hi", **body) -> requests.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **body}
    return requests.post(
        f"{url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {credential}"}, timeout=20
    )


def test_a_relayed_request_counts_in_its_series_with_its_tokens_and_durations(gateway, user):
    _, key = create_api_key(user=user, name="script")
    series = dict(family="openai", endpoint="v1/chat/completions/", model="gpt-4o-mini", provider="default",
                  status="2xx", credential="api_key")  # fmt: skip
    before = requests_of(**series)
    prompt = value("chatgateway_tokens_total", model="gpt-4o-mini", provider="default", kind="prompt")
    completion = value("chatgateway_tokens_total", model="gpt-4o-mini", provider="default", kind="completion")
    durations = value("chatgateway_request_duration_seconds_count", family="openai")
    first_bytes = value("chatgateway_time_to_first_byte_seconds_count", family="openai")

    usage = chat(gateway.url, key).json()["usage"]

    eventually(lambda: requests_of(**series) == before + 1)
    assert value("chatgateway_tokens_total", model="gpt-4o-mini", provider="default", kind="prompt") == (
        prompt + usage["prompt_tokens"]
    )
    assert value("chatgateway_tokens_total", model="gpt-4o-mini", provider="default", kind="completion") == (
        completion + usage["completion_tokens"]
    )
    eventually(lambda: value("chatgateway_request_duration_seconds_count", family="openai") == durations + 1)
    assert value("chatgateway_time_to_first_byte_seconds_count", family="openai") == first_bytes + 1


def test_a_relayed_requests_cost_counts_by_model_provider_and_currency(gateway, user, settings):
    settings.CHATGATEWAY_CURRENCY = "USD"
    Price.objects.filter(model_name="gpt-4o-mini").delete()
    Price.objects.create(
        model_name="gpt-4o-mini", input=Decimal("1"), output=Decimal("2"), valid_from=dt.date(2000, 1, 1)
    )
    catalog.refresh()
    labels = dict(model="gpt-4o-mini", provider="default", currency="USD")
    before = value("chatgateway_cost_total", **labels)

    chat(gateway.url, str(issue_access_token(user)))

    record = UsageRecord.objects.get(user=user)
    assert record.cost == record.prompt_tokens * 1000 + record.completion_tokens * 2000
    assert value("chatgateway_cost_total", **labels) == pytest.approx(before + record.cost / 10**9)


def test_each_kind_of_credential_and_each_lane_has_its_series(gateway, user):
    token = issue_access_token(user)
    chatapi = dict(family="chatapi", endpoint="api", model="gpt-4o-mini", provider="default", status="2xx",
                   credential="jwt")  # fmt: skip
    rest = dict(family="rest", endpoint="api/quota/", model="none", provider="none", status="2xx", credential="jwt")
    refused = dict(family="rest", endpoint="api/quota/", model="none", provider="none", status="4xx", credential="none")
    missing = dict(family="openai", endpoint="v1/", model="none", provider="none", status="4xx", credential="none")
    before = [requests_of(**labels) for labels in (chatapi, rest, refused, missing)]

    requests.get(f"{gateway.url}/api", params={"q": "hi"}, headers={"Authorization": f"Bearer {token}"}, timeout=20)
    requests.get(f"{gateway.url}/api/quota/", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    requests.get(f"{gateway.url}/api/quota/", timeout=20)
    requests.get(f"{gateway.url}/v1/no-such-thing", timeout=20)

    eventually(
        lambda: (
            [requests_of(**labels) for labels in (chatapi, rest, refused, missing)] == [count + 1 for count in before]
        )
    )


def test_a_session_is_a_credential_kind_too(gateway, user, client):
    client.force_login(user)
    session = client.cookies["sessionid"].value
    labels = dict(family="rest", endpoint="api/quota/", model="none", provider="none", status="2xx",
                  credential="session")  # fmt: skip
    before = requests_of(**labels)

    requests.get(f"{gateway.url}/api/quota/", cookies={"sessionid": session}, timeout=20)

    eventually(lambda: requests_of(**labels) == before + 1)


def test_an_upstream_failure_counts_by_its_fault_class(gateway, user):
    before = value("chatgateway_upstream_failures_total", provider="default", reason="upstream_http_5xx")
    timeouts = value("chatgateway_upstream_failures_total", provider="default", reason="upstream_rate_limited")

    assert chat(gateway.url, issue_access_token(user), "[dev:status=503]").status_code == 502
    assert chat(gateway.url, issue_access_token(user), "[dev:status=429]").status_code == 503

    assert value("chatgateway_upstream_failures_total", provider="default", reason="upstream_http_5xx") == before + 1
    assert value("chatgateway_upstream_failures_total", provider="default", reason="upstream_rate_limited") == (
        timeouts + 1
    )


def test_a_quota_refusal_counts_by_its_kind(gateway, make_user):
    limited = make_user("limited", daily_limit=1)
    blocked = make_user("blocked", daily_limit=0)
    before = {kind: value("chatgateway_quota_refusals_total", kind=kind) for kind in ("requests", "tokens", "blocked")}

    assert chat(gateway.url, issue_access_token(limited)).status_code == 200
    assert chat(gateway.url, issue_access_token(limited)).status_code == 429
    assert chat(gateway.url, issue_access_token(blocked)).status_code == 403
    limited.quota.daily_limit, limited.quota.daily_token_limit = 10, 1
    limited.quota.save()
    assert chat(gateway.url, issue_access_token(limited)).status_code == 429

    after = {kind: value("chatgateway_quota_refusals_total", kind=kind) for kind in before}
    assert after == {
        "requests": before["requests"] + 1,
        "tokens": before["tokens"] + 1,
        "blocked": before["blocked"] + 1,
    }


def test_a_budget_in_money_refuses_as_cost_not_other(gateway, make_user):
    Price.objects.filter(model_name="gpt-4o-mini").delete()
    Price.objects.create(
        model_name="gpt-4o-mini", input=Decimal("1"), output=Decimal("2"), valid_from=dt.date(2000, 1, 1)
    )
    catalog.refresh()
    broke, spent = make_user("broke"), make_user("spent")
    Limit.objects.create(user=broke, metric="cost", period="day", amount=Decimal("0"))
    Limit.objects.create(user=spent, metric="cost", period="day", amount=Decimal("0.000001"))  # a few tokens' worth
    before = {kind: value("chatgateway_quota_refusals_total", kind=kind) for kind in ("cost", "blocked", "other")}

    assert chat(gateway.url, issue_access_token(broke)).status_code == 403  # a budget of 0 blocks
    answers = [chat(gateway.url, issue_access_token(spent)).status_code for _ in range(2)]

    assert 429 in answers
    after = {kind: value("chatgateway_quota_refusals_total", kind=kind) for kind in before}
    assert after == {
        "cost": before["cost"] + answers.count(429),
        "blocked": before["blocked"] + 1,
        "other": before["other"],
    }


def test_a_stream_is_open_in_the_gauge_while_it_lasts_and_not_after(gateway, user):
    assert value("chatgateway_streams_open") == 0
    with requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True,
              "messages": [{"role": "user", "content": "slow [dev:chunks=10] [dev:interval=0.3]"}]},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        stream=True,
        timeout=20,
    ) as stream:  # fmt: skip
        lines = stream.iter_lines()  # kept: a generator dropped would close the connection
        next(lines)
        assert value("chatgateway_streams_open") == 1
        assert [line for line in scrape(gateway.url).splitlines() if line.startswith("chatgateway_streams_open")] == [
            "chatgateway_streams_open 1.0"
        ]
        for _ in lines:
            pass
    eventually(lambda: value("chatgateway_streams_open") == 0)


def test_the_scrape_has_every_metric_and_no_user_name_or_key_in_a_label(gateway, make_user):
    user = make_user("zoe-the-secret-username")
    _, key = create_api_key(user=user, name="key-name-secret")
    chat(gateway.url, key)
    chat(gateway.url, key, model="a-model-nobody-offers")
    chat(gateway.url, issue_access_token(user), "[dev:status=500]")

    text = scrape(gateway.url)

    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "chatgateway_requests", "chatgateway_request_duration_seconds", "chatgateway_time_to_first_byte_seconds",
        "chatgateway_tokens", "chatgateway_upstream_failures", "chatgateway_quota_refusals",
        "chatgateway_streams_open", "chatgateway_database_threads_busy", "chatgateway_outbox_entries",
    } <= names  # fmt: skip
    labels = {value for family in text_string_to_metric_families(text) for sample in family.samples
              for value in sample.labels.values()}  # fmt: skip
    assert not {"zoe-the-secret-username", "key-name-secret", key, "a-model-nobody-offers"} & labels
    assert all(secret not in text for secret in ("zoe-the-secret", key[:12], "key-name-secret", "nobody-offers"))
    assert 'chatgateway_outbox_entries{state="pending"} 0' in text


def test_only_models_the_gateway_offers_are_named_and_reason_codes_are_folded(settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "deepseek-chat"]

    assert [model_label(name) for name in ("gpt-4o-mini", "deepseek-chat", "my-own-model", "", None)] == [
        "gpt-4o-mini", "deepseek-chat", "other", "none", "none"
    ]  # fmt: skip
    assert [reason_label(reason) for reason in ("upstream_http_503", "upstream_auth_401", "upstream_timeout",
                                                "client_disconnected", "gateway_lost_request", "x" * 500)] == [
        "upstream_http_5xx", "upstream_auth_4xx", "upstream_timeout", "client_disconnected", "other", "other"
    ]  # fmt: skip


def test_a_dead_workers_live_gauges_are_forgotten_and_its_counters_kept(tmp_path):
    for name in ("gauge_livesum_111.db", "gauge_livesum_222.db", "counter_111.db"):
        (tmp_path / name).write_bytes(b"")

    forget_dead_processes(str(tmp_path), alive=lambda pid: pid == 222)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_111.db", "gauge_livesum_222.db"]


def test_a_server_starts_its_workers_on_an_empty_directory_of_counts(tmp_path, monkeypatch):
    # Set, then removed: so that monkeypatch puts back its absence afterwards, whatever the command sets (a
    # variable left behind turns this test process's later scrapes to files no counter of it writes).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "unset-after-the-test")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"a past run's counts")

    used = use_fresh_directory(str(directory), port=8000)

    assert used == str(directory)
    assert list(directory.iterdir()) == []
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
