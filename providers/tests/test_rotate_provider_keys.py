from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from providers.models import ProviderKey

SECRETS = ("sk-first-key-0000000000-AAAA", "sk-second-key-111111111-BBBB")


def test_rotation_re_encrypts_every_key_with_the_new_key_so_the_old_can_go(make_provider, settings, encryption_key):
    make_provider("openai", keys=SECRETS)
    make_provider("deepseek", keys=("ds-third-key-22222-CCCC",))
    before = dict(ProviderKey.objects.values_list("pk", "encrypted_secret"))
    new_key = Fernet.generate_key().decode()

    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [new_key, encryption_key]  # 1. the new key first, the old kept
    out = io.StringIO()
    call_command("rotate_provider_keys", stdout=out)
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [new_key]  # 3. the old key removed

    assert "Re-encrypted 3 provider key(s)" in out.getvalue()
    after = dict(ProviderKey.objects.values_list("pk", "encrypted_secret"))
    assert all(after[pk] != before[pk] for pk in before)
    assert sorted(key.secret() for key in ProviderKey.objects.all()) == sorted([*SECRETS, "ds-third-key-22222-CCCC"])


def test_rotation_changes_nothing_when_a_key_is_unreadable(make_provider, settings, encryption_key):
    make_provider("openai", keys=SECRETS)
    before = dict(ProviderKey.objects.values_list("pk", "encrypted_secret"))

    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key dropped too soon
    with pytest.raises(CommandError, match="Nothing changed"):
        call_command("rotate_provider_keys")

    assert dict(ProviderKey.objects.values_list("pk", "encrypted_secret")) == before
