"""Changes to the catalog that are more than one row's save: each bumps the catalog's version in its own
transaction, so that every server process reloads (providers/catalog.py)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from providers import catalog, crypto
from providers.models import CatalogVersion, Deployment, ProviderKey

MAX_ERROR_CHARS = 300


def bump_catalog_version() -> None:
    """Tell every process the catalog changed: the version grows with the caller's transaction, and this
    process reloads as soon as that transaction commits."""
    if not CatalogVersion.objects.filter(pk=1).update(version=F("version") + 1):
        try:
            with transaction.atomic():
                CatalogVersion.objects.create(pk=1, version=1)
        except IntegrityError:  # made meanwhile by another process
            CatalogVersion.objects.filter(pk=1).update(version=F("version") + 1)
    transaction.on_commit(catalog.reload_after_change)


def catalog_changed(**kwargs: Any) -> None:
    """Receiver of the catalog models' save, delete and M2M signals (providers/apps.py)."""
    if kwargs.get("action", "post_").startswith("post_"):  # M2M changes: once, after
        bump_catalog_version()


def mark_key_refused(key_id: int, reason: str) -> None:
    """Take a key the provider refused (401/403) out of use until an administrator re-enables it.

    `reason` is kept for the admin, without the key itself should the provider have echoed it."""
    with transaction.atomic():
        key = ProviderKey.objects.filter(pk=key_id, refused_at__isnull=True).first()
        if key is None:
            return  # unknown, or refused already: the first reason stands
        try:
            secret = key.secret()
        except crypto.KeyUnreadable:
            secret = ""
        if secret:
            reason = reason.replace(secret, f"…{key.last4}")
        ProviderKey.objects.filter(pk=key_id, refused_at__isnull=True).update(
            refused_at=timezone.now(), last_error=reason[:MAX_ERROR_CHARS]
        )
        bump_catalog_version()


def reenable_refused_keys(*, keys: QuerySet[ProviderKey]) -> int:
    """Put refused keys among `keys` back in use; how many."""
    with transaction.atomic():
        count = keys.filter(refused_at__isnull=False).update(refused_at=None, last_error="", enabled=True)
        if count:
            bump_catalog_version()
    return count


def rotate_key_encryption() -> int:
    """Re-encrypt every stored key with the first of CHATGATEWAY_KEY_ENCRYPTION_KEYS; how many.

    All or nothing: a key no encryption key can read stops it (crypto.KeyUnreadable) with nothing changed."""
    with transaction.atomic():
        keys = list(ProviderKey.objects.select_for_update().only("pk", "encrypted_secret"))
        for key in keys:
            try:
                key.encrypted_secret = crypto.reencrypt(key.encrypted_secret)
            except crypto.KeyUnreadable:
                raise crypto.KeyUnreadable(f"provider key {key.pk} can't be decrypted by any key") from None
        ProviderKey.objects.bulk_update(keys, ["encrypted_secret"], batch_size=500)
    return len(keys)


def note_deployment_health(deployment_id: int, *, resting: bool, reason: str = "") -> None:
    """A server process's circuit breaker opened (`resting`) or closed on this deployment: shown in admin.
    An `update()`: health is no change to the catalog, and reloads nothing."""
    fields: dict[str, Any] = {
        "health": Deployment.Health.RESTING if resting else Deployment.Health.OK,
        "health_changed": timezone.now(),
    }
    if reason:
        fields["last_error"] = reason[:100]
    Deployment.objects.filter(pk=deployment_id).update(**fields)
