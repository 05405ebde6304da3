"""The providers' keys, encrypted at rest with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`).

CHATGATEWAY_KEY_ENCRYPTION_KEYS holds the encryption keys: the first encrypts, every one decrypts
(MultiFernet), so a new key is added in front, `manage.py rotate_provider_keys` re-encrypts, and the old
one is dropped (docs/providers.md)."""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyUnreadable(Exception):
    """A stored key that no encryption key in CHATGATEWAY_KEY_ENCRYPTION_KEYS can decrypt."""


@functools.cache
def _fernet() -> MultiFernet:
    keys = settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured(
            "CHATGATEWAY_KEY_ENCRYPTION_KEYS is not set, so provider keys can't be stored or read "
            "(docs/providers.md: make one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        )
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise KeyUnreadable("no key of CHATGATEWAY_KEY_ENCRYPTION_KEYS decrypts it") from None


def reencrypt(token: str) -> str:
    """`token` encrypted again with the first encryption key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise KeyUnreadable("no key of CHATGATEWAY_KEY_ENCRYPTION_KEYS decrypts it") from None


def forget_keys_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "CHATGATEWAY_KEY_ENCRYPTION_KEYS":
        _fernet.cache_clear()
