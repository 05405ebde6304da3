"""Every upstream fault on every relay endpoint, over real HTTP against a real server: the documented
status in the endpoint's own error shape, nothing charged, a usage record with the reason, the
upstream key nowhere (response or log), and no connection left open.

The faults the development upstream plays (`[dev:…]` directives) and three it cannot: a refused
connection (a closed port), a DNS failure (a host under `.invalid`, RFC 2606) and a connect timeout (a
listening socket whose backlog is full, so that the kernel drops the gateway's SYNs: bounded by
OPENAI_TIMEOUT, unlike an unroutable address, which this machine's network may refuse at once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import time

import pytest
import requests
from django.utils import translation

from accounts.tokens import issue_access_token
from conftest import used_today
from devtools.testing import free_port
from relay.models import UsageRecord
from relay.upstream import UpstreamBusy, UpstreamError, UpstreamMisconfigured, UpstreamTimeout

WRONG_KEY = "sk-wrong-upstream-key-that-must-never-show-0123456789"
TIMED_OUT = UpstreamTimeout.message


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    directive: str = ""  # in the prompt, for the development upstream
    base_url: str = ""  # "refused", "dns" or "backlog": an upstream that is not the development one
    wrong_key: bool = False
    status: int = 502
    reason: str = ""
    message: str = UpstreamError.message
    retry_after: str | None = None
    mid_stream: bool = False  # a streamed answer starts (200) and ends with an error event


FAULTS = [
    Fault("connection refused", base_url="refused", reason="upstream_unreachable"),
    Fault("DNS failure", base_url="dns", reason="upstream_unreachable"),
    Fault("connect timeout", base_url="backlog", status=504, reason="upstream_timeout", message=TIMED_OUT),
    Fault("read timeout", "[dev:delay=2]", status=504, reason="upstream_timeout", message=TIMED_OUT),
    Fault("500", "[dev:status=500]", reason="upstream_http_500"),
    Fault("502", "[dev:status=502]", reason="upstream_http_502"),
    Fault("503", "[dev:status=503]", reason="upstream_http_503"),
    Fault(
        "429",
        "[dev:status=429]",
        status=503,
        reason="upstream_rate_limited",
        message=UpstreamBusy.message,
        retry_after="7",
    ),
    Fault("401", wrong_key=True, reason="upstream_auth_401", message=UpstreamMisconfigured.message),
    Fault("body not JSON", "[dev:garbage]", reason="upstream_malformed_response"),
    Fault("connection dropped", "[dev:drop]", reason="upstream_unreachable"),
]
STREAM_FAULTS = [
    Fault("stream cut midway", "[dev:chunks=6] [dev:cut=3]", reason="upstream_stream_cut", mid_stream=True),
    Fault(
        "stream stalls",
        "[dev:chunks=6] [dev:stall=2]",
        status=504,
        reason="upstream_stream_stalled",
        message=TIMED_OUT,
        mid_stream=True,
    ),
]
# A body that is not JSON reaches a stream as a body that ends before its answer did.
STREAM_REASONS = {"upstream_malformed_response": "upstream_stream_cut"}
STREAMED = ["/v1 streamed", "/v1/completions streamed", "/v1/responses streamed"]
ENDPOINTS = ["/api", "/api/chat/", "/v1", "/v1/embeddings", "/v1/completions", "/v1/responses", *STREAMED]
CASES = [(fault, endpoint) for fault in FAULTS for endpoint in ENDPOINTS] + [
    (fault, endpoint) for fault in STREAM_FAULTS for endpoint in STREAMED
]
# The body of each /v1 endpoint's request for a prompt (the development upstream reads its directives there).
V1_BODIES = {
    "/v1": lambda prompt: {"messages": [{"role": "user", "content": prompt}]},
    "/v1/embeddings": lambda prompt: {"input": [prompt]},
    "/v1/completions": lambda prompt: {"prompt": prompt},
    "/v1/responses": lambda prompt: {"input": prompt},
}
V1_PATHS = {
    "/v1": "/v1/chat/completions",
    "/v1/embeddings": "/v1/embeddings",
    "/v1/completions": "/v1/completions",
    "/v1/responses": "/v1/responses",
}


@pytest.fixture
def full_backlog():
    """A port that listens but never accepts, its one-connection backlog taken: connects there time out."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()[1]


@pytest.fixture
def upstream_for(settings, dev_upstream, full_backlog):
    """Point the gateway at the fault's upstream; the port its sockets would connect to."""

    def point(fault: Fault) -> int:
        # 1 s, so that the timeouts' cases are quick; a name's lookup gets longer, since the resolver may be
        # slow on a loaded machine and the case is about its failure, not its time (it failed once so).
        settings.OPENAI_TIMEOUT = 5.0 if fault.base_url == "dns" else 1.0
        port = {"refused": free_port(), "dns": 80, "backlog": full_backlog, "": dev_upstream.port}[fault.base_url]
        host = "upstream.invalid" if fault.base_url == "dns" else "127.0.0.1"
        settings.OPENAI_BASE_URL = f"http://{host}:{port}/v1"
        if fault.wrong_key:
            settings.OPENAI_API_KEY = WRONG_KEY
        return port

    return point


