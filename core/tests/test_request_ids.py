"""Every request's id (core/requestid.py): made or taken from a trusted proxy, in every response, in its
usage record, its log lines, and the request sent upstream."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from core.requestid import RequestIds
from devtools.testing import InProcessGateway
from relay.models import UsageRecord

MADE = re.compile(r"[0-9a-f]{32}")


def ask(url: str, credential: str, *, request_id: str | None = None, content: str = "Hi", **body) -> requests.Response:
    headers = {"Authorization": f"Bearer {credential}"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **body}
    return requests.post(f"{url}/v1/chat/completions", json=payload, headers=headers, timeout=20)


def test_a_request_without_an_id_gets_a_new_one_in_its_response(gateway):
    first = requests.get(f"{gateway.url}/healthz", timeout=10)
    second = requests.get(f"{gateway.url}/healthz", timeout=10)

    assert MADE.fullmatch(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_every_response_carries_it_on_both_lanes_errors_404s_and_streams(gateway, user):
    token = issue_access_token(user)
    responses = {
        "/v1 answer": ask(gateway.url, token),
        "/api answer": requests.get(
            f"{gateway.url}/api", params={"q": "hi"}, headers={"Authorization": f"Bearer {token}"}, timeout=20
        ),
        "/v1 404": requests.get(f"{gateway.url}/v1/nothing-here", timeout=10),
        "site 404": requests.get(f"{gateway.url}/nothing-here", timeout=10),
        "401": requests.get(f"{gateway.url}/api/quota/", timeout=10),
        "413": requests.post(
            f"{gateway.url}/v1/chat/completions", data=b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), timeout=10
        ),
        "upstream 502": ask(gateway.url, token, content="[dev:status=500]"),
    }
    with requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=20,
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        responses["stream"] = stream

    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {"/v1 answer": 200, "/api answer": 200, "/v1 404": 404, "site 404": 404, "401": 401,
                        "413": 413, "upstream 502": 502, "stream": 200}  # fmt: skip
    ids = {name: response.headers.get("X-Request-ID", "") for name, response in responses.items()}
    assert {name: bool(MADE.fullmatch(value)) for name, value in ids.items()} == dict.fromkeys(ids, True), ids


def test_an_id_from_a_trusted_proxy_is_kept_everywhere_the_request_goes(gateway, user, dev_upstream):
    """127.0.0.1 is FORWARDED_ALLOW_IPS' default: the test's client stands where the proxy would."""
    response = ask(gateway.url, issue_access_token(user), request_id="nginx-7f3a.42")

    assert response.headers["X-Request-ID"] == "nginx-7f3a.42"
    assert UsageRecord.objects.get(user=user).request_id == "nginx-7f3a.42"
    assert dev_upstream.received[-1]["request_id"] == "nginx-7f3a.42"


@pytest.mark.parametrize("given", ["has spaces", "x" * 129, "-starts-with-a-dash", 'quote"d', "ünïcode", "a;b"])
def test_a_malformed_id_is_replaced_by_a_new_one(gateway, user, dev_upstream, given):
    response = ask(gateway.url, issue_access_token(user), request_id=given)

    made = response.headers["X-Request-ID"]
    assert MADE.fullmatch(made)
    assert UsageRecord.objects.get(user=user).request_id == made
    assert dev_upstream.received[-1]["request_id"] == made


def test_an_id_from_a_client_that_is_not_a_trusted_proxy_is_replaced(transactional_db, user, dev_upstream):
    from chatgateway.asgi import application

    behind_the_id = application.app.app  # what chatgateway.asgi puts behind RequestIds and the proxy headers
    only_another_proxy = RequestIds(ProxyHeadersMiddleware(behind_the_id, trusted_hosts="10.0.0.1"), trusted="10.0.0.1")
    with InProcessGateway(app=only_another_proxy) as gateway:
        response = ask(gateway.url, issue_access_token(user), request_id="chosen-by-the-client")

    made = response.headers["X-Request-ID"]
    assert MADE.fullmatch(made)
    assert UsageRecord.objects.get(user=user).request_id == made
    assert dev_upstream.received[-1]["request_id"] == made


def test_an_id_passes_through_a_trusted_proxy_that_forwards_the_clients_address(gateway, user):
    """Behind nginx, the client's address replaces the proxy's (X-Forwarded-For), yet the proxy's id stands."""
    response = requests.get(
        f"{gateway.url}/healthz", headers={"X-Request-ID": "from-nginx", "X-Forwarded-For": "203.0.113.9"}, timeout=10
    )

    assert response.headers["X-Request-ID"] == "from-nginx"


def test_an_api_key_request_stores_its_id_too(gateway, user):
    _, key = create_api_key(user=user, name="script")

    response = ask(gateway.url, key, request_id="by-key-1")

    assert response.status_code == 200
    assert UsageRecord.objects.get(user=user).request_id == "by-key-1"


def test_its_log_lines_carry_the_id(gateway, user):
    console = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    written = io.StringIO()
    previous = console.setStream(written)
    try:
        response = ask(gateway.url, issue_access_token(user), request_id="logged-9", content="[dev:status=500]")
    finally:
        console.setStream(previous)

    assert response.status_code == 502
    lines = [line for line in written.getvalue().splitlines() if "upstream call failed" in line]
    assert lines
    assert all("[logged-9]" in line for line in lines)


def test_log_format_json_writes_one_json_object_a_line():
    code = (
        "import logging\n"
        "logging.getLogger('relay').warning('one line %s', 'here')\n"
        "try:\n    raise ValueError('sk-secret-text')\n"
        "except ValueError:\n    logging.getLogger('relay').exception('it failed')\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "--command", code],
        cwd=settings.BASE_DIR,
        env={**os.environ, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert [line["message"].split(" [")[0] for line in lines] == ["one line here", "it failed"]
    assert all({"timestamp", "level", "logger", "message", "request_id"} <= line.keys() for line in lines)
    assert lines[0]["level"] == "WARNING"
    assert lines[0]["logger"] == "relay"
    assert lines[0]["request_id"] == "-"
    assert lines[1]["exception"].startswith("ValueError at <string>:")
    assert "sk-secret-text" not in result.stderr
