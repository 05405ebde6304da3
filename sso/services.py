"""Signing a user in from a provider's verified claims: find or make them, update them, map their groups."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from quota.models import Plan, Quota
from sso.models import SSOIdentity
from teams.models import Membership, Team

log = logging.getLogger(__name__)


class SignInRefused(Exception):
    """The provider vouched for someone the gateway will not let in; the message says why, for the page."""


@transaction.atomic
def sign_in(*, claims: Mapping) -> User:
    """The user the claims (ID token and userinfo, verified) belong to, created on first login if allowed,
    updated (name, e-mail) and given what their groups map to. Nothing is written if they are refused."""
    subject = claims.get("sub")
    username = claims.get(settings.OIDC_USERNAME_CLAIM)
    if not isinstance(subject, str) or not subject or not isinstance(username, str) or not username.strip():
        raise SignInRefused(_("the provider sent no %(claim)s claim") % {"claim": settings.OIDC_USERNAME_CLAIM})
    username = username.strip()[: User._meta.get_field("username").max_length]
    identity = SSOIdentity.objects.select_related("user").filter(issuer=settings.OIDC_ISSUER, subject=subject).first()
    if identity is not None:
        user = identity.user
    else:
        user = _existing_or_new_user(username=username)
        identity = SSOIdentity.objects.create(user=user, issuer=settings.OIDC_ISSUER, subject=subject)
    if not user.is_active:
        raise SignInRefused(_("this account is disabled"))
    _update_user(user=user, claims=claims)
    groups = _groups(claims)
    if identity.managed_by_groups and settings.OIDC_GROUP_MAP:
        apply_group_map(user=user, groups=groups)
    identity.groups, identity.last_login = groups, timezone.now()
    identity.save(update_fields=["groups", "last_login"])
    return user


def _existing_or_new_user(*, username: str) -> User:
    # An existing account of that username, not yet linked to the provider, is taken over by it: the username
    # claim must be one the provider controls (a login name, not a display name users may change).
    user = User.objects.filter(username=username).first()
    if user is not None and SSOIdentity.objects.filter(user=user).exists():
        raise SignInRefused(_("this username belongs to another account of the provider"))
    if user is not None and user.is_superuser:
        # A provider that lets people pick their username would otherwise hand over the local administrator.
        raise SignInRefused(_("this username belongs to a local administrator, who logs in with a password"))
    if user is None:
        if not settings.OIDC_CREATE_USER:
            raise SignInRefused(_("there is no account for you here: ask an administrator to create one"))
        user = User.objects.create_user(username=username)  # no password: it signs in through the provider
    return user


def _update_user(*, user: User, claims: Mapping) -> None:
    fields = {
        "email": claims.get(settings.OIDC_EMAIL_CLAIM),
        "first_name": claims.get("given_name"),
        "last_name": claims.get("family_name"),
    }
    changed = []
    for field, value in fields.items():
        if isinstance(value, str):
            value = value[: User._meta.get_field(field).max_length]
            if getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
    user.last_login = timezone.now()
    user.save(update_fields=[*changed, "last_login"])


def _groups(claims: Mapping) -> list[str]:
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    # Keycloak's group claim gives paths ("/students") when "full group path" is on; both spellings map.
    return sorted({str(group).lstrip("/") for group in groups if isinstance(group, str | int)})


def apply_group_map(*, user: User, groups: list[str]) -> None:
    """Plan, staff and superuser status from OIDC_GROUP_MAP: what no group grants is taken away. Of several
    plans, the one of the group listed first in OIDC_GROUP_MAP is taken."""
    member_of = set(groups)
    grants = [grant for group, grant in settings.OIDC_GROUP_MAP.items() if group in member_of]
    superuser = any(grant.get("superuser") for grant in grants)
    staff = superuser or any(grant.get("staff") for grant in grants)
    if (user.is_staff, user.is_superuser) != (staff, superuser):
        user.is_staff, user.is_superuser = staff, superuser
        user.save(update_fields=["is_staff", "is_superuser"])
    plan_names = [grant["plan"] for grant in grants if "plan" in grant]
    plans = {plan.name: plan for plan in Plan.objects.filter(name__in=plan_names)}
    if missing := [name for name in plan_names if name not in plans]:
        log.warning("OIDC_GROUP_MAP names plans that do not exist: %s", ", ".join(missing))
    plan = next((plans[name] for name in plan_names if name in plans), None)
    quota, _created = Quota.objects.get_or_create(user=user)
    if quota.plan_id != (plan.pk if plan else None):
        quota.plan = plan
        quota.save()
    apply_teams(user=user, teams=[grant["team"] for grant in grants if "team" in grant])


def apply_teams(*, user: User, teams: list[str]) -> None:
    """Membership of the teams OIDC_GROUP_MAP grants: the user is put in those, and taken out of the other
    teams the map names (whose membership the identity provider decides). Teams the map does not name are
    left alone: an administrator's own choices. A team named but not made yet is skipped, with a warning,
    as a missing plan is."""
    mapped = {grant["team"] for grant in settings.OIDC_GROUP_MAP.values() if "team" in grant}
    found = {team.name: team for team in Team.objects.filter(name__in=mapped)}
    if missing := sorted(set(teams) - set(found)):
        log.warning("OIDC_GROUP_MAP names teams that do not exist: %s", ", ".join(missing))
    granted = {found[name] for name in teams if name in found}
    Membership.objects.filter(user=user, team__name__in=mapped).exclude(team__in=granted).delete()
    for team in granted:
        Membership.objects.get_or_create(user=user, team=team)
