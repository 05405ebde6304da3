"""The official SDK with a user's API key: the whole `/v1` surface, and a key's refusal at once."""

from __future__ import annotations

import openai
import pytest
from django.utils import timezone

from apikeys.services import create_api_key
from conftest import used_today
from relay.models import UsageRecord


@pytest.fixture
def key(user):
    api_key, raw = create_api_key(user=user, name="laptop")
    return api_key, raw


def test_the_sdk_lists_models_completes_and_streams_with_an_api_key(sdk, user, key):
    api_key, raw = key
    client = sdk(raw)

    assert [model.id for model in client.models.list()] == ["gpt-4o-mini"]
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert completion.choices[0].message.content
    assert chunks[-1].usage.total_tokens > 0
    assert used_today(user) == 2
    assert set(UsageRecord.objects.values_list("api_key", flat=True)) == {api_key.pk}
    api_key.refresh_from_db()
    assert api_key.last_used is not None


@pytest.mark.parametrize("spoil", ["revoke", "expire", "deactivate"])
def test_a_revoked_or_expired_key_or_an_inactive_owner_is_refused_at_once(sdk, user, key, spoil):
    api_key, raw = key
    client = sdk(raw)
    client.models.list()
    if spoil == "revoke":
        api_key.revoke()
    elif spoil == "expire":
        type(api_key).objects.filter(pk=api_key.pk).update(expires=timezone.now() - timezone.timedelta(seconds=1))
    else:
        user.is_active = False
        user.save()

    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert used_today(user) == 0
