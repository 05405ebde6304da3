from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.db.models import F


class User(AbstractUser):
    """A person who may use the gateway; their daily allowance is `quota.Quota`."""

    # Every JWT carries the version it was issued under; bumping it revokes them all at once.
    token_version = models.PositiveIntegerField(default=0, editable=False)

    _password_made_unusable = False  # set_unusable_password() since the last save

    def save(self, *args, **kwargs) -> None:
        # A new password ends every token (not the API keys): whatever sets it (the admin's password form,
        # `manage.py changepassword`, import_users, the user) calls set_password() or
        # set_unusable_password() and then saves. Django clears `_password` for the stronger hash it makes
        # of the same password at login, which is therefore not a new password.
        new_password = not self._state.adding and (self._password is not None or self._password_made_unusable)
        if kwargs.get("update_fields") is not None and "password" not in kwargs["update_fields"]:
            new_password = False
        # token_version changes only through revoke_tokens(): saving a user read earlier (an admin
        # form, say) must not undo a revocation made since.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.attname
                for field in self._meta.concrete_fields
                if not field.primary_key and field.attname != "token_version"
            ]
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if new_password:
                self.revoke_tokens()
        self._password_made_unusable = False

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_made_unusable = True

    def revoke_tokens(self) -> None:
        """Invalidate every JWT issued to this user so far."""
        User.objects.filter(pk=self.pk).update(token_version=F("token_version") + 1)
        self.refresh_from_db(fields=["token_version"])


class LoginFailures(models.Model):
    """Failed logins of one client address or one username in the current window (accounts.login_throttle).

    Counted with conditional UPDATEs in the database, so that every server process sees the same counts
    and a burst of parallel guesses cannot slip past the limit. A row whose window has passed is deleted:
    no row means no failures.
    """

    key = models.CharField(max_length=80, unique=True)
    window_start = models.DateTimeField(db_index=True)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "login failures"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


class KnownLoginAddress(models.Model):
    """An address a username last logged in from successfully; it is not locked out by others' failures."""

    key = models.CharField(max_length=160, unique=True)
    last_success = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
