"""The legacy `POST /v1/completions` through the real `openai` SDK over real HTTP, streamed and not: the
upstream's answer unchanged, `max_tokens` capped to the reserved budget as chat's is, and the same
accounting, faults and errors as chat completions."""

from __future__ import annotations

import json
import time

import openai
import pytest
import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from quota.models import Quota
from quota.services import quota_status
from relay.models import UsageRecord

MODEL = "gpt-3.5-turbo-instruct"
NOTICE = "(development upstream, not a real model)"


@pytest.fixture(autouse=True)
def instruct_model_allowed(settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", MODEL]


@pytest.fixture
def token_limited(user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)
    return user


def _post(gateway, user, body, **headers) -> requests.Response:
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", **headers}
    return requests.post(f"{gateway.url}/v1/completions", json={"model": MODEL, **body}, headers=headers, timeout=20)


def _events(response: requests.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]


def test_it_completes_through_the_sdk(sdk, user):
    completion = sdk().completions.create(model=MODEL, prompt="Say this is a test", max_tokens=50)

    assert completion.object == "text_completion"
    assert completion.choices[0].text == f"{NOTICE} You said: Say this is a test"
    assert completion.choices[0].finish_reason == "stop"
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.stream, record.estimated) == ("completions", 200, False, False)
    assert record.total_tokens == completion.usage.total_tokens
    assert used_today(user) == 1


def test_it_streams_through_the_sdk(sdk, user):
    stream = sdk().completions.create(
        model=MODEL, prompt="Count", max_tokens=50, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text == f"{NOTICE} You said: Count"
    assert chunks[-1].usage.total_tokens > 0
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.stream, record.status_code) == ("completions", True, 200)
    assert record.total_tokens == chunks[-1].usage.total_tokens
    assert record.ttfb_ms is not None


def test_a_stream_passes_the_usage_chunk_on_only_when_asked(gateway, user):
    response = _post(gateway, user, {"prompt": "Hi", "stream": True, "max_tokens": 50})

    events = _events(response)
    assert all(event["choices"] for event in events)
    assert response.text.endswith("data: [DONE]\n\n")
    assert UsageRecord.objects.get(user=user).estimated is False  # the gateway asked for the usage itself


def test_it_streams_to_a_client_that_accepts_only_event_streams(gateway, user):
    response = _post(gateway, user, {"prompt": "Hi", "stream": True}, Accept="text/event-stream")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.text.endswith("data: [DONE]\n\n")


def test_it_answers_each_prompt_of_a_list(sdk):
    completion = sdk().completions.create(model=MODEL, prompt=["one", "two"], max_tokens=50)

    assert [(choice.index, choice.text.rsplit(" ", 1)[1]) for choice in completion.choices] == [(0, "one"), (1, "two")]


def test_it_caps_max_tokens_to_what_is_left(gateway, token_limited, dev_upstream):
    _post(gateway, token_limited, {"prompt": "Hi", "max_tokens": 5000})

    assert dev_upstream.received[-1]["body"]["max_tokens"] == 1000


def test_each_prompt_and_choice_shares_the_budget(gateway, token_limited, dev_upstream):
    _post(gateway, token_limited, {"prompt": ["a", "b"], "max_tokens": 500, "n": 2})

    assert dev_upstream.received[-1]["body"]["max_tokens"] == 1000 // 4


def test_an_echo_with_no_completion_keeps_its_max_tokens_of_0_under_a_token_limit(gateway, token_limited, dev_upstream):
    _post(gateway, token_limited, {"prompt": "Hi", "max_tokens": 0, "echo": True})

    assert dev_upstream.received[-1]["body"]["max_tokens"] == 0  # not raised to the 16 reserved


def test_without_max_tokens_it_reserves_openais_default_of_16(gateway, token_limited, dev_upstream):
    response = _post(gateway, token_limited, {"prompt": "Hi", "stream": True})

    assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - 16)
    assert dev_upstream.received[-1]["body"]["max_tokens"] == 16


def test_it_leaves_max_tokens_alone_without_a_token_limit(gateway, user, dev_upstream):
    _post(gateway, user, {"prompt": "Hi"})

    assert "max_tokens" not in dev_upstream.received[-1]["body"]


