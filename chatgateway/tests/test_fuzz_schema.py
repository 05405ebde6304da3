"""Schemathesis fuzzes every operation of the gateway's OpenAPI schema against the live gateway.

The schema is the one /api/schema/ serves, made when the tests are collected, so each operation is a
test of its own and an endpoint merged later is fuzzed too, with no change here. The gateway is
uvicorn on the test database, relaying to the development upstream. Every response must be no 5xx
(the upstream is healthy, so even a 502 is a bug here), and have a status code, content type,
headers and body the schema allows. A failure names the operation (the test's id, e.g.
`[POST /api/chat/]`) and the check that failed (e.g. `Response violates schema`), with a curl
command that reproduces it.

Bounded and deterministic: a fixed number of examples per operation, derandomized (the same inputs
every run), no example database."""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key
from core.openapi import openapi_document

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Target:
    url: str
    credentials: dict[str, str]  # by security scheme name


@pytest.fixture
def target(gateway, settings, make_user) -> Target:
    """The live gateway, and credentials of a user whose quota no fuzz run can exhaust."""
    # A fuzzed prompt that happened to hold `[dev:delay=…]` or `[dev:stall=…]` would make the development
    # upstream wait: the gateway gives up after this long (and the 504 fails the run), so no example
    # takes longer.
    settings.OPENAI_TIMEOUT = 1.0
    settings.CHATGATEWAY_STORE_TEXT = True  # every fuzzed text then goes to the database too
    user = make_user("fuzzer", daily_limit=10**9)
    _, raw_key = create_api_key(user=user, name="fuzz")
    target = Target(gateway.url, {"jwtAuth": str(issue_access_token(user)), "apiKeyAuth": raw_key})
    _make_usage_records(target)
    return target


def _make_usage_records(target: Target) -> None:
    """An answer, an upstream failure and a stream, so that /api/usage/ lists real records of each kind."""
    headers = {"Authorization": f"Bearer {target.credentials['apiKeyAuth']}"}
    conversation = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    statuses = [
        requests.post(f"{target.url}{path}", json=body, headers=headers, timeout=10).status_code
        for path, body in [
            ("/api/chat/", {"prompt": "hello"}),
            ("/api/chat/", {"prompt": "[dev:status=500]"}),
            ("/v1/chat/completions", conversation),
        ]
    ]
    assert statuses == [200, 502, 200]


# The schema is made at collection, so that each operation is a test of its own.
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {"generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none"}}
    ),
)


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck), print_blob=False)
def test_every_operation_answers_as_its_schema_says(case, target):
    # The first scheme the operation takes: an API key wherever one is taken, a JWT elsewhere.
    security = case.operation.definition.raw.get("security") or [{}]
    schemes = [name for requirement in security for name in requirement]
    headers = {"Authorization": f"Bearer {target.credentials[schemes[0]]}"} if schemes else {}
    case.call_and_validate(base_url=target.url, headers=headers, checks=CHECKS)
