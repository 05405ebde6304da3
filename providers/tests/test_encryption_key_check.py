from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from chatgateway.env import derived_fernet_key, envfernetkeys
from providers.checks import check_key_encryption

SECRET = "sk-a-stored-key-000000-STOR"


def test_stored_keys_without_an_encryption_key_are_an_error_in_production(make_provider, settings):
    make_provider("openai", keys=(SECRET,))
    settings.DEBUG = False
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = []

    errors = check_key_encryption(None, databases=["default"])

    assert [error.id for error in errors] == ["providers.E001"]
    assert SECRET not in errors[0].msg


@pytest.mark.parametrize(
    ("debug", "keys", "stored"),
    [(True, [], True), (False, ["set"], True), (False, [], False)],
    ids=["in development", "with a key set", "with no key stored"],
)
def test_nothing_to_say(make_provider, settings, debug, keys, stored):
    if stored:
        make_provider("openai", keys=(SECRET,))
    settings.DEBUG = debug
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = keys

    assert check_key_encryption(None, databases=["default"]) == []


def test_without_a_database_to_look_at_it_says_nothing(settings):
    settings.DEBUG = False
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = []

    assert check_key_encryption(None, databases=None) == []


def test_an_encryption_key_that_is_not_a_fernet_key_stops_the_start(monkeypatch):
    monkeypatch.setenv("CHATGATEWAY_KEY_ENCRYPTION_KEYS", f"{derived_fernet_key('x')},not-a-key")

    with pytest.raises(ImproperlyConfigured, match="CHATGATEWAY_KEY_ENCRYPTION_KEYS: key 2 is not a Fernet key"):
        envfernetkeys("CHATGATEWAY_KEY_ENCRYPTION_KEYS")


def test_storing_a_key_without_an_encryption_key_says_what_to_set(make_provider, settings):
    settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured, match="CHATGATEWAY_KEY_ENCRYPTION_KEYS is not set"):
        make_provider("openai", keys=(SECRET,))


def test_the_development_key_is_a_fernet_key_made_from_the_secret_alone():
    key = derived_fernet_key("a development secret")

    assert key == derived_fernet_key("a development secret")
    assert key != derived_fernet_key("another secret")
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x"
