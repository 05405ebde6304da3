"""`POST /v1/embeddings` through the real `openai` SDK over real HTTP: the upstream's answer unchanged (floats
or base64, `dimensions` honoured), accounted as chat completions are (reserved, settled with the reported
usage or an estimate, refunded on failure, one usage record), with OpenAI's errors for bad input and
unknown models, costing nothing."""

from __future__ import annotations

import base64
import struct

import openai
import pytest
import requests
from langchain_openai import OpenAIEmbeddings

from accounts.tokens import issue_access_token
from conftest import used_today
from quota.models import Quota
from quota.services import quota_status
from relay.models import UsageRecord

MODEL = "text-embedding-3-small"


@pytest.fixture(autouse=True)
def embedding_model_allowed(settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", MODEL]


def _post(gateway, user, body, *, path="/v1/embeddings") -> requests.Response:
    return requests.post(
        f"{gateway.url}{path}", json=body, headers={"Authorization": f"Bearer {issue_access_token(user)}"}, timeout=20
    )


def test_it_embeds_a_string_through_the_sdk(sdk, user):
    result = sdk().embeddings.create(model=MODEL, input="The food was delicious.")

    assert len(result.data) == 1
    assert len(result.data[0].embedding) == 64  # the development upstream's default
    assert abs(sum(value * value for value in result.data[0].embedding) - 1) < 1e-3
    assert result.usage.prompt_tokens == 4
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.stream) == ("embeddings", 200, False)
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens, record.estimated) == (4, 0, 4, False)
    assert used_today(user) == 1


def test_it_embeds_a_list_in_order_with_the_same_vector_for_the_same_text(sdk):
    result = sdk().embeddings.create(model=MODEL, input=["one", "two", "one"])

    assert [item.index for item in result.data] == [0, 1, 2]
    assert result.data[0].embedding == result.data[2].embedding != result.data[1].embedding


def test_it_passes_base64_through_as_the_upstream_sent_it(gateway, user, sdk):
    floats = sdk().embeddings.create(model=MODEL, input="hello").data[0].embedding
    body = _post(gateway, user, {"model": MODEL, "input": "hello", "encoding_format": "base64"}).json()

    encoded = body["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = struct.unpack(f"<{len(floats)}f", base64.b64decode(encoded))
    assert decoded == pytest.approx(floats, abs=1e-6)


def test_the_sdk_decodes_base64_it_asked_for(sdk):
    result = sdk().embeddings.create(model=MODEL, input="hello", encoding_format="base64")

    assert isinstance(result.data[0].embedding, str)


def test_it_honours_dimensions(sdk, dev_upstream):
    result = sdk().embeddings.create(model=MODEL, input="hello", dimensions=8)

    assert len(result.data[0].embedding) == 8
    assert dev_upstream.received[-1]["body"]["dimensions"] == 8


def test_it_takes_token_arrays(sdk):
    result = sdk().embeddings.create(model=MODEL, input=[[1, 2, 3], [4, 5]])

    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 5


def test_the_body_is_the_upstreams_byte_for_byte(gateway, user):
    response = _post(gateway, user, {"model": MODEL, "input": "hello", "user": "someone"})

    assert response.status_code == 200
    assert response.json()["x_dev_notice"] == "(development upstream, not a real model)"


def test_it_carries_the_rate_limit_headers(gateway, user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)

    response = _post(gateway, user, {"model": MODEL, "input": "three words here"})

    assert response.headers["x-ratelimit-limit-requests"] == "5"
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - 3)
    assert response.headers["x-upstream-request-id"].startswith("req-dev-")  # x-request-id is the gateway's


def test_under_a_token_limit_it_settles_the_reported_usage(gateway, user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)

    _post(gateway, user, {"model": MODEL, "input": ["a b", "c d e"]})

    status = quota_status(user_id=user.pk)
    assert (status.tokens_used_today, status.tokens_remaining) == (5, 995)
    user.quota.refresh_from_db()
    assert user.quota.tokens_reserved == 0


def test_it_refuses_inputs_whose_estimate_does_not_fit_what_is_left(gateway, user):
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=10)

    response = _post(gateway, user, {"model": MODEL, "input": "x" * 80})  # 20 tokens by the estimate

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "daily_token_limit_reached"
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


def test_without_reported_usage_it_estimates_and_marks_it(gateway, user):
    _post(gateway, user, {"model": MODEL, "input": ["[dev:nousage] abcd", "efgh"]})

    record = UsageRecord.objects.get(user=user)
    assert record.estimated
    # "[dev:nousage] abcd" is 18 ASCII characters (5 tokens), "efgh" 1
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (6, 0, 6)


