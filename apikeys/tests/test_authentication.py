from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apikeys.authentication import APIKeyAuthentication
from apikeys.models import APIKey
from apikeys.services import create_api_key
from apikeys.tests.helpers import quota_with


def test_it_authenticates_a_request_as_the_keys_owner(user):
    _, raw_key = create_api_key(user=user, name="laptop")

    response = quota_with(raw_key)

    assert response.status_code == 200
    assert response.json()["daily_limit"] == 10


def request_with(raw_key: str) -> Request:
    return Request(
        APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {raw_key}"), authenticators=[APIKeyAuthentication()]
    )


def test_it_gives_views_the_owner_as_request_user_and_the_key_as_request_auth(make_user):
    ada = make_user("ada")
    create_api_key(user=make_user("bob"), name="bob's")
    api_key, raw_key = create_api_key(user=ada, name="laptop")

    request = request_with(raw_key)

    assert request.user == ada
    assert request.auth == api_key


def test_it_finds_the_key_by_its_prefix_with_its_user_in_one_query_then_from_the_cache(user):
    api_key, raw_key = create_api_key(user=user, name="laptop")
    APIKey.objects.filter(pk=api_key.pk).update(last_used=timezone.now())  # no write this time

    with CaptureQueriesContext(connection) as queries:
        assert request_with(raw_key).user == user
    with CaptureQueriesContext(connection) as again:
        assert request_with(raw_key).user == user

    # the stamp · the key · the stamp again before the key is cached: in a transaction (the test's) that
    # may have changed who may do what since the stamp was read (core/access.py)
    stamp, lookup, stamp_before_keeping = queries.captured_queries
    assert "core_accessstamp" in stamp["sql"]
    assert "core_accessstamp" in stamp_before_keeping["sql"]
    assert '"apikeys_apikey"."prefix" = ' in lookup["sql"]
    assert "JOIN" in lookup["sql"]
    [stamp_again] = again.captured_queries  # the key and its user from the process's cache (core/access.py)
    assert "core_accessstamp" in stamp_again["sql"]


def test_the_scheme_is_case_insensitive(user):
    _, raw_key = create_api_key(user=user, name="laptop")

    assert quota_with(raw_key, scheme="bearer").status_code == 200
    assert quota_with(raw_key, scheme="BEARER").status_code == 200


def test_it_leaves_credentials_that_are_not_keys_to_the_next_class(db):
    for header in ["", "Bearer", "Bearer eyJhbGciOi.x.y", "Basic c2stYWJj", "Bearer sk-a sk-b"]:
        request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=header))

        assert APIKeyAuthentication().authenticate(request) is None, header
