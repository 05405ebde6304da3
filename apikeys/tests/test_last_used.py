"""`last_used` is written at most once per CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY seconds."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with

NOON = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def last_used() -> dt.datetime | None:
    return APIKey.objects.values_list("last_used", flat=True).get()


def test_it_records_the_first_use(user, clock):
    _, raw_key = create_api_key(user=user, name="laptop")
    assert last_used() is None

    quota_with(raw_key)

    assert last_used() == NOON


def test_it_does_not_write_again_within_the_granularity(user, clock, settings):
    settings.CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY = 60
    _, raw_key = create_api_key(user=user, name="laptop")
    quota_with(raw_key)

    clock.shift(59)
    quota_with(raw_key)
    assert last_used() == NOON

    clock.shift(2)
    quota_with(raw_key)
    assert last_used() == NOON + dt.timedelta(seconds=61)


def test_a_fresh_last_used_costs_no_write(user, clock, django_assert_num_queries):
    _, raw_key = create_api_key(user=user, name="laptop")
    client = Client()
    quota_with(raw_key, client)  # records the first use; the quota middleware's daily reset runs once too

    clock.shift(30)
    with django_assert_num_queries(4):  # the key with its user; its team; the quota; the limits in force
        assert quota_with(raw_key, client).status_code == 200


def test_a_stale_last_used_costs_one_update(user, clock, django_assert_num_queries):
    _, raw_key = create_api_key(user=user, name="laptop")
    client = Client()
    quota_with(raw_key, client)

    clock.shift(61)
    with django_assert_num_queries(
        5
    ):  # the key with its user; one UPDATE of last_used; its team; the quota; the limits
        assert quota_with(raw_key, client).status_code == 200
