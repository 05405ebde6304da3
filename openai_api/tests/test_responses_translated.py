"""`/v1/responses` for a model whose provider speaks only chat completions (`endpoints: [chat]`, at a
development upstream that serves no Responses API): the gateway translates the request into a chat
completion and the answer (or its chunks, as they arrive) back into a Responses object (or its typed
events), keeps the response for its maker, and refuses what chat cannot express before anything is charged.
Through the real `openai` SDK over real HTTP."""

from __future__ import annotations

import json
import time

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from openai_api.tests.responses import NOTICE, WEATHER, post_response
from quota.models import Quota
from relay.models import ResponseOwner, UsageRecord

MODEL = "smart"  # served by the chat-only provider of the `chat_only` fixture (conftest.py)


def _post(gateway, user, body, **headers) -> requests.Response:
    return post_response(gateway, user, body, model=MODEL, **headers)


def _chat_requests(upstream) -> list[dict]:
    return [entry["body"] for entry in upstream.received if entry["path"] == "/v1/chat/completions"]


def test_it_answers_through_chat_and_speaks_responses_back(sdk, user, chat_only):
    response = sdk().responses.create(model=MODEL, input="Say hello", instructions="Be brief.", temperature=0.2)

    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert (response.model, response.status) == (MODEL, "completed")
    assert response.output_text == f"{NOTICE} You said: Say hello"
    assert response.output[0].type == "message"
    sent = _chat_requests(chat_only)[-1]
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    assert (sent["model"], sent["temperature"]) == ("qwen-local", 0.2)
    usage = response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.provider) == ("responses", 200, "local")
    assert (record.prompt_tokens, record.completion_tokens) == (usage.input_tokens, usage.output_tokens)
    assert used_today(user) == 1


def test_it_streams_chat_chunks_as_responses_events_as_they_arrive(sdk, user, chat_only):
    events = list(sdk().responses.create(model=MODEL, input="Count to five", stream=True))

    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1  # one event per chunk, not the answer at once
    assert "".join(deltas) == f"{NOTICE} You said: Count to five"
    completed = events[-1].response
    assert completed.output_text == "".join(deltas)
    assert completed.usage.output_tokens == UsageRecord.objects.get(user=user).completion_tokens > 0
    assert _chat_requests(chat_only)[-1]["stream_options"] == {"include_usage": True}


def test_events_arrive_one_by_one(gateway, user, chat_only):
    response = requests.post(
        f"{gateway.url}/v1/responses",
        json={"model": MODEL, "input": "Hi [dev:chunks=4] [dev:interval=0.3]", "stream": True},
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Accept": "text/event-stream"},
        stream=True,
        timeout=20,
    )
    arrivals = []
    for line in response.iter_lines():
        if line.startswith(b"event: response.output_text.delta"):
            arrivals.append(time.monotonic())
    assert response.headers["Content-Type"] == "text/event-stream"
    assert len(arrivals) == 4
    assert arrivals[-1] - arrivals[0] > 0.6  # passed on as the chunks came, not gathered


