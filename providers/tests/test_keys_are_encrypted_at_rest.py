from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from providers import catalog, crypto
from providers.models import ProviderKey

SECRET = "sk-proj-a-secret-nobody-may-read-7f3a"


def test_the_stored_column_never_holds_the_plain_secret(make_provider):
    make_provider("openai", keys=(SECRET,))

    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_secret, last4 FROM providers_providerkey")
        rows = cursor.fetchall()

    assert len(rows) == 1
    stored, last4 = rows[0]
    assert SECRET not in stored
    assert SECRET[4:-4] not in stored
    assert last4 == "7f3a"
    assert ProviderKey.objects.get().secret() == SECRET


def test_two_keys_alike_are_stored_unalike(make_provider):
    make_provider("openai", keys=(SECRET, SECRET))

    first, second = ProviderKey.objects.values_list("encrypted_secret", flat=True)

    assert first != second  # Fernet's random IV: equal keys can't be spotted in the table


def test_a_key_is_unreadable_with_another_encryption_key(make_provider, settings):
    make_provider("openai", keys=(SECRET,))
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.KeyUnreadable) as raised:
        ProviderKey.objects.get().secret()
    assert SECRET not in str(raised.value)


def test_a_keys_repr_in_the_catalog_leaves_the_secret_out(make_provider, make_model):
    provider = make_provider("openai", keys=(SECRET,))
    make_model("gpt-4o", (provider, "gpt-4o"))

    snapshot = catalog.refresh()

    assert snapshot.providers["openai"].keys[0].secret == SECRET
    assert SECRET not in repr(snapshot)
    assert "7f3a" in repr(snapshot.providers["openai"].keys[0])
