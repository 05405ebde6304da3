"""`/v1/responses` to a provider that speaks the Responses API (the implicit provider, which speaks every
endpoint, at the development upstream), through the real `openai` SDK over real HTTP: the request as sent,
the answer byte for byte, streamed as typed events; the accounting of chat completions; and response ids
usable by the user who made them alone."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from openai_api.tests.responses import NOTICE, WEATHER, post_response
from quota.models import Quota
from relay.models import ResponseOwner, UsageRecord

MODEL = "gpt-4o-mini"


def _post(gateway, user, body, **headers) -> requests.Response:
    return post_response(gateway, user, body, model=MODEL, **headers)


def _upstream_responses(dev_upstream) -> list[dict]:
    return [entry for entry in dev_upstream.received if entry["path"] == "/v1/responses"]


def test_it_answers_through_the_sdk_and_counts_the_reported_usage(sdk, user, dev_upstream):
    response = sdk().responses.create(model=MODEL, input="Say hello", instructions="Be brief.")

    assert response.object == "response"
    assert response.output_text == f"{NOTICE} You said: Say hello"
    assert response.id.startswith("resp_dev")  # the provider's own answer, unchanged
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.stream, record.estimated) == ("responses", 200, False, False)
    assert (record.prompt_tokens, record.completion_tokens) == (
        response.usage.input_tokens,
        response.usage.output_tokens,
    )
    assert used_today(user) == 1
    sent = _upstream_responses(dev_upstream)[-1]["body"]
    assert (sent["input"], sent["instructions"], sent["stream"]) == ("Say hello", "Be brief.", False)


def test_the_answer_is_the_providers_byte_for_byte(gateway, user):
    response = _post(gateway, user, {"input": "Hi"})

    assert response.status_code == 200
    assert response.json()["x_dev_notice"] == NOTICE  # a field no SDK knows, passed on as sent
    assert response.headers["x-upstream-request-id"].startswith("req-dev-")
    assert response.headers["x-ratelimit-remaining-requests"] == "9"


def test_it_streams_typed_events_through_the_sdk(sdk, user):
    events = list(sdk().responses.create(model=MODEL, input="Count to five", stream=True))

    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == f"{NOTICE} You said: Count to five"
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.stream, record.status_code, record.estimated) == ("responses", True, 200, False)
    assert record.completion_tokens == events[-1].response.usage.output_tokens
    assert record.ttfb_ms is not None


def test_a_stream_passes_each_event_with_its_name(gateway, user):
    response = _post(gateway, user, {"input": "Hi", "stream": True}, Accept="text/event-stream")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    blocks = [block for block in response.text.split("\n\n") if block]
    for block in blocks:
        name, data = block.split("\n")
        assert name.removeprefix("event: ") == json.loads(data.removeprefix("data: "))["type"]


def test_a_function_call_and_its_output_go_round_with_previous_response_id(sdk, user, dev_upstream):
    client = sdk()
    first = client.responses.create(model=MODEL, input="Weather in Paris? [dev:call]", tools=[WEATHER])
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call",
        "get_weather",
        {"q": "Weather in Paris?"},
    )

    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER],
    )

    assert second.output_text == f"{NOTICE} You said: sunny, 21 C"
    assert _upstream_responses(dev_upstream)[-1]["body"]["previous_response_id"] == first.id
    assert used_today(user) == 2


def test_a_function_call_goes_round_without_previous_response_id(sdk):
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
        store=False,
    )

    assert second.output_text == f"{NOTICE} You said: snow"


def test_its_maker_may_read_list_and_delete_a_response(sdk, user):
    client = sdk()
    made = client.responses.create(model=MODEL, input="Remember this")

    assert client.responses.retrieve(made.id).output_text == made.output_text
    items = list(client.responses.input_items.list(made.id))
    assert [item.content[0].text for item in items] == ["Remember this"]
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)
    assert not ResponseOwner.objects.filter(response_id=made.id).exists()
    assert used_today(user) == 1  # reading and deleting cost nothing


def test_another_user_gets_a_404_for_every_use_of_the_id(sdk, user, make_user, dev_upstream):
    made = sdk().responses.create(model=MODEL, input="Secret plans")
    other = make_user("bob")
    theirs = sdk(issue_access_token(other))
    asked_before = dev_upstream.received_count

    for attempt in (
        lambda: theirs.responses.retrieve(made.id),
        lambda: theirs.responses.delete(made.id),
        lambda: list(theirs.responses.input_items.list(made.id)),
        lambda: theirs.responses.cancel(made.id),
        lambda: theirs.responses.create(model=MODEL, input="And?", previous_response_id=made.id),
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            attempt()
        assert refused.value.body["message"] == f"Response with id '{made.id}' not found."

    assert dev_upstream.received_count == asked_before  # nothing reached the provider
    assert (used_today(other), UsageRecord.objects.filter(user=other).count()) == (0, 0)
    assert sdk().responses.retrieve(made.id).id == made.id  # still there for its maker


def test_an_unknown_id_is_openais_404(gateway, user):
    response = requests.get(
        f"{gateway.url}/v1/responses/resp_nothing",
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=10,
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_forcing_no_store_keeps_nothing_at_the_provider_or_the_gateway(sdk, settings, dev_upstream):
    settings.CHATGATEWAY_RESPONSES_FORCE_NO_STORE = True
    client = sdk()

    made = client.responses.create(model=MODEL, input="Forget me", store=True)
    streamed = list(client.responses.create(model=MODEL, input="Me too", stream=True))

    assert [entry["body"]["store"] for entry in _upstream_responses(dev_upstream)[-2:]] == [False, False]
    assert made.id not in dev_upstream.stored
    assert not ResponseOwner.objects.exists()
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=MODEL, input="And?", previous_response_id=streamed[-1].response.id)


def test_a_token_limit_lowers_max_output_tokens(gateway, user, dev_upstream):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=300)

    response = _post(gateway, user, {"input": "Hi", "max_output_tokens": 5000})
    _post(gateway, user, {"input": "Hi again", "stream": True})

    assert response.status_code == 200
    sent = [entry["body"]["max_output_tokens"] for entry in _upstream_responses(dev_upstream)[-2:]]
    assert sent[0] == 300
    assert 0 < sent[1] <= 300  # no cap asked: the tokens left, at most


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_upstream_is_a_5xx_that_costs_nothing(gateway, user, stream):
    response = _post(gateway, user, {"input": "Hi [dev:status=503]", "stream": stream})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_http_503"
    assert used_today(user) == 0
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.error) == ("responses", 502, "upstream_http_503")


def test_a_stream_failing_midway_ends_with_an_error_event_and_is_refunded(sdk, user):
    stream = sdk().responses.create(model=MODEL, input="Hi [dev:error_event]", stream=True)

    with pytest.raises(openai.APIError):
        list(stream)
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).error == "upstream_stream_error"


def test_bad_input_is_a_400_that_costs_nothing(gateway, user):
    for body in (
        {"input": ""},
        {"input": 3},
        {"input": "Hi", "max_output_tokens": 0},
        {"input": "Hi", "stream": "yes"},
    ):
        response = _post(gateway, user, body)
        assert response.status_code == 400, body
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"background": True}, "background"),
        ({"conversation": "conv_123"}, "conversation"),
        ({"input": [{"type": "item_reference", "id": "msg_someone_elses"}]}, "item_reference"),
    ],
)
def test_what_a_shared_key_cannot_check_or_charge_is_a_400_naming_it(gateway, user, dev_upstream, extra, named):
    asked_before = dev_upstream.received_count

    response = _post(gateway, user, {"input": "Hi", **extra})

    assert response.status_code == 400
    assert named in response.json()["error"]["message"]
    assert (used_today(user), UsageRecord.objects.count(), dev_upstream.received_count) == (0, 0, asked_before)


@pytest.mark.parametrize("stream", [False, True])
def test_its_request_id_is_in_the_answer_the_record_and_the_upstream_request(gateway, user, dev_upstream, stream):
    response = _post(gateway, user, {"input": "Hi", "stream": stream}, **{"X-Request-ID": "nginx-7f3a.43"})

    assert response.headers["X-Request-ID"] == "nginx-7f3a.43"
    assert _upstream_responses(dev_upstream)[-1]["request_id"] == "nginx-7f3a.43"
    assert UsageRecord.objects.get(user=user).request_id == "nginx-7f3a.43"


def test_a_streamed_response_can_be_read_back_as_soon_as_it_is_completed(sdk, user):
    client = sdk()
    stream = client.responses.create(model=MODEL, input="Quick", stream=True)

    for event in stream:
        if event.type == "response.completed":
            assert client.responses.retrieve(event.response.id).id == event.response.id
            assert used_today(user) == 1  # settled before its last event
