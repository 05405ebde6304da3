"""The development upstream's embeddings (fake, deterministic, marked) and legacy completions, spoken to over
plain HTTP, with the fault directives read from their inputs and prompts."""

from __future__ import annotations

import base64
import json
import struct

import pytest
import requests

from devtools.devupstream import NOTICE


def post(upstream, path: str, body: dict) -> requests.Response:
    headers = {"Authorization": f"Bearer {upstream.key}"}
    return requests.post(f"{upstream.url}{path}", json=body, headers=headers, timeout=10)


def embed(upstream, **body) -> requests.Response:
    return post(upstream, "/embeddings", {"model": "text-embedding-3-small", **body})


def complete(upstream, **body) -> requests.Response:
    return post(upstream, "/completions", {"model": "gpt-3.5-turbo-instruct", **body})


def test_the_same_input_gets_the_same_unit_vector_and_the_answer_says_it_is_fake(dev_upstream):
    first = embed(dev_upstream, input=["alpha", "beta"]).json()
    again = embed(dev_upstream, input="alpha").json()

    assert first["x_dev_notice"] == NOTICE
    assert first["data"][0]["embedding"] == again["data"][0]["embedding"] != first["data"][1]["embedding"]
    assert sum(value * value for value in first["data"][0]["embedding"]) == pytest.approx(1, abs=1e-4)
    assert first["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_it_honours_dimensions_and_base64(dev_upstream):
    floats = embed(dev_upstream, input="alpha", dimensions=5).json()["data"][0]["embedding"]
    encoded = embed(dev_upstream, input="alpha", dimensions=5, encoding_format="base64").json()["data"][0]["embedding"]

    assert len(floats) == 5
    assert struct.unpack("<5f", base64.b64decode(encoded)) == pytest.approx(floats, abs=1e-6)


def test_it_counts_token_arrays_by_their_tokens(dev_upstream):
    assert embed(dev_upstream, input=[[1, 2, 3], [4]]).json()["usage"]["prompt_tokens"] == 4


@pytest.mark.parametrize(("path", "field"), [("/embeddings", "input"), ("/completions", "prompt")])
def test_it_reads_fault_directives_from_the_input_or_prompt(dev_upstream, path, field):
    assert post(dev_upstream, path, {"model": "m", field: ["ok", "[dev:status=503]"]}).status_code == 503
    assert "usage" not in post(dev_upstream, path, {"model": "m", field: "[dev:nousage] hi"}).json()


def test_it_refuses_a_request_without_input(dev_upstream):
    assert embed(dev_upstream).status_code == 400
    assert complete(dev_upstream, prompt=[]).status_code == 400


def test_a_legacy_completion_answers_each_prompt_as_text(dev_upstream):
    body = complete(dev_upstream, prompt=["one", "two"], max_tokens=50).json()

    assert body["object"] == "text_completion"
    assert [choice["text"] for choice in body["choices"]] == [f"{NOTICE} You said: one", f"{NOTICE} You said: two"]
    assert {choice["finish_reason"] for choice in body["choices"]} == {"stop"}


def test_a_legacy_completion_stops_at_16_tokens_by_default_as_openais_does(dev_upstream):
    body = complete(dev_upstream, prompt=" ".join(["word"] * 30)).json()

    assert body["usage"]["completion_tokens"] == 16
    assert body["choices"][0]["finish_reason"] == "length"


def test_a_streamed_legacy_completion_sends_text_chunks_a_finish_usage_when_asked_and_done(dev_upstream):
    response = complete(dev_upstream, prompt="hi", max_tokens=3, stream=True, stream_options={"include_usage": True})

    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    chunks = [json.loads(line) for line in lines[:-1]]
    assert lines[-1] == "[DONE]"
    assert "".join(chunk["choices"][0]["text"] for chunk in chunks if chunk["choices"]) == "(development upstream, not"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3
