"""What the single sign-on checks beyond the redirect flow: the issuer, explicit endpoints, the group map setting."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.models import User
from chatgateway.env import envgroupmap
from sso.services import apply_group_map
from sso.tests.conftest import PROVIDER_PASSWORD
from sso.tests.flow import callback_url


def test_an_id_token_from_another_issuer_is_refused(gateway, sso_settings, oidc_provider):
    # Endpoints given explicitly (no discovery), and an issuer the provider's tokens do not name.
    base = oidc_provider.issuer
    sso_settings.OIDC_ISSUER = base.replace("127.0.0.1", "localhost")
    sso_settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{base}/authorize/"
    sso_settings.OIDC_OP_TOKEN_ENDPOINT = f"{base}/token/"
    sso_settings.OIDC_OP_USER_ENDPOINT = f"{base}/userinfo/"
    sso_settings.OIDC_OP_JWKS_ENDPOINT = f"{base}/.well-known/jwks.json"
    session, back = callback_url(gateway.url, "stu", PROVIDER_PASSWORD)

    response = session.get(back, timeout=10)

    assert response.status_code == 400
    assert not User.objects.filter(username="stu").exists()


def test_without_a_provider_the_sso_urls_are_not_found_and_the_page_has_no_button(client, db):
    assert client.get("/sso/login/").status_code == 404
    assert b"sso-login" not in client.get("/").content


@pytest.mark.parametrize(
    "value",
    ["[1]", "not json", '{"g": {"plan": 5}}', '{"g": {"staff": "yes"}}', '{"g": {"admin": true}}', '{"g": 1}'],
)
def test_a_bad_group_map_stops_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("OIDC_GROUP_MAP", value)
    with pytest.raises(ImproperlyConfigured, match="OIDC_GROUP_MAP"):
        envgroupmap("OIDC_GROUP_MAP")


def test_a_good_group_map_is_read(monkeypatch):
    mapping = {"students": {"plan": "student", "team": "cs101"}, "ta": {"staff": True}}
    monkeypatch.setenv("OIDC_GROUP_MAP", json.dumps(mapping))
    assert envgroupmap("OIDC_GROUP_MAP") == mapping


def test_the_plan_of_the_group_first_in_the_map_wins_and_superuser_implies_staff(settings, make_user):
    from quota.models import Plan

    Plan.objects.create(name="a", daily_request_limit=1)
    Plan.objects.create(name="b", daily_request_limit=2)
    settings.OIDC_GROUP_MAP = {"x": {"plan": "b"}, "y": {"plan": "a"}, "z": {"superuser": True}}
    user = make_user()

    apply_group_map(user=user, groups=["y", "z", "x"])

    user.refresh_from_db()
    assert user.quota.plan.name == "b"
    assert user.is_staff
    assert user.is_superuser


def test_groups_put_a_user_in_their_teams_and_out_of_mapped_ones_but_leave_hand_made_memberships(settings, make_user):
    from teams.models import Membership, Team

    cs101, cs102, staff_room = (Team.objects.create(name=name) for name in ("cs101", "cs102", "staff-room"))
    settings.OIDC_GROUP_MAP = {"students-101": {"team": "cs101"}, "students-102": {"team": "cs102"}}
    user = make_user()
    Membership.objects.create(user=user, team=cs102)  # from an earlier login
    Membership.objects.create(user=user, team=staff_room)  # an administrator's own choice

    apply_group_map(user=user, groups=["students-101"])

    assert set(Membership.objects.filter(user=user).values_list("team__name", flat=True)) == {"cs101", "staff-room"}
    apply_group_map(user=user, groups=["students-101"])  # the next login changes nothing
    assert Membership.objects.filter(user=user, team=cs101).count() == 1


def test_an_administrator_overrides_a_user_on_their_admin_page(client, make_user):
    from sso.models import SSOIdentity

    admin = make_user("root", is_staff=True, is_superuser=True)
    stu = make_user("stu")
    SSOIdentity.objects.create(user=stu, issuer="https://idp.example", subject="s-1", groups=["students"])
    client.force_login(admin)

    page = client.get(f"/admin/accounts/user/{stu.pk}/change/")

    assert b"Managed by groups" in page.content
    assert b"s-1" in page.content
    assert b"Managed by groups" not in client.get(f"/admin/accounts/user/{admin.pk}/change/").content
