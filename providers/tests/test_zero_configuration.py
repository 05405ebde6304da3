"""With no provider configured, the catalog is the gateway as it was before providers: one upstream made of
the OPENAI_* settings, serving CHATGATEWAY_MODELS under their own names, capped with max_tokens."""

from __future__ import annotations

from providers import catalog
from providers.models import Provider


def test_no_provider_gives_the_one_upstream_of_the_settings(db, settings):
    settings.OPENAI_API_KEY = "sk-the-one-upstream-key-9f8e"
    settings.OPENAI_BASE_URL = "https://api.deepseek.com/v1"
    settings.OPENAI_TIMEOUT = 42.0
    settings.OPENAI_MAX_RETRIES = 3
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini", "gpt-4o"]

    snapshot = catalog.current()

    assert snapshot.implicit
    assert list(snapshot.providers) == ["default"]
    default = snapshot.providers["default"]
    assert default.id is None
    assert (default.kind, default.base_url, default.api_version) == ("openai", "https://api.deepseek.com/v1", "")
    assert (default.timeout, default.max_retries) == (42.0, 3)
    assert default.completion_cap == "max_tokens"
    assert default.endpoints == frozenset({"chat", "responses", "embeddings", "completions"})  # as OpenAI
    assert dict(default.headers) == {}
    assert [(key.id, key.secret, key.last4) for key in default.keys] == [(None, "sk-the-one-upstream-key-9f8e", "9f8e")]
    assert sorted(snapshot.models) == ["gpt-4o", "gpt-4o-mini"]
    for name, model in snapshot.models.items():
        assert model.id is None
        assert model.plan_ids == frozenset()
        assert [(d.id, d.provider, d.upstream_model, d.priority, d.weight) for d in model.deployments] == [
            (None, default, name, 1, 1)
        ]
    assert snapshot.model_names_for(None) == ["gpt-4o", "gpt-4o-mini"]
    assert snapshot.model_names_for(7) == ["gpt-4o", "gpt-4o-mini"]
    assert snapshot.model("gpt-3.5") is None


def test_with_no_key_set_the_implicit_provider_is_the_development_upstream(db, dev_upstream):
    # The root conftest points OPENAI_* at the test's development upstream, as settings.py does for `make run`.
    default = catalog.current().providers["default"]

    assert default.base_url == dev_upstream.url
    assert default.keys[0].secret == dev_upstream.key


def test_the_sdks_default_address_when_no_base_url_is_set(db, settings):
    settings.OPENAI_BASE_URL = None

    assert catalog.current().providers["default"].base_url == "https://api.openai.com/v1"


def test_a_settings_change_is_seen_at_once(db, settings):
    assert sorted(catalog.current().models) == sorted(settings.CHATGATEWAY_MODELS)

    settings.CHATGATEWAY_MODELS = ["only-this"]

    assert list(catalog.current().models) == ["only-this"]


def test_one_provider_configured_replaces_the_implicit_catalog(db, make_provider, make_model):
    provider = make_provider("local", keys=())
    make_model("mine", (provider, "qwen"))

    snapshot = catalog.refresh()

    assert not snapshot.implicit
    assert list(snapshot.models) == ["mine"]
    assert "default" not in snapshot.providers


def test_providers_all_disabled_give_an_empty_catalog_not_the_implicit_one(db, make_provider, make_model):
    make_model("mine", (make_provider("local", enabled=False), "qwen"))

    snapshot = catalog.refresh()

    assert not snapshot.implicit
    assert dict(snapshot.models) == {}
    assert Provider.objects.exists()
