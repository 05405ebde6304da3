"""The providers' admin action "Test the connection and keys": each key of each selected provider asked
for the provider's models, over real HTTP; what each got, and never the key itself."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from accounts.models import User
from devtools.testing import free_port
from providers.models import Provider, ProviderKey


@pytest.fixture
def admin_client(transactional_db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="admin-pass-123"))
    return client


def test_each_key_of_each_provider_is_tested_and_what_it_got_is_said(routes, upstreams, admin_client):
    upstream = upstreams()
    routes.provider("local", upstream, keys=(upstream.key, "sk-wrong-key-0000000000000000000000000000wxyz"))
    gone = f"http://127.0.0.1:{free_port()}/v1"
    routes.provider("gone", gone, keys=("sk-gone-key-00000000000000000000000000000001",))
    ProviderKey.objects.filter(last4="wxyz").update(enabled=False)  # disabled keys are tested too

    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "test_connection", "_selected_action": list(Provider.objects.values_list("pk", flat=True))},
        follow=True,
    )

    said = sorted(str(message) for message in get_messages(response.wsgi_request))
    assert said[0] == "gone: …0001: unreachable"
    assert said[1].startswith(f"local: …{upstream.key[-4:]}: works (")
    assert said[1].endswith("; …wxyz: refused (401)")
    page = response.content.decode()
    for secret in (upstream.key, "sk-wrong-key", "sk-gone-key"):
        assert secret not in page
