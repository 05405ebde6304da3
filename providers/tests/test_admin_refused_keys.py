from __future__ import annotations

from providers import catalog
from providers.models import ProviderKey
from providers.services import mark_key_refused

SECRET = "sk-refused-by-the-provider-0000-R3FU"


def test_a_refused_key_shows_when_and_why_and_is_out_of_the_catalog(admin_client, make_provider, make_model):
    provider = make_provider("openai", keys=(SECRET, "sk-another-key-that-works-GOOD"))
    make_model("gpt-4o", (provider, "gpt-4o"))
    refused = ProviderKey.objects.get(last4="R3FU")

    mark_key_refused(refused.pk, f"401 Incorrect API key provided: {SECRET}")

    refused.refresh_from_db()
    assert refused.refused_at is not None
    assert SECRET not in refused.last_error  # the provider echoed it; the admin shows its end only
    assert "…R3FU" in refused.last_error
    page = admin_client.get(f"/admin/providers/provider/{provider.pk}/change/").content.decode()
    assert "refused" in page
    assert "401 Incorrect API key provided" in page
    assert SECRET not in page
    assert [key.last4 for key in catalog.refresh().providers["openai"].keys] == ["GOOD"]


def test_a_provider_whose_every_key_is_refused_is_left_out(make_provider, make_model):
    provider = make_provider("openai", keys=(SECRET,))
    make_model("gpt-4o", (provider, "gpt-4o"))

    mark_key_refused(ProviderKey.objects.get().pk, "403")

    snapshot = catalog.refresh()
    assert "openai" not in snapshot.providers
    assert snapshot.model("gpt-4o") is None


def test_the_action_re_enables_the_refused_keys_of_the_selected_providers(admin_client, make_provider, make_model):
    provider = make_provider("openai", keys=(SECRET,))
    make_model("gpt-4o", (provider, "gpt-4o"))
    mark_key_refused(ProviderKey.objects.get().pk, "401")

    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "reenable_refused_keys", "_selected_action": [str(provider.pk)]},
        follow=True,
    )

    assert "Re-enabled 1 refused key(s)." in response.content.decode()
    key = ProviderKey.objects.get()
    assert key.refused_at is None
    assert key.last_error == ""
    assert catalog.refresh().model("gpt-4o") is not None


def test_the_keys_list_filters_the_refused_ones(admin_client, make_provider):
    make_provider("openai", keys=(SECRET, "sk-another-key-that-works-GOOD"))
    mark_key_refused(ProviderKey.objects.get(last4="R3FU").pk, "401")

    page = admin_client.get("/admin/providers/providerkey/?state=refused").content.decode()

    assert "…R3FU" in page
    assert "…GOOD" not in page


def test_refusing_a_key_twice_keeps_the_first_reason(make_provider):
    make_provider("openai", keys=(SECRET,))
    key = ProviderKey.objects.get()

    mark_key_refused(key.pk, "401 first")
    mark_key_refused(key.pk, "403 second")

    key.refresh_from_db()
    assert key.last_error == "401 first"
