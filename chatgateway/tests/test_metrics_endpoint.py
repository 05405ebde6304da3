"""Who may read /metrics (chatgateway/metrics.py): a bearer token and/or allowed addresses; nobody when
neither is set; and every worker process's counts in one scrape."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from devtools.testing import GatewayServer

TOKEN = "a-long-random-scrape-token"

pytestmark = pytest.mark.django_db


def test_it_does_not_exist_until_an_operator_says_who_may_read_it(client, settings):
    settings.CHATGATEWAY_METRICS_TOKEN, settings.CHATGATEWAY_METRICS_ALLOWED_IPS = "", []

    assert client.get("/metrics").status_code == 404


def test_it_is_gone_with_metrics_off(client, settings):
    settings.CHATGATEWAY_METRICS, settings.CHATGATEWAY_METRICS_TOKEN = False, TOKEN

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_it_refuses_a_missing_or_wrong_token_and_serves_the_right_one(client, settings):
    settings.CHATGATEWAY_METRICS_TOKEN = TOKEN

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert right["Content-Type"].startswith("text/plain; version=")
    assert b"chatgateway_outbox_entries" in right.content


def test_it_refuses_other_addresses_and_serves_allowed_ones(client, settings):
    settings.CHATGATEWAY_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200


def test_with_both_set_it_takes_both(client, settings):
    settings.CHATGATEWAY_METRICS_TOKEN, settings.CHATGATEWAY_METRICS_ALLOWED_IPS = TOKEN, ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def models_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "chatgateway_requests_total" and sample.labels["endpoint"] == "v1/models/"
    )


def test_one_scrape_counts_the_requests_of_every_worker_process(tmp_path: Path, dev_upstream):
    with GatewayServer(tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=2,
                       env={"CHATGATEWAY_METRICS_TOKEN": TOKEN}, serve=True) as server:  # fmt: skip
        directory = tmp_path / "metrics"
        sent = 0
        deadline = time.monotonic() + 60
        # Each request on a new connection, until both workers have counted some (each writes its own file).
        while len({path.name for path in directory.glob("counter_*.db")}) < 2 and time.monotonic() < deadline:
            response = requests.get(f"{server.url}/v1/models", headers={"Connection": "close"}, timeout=10)
            assert response.status_code == 401
            sent += 1
        assert len(list(directory.glob("counter_*.db"))) == 2, "one worker served every request"

        scraped = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    assert scraped.status_code == 200
    assert models_count(scraped.text) == sent
