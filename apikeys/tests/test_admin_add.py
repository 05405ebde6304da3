"""An administrator makes a key for a user and sees it once, on the page that answers the form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import RAW_KEY, quota_with

ADD_URL = "/admin/apikeys/apikey/add/"


def add_form(user, name: str = "ci runner", expires: dt.datetime | None = None) -> dict[str, str]:
    when = timezone.localtime(expires) if expires else None
    return {
        "user": str(user.pk),
        "name": name,
        "expires_0": when.strftime("%Y-%m-%d") if when else "",
        "expires_1": when.strftime("%H:%M:%S") if when else "",
    }


def test_the_add_page_asks_only_for_user_name_and_expiry(admin_client):
    page = admin_client.get(ADD_URL).content.decode()

    assert 'name="user"' in page
    assert 'name="name"' in page
    assert 'name="expires_0"' in page
    assert "hashed_secret" not in page
    assert 'name="prefix"' not in page


def test_it_shows_the_new_key_exactly_once(admin_client, user):
    response = admin_client.post(ADD_URL, add_form(user))

    assert response.status_code == 200
    page = response.content.decode()
    [raw_key] = RAW_KEY.findall(page)
    assert page.count(raw_key) == 1
    assert "will not be shown again" in page
    assert 'href="/admin/apikeys/apikey/"' in page
    assert "no-store" in response["Cache-Control"]
    api_key = APIKey.objects.get()
    assert (api_key.user, api_key.name) == (user, "ci runner")
    assert api_key.matches(raw_key)
    assert quota_with(raw_key).status_code == 200


def test_the_key_is_nowhere_after_that_page(admin_client, user):
    response = admin_client.post(ADD_URL, add_form(user))
    raw_key = RAW_KEY.search(response.content.decode()).group()
    api_key = APIKey.objects.get()

    later = [
        admin_client.get("/admin/apikeys/apikey/"),
        admin_client.get(f"/admin/apikeys/apikey/{api_key.pk}/change/"),
        admin_client.get(f"/admin/accounts/user/{user.pk}/change/"),
    ]

    for page in later:
        assert page.status_code == 200
        assert raw_key not in page.content.decode()
        assert api_key.hashed_secret not in page.content.decode()
    assert not any(raw_key in str(message) for message in get_messages(response.wsgi_request))
    assert raw_key not in str(dict(admin_client.session))
    assert raw_key not in str(admin_client.cookies)


def test_it_takes_an_expiry_and_refuses_one_in_the_past(admin_client, user):
    soon = timezone.now() + dt.timedelta(days=7)
    past = timezone.now() - dt.timedelta(days=1)

    refused = admin_client.post(ADD_URL, add_form(user, expires=past))
    assert refused.status_code == 200
    assert "The expiry must be in the future." in refused.content.decode()
    assert not APIKey.objects.exists()

    admin_client.post(ADD_URL, add_form(user, expires=soon))
    assert APIKey.objects.get().expires == soon.replace(microsecond=0)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_it_refuses_a_bad_name(admin_client, user, name):
    response = admin_client.post(ADD_URL, add_form(user, name=name))

    assert response.status_code == 200
    assert not RAW_KEY.search(response.content.decode())
    assert not APIKey.objects.exists()


def test_it_refuses_a_key_past_the_users_limit(admin_client, user, settings):
    settings.CHATGATEWAY_MAX_API_KEYS_PER_USER = 1
    create_api_key(user=user, name="one")

    response = admin_client.post(ADD_URL, add_form(user))

    assert response.status_code == 200
    assert "already has 1 active API keys" in response.content.decode()
    assert APIKey.objects.count() == 1
