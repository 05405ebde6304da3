from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

KEY_PREFIX = "sk-"
SECRET_LENGTH = 48  # random characters after "sk-"
VISIBLE_LENGTH = 8  # of them, shown as the key's prefix and used to find its row
KEY_ALPHABET = string.ascii_letters + string.digits


def new_raw_key() -> str:
    """A fresh key, `sk-` and 48 random letters and digits (about 285 bits)."""
    return KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(SECRET_LENGTH))


def looks_like_a_key(raw_key: str) -> bool:
    rest = raw_key.removeprefix(KEY_PREFIX)
    return raw_key.startswith(KEY_PREFIX) and len(rest) == SECRET_LENGTH and all(char in KEY_ALPHABET for char in rest)


def prefix_of(raw_key: str) -> str:
    return raw_key[: len(KEY_PREFIX) + VISIBLE_LENGTH]


def digest_of(raw_key: str) -> str:
    # A plain SHA-256 is enough here, unlike for passwords: a key is 48 random characters, not something a
    # person chose, so no dictionary or brute force gets anywhere however fast each guess is. A slow hash
    # (PBKDF2, Argon2) would only add its cost to every authenticated request.
    return hashlib.sha256(raw_key.encode("ascii")).hexdigest()


def validate_in_the_future(value: dt.datetime) -> None:
    if value <= timezone.now():
        raise ValidationError(gettext("The expiry must be in the future."), code="expires_in_past")


class APIKeyQuerySet(models.QuerySet):
    def usable(self, now: dt.datetime) -> APIKeyQuerySet:
        """Keys neither revoked nor expired at `now` (whether their user is active is not looked at)."""
        return self.filter(Q(expires__isnull=True) | Q(expires__gt=now), revoked__isnull=True)

    def revoke(self, *, now: dt.datetime) -> int:
        """Revoke every key not yet revoked, in one UPDATE; keys revoked earlier keep their time."""
        return self.filter(revoked__isnull=True).update(revoked=now)


class APIKey(models.Model):
    """A long-lived credential a user's programs send as `Authorization: Bearer sk-…` instead of a JWT.

    Only the key's SHA-256 is stored; the key itself exists once, when it is created, and is shown
    to its owner then. The visible prefix ("sk-" and its first 8 random characters) tells keys
    apart in lists and finds the row to check a key against without scanning the table.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. “laptop script”.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Accurate to CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY seconds.",
    )
    expires = models.DateTimeField(
        null=True, blank=True, validators=[validate_in_the_future], help_text="Empty: the key never expires."
    )
    revoked = models.DateTimeField(null=True, blank=True, editable=False)
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text="The team whose limits this key's requests draw on, whatever they ask; empty: the user's choice.",
    )

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def save(self, *args, **kwargs) -> None:
        # Only the name is ever edited: `last_used` and `revoked` change through conditional updates,
        # and saving a row read earlier (an admin form, say) must not undo a revocation made since.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = ["name", "team"]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.team_id is not None and not self.team.memberships.filter(user_id=self.user_id).exists():
            raise ValidationError({"team": "The key's user is not a member of this team."})

    def is_usable(self, now: dt.datetime) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > now)

    def matches(self, raw_key: str) -> bool:
        """Whether `raw_key` is this key, compared in constant time."""
        return hmac.compare_digest(self.hashed_secret, digest_of(raw_key))

    def revoke(self, *, now: dt.datetime | None = None) -> bool:
        """Revoke the key; False if it already was (its revocation time is kept)."""
        revoked = APIKey.objects.filter(pk=self.pk).revoke(now=now or timezone.now())
        self.refresh_from_db(fields=["revoked"])
        return bool(revoked)

    def mark_used(self, *, now: dt.datetime) -> None:
        """Record a use, unless one was recorded within the last granularity (then nothing is written).

        Writing on every request would turn each authenticated read into a write; the time is
        accurate to CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY seconds instead. The UPDATE repeats
        the condition so that concurrent requests write it once.
        """
        stale_before = now - dt.timedelta(seconds=settings.CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY)
        if self.last_used is not None and self.last_used >= stale_before:
            return
        stale = Q(last_used__isnull=True) | Q(last_used__lt=stale_before)
        APIKey.objects.filter(stale, pk=self.pk).update(last_used=now)
        # Written now, or by another process within the granularity: either way nothing to write until it
        # passes (this instance may be a process's cached one: core/access.py).
        self.last_used = now
