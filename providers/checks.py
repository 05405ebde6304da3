"""System checks of the providers' settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.db import DatabaseError


@register()
def check_key_encryption(app_configs: Any, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, stored provider keys need CHATGATEWAY_KEY_ENCRYPTION_KEYS to be read.

    Looks at the database only when asked to (`migrate`, which `make serve` runs first, or
    `check --database default`), as Django's own database checks do."""
    if settings.DEBUG or settings.CHATGATEWAY_KEY_ENCRYPTION_KEYS or not databases:
        return []
    from providers.models import ProviderKey

    try:
        stored = ProviderKey.objects.exists()
    except DatabaseError:  # not migrated yet: no keys
        return []
    if not stored:
        return []
    return [
        Error(
            "Provider keys are stored in the database but CHATGATEWAY_KEY_ENCRYPTION_KEYS is not set, so none "
            "of them can be read.",
            hint="Set it to the Fernet key(s) they were encrypted with (docs/providers.md, 'Keys at rest').",
            id="providers.E001",
        )
    ]
