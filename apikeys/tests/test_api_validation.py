from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apikeys.models import APIKey


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": ["laptop"]}, "name"),
        ({"name": "ci", "expires": "tomorrow"}, "expires"),
    ],
)
def test_it_refuses_a_bad_field_with_400(api, body, field):
    response = api.post("/api/keys/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not APIKey.objects.exists()


def test_it_refuses_an_expiry_in_the_past(api):
    past = (timezone.now() - dt.timedelta(minutes=1)).isoformat()

    response = api.post("/api/keys/", {"name": "ci", "expires": past}, format="json")

    assert response.status_code == 400
    assert response.json() == {"expires": ["The expiry must be in the future."]}


def test_it_takes_a_name_of_100_characters(api):
    assert api.post("/api/keys/", {"name": "x" * 100}, format="json").status_code == 201