def ask(gateway, user, endpoint: str, prompt: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {issue_access_token(user)}"}
    if endpoint == "/api":
        return requests.get(f"{gateway.url}/api", params={"q": prompt}, headers=headers, timeout=20)
    if endpoint == "/api/chat/":
        return requests.post(f"{gateway.url}/api/chat/", json={"prompt": prompt}, headers=headers, timeout=20)
    family = endpoint.removesuffix(" streamed")
    body = {"model": "gpt-4o-mini", **V1_BODIES[family](prompt)}
    if endpoint in STREAMED:
        body["stream"] = True
    return requests.post(f"{gateway.url}{V1_PATHS[family]}", json=body, headers=headers, timeout=20)


def error_message(endpoint: str, response: requests.Response) -> str:
    """The error's message in the endpoint's own shape (which this also checks)."""
    if endpoint == "/api":
        body = response.json()
        assert body["statu"] is False
        return body["message"]
    if endpoint == "/api/chat/":
        return response.json()["detail"]
    if response.status_code == 200:  # a stream that failed midway: its last event, with no [DONE]
        events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        error = json.loads(events[-1])["error"]
    else:
        error = response.json()["error"]
    assert error["type"] == "server_error"
    return error["message"]


def sockets_to(port: int) -> int:
    """This process's (the in-process gateway's) TCP sockets to `port`, in any state."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own descriptor, for one)
            inodes.add(os.readlink(f"/proc/self/fd/{fd}"))
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and f"socket:[{fields[9]}]" in inodes:
                    count += 1
    return count


def settles_at_or_below(read, baseline: int, seconds: float = 5.0) -> int:
    deadline = time.monotonic() + seconds
    while (value := read()) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.mark.parametrize(("fault", "endpoint"), CASES, ids=[f"{f.name} on {e}" for f, e in CASES])
def test_an_upstream_fault_gets_its_status_costs_nothing_is_recorded_and_leaks_nothing(
    gateway, user, dev_upstream, upstream_for, caplog, fault, endpoint
):
    port = upstream_for(fault)
    ask(gateway, user, endpoint, f"warm up {fault.directive}")  # the first meeting makes the clients
    UsageRecord.objects.all().delete()
    used_before = used_today(user)
    sockets = settles_at_or_below(lambda: sockets_to(port), 0, seconds=0)
    connections = dev_upstream.stats()["open_connections"]

    response = ask(gateway, user, endpoint, f"hello {fault.directive}")

    assert response.status_code == (200 if fault.mid_stream else fault.status)
    with translation.override("en"):  # the messages are translated; a request without Accept-Language gets English
        assert error_message(endpoint, response) == str(fault.message)
    assert response.headers.get("Retry-After") == fault.retry_after
    assert used_today(user) == used_before
    record = UsageRecord.objects.get(user=user)
    reason = STREAM_REASONS.get(fault.reason, fault.reason) if endpoint in STREAMED else fault.reason
    assert (record.status_code, record.error, record.total_tokens) == (fault.status, reason, 0)
    for key in (WRONG_KEY, dev_upstream.key):
        assert key not in response.text
        assert key not in str(response.headers)
        assert key not in caplog.text
    assert "Traceback" not in response.text
    assert "Traceback" not in caplog.text
    assert settles_at_or_below(lambda: sockets_to(port), sockets) <= sockets
    assert settles_at_or_below(lambda: dev_upstream.stats()["open_connections"], connections) <= connections


SECOND_KEY = "sk-second-provider-key-that-must-never-show-9876543210"
ENDPOINTS_SPOKEN = ("chat", "completions", "embeddings")
TWO_PROVIDER_FAULTS = [
    Fault("401", wrong_key=True, reason="upstream_auth_401", message=UpstreamMisconfigured.message),
    Fault("500", "[dev:status=500]", reason="upstream_http_500"),
    Fault("connection refused", base_url="refused", reason="upstream_unreachable"),
]
TWO_PROVIDER_CASES = [(fault, endpoint) for fault in TWO_PROVIDER_FAULTS for endpoint in ENDPOINTS]


@pytest.mark.parametrize(
    ("fault", "endpoint"), TWO_PROVIDER_CASES, ids=[f"{f.name} on {e}" for f, e in TWO_PROVIDER_CASES]
)
def test_two_failing_providers_cost_nothing_and_leak_neither_key_nor_address(
    gateway, user, routes, upstreams, caplog, fault, endpoint
):
    """The model the endpoints use by default, on two configured providers that both fail the same way:
    neither provider's key, address or name reaches the client or the log; the record keeps reason codes."""
    first_upstream = upstreams(fault=fault.directive)
    second_upstream = upstreams(key=SECOND_KEY, fault=fault.directive)
    urls = [first_upstream.url, second_upstream.url]
    if fault.base_url == "refused":
        urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in urls]
    keys = [(WRONG_KEY,), (f"{SECOND_KEY}-wrong",)] if fault.wrong_key else [(first_upstream.key,), (SECOND_KEY,)]
    speaking = {"endpoints": list(ENDPOINTS_SPOKEN)}  # no `responses`: /v1/responses goes translated, to chat
    first = routes.provider("first-provider", urls[0], keys=keys[0], **speaking)
    second = routes.provider("second-provider", urls[1], keys=keys[1], **speaking)
    routes.model("gpt-4o-mini", (first, "model-one", 1), (second, "model-two", 2))
    routes.load()

    response = ask(gateway, user, endpoint, f"hello {fault.directive}")

    assert response.status_code == fault.status
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.error, record.attempts) == (fault.reason, 2)
    secrets_ = [WRONG_KEY, SECOND_KEY, first_upstream.key, *urls, "first-provider", "second-provider"]
    for secret in secrets_:
        assert secret not in response.text
        assert secret not in str(response.headers)
        assert secret not in caplog.text or secret.endswith("-provider")  # names may be logged, never sent
    for secret in (WRONG_KEY, SECOND_KEY, first_upstream.key, *urls):
        assert secret not in json.dumps(record.failed_attempts)