def test_the_upstream_honours_the_cap(sdk):
    completion = sdk().completions.create(model=MODEL, prompt="Hi", max_tokens=3)

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_it_settles_the_reported_usage_and_carries_the_rate_limit_headers(gateway, token_limited):
    response = _post(gateway, token_limited, {"prompt": "three words here", "max_tokens": 100})

    total = response.json()["usage"]["total_tokens"]
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - total)
    assert quota_status(user_id=token_limited.pk).tokens_used_today == total


@pytest.mark.parametrize("stream", [False, True])
def test_without_reported_usage_it_estimates_the_prompt_and_the_text_and_marks_it(gateway, user, stream):
    prompt = "[dev:nousage] abcd"
    response = _post(gateway, user, {"prompt": prompt, "stream": stream, "max_tokens": 50})

    if stream:
        text = "".join(event["choices"][0]["text"] for event in _events(response))
    else:
        text = response.json()["choices"][0]["text"]
    record = UsageRecord.objects.get(user=user)
    assert record.estimated
    assert record.prompt_tokens == 5  # 18 ASCII characters
    assert record.completion_tokens == -(-len(text) // 4) > 0


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("directive", "status"), [("[dev:status=500]", 502), ("[dev:delay=2]", 504)])
def test_an_upstream_failure_is_refunded_and_recorded(gateway, token_limited, settings, directive, status, stream):
    settings.OPENAI_TIMEOUT = 1.0

    response = _post(gateway, token_limited, {"prompt": f"hi {directive}", "stream": stream})

    assert response.status_code == status
    assert used_today(token_limited) == 0
    assert quota_status(user_id=token_limited.pk).tokens_remaining == 1000
    record = UsageRecord.objects.get(user=token_limited)
    assert (record.endpoint, record.status_code, record.stream) == ("completions", status, stream)


def test_a_stream_cut_midway_ends_with_an_error_event_and_costs_nothing(sdk, user):
    stream = sdk().completions.create(model=MODEL, prompt="[dev:chunks=6] [dev:cut=3] hi", stream=True, max_tokens=50)

    with pytest.raises(openai.APIError):
        list(stream)
    assert used_today(user) == 0
    assert UsageRecord.objects.get(user=user).error == "upstream_stream_cut"


def test_an_unknown_model_is_openais_404(sdk, user):
    with pytest.raises(openai.NotFoundError) as raised:
        sdk().completions.create(model="davinci-9", prompt="hi")

    assert raised.value.code == "model_not_found"
    assert used_today(user) == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "required"),
        ({"prompt": ""}, "no text"),
        ({"prompt": []}, "no text"),
        ({"prompt": 42}, "Must be a string"),
        ({"prompt": [{"text": "hi"}]}, "Must be a string"),
        ({"prompt": "x" * 8001}, "the limit is 8000"),
        ({"prompt": ["x" * 4000, "y" * 4001]}, "the limit is 8000"),
        ({"prompt": "hi", "suffix": "x" * 8000}, "the limit is 8000"),
        ({"prompt": ["x"] * 101}, "the limit is 100"),
        ({"prompt": "hi", "stream": "yes"}, "stream"),
        ({"prompt": "hi", "n": 9}, "n"),
        ({"prompt": "hi", "best_of": 0}, "best_of"),
    ],
)
def test_bad_input_is_openais_400_and_costs_nothing(gateway, user, dev_upstream, body, says):
    received = dev_upstream.received_count

    response = _post(gateway, user, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert says in error["message"] or says == error["param"]
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()
    assert dev_upstream.received_count == received


def test_a_client_that_leaves_mid_stream_is_counted_as_499_and_its_budget_given_back(gateway, token_limited):
    response = requests.post(
        f"{gateway.url}/v1/completions",
        json={"model": MODEL, "prompt": "hi [dev:chunks=30] [dev:interval=0.1]", "stream": True, "max_tokens": 300},
        headers={"Authorization": f"Bearer {issue_access_token(token_limited)}"},
        stream=True,
        timeout=20,
    )
    next(response.iter_lines())  # the first chunk has arrived
    response.close()

    deadline = time.monotonic() + 10
    while not UsageRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    record = UsageRecord.objects.get(user=token_limited)
    assert (record.status_code, record.error, record.endpoint) == (499, "client_disconnected", "completions")
    assert record.estimated
    assert used_today(token_limited) == 1, "the upstream was asked (and bills): it counts"
    token_limited.quota.refresh_from_db()
    assert token_limited.quota.tokens_reserved == 0
