from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError

from providers import catalog
from providers.models import ProviderKey
from providers.services import mark_key_refused
from providers.tests.helpers import ISSUE_EXAMPLE, sync


def test_no_log_line_of_syncing_loading_or_refusing_holds_a_key(db, tmp_path, example_env, settings, caplog):
    caplog.set_level(logging.DEBUG)
    sync(tmp_path, ISSUE_EXAMPLE)
    catalog.refresh()
    key = ProviderKey.objects.get(label="OPENAI_KEY_A")
    mark_key_refused(key.pk, f"401 Incorrect API key provided: {example_env['OPENAI_KEY_A']}")
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # every key now unreadable

    catalog.refresh()

    assert "can't be decrypted" in caplog.text
    for secret in example_env.values():
        assert secret not in caplog.text


def test_a_file_with_keys_needs_an_encryption_key(db, tmp_path, example_env, settings):
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = []

    with pytest.raises(CommandError, match="CHATGATEWAY_KEY_ENCRYPTION_KEYS is not set") as raised:
        sync(tmp_path, ISSUE_EXAMPLE)

    for secret in example_env.values():
        assert secret not in str(raised.value)
    assert not ProviderKey.objects.exists()
