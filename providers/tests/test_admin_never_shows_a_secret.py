from __future__ import annotations

from providers.models import Provider, ProviderKey

SECRET = "sk-live-top-secret-value-1234567890-WXYZ"


def provider_form(provider: Provider | None = None, **fields) -> dict:
    """The provider's change form as a browser posts it, with no key rows."""
    form = {
        "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_version": "",
        "enabled": "on", "endpoints": ["chat"], "completion_cap": "max_completion_tokens", "extra_headers": "{}",
        "timeout": "", "max_retries": "",
        "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0", "keys-MIN_NUM_FORMS": "0", "keys-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    form.update(fields)
    return form


def test_a_key_typed_in_the_admin_is_stored_encrypted_and_never_shown_again(admin_client):
    response = admin_client.post(
        "/admin/providers/provider/add/",
        provider_form(
            **{"keys-TOTAL_FORMS": "1", "keys-0-label": "team", "keys-0-secret": SECRET, "keys-0-enabled": "on"}
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    key = ProviderKey.objects.get()
    assert key.secret() == SECRET
    assert key.last4 == "WXYZ"

    pages = [
        admin_client.get(f"/admin/providers/provider/{key.provider_id}/change/"),
        admin_client.get("/admin/providers/provider/"),
        admin_client.get("/admin/providers/providerkey/"),
        admin_client.get(f"/admin/providers/providerkey/{key.pk}/change/"),
        admin_client.get(f"/admin/providers/providerkey/{key.pk}/history/"),
        admin_client.get("/admin/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html
        assert SECRET[:-4] not in html
        assert key.encrypted_secret not in html
    assert "…WXYZ" in pages[0].content.decode()


def test_saving_the_form_with_the_key_left_blank_keeps_the_stored_key(admin_client, make_provider):
    provider = make_provider("openai", keys=(SECRET,))
    key = ProviderKey.objects.get()

    same_key = {
        "keys-TOTAL_FORMS": "1", "keys-INITIAL_FORMS": "1", "keys-0-id": str(key.pk),
        "keys-0-provider": str(provider.pk),
        "keys-0-label": "renamed", "keys-0-secret": "", "keys-0-enabled": "on",
    }  # fmt: skip
    response = admin_client.post(f"/admin/providers/provider/{provider.pk}/change/", provider_form(**same_key))

    assert response.status_code == 302, response.content.decode()[:2000]
    key.refresh_from_db()
    assert key.label == "renamed"
    assert key.secret() == SECRET


def test_a_new_key_row_without_its_secret_is_refused(admin_client):
    response = admin_client.post(
        "/admin/providers/provider/add/",
        provider_form(**{"keys-TOTAL_FORMS": "1", "keys-0-label": "team", "keys-0-secret": "", "keys-0-enabled": "on"}),
    )

    assert response.status_code == 200
    assert "Type the key." in response.content.decode()
    assert not Provider.objects.exists()


def test_a_header_carrying_a_credential_is_refused(admin_client):
    response = admin_client.post(
        "/admin/providers/provider/add/", provider_form(extra_headers='{"Authorization": "Bearer sk-abc"}')
    )

    assert response.status_code == 200
    assert "carries a credential" in response.content.decode()
    assert not Provider.objects.exists()


def test_an_azure_provider_needs_its_api_version(admin_client):
    response = admin_client.post("/admin/providers/provider/add/", provider_form(kind="azure"))

    assert response.status_code == 200
    assert "Azure OpenAI needs its api-version." in response.content.decode()
