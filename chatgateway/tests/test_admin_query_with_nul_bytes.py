"""A NUL byte in any admin query parameter (a search, a filter, the date drill-down, the ordering) is
refused with a 400, never a 500 (issue 18, defect 11: `?model=%00` on the usage list was a DataError
on PostgreSQL, whose text cannot hold NUL; SQLite took it). Runs on both databases: CI runs the suite a
second time on PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from relay.models import UsageRecord

NUL = "\x00"
# The issue's lists first; every other registered admin (groups, the token blacklist) is held to it too.
NAMED = ["relay.usagerecord", "accounts.user", "apikeys.apikey", "quota.plan", "conversations.conversation"]
REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


@pytest.fixture
def staff(admin_user) -> Client:
    """A superuser's client that answers a 500 instead of raising it, so every answer can be seen."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


def changelist(label: str) -> str:
    return reverse("admin:{}_{}_changelist".format(*label.split(".")))


def query_parameters(client: Client, url: str) -> list[str]:
    """Every parameter the list takes: its search, each filter's, the date drill-down's, ordering, page."""
    answer = client.get(url)
    assert answer.status_code == 200
    cl = answer.context["cl"]
    names = ["q", "o", "p"]
    for spec in cl.filter_specs:
        names += spec.expected_parameters()
    if cl.date_hierarchy:
        names += [f"{cl.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return names


def test_the_issues_admin_lists_are_all_registered():
    assert set(NAMED) <= set(REGISTERED)


@pytest.mark.parametrize("label", REGISTERED)
def test_it_refuses_a_nul_byte_in_any_query_parameter_of_an_admin_list_with_400(staff, label):
    url = changelist(label)
    names = query_parameters(staff, url)

    answers = {name: staff.get(url, {name: NUL}).status_code for name in names}
    answers["a NUL inside a longer value"] = staff.get(url, {"q": f"ada{NUL}"}).status_code
    answers["a NUL in a parameter's name"] = staff.get(url, {f"q{NUL}": "ada"}).status_code

    assert answers == dict.fromkeys(answers, 400)


def test_it_refuses_a_nul_byte_in_the_usage_export_with_400(staff):
    response = staff.get(reverse("admin:relay_usagerecord_export"), {"model": NUL})

    assert response.status_code == 400


def test_the_usage_list_still_takes_ordinary_searches_and_filters(staff, user):
    UsageRecord.objects.create(
        user=user, model="gpt-4o-mini", endpoint=UsageRecord.Endpoint.CHAT, status_code=200, latency_ms=5
    )

    found = staff.get(changelist("relay.usagerecord"), {"q": "ada", "model": "gpt-4o-mini"})
    none = staff.get(changelist("relay.usagerecord"), {"q": "nobody", "model": "gpt-4o-mini"})

    assert found.status_code == 200
    assert found.context["cl"].result_count == 1
    assert none.status_code == 200
    assert none.context["cl"].result_count == 0
