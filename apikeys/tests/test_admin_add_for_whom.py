"""Whom a staff user may make a key for in the admin: a key acts as its user, so making one for another user
takes the permission to change that user, and for a superuser, being one (issue 18, defect 7)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.test import Client

from apikeys.models import APIKey
from apikeys.tests.helpers import RAW_KEY, quota_with
from apikeys.tests.test_admin_add import ADD_URL, add_form
from conftest import PASSWORD

REFUSAL = "You may not make an API key for this user."


@pytest.fixture
def staff_with(make_user):
    def make(username: str, *codenames: str):
        staff = make_user(username, is_staff=True)
        staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return staff

    return make


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def assert_made_a_working_key(response, owner) -> None:
    assert response.status_code == 200
    [raw_key] = RAW_KEY.findall(response.content.decode())
    assert APIKey.objects.filter(user=owner).count() == 1
    assert quota_with(raw_key).status_code == 200


def assert_refused(response) -> None:
    assert response.status_code == 200
    page = response.content.decode()
    assert not RAW_KEY.search(page)
    assert REFUSAL in page
    assert APIKey.objects.count() == 0


def test_a_staff_user_who_may_only_add_keys_can_make_one_for_themselves(staff_with):
    clerk = staff_with("clerk", "add_apikey")

    response = logged_in(clerk).post(ADD_URL, add_form(clerk))

    assert_made_a_working_key(response, clerk)


def test_a_staff_user_who_may_only_add_keys_cannot_make_one_for_another_user(staff_with, user):
    clerk = staff_with("clerk", "add_apikey")

    response = logged_in(clerk).post(ADD_URL, add_form(user))

    assert_refused(response)


def test_a_staff_user_who_may_only_add_keys_cannot_make_one_for_a_superuser(staff_with, superuser):
    clerk = staff_with("clerk", "add_apikey")

    response = logged_in(clerk).post(ADD_URL, add_form(superuser))

    assert_refused(response)


def test_a_staff_user_who_may_change_users_can_make_a_key_for_a_normal_user(staff_with, user):
    manager = staff_with("manager", "add_apikey", "change_user", "view_user")

    response = logged_in(manager).post(ADD_URL, add_form(user))

    assert_made_a_working_key(response, user)


def test_a_staff_user_who_may_change_users_cannot_make_a_key_for_a_superuser(staff_with, superuser):
    manager = staff_with("manager", "add_apikey", "change_user", "view_user")

    response = logged_in(manager).post(ADD_URL, add_form(superuser))

    assert_refused(response)


@pytest.mark.parametrize("whom", ["themselves", "a normal user", "another superuser"])
def test_a_superuser_can_make_a_key_for_anyone(superuser, make_user, whom):
    owner = {
        "themselves": superuser,
        "a normal user": make_user("ada"),
        "another superuser": make_user("root2", is_staff=True, is_superuser=True),
    }[whom]

    response = logged_in(superuser).post(ADD_URL, add_form(owner))

    assert_made_a_working_key(response, owner)


def test_the_user_choices_offer_only_the_users_the_staff_user_may_make_a_key_for(staff_with, user, superuser):
    clerk = staff_with("clerk", "add_apikey")
    manager = staff_with("manager", "add_apikey", "change_user", "view_user")

    def choices(actor) -> set[str]:
        form = logged_in(actor).get(ADD_URL).context["adminform"].form
        return {owner.username for owner in form.fields["user"].queryset}

    assert choices(clerk) == {"clerk"}
    assert choices(manager) == {"ada", "clerk", "manager"}
    assert choices(superuser) == {"ada", "clerk", "manager", "root"}


def test_the_user_search_offers_a_staff_user_who_may_change_users_no_superuser(staff_with, user, superuser):
    manager = staff_with("manager", "add_apikey", "change_user", "view_user")
    search = {"app_label": "apikeys", "model_name": "apikey", "field_name": "user", "term": ""}

    found = logged_in(manager).get("/admin/autocomplete/", search).json()["results"]

    assert {result["text"] for result in found} == {"ada", "manager"}


def test_saving_refuses_a_key_for_a_user_the_staff_user_may_not_make_one_for_whatever_the_form_said(
    staff_with, user, rf
):
    """Should anything get past the form, saving checks the rule again: here save_model is called directly."""
    clerk = staff_with("clerk", "add_apikey")
    request = rf.post(ADD_URL)
    request.user = clerk
    model_admin = admin.site._registry[APIKey]

    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, APIKey(user=user, name="forged"), form=None, change=False)
    assert APIKey.objects.count() == 0
