"""The OpenAI Agents SDK (`openai-agents`) with its default settings, which speak the Responses API, against
a live gateway: one function tool, `Runner.run` and `Runner.run_streamed`, once with a provider that speaks
the Responses API and once with one that speaks only chat completions (translated by the gateway). The
development upstream calls the tool when the question says `[dev:call]`, then echoes the tool's output."""

from __future__ import annotations

import asyncio

import openai
import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.models.openai_provider import OpenAIProvider

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

NOTICE = "(development upstream, not a real model)"
asked: list[str] = []


@function_tool
def get_weather(q: str) -> str:
    """The weather in a city."""
    asked.append(q)
    return "sunny, 21 C"


def _run(gateway, user, model: str, *, streamed: bool) -> str:
    async def run() -> str:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=issue_access_token(user), max_retries=0)
        # The SDK's defaults (the Responses API), with the gateway as the client; no traces sent anywhere.
        config = RunConfig(model_provider=OpenAIProvider(openai_client=client), tracing_disabled=True)
        agent = Agent(name="Weather", instructions="Answer briefly.", tools=[get_weather], model=model)
        question = "Weather in Paris? [dev:call]"
        if not streamed:
            return (await Runner.run(agent, question, run_config=config)).final_output
        result = Runner.run_streamed(agent, question, run_config=config)
        async for _ in result.stream_events():
            pass
        return result.final_output

    return asyncio.run(run())


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("provider", ["responses", "chat only"])
def test_an_agent_calls_its_tool_and_answers_through_the_gateway(gateway, user, request, provider, streamed):
    model = "gpt-4o-mini"
    if provider == "chat only":
        request.getfixturevalue("chat_only")
        model = "smart"
    asked.clear()

    answer = _run(gateway, user, model, streamed=streamed)

    assert asked == ["Weather in Paris?"]
    assert answer == f"{NOTICE} You said: sunny, 21 C"
    assert used_today(user) == 2  # the call, then the answer
    assert set(UsageRecord.objects.values_list("endpoint", "status_code", "stream")) == {("responses", 200, streamed)}
