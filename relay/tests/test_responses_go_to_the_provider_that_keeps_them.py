"""A response made natively is kept by the provider that made it: reading it, listing its input, deleting it
and continuing it (`previous_response_id`) go to that provider, whatever the model's routing says now; a
translated one never reaches a provider that speaks the Responses API."""

from __future__ import annotations

import openai

from accounts.tokens import issue_access_token
from providers import catalog
from providers.models import Deployment


def _sdk(gateway, user) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=issue_access_token(user), max_retries=0, timeout=20)


def _paths(upstream) -> list[tuple[str, str]]:
    return [(entry["method"], entry["path"]) for entry in upstream.received]


def test_later_calls_go_to_the_provider_that_made_the_response(gateway, user, routes, upstreams):
    first_upstream, second_upstream = upstreams(), upstreams()
    speaking = {"endpoints": ["chat", "responses"]}
    first = routes.provider("first", first_upstream, **speaking)
    second = routes.provider("second", second_upstream, **speaking)
    routes.model("smart", (first, "model-one", 1), (second, "model-two", 2))
    routes.load()
    client = _sdk(gateway, user)
    made = client.responses.create(model="smart", input="Remember this")
    # The model now prefers the second provider, which knows nothing of the response.
    Deployment.objects.filter(provider=first).update(priority=3)
    catalog.refresh()

    follow_up = client.responses.create(model="smart", input="And?", previous_response_id=made.id)
    assert client.responses.retrieve(made.id).id == made.id
    assert [item.content[0].text for item in client.responses.input_items.list(made.id)] == ["Remember this"]
    client.responses.delete(made.id)

    assert follow_up.output_text.endswith("You said: And?")
    assert ("POST", "/v1/responses") in _paths(first_upstream)
    assert ("GET", f"/v1/responses/{made.id}") in _paths(first_upstream)
    assert ("DELETE", f"/v1/responses/{made.id}") in _paths(first_upstream)
    assert _paths(second_upstream) == []
    fresh = client.responses.create(model="smart", input="New")
    assert _paths(second_upstream) == [("POST", "/v1/responses")]  # a new response follows the routing
    assert fresh.id in second_upstream.stored


def test_a_model_with_a_responses_provider_and_a_chat_only_one_answers_natively(gateway, user, routes, upstreams):
    native_upstream, chat_upstream = upstreams(), upstreams(responses=False)
    native = routes.provider("native", native_upstream, endpoints=["chat", "responses"])
    chat_only = routes.provider("chat-only", chat_upstream, endpoints=["chat"])
    routes.model("smart", (chat_only, "model-chat", 1), (native, "model-native", 2))
    routes.load()

    made = _sdk(gateway, user).responses.create(model="smart", input="Hi")

    assert made.id.startswith("resp_dev")  # the native provider's own answer
    assert _paths(chat_upstream) == []
