"""The bad-input audit, as a table: each kind of bad input, sent over real HTTP to each relay endpoint
that can receive it, gets a 4xx with a clear message in that endpoint's error shape, costs the user
nothing, and leaves the server serving the next request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

MODEL = "gpt-4o-mini"
HUGE_HEADER = {"X-Filler": "x" * 32_000}  # over the 16 KiB default, and small enough to arrive at once
BAD_UTF8_MESSAGE = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\xff"}]}'


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str

    def good(self) -> dict[str, Any]:
        return self.request(prompt="hello")

    def request(self, *, prompt: str | None = None, messages: list | None = None, **body: Any) -> dict[str, Any]:
        """Keyword arguments for `requests.request` that send this prompt or conversation."""
        if self.name == "chatapi":
            return {"params": {"q": prompt}}
        if self.name == "chat":
            return {"json": {"prompt": prompt, **body} if messages is None else {"messages": messages, **body}}
        if self.name in PROMPT_FIELD:
            return {"json": {"model": MODEL, PROMPT_FIELD[self.name]: prompt, **body}}
        messages = messages if messages is not None else [{"role": "user", "content": prompt}]
        return {"json": {"model": MODEL, "messages": messages, **body}}

    def message_of(self, response: requests.Response) -> str:
        body = response.json()
        if self.name == "chatapi":
            assert body["statu"] is False
            return body["message"]
        if self.name in ("v1", *PROMPT_FIELD):
            return body["error"]["message"]
        return json.dumps(body)  # DRF: {"detail": …} or {"<field>": [...]}


CHATAPI = Endpoint("chatapi", "GET", "/api")
CHAT = Endpoint("chat", "POST", "/api/chat/")
V1 = Endpoint("v1", "POST", "/v1/chat/completions")
EMBEDDINGS = Endpoint("embeddings", "POST", "/v1/embeddings")
COMPLETIONS = Endpoint("completions", "POST", "/v1/completions")
RESPONSES = Endpoint("responses", "POST", "/v1/responses")
PROMPT_FIELD = {"embeddings": "input", "completions": "prompt", "responses": "input"}  # where their text goes


def raw_json(text: bytes) -> dict[str, Any]:
    return {"data": text, "headers": {"Content-Type": "application/json"}}


def conversation(endpoint: Endpoint, messages: list) -> dict[str, Any]:
    return endpoint.request(messages=messages)


def over_the_body_limit(endpoint: Endpoint) -> dict[str, Any]:
    return {**endpoint.request(prompt="hello"), **raw_json(b"x" * 2_000_000)}


# (name, endpoint, the request's keyword arguments, status, words the message must contain)
CASES = [
    ("not JSON", CHAT, raw_json(b"{nope"), 400, "not valid JSON"),
    ("not JSON", V1, raw_json(b"{nope"), 400, "not valid JSON"),
    ("wrong shape: a list", CHAT, {"json": ["hello"]}, 400, "non_field_errors"),
    ("wrong shape: a list", V1, {"json": ["hello"]}, 400, "Invalid data"),
    ("wrong type: a number", CHAT, CHAT.request(prompt=42), 400, "prompt"),
    ("wrong type: a number", V1, V1.request(prompt=42), 400, "content"),
    ("wrong type: messages", V1, V1.request(messages="hello"), 400, "messages"),
    ("empty prompt", CHATAPI, CHATAPI.request(prompt=""), 400, "Missing question"),
    ("empty prompt", CHAT, CHAT.request(prompt=""), 400, "blank"),
    ("empty prompt", V1, V1.request(prompt=""), 400, "no text"),
    ("whitespace prompt", CHATAPI, CHATAPI.request(prompt=" \t\n "), 400, "Missing question"),
    ("whitespace prompt", CHAT, CHAT.request(prompt=" \t\n "), 400, "blank"),
    ("whitespace prompt", V1, V1.request(prompt=" \t\n "), 400, "no text"),
    ("prompt over the limit", CHATAPI, CHATAPI.request(prompt="x" * 8001), 400, "the limit is 8000"),
    ("prompt over the limit", CHAT, CHAT.request(prompt="x" * 8001), 400, "the limit is 8000"),
    ("prompt over the limit", V1, V1.request(prompt="x" * 8001), 400, "the limit is 8000"),
    ("too many messages", CHAT, conversation(CHAT, [{"role": "user", "content": "x"}] * 101), 400, "limit is 100"),
    ("too many messages", V1, conversation(V1, [{"role": "user", "content": "x"}] * 101), 400, "limit is 100"),
    ("body over the limit", CHATAPI, over_the_body_limit(CHATAPI), 413, "limit is 1024 KiB"),
    ("body over the limit", CHAT, over_the_body_limit(CHAT), 413, "limit is 1024 KiB"),
    ("body over the limit", V1, over_the_body_limit(V1), 413, "limit is 1024 KiB"),
    ("unknown role", CHAT, conversation(CHAT, [{"role": "wizard", "content": "hi"}]), 400, "Must be one of"),
    ("unknown role", V1, conversation(V1, [{"role": "wizard", "content": "hi"}]), 400, "Must be one of"),
    ("unknown model", CHAT, CHAT.request(prompt="hi", model="gpt-9"), 400, "gpt-9"),
    ("unknown model", V1, {"json": {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}}, 404, "gpt-9"),
    ("invalid UTF-8", CHATAPI, {"params": "q=%FF%FEhello"}, 400, "not valid UTF-8"),
    ("invalid UTF-8", CHAT, raw_json(b'{"prompt": "\xff\xfehello"}'), 400, "not valid Unicode"),
    ("invalid UTF-8", V1, raw_json(BAD_UTF8_MESSAGE), 400, "not valid Unicode"),
    ("q given twice", CHATAPI, {"params": [("q", "one"), ("q", "two")]}, 400, "Give the question once"),
    ("huge header", CHATAPI, {**CHATAPI.good(), "headers": HUGE_HEADER}, 431, ""),
    ("huge header", CHAT, {**CHAT.good(), "headers": HUGE_HEADER}, 431, ""),
    ("huge header", V1, {**V1.good(), "headers": HUGE_HEADER}, 431, ""),
]
# The same audit of the endpoints that take a prompt (or an input) as text or tokens, not messages.
for prompted in (EMBEDDINGS, COMPLETIONS):
    field = PROMPT_FIELD[prompted.name]
    CASES += [
        ("not JSON", prompted, raw_json(b"{nope"), 400, "not valid JSON"),
        ("wrong shape: a list", prompted, {"json": ["hello"]}, 400, "Invalid data"),
        ("wrong type: a number", prompted, prompted.request(prompt=42), 400, "Must be a string"),
        ("wrong type: a list of objects", prompted, prompted.request(prompt=[{"text": "hi"}]), 400, "Must be a string"),
        ("empty prompt", prompted, prompted.request(prompt=""), 400, "no text"),
        ("empty list", prompted, prompted.request(prompt=[]), 400, "no text"),
        ("whitespace prompt", prompted, prompted.request(prompt=" \t\n "), 400, "no text"),
        ("prompt over the limit", prompted, prompted.request(prompt="x" * 8001), 400, "the limit is 8000"),
        ("tokens over the limit", prompted, prompted.request(prompt=[7] * 2001), 400, "the limit is 8000"),
        ("body over the limit", prompted, over_the_body_limit(prompted), 413, "limit is 1024 KiB"),
        ("unknown model", prompted, {"json": {"model": "gpt-9", field: "hi"}}, 404, "gpt-9"),
        ("invalid UTF-8", prompted, raw_json(f'{{"model": "{MODEL}", "{field}": "\xff"}}'.encode("latin-1")), 400,
         "not valid Unicode"),
        ("huge header", prompted, {**prompted.good(), "headers": HUGE_HEADER}, 431, ""),
    ]  # fmt: skip
CASES += [
    ("not JSON", RESPONSES, raw_json(b"{nope"), 400, "not valid JSON"),
    ("wrong shape: a list", RESPONSES, {"json": ["hello"]}, 400, "Invalid data"),
    ("wrong type: a number", RESPONSES, RESPONSES.request(prompt=42), 400, "Must be a string"),
    ("wrong type: a list of tokens", RESPONSES, RESPONSES.request(prompt=[7, 8]), 400, "input items"),
    ("empty prompt", RESPONSES, RESPONSES.request(prompt=""), 400, "no text"),
    ("empty list", RESPONSES, RESPONSES.request(prompt=[]), 400, "no text"),
    ("whitespace prompt", RESPONSES, RESPONSES.request(prompt=" \t\n "), 400, "no text"),
    ("prompt over the limit", RESPONSES, RESPONSES.request(prompt="x" * 8001), 400, "the limit is 8000"),
    ("instructions over the limit", RESPONSES, RESPONSES.request(prompt="hi", instructions="x" * 8000), 400,
     "the limit is 8000"),
    ("no output tokens", RESPONSES, RESPONSES.request(prompt="hi", max_output_tokens=0), 400, "max_output_tokens"),
    ("body over the limit", RESPONSES, over_the_body_limit(RESPONSES), 413, "limit is 1024 KiB"),
    ("unknown model", RESPONSES, {"json": {"model": "gpt-9", "input": "hi"}}, 404, "gpt-9"),
    ("invalid UTF-8", RESPONSES, raw_json(f'{{"model": "{MODEL}", "input": "\xff"}}'.encode("latin-1")), 400,
     "not valid Unicode"),
    ("huge header", RESPONSES, {**RESPONSES.good(), "headers": HUGE_HEADER}, 431, ""),
]  # fmt: skip
CASES += [
    ("negative max_tokens", V1, V1.request(prompt="hi", max_tokens=-5), 400, "max_tokens"),
    ("max_tokens as text", V1, V1.request(prompt="hi", max_tokens="10"), 400, "max_tokens"),
    ("max_tokens as a float", V1, V1.request(prompt="hi", max_tokens=1e24), 400, "max_tokens"),
    ("no completion tokens", V1, V1.request(prompt="hi", max_completion_tokens=0), 400, "max_completion_tokens"),
    ("negative max_tokens", COMPLETIONS, COMPLETIONS.request(prompt="hi", max_tokens=-1), 400, "max_tokens"),
    ("too many inputs", EMBEDDINGS, EMBEDDINGS.request(prompt=["x"] * 2049), 400, "the limit is 2048"),
    ("too many prompts", COMPLETIONS, COMPLETIONS.request(prompt=["x"] * 101), 400, "the limit is 100"),
]


@pytest.mark.parametrize(
    ("endpoint", "bad", "status", "says"),
    [case[1:] for case in CASES],
    ids=[f"{case[1].name}: {case[0]}" for case in CASES],
)
def test_bad_input_gets_a_clear_4xx_costs_nothing_and_the_server_goes_on(gateway, user, endpoint, bad, status, says):
    auth = {"Authorization": f"Bearer {issue_access_token(user)}"}
    url = f"{gateway.url}{endpoint.path}"

    response = requests.request(
        endpoint.method, url, **{**bad, "headers": {**auth, **bad.get("headers", {})}}, timeout=20
    )

    assert response.status_code == status
    if says:
        assert says in endpoint.message_of(response)
    assert "Traceback" not in response.text
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()
    assert requests.request(endpoint.method, url, **endpoint.good(), headers=auth, timeout=20).status_code == 200
    assert used_today(user) == 1
