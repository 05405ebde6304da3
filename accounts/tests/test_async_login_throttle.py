"""The async login path (`django.contrib.auth.aauthenticate`) is held back by the login throttle exactly as
the sync one: Django's ModelBackend.aauthenticate does not go through `authenticate`, so the throttled
backend has to say so itself."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, authenticate
from django.test import RequestFactory

from accounts.exceptions import LoginThrottled
from accounts.models import KnownLoginAddress, LoginFailures
from conftest import PASSWORD

NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def async_login(username: str, password: str, address: str = "203.0.113.5"):
    request = RequestFactory(REMOTE_ADDR=address).post("/admin/login/")
    return async_to_sync(aauthenticate)(request, username=username, password=password)


def sync_login(username: str, password: str, address: str = "203.0.113.5"):
    request = RequestFactory(REMOTE_ADDR=address).post("/admin/login/")
    return authenticate(request, username=username, password=password)


def test_a_burst_of_wrong_passwords_through_aauthenticate_is_throttled(user):
    for _ in range(5):
        assert async_login("ada", "wrong") is None

    with pytest.raises(LoginThrottled) as refused:
        async_login("ada", "wrong")
    assert refused.value.wait == 60
    with pytest.raises(LoginThrottled):
        async_login("ada", PASSWORD)  # even the right password, until the window ends


def test_the_async_and_sync_paths_share_one_count(user):
    for _ in range(3):
        async_login("ada", "wrong")
    for _ in range(2):
        sync_login("ada", "wrong")

    with pytest.raises(LoginThrottled):
        sync_login("ada", PASSWORD)
    with pytest.raises(LoginThrottled):
        async_login("ada", PASSWORD)


def test_a_right_password_after_failures_counts_as_a_success(user):
    for _ in range(4):
        async_login("ada", "wrong")

    assert async_login("ada", PASSWORD) == user

    assert KnownLoginAddress.objects.count() == 1  # the address is remembered, as a sync login's is
    assert LoginFailures.objects.get(key="addr:203.0.113.5").failures == 4  # and it took no failure


def test_the_window_ends_for_the_async_path_too(user, clock):
    for _ in range(5):
        async_login("ada", "wrong")
    clock.shift(60)

    assert async_login("ada", PASSWORD) == user
