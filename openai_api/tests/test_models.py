"""`GET /v1/models` and `GET /v1/models/{id}`: the models this gateway offers, in OpenAI's format."""

from __future__ import annotations

import openai
import pytest


def test_it_lists_the_allowed_models(sdk, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "deepseek/deepseek-chat"]

    models = sdk().models.list()

    assert [model.id for model in models] == ["gpt-4o-mini", "deepseek/deepseek-chat"]
    assert {model.object for model in models} == {"model"}


def test_it_retrieves_an_allowed_model_even_with_a_slash_in_its_name(sdk, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "deepseek/deepseek-chat"]

    assert sdk().models.retrieve("deepseek/deepseek-chat").id == "deepseek/deepseek-chat"


def test_it_answers_a_model_it_does_not_offer_with_404(sdk):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().models.retrieve("gpt-4o")

    assert caught.value.code == "model_not_found"


def test_it_lists_nothing_without_credentials(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError):
        client.models.list()
