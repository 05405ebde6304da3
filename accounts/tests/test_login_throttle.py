"""Password guessing on /token and /api/token/ is held back per client address and per username:
5 failures a minute (by default), then 429 with Retry-After, in each endpoint's own error shape."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from accounts.login_throttle import username_key
from accounts.models import KnownLoginAddress, LoginFailures
from conftest import PASSWORD

NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def chatapi_login(username: str, password: str, address: str = "203.0.113.5"):
    return Client(REMOTE_ADDR=address).post("/token", {"u": username, "p": password}, content_type="application/json")


def jwt_login(username: str, password: str, address: str = "203.0.113.5"):
    body = {"username": username, "password": password}
    return Client(REMOTE_ADDR=address).post("/api/token/", body, content_type="application/json")


LOGINS = [chatapi_login, jwt_login]


@pytest.mark.parametrize("login", LOGINS)
def test_the_sixth_failure_in_a_minute_gets_429_with_retry_after(user, clock, login):
    for _ in range(5):
        assert login("ada", "wrong").status_code == 401

    refused = login("ada", "wrong")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"


def test_chatapi_says_so_in_its_envelope(user, clock):
    for _ in range(5):
        chatapi_login("ada", "wrong")
    clock.shift(15)

    refused = chatapi_login("ada", "wrong")

    assert refused.json() == {"statu": False, "message": "Too many failed logins. Try again in 45 seconds."}
    assert refused["Retry-After"] == "45"


def test_the_jwt_endpoint_says_so_in_drf_shape(user, clock):
    for _ in range(5):
        jwt_login("ada", "wrong")

    assert jwt_login("ada", "wrong").json() == {"detail": "Too many failed logins. Try again in 60 seconds."}


@pytest.mark.parametrize("login", LOGINS)
def test_even_the_right_password_is_refused_until_the_minute_is_over(user, clock, login):
    for _ in range(5):
        login("ada", "wrong")

    assert login("ada", PASSWORD).status_code == 429
    clock.shift(59)
    assert login("ada", PASSWORD).status_code == 429
    clock.shift(1)
    assert login("ada", PASSWORD).status_code in {200, 201}


def test_both_endpoints_share_one_count(user, clock):
    for _ in range(3):
        chatapi_login("ada", "wrong")
    for _ in range(2):
        jwt_login("ada", "wrong")

    assert chatapi_login("ada", PASSWORD).status_code == 429
    assert jwt_login("ada", PASSWORD).status_code == 429


def test_successful_logins_do_not_count(user, clock):
    for _ in range(20):
        assert chatapi_login("ada", PASSWORD).status_code == 201

    assert not LoginFailures.objects.filter(failures__gt=0).exists()
    for _ in range(5):
        assert chatapi_login("ada", "wrong").status_code == 401
    assert chatapi_login("ada", "wrong").status_code == 429


def test_one_address_guessing_many_usernames_is_held_back(make_user, clock):
    for name in ["u1", "u2", "u3", "u4", "u5"]:
        assert chatapi_login(name, "wrong", address="198.51.100.7").status_code == 401

    assert chatapi_login("someone-else", "wrong", address="198.51.100.7").status_code == 429
    make_user("ada")
    assert chatapi_login("ada", PASSWORD, address="198.51.100.8").status_code == 201


def test_many_addresses_guessing_one_username_are_held_back(user, clock):
    for last in range(1, 6):
        assert chatapi_login("ada", "wrong", address=f"198.51.100.{last}").status_code == 401

    assert chatapi_login("ada", "wrong", address="198.51.100.99").status_code == 429


@pytest.mark.parametrize("spelling", ["ADA", "Ada", "\uff41\uff44\uff41"])  # the last in fullwidth letters
def test_a_username_is_counted_whatever_its_spelling(user, clock, spelling):
    for last in range(1, 6):
        chatapi_login(spelling if last % 2 else "ada", "wrong", address=f"198.51.100.{last}")

    assert chatapi_login("ada", "wrong", address="198.51.100.99").status_code == 429


def test_ipv6_addresses_count_per_64_block(user, clock):
    for host in range(1, 6):
        chatapi_login(f"u{host}", "wrong", address=f"2001:db8:1:2::{host:x}")

    assert chatapi_login("other", "wrong", address="2001:db8:1:2:ffff::1").status_code == 429
    assert chatapi_login("other", "wrong", address="2001:db8:1:3::1").status_code == 401


def test_an_address_the_user_logged_in_from_is_not_locked_out_by_others_guessing(user, clock):
    assert chatapi_login("ada", PASSWORD, address="192.0.2.10").status_code == 201
    clock.shift(3600)
    for last in range(1, 6):
        chatapi_login("ada", "wrong", address=f"198.51.100.{last}")

    assert chatapi_login("ada", PASSWORD, address="198.51.100.99").status_code == 429
    assert chatapi_login("ada", PASSWORD, address="192.0.2.10").status_code == 201


def test_the_known_address_still_has_its_own_limit(user, clock):
    chatapi_login("ada", PASSWORD, address="192.0.2.10")
    for _ in range(5):
        chatapi_login("ada", "wrong", address="192.0.2.10")

    assert chatapi_login("ada", PASSWORD, address="192.0.2.10").status_code == 429


def test_an_address_known_long_ago_is_no_longer_an_exception(user, clock, settings):
    settings.CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS = 30
    chatapi_login("ada", PASSWORD, address="192.0.2.10")
    clock.shift(dt.timedelta(days=31))
    for last in range(1, 6):
        chatapi_login("ada", "wrong", address=f"198.51.100.{last}")

    assert chatapi_login("ada", PASSWORD, address="192.0.2.10").status_code == 429


def test_addresses_known_too_long_ago_are_forgotten(user, make_user, clock, settings):
    settings.CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS = 30
    make_user("bob")
    assert chatapi_login("ada", PASSWORD, address="192.0.2.10").status_code == 201
    clock.shift(dt.timedelta(days=31))

    assert chatapi_login("bob", PASSWORD, address="192.0.2.11").status_code == 201

    assert list(KnownLoginAddress.objects.values_list("key", flat=True)) == [f"{username_key('bob')}|192.0.2.11"]


def test_the_limit_and_window_are_settings(user, clock, settings):
    settings.CHATGATEWAY_LOGIN_MAX_FAILURES = 2
    settings.CHATGATEWAY_LOGIN_WINDOW_SECONDS = 300
    chatapi_login("ada", "wrong")
    chatapi_login("ada", "wrong")

    refused = chatapi_login("ada", "wrong")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "300"


def test_bad_input_is_not_a_failed_login(user, clock):
    for _ in range(10):
        assert Client().post("/token", {"u": "ada"}, content_type="application/json").status_code == 400

    assert chatapi_login("ada", PASSWORD).status_code == 201


def test_old_windows_are_deleted(user, clock):
    for last in range(1, 4):
        chatapi_login(f"u{last}", "wrong", address=f"198.51.100.{last}")
    clock.shift(61)

    chatapi_login("ada", PASSWORD)

    assert not LoginFailures.objects.exists()  # a right password takes no row, not even for a moment


def test_the_admin_login_page_is_held_back_too(user, clock):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(5):
        assert client.post("/admin/login/", {"username": "ada", "password": "wrong"}).status_code == 200

    refused = client.post("/admin/login/", {"username": "ada", "password": "wrong"})

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert refused.content == b"Too many failed logins. Try again in 60 seconds."
    assert chatapi_login("ada", PASSWORD).status_code == 429


def test_the_browsable_api_login_page_is_held_back_too(user, clock):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(5):
        client.post("/api-auth/login/", {"username": "ada", "password": "wrong"})

    assert client.post("/api-auth/login/", {"username": "ada", "password": PASSWORD}).status_code == 429
