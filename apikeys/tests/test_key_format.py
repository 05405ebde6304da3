from __future__ import annotations

import hashlib

from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import RAW_KEY


def test_it_makes_sk_and_48_random_letters_and_digits(user):
    _, first = create_api_key(user=user, name="laptop")
    _, second = create_api_key(user=user, name="server")

    assert RAW_KEY.fullmatch(first)
    assert RAW_KEY.fullmatch(second)
    assert first != second


def test_its_prefix_is_sk_and_the_first_eight_random_characters(user):
    api_key, raw_key = create_api_key(user=user, name="laptop")

    assert api_key.prefix == raw_key[:11]
    assert str(api_key) == f"laptop ({raw_key[:11]}…)"


def test_it_stores_only_the_sha256_of_the_key(user):
    api_key, raw_key = create_api_key(user=user, name="laptop")

    stored = APIKey.objects.filter(pk=api_key.pk).values().get()

    assert stored["hashed_secret"] == hashlib.sha256(raw_key.encode()).hexdigest()
    assert not any(raw_key[3:] in str(value) for value in stored.values())
