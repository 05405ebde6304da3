"""LangChain's `ChatOpenAI(use_responses_api=True)` (pip `langchain-openai`, pinned in requirements-dev.txt)
against a live gateway, `invoke` and `stream`, once with a provider that speaks the Responses API and once with
one that speaks only chat completions (translated by the gateway). Its embeddings, `OpenAIEmbeddings`, are in
test_embeddings.py.

Nothing may reach the internet: LangSmith tracing is off, and every host name but the local ones is refused
(and noted) while a test runs, so that a tokenizer download or a trace would fail the test."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

NOTICE = "(development upstream, not a real model)"
pytestmark = pytest.mark.usefixtures("no_internet")


def _chat(gateway, user, model: str) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=f"{gateway.url}/v1",
        api_key=str(issue_access_token(user)),
        use_responses_api=True,
        max_retries=0,
        timeout=20,
    )


@pytest.fixture(params=["responses", "chat only"])
def model(request) -> str:
    if request.param == "chat only":
        request.getfixturevalue("chat_only")
        return "smart"
    return "gpt-4o-mini"


def test_chat_openai_invokes_through_the_responses_api(gateway, user, model):
    message = _chat(gateway, user, model).invoke("Say hello")

    assert message.text == f"{NOTICE} You said: Say hello"
    assert message.id.startswith("resp_")  # a Responses answer, not a chat completion
    assert message.usage_metadata["total_tokens"] > 0
    assert used_today(user) == 1
    assert set(UsageRecord.objects.values_list("endpoint", "status_code", "stream")) == {("responses", 200, False)}


def test_chat_openai_streams_through_the_responses_api(gateway, user, model):
    chunks = list(_chat(gateway, user, model).stream("Say hello [dev:chunks=5]"))

    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    assert len([chunk for chunk in chunks if chunk.text]) == 5  # the deltas, one by one
    whole = sum(chunks[1:], chunks[0])
    assert whole.text == f"{NOTICE} You said: Say hello"
    assert whole.usage_metadata["total_tokens"] > 0
    assert used_today(user) == 1
    assert set(UsageRecord.objects.values_list("endpoint", "status_code", "stream")) == {("responses", 200, True)}