def test_a_function_call_and_its_output_go_round_with_previous_response_id(sdk, user, chat_only):
    client = sdk()
    first = client.responses.create(model=MODEL, input="Weather in Paris? [dev:call]", tools=[WEATHER])
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call",
        "get_weather",
        {"q": "Weather in Paris?"},
    )
    sent = _chat_requests(chat_only)[-1]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {k: WEATHER[k] for k in ("name", "description", "parameters")},
        }
    ]

    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER],
    )

    assert second.output_text == f"{NOTICE} You said: sunny, 21 C"
    history = _chat_requests(chat_only)[-1]["messages"]
    assert history[0] == {"role": "user", "content": "Weather in Paris? [dev:call]"}
    assert history[1]["tool_calls"][0]["id"] == call.call_id
    assert history[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": call.arguments}
    assert history[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny, 21 C"}
    assert second.previous_response_id == first.id
    assert used_today(user) == 2


def test_a_streamed_function_call_comes_as_its_events(sdk, chat_only):
    events = list(
        sdk().responses.create(model=MODEL, input="Weather in Rome? [dev:call]", tools=[WEATHER], stream=True)
    )

    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(event for event in events if event.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"q": "Weather in Rome?"}
    call = events[-1].response.output[0]
    assert (call.type, call.name, call.arguments) == ("function_call", "get_weather", done.arguments)


def test_a_function_call_goes_round_without_previous_response_id(sdk, chat_only):
    client = sdk()
    question = [{"role": "user", "content": "Weather in Oslo? [dev:call]"}]
    first = client.responses.create(model=MODEL, input=question, tools=[WEATHER], store=False)
    call = first.output[0]

    second = client.responses.create(
        model=MODEL,
        input=[
            *question,
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "snow"},
        ],
        tools=[WEATHER],
        tool_choice="auto",
        store=False,
    )

    assert second.output_text == f"{NOTICE} You said: snow"
    assert _chat_requests(chat_only)[-1]["tool_choice"] == "auto"
    assert not ResponseOwner.objects.exists()  # store: false keeps nothing


def test_its_maker_reads_lists_and_deletes_what_the_gateway_kept(sdk, chat_only):
    client = sdk()
    made = client.responses.create(model=MODEL, input=[{"role": "user", "content": "Remember this"}])

    assert client.responses.retrieve(made.id).output_text == made.output_text
    items = list(client.responses.input_items.list(made.id))
    assert [(item.type, item.role, item.content[0].text) for item in items] == [("message", "user", "Remember this")]
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(made.id)  # only a background response can be cancelled
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_another_user_gets_a_404_for_every_use_of_the_id(sdk, user, make_user, chat_only):
    made = sdk().responses.create(model=MODEL, input="Secret plans")
    other = make_user("bob")
    theirs = sdk(issue_access_token(other))

    for attempt in (
        lambda: theirs.responses.retrieve(made.id),
        lambda: theirs.responses.delete(made.id),
        lambda: list(theirs.responses.input_items.list(made.id)),
        lambda: theirs.responses.create(model=MODEL, input="And?", previous_response_id=made.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()

    assert (used_today(other), UsageRecord.objects.filter(user=other).count()) == (0, 0)
    assert sdk().responses.retrieve(made.id).output_text == made.output_text


def test_forcing_no_store_keeps_nothing(sdk, settings, chat_only):
    settings.CHATGATEWAY_RESPONSES_FORCE_NO_STORE = True
    client = sdk()

    made = client.responses.create(model=MODEL, input="Forget me")
    streamed = list(client.responses.create(model=MODEL, input="Me too", stream=True))

    assert made.store is False
    assert streamed[-1].response.store is False
    assert not ResponseOwner.objects.exists()
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"tools": [{"type": "web_search"}]}, "web_search"),
        ({"tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "file_search"),
        ({"tools": [{"type": "custom", "name": "grammar"}]}, "custom"),
        ({"background": True}, "background"),
        ({"tool_choice": {"type": "web_search_preview"}}, "web_search_preview"),
    ],
)
def test_what_chat_cannot_express_is_a_400_naming_it_that_costs_nothing(gateway, user, chat_only, extra, named):
    asked_before = chat_only.received_count

    response = _post(gateway, user, {"input": "Hi", **extra})

    assert response.status_code == 400
    assert named in response.json()["error"]["message"]
    assert (used_today(user), UsageRecord.objects.count(), chat_only.received_count) == (0, 0, asked_before)


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_upstream_is_a_5xx_that_costs_nothing(gateway, user, chat_only, stream):
    response = _post(gateway, user, {"input": "Hi [dev:status=500]", "stream": stream})

    assert response.status_code == 502
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.error) == ("responses", "upstream_http_500")


def test_a_stream_failing_midway_ends_with_an_error_event_and_is_refunded(sdk, user, chat_only):
    with pytest.raises(openai.APIError):
        list(sdk().responses.create(model=MODEL, input="Hi [dev:error_event]", stream=True))

    assert used_today(user) == 0
    assert not ResponseOwner.objects.exists()


def test_a_token_limit_lowers_the_cap_sent_as_max_tokens(gateway, user, chat_only):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=300)

    response = _post(gateway, user, {"input": "Hi", "max_output_tokens": 5000})
    streamed = _post(gateway, user, {"input": "Hi", "max_output_tokens": 5000, "stream": True})

    assert [body["max_tokens"] for body in _chat_requests(chat_only)[-2:]] == [
        300,
        300 - response.json()["usage"]["total_tokens"],
    ]
    assert response.json()["max_output_tokens"] == 300
    completed = json.loads(streamed.text.rstrip().rsplit("data: ", 1)[1])
    assert completed["response"]["max_output_tokens"] == _chat_requests(chat_only)[-1]["max_tokens"]


def test_a_cut_answer_is_incomplete(sdk, chat_only):
    response = sdk().responses.create(model=MODEL, input="one two three four five six", max_output_tokens=3)

    assert _chat_requests(chat_only)[-1]["max_tokens"] == 3
    assert (response.status, response.incomplete_details.reason) == ("incomplete", "max_output_tokens")


def test_a_json_schema_format_becomes_chats_response_format(sdk, chat_only):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    sdk().responses.create(
        model=MODEL,
        input="Hi",
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
    )

    assert _chat_requests(chat_only)[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }


def test_without_reported_usage_it_estimates_and_says_so(sdk, user, chat_only):
    response = sdk().responses.create(model=MODEL, input="Hi [dev:nousage]")

    record = UsageRecord.objects.get(user=user)
    assert record.estimated
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        record.prompt_tokens,
        record.completion_tokens,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_its_request_id_is_in_the_answer_the_record_and_the_chat_request(gateway, user, chat_only, stream):
    response = _post(gateway, user, {"input": "Hi", "stream": stream}, **{"X-Request-ID": "nginx-7f3a.44"})

    assert response.headers["X-Request-ID"] == "nginx-7f3a.44"
    assert chat_only.received[-1]["request_id"] == "nginx-7f3a.44"
    assert UsageRecord.objects.get(user=user).request_id == "nginx-7f3a.44"


def test_a_streamed_response_can_be_read_back_as_soon_as_it_is_completed(sdk, user, chat_only):
    client = sdk()

    for event in client.responses.create(model=MODEL, input="Quick", stream=True):
        if event.type == "response.completed":
            assert client.responses.retrieve(event.response.id).output_text == event.response.output_text
            assert used_today(user) == 1