@pytest.mark.parametrize(("directive", "status"), [("[dev:status=500]", 502), ("[dev:delay=2]", 504)])
def test_an_upstream_failure_is_refunded_and_recorded(gateway, user, settings, directive, status):
    settings.OPENAI_TIMEOUT = 1.0
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)

    response = _post(gateway, user, {"model": MODEL, "input": f"hello {directive}"})

    assert response.status_code == status
    assert response.json()["error"]["type"] == "server_error"
    assert used_today(user) == 0
    status_now = quota_status(user_id=user.pk)
    assert (status_now.tokens_used_today, status_now.tokens_remaining) == (0, 1000)
    record = UsageRecord.objects.get(user=user)
    assert (record.endpoint, record.status_code, record.total_tokens) == ("embeddings", status, 0)


def test_an_unknown_model_is_openais_404(sdk, user):
    with pytest.raises(openai.NotFoundError) as raised:
        sdk().embeddings.create(model="text-embedding-9", input="hello")

    assert raised.value.code == "model_not_found"
    assert used_today(user) == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": MODEL}, "required"),
        ({"model": MODEL, "input": ""}, "no text"),
        ({"model": MODEL, "input": "   "}, "no text"),
        ({"model": MODEL, "input": []}, "no text"),
        ({"model": MODEL, "input": ["ok", ""]}, "no text"),
        ({"model": MODEL, "input": 42}, "Must be a string"),
        ({"model": MODEL, "input": ["ok", 42]}, "Must be a string"),
        ({"model": MODEL, "input": ["ok", [1, 2]]}, "Must be a string"),
        ({"model": MODEL, "input": [1, -2]}, "Must be a string"),
        ({"model": MODEL, "input": [True]}, "Must be a string"),
        ({"model": MODEL, "input": "x" * 8001}, "the limit is 8000"),
        ({"model": MODEL, "input": [list(range(2001))]}, "the limit is 8000"),
        ({"model": MODEL, "input": ["x"] * 2049}, "2049 inputs is too many; the limit is 2048"),
        ({"model": MODEL, "input": "hi", "dimensions": 0}, "dimensions"),
        ({"model": MODEL, "input": "hi", "dimensions": 394805968266577643044864}, "dimensions"),
        ({"model": MODEL, "input": "hi", "dimensions": "8"}, "dimensions"),
        ({"model": MODEL, "input": "hi", "encoding_format": "int8"}, "float, base64"),
        ({"model": 42, "input": "hi"}, "Must be a string"),
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


def test_a_call_does_not_take_a_request_when_the_setting_says_so(gateway, user, settings):
    settings.CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS = False
    Quota.objects.filter(user=user).update(daily_limit=1, daily_token_limit=1000)

    for _ in range(3):
        response = _post(gateway, user, {"model": MODEL, "input": "two words"})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining-requests"] == "1"

    assert used_today(user) == 0
    assert quota_status(user_id=user.pk).tokens_used_today == 6


def test_a_blocked_user_is_refused_even_when_calls_take_no_request(gateway, user, settings):
    settings.CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS = False
    Quota.objects.filter(user=user).update(daily_limit=0)

    assert _post(gateway, user, {"model": MODEL, "input": "hi"}).status_code == 403


def test_a_failure_of_a_call_that_took_no_request_gives_no_request_back(gateway, user, settings):
    settings.CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS = False
    Quota.objects.filter(user=user).update(daily_limit=5, daily_token_limit=1000)
    _post(gateway, user, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
          path="/v1/chat/completions")  # fmt: skip

    assert _post(gateway, user, {"model": MODEL, "input": "hi [dev:status=500]"}).status_code == 502

    assert used_today(user) == 1
    user.quota.refresh_from_db()
    assert user.quota.tokens_reserved == 0


def test_langchain_openai_embeddings_work_through_the_gateway(gateway, user, no_internet):
    embeddings = OpenAIEmbeddings(
        model=MODEL,
        base_url=f"{gateway.url}/v1",
        api_key=str(issue_access_token(user)),
        check_embedding_ctx_length=False,  # no tokenizer download: nothing may reach the internet
        max_retries=0,
    )

    vectors = embeddings.embed_documents(["one", "two"])
    query = embeddings.embed_query("one")

    assert len(vectors) == 2
    assert query == pytest.approx(vectors[0], abs=1e-6)
    assert used_today(user) == 2
    assert list(UsageRecord.objects.values_list("endpoint", "status_code")) == [("embeddings", 200)] * 2
