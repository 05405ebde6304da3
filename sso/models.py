from __future__ import annotations

from django.conf import settings
from django.db import models


class SSOIdentity(models.Model):
    """The account at the OpenID Connect provider that a user signs in with: its issuer and subject (`sub`,
    which the provider never reuses), and what its last login brought. One per user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    managed_by_groups = models.BooleanField(
        default=True,
        help_text="Set this user's plan, staff and superuser status from their provider groups (OIDC_GROUP_MAP) at "
        "each login. Untick to keep what an administrator sets here.",
    )
    groups = models.JSONField(default=list, blank=True, editable=False, help_text="The groups of the last login.")
    last_login = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
