"""Prices in admin: listed with the row in force today, searched by model, edited, and a price that names
neither a model nor a deployment refused; an edit reaches the next request's snapshot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from providers import catalog
from providers.models import Price

YESTERDAY = timezone.localdate() - dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_shipped_prices(db):
    Price.objects.all().delete()


def price_form(**fields) -> dict:
    form = {"model_name": "gpt-4o", "deployment": "", "input": "2.5", "cached_input": "1.25", "output": "10",
            "valid_from": YESTERDAY.isoformat(), "note": "OpenAI's list price"}  # fmt: skip
    form.update(fields)
    return form


def test_it_lists_the_prices_and_searches_them_by_model(admin_client):
    Price.objects.create(model_name="gpt-4o", input=Decimal("2.5"), output=Decimal(10), valid_from=YESTERDAY)
    Price.objects.create(
        model_name="deepseek-chat", input=Decimal("0.28"), output=Decimal("0.42"), valid_from=YESTERDAY
    )

    everything = admin_client.get("/admin/providers/price/").content.decode()
    found = admin_client.get("/admin/providers/price/", {"q": "deepseek"}).content.decode()

    assert "gpt-4o" in everything
    assert "deepseek-chat" in everything
    assert "deepseek-chat" in found
    assert "gpt-4o<" not in found


def test_an_admin_adds_and_edits_a_price_and_the_next_request_sees_it(admin_client, django_capture_on_commit_callbacks):
    catalog.refresh()

    with django_capture_on_commit_callbacks(execute=True):
        added = admin_client.post("/admin/providers/price/add/", price_form())
    assert added.status_code == 302, added.content.decode()[:2000]
    assert catalog.current().price("gpt-4o").input == Decimal("2.5")

    edited_price = Price.objects.get(model_name="gpt-4o")
    with django_capture_on_commit_callbacks(execute=True):
        edited = admin_client.post(f"/admin/providers/price/{edited_price.pk}/change/", price_form(input="3"))
    assert edited.status_code == 302
    assert catalog.current().price("gpt-4o").input == Decimal(3)


def test_a_price_must_name_a_model_or_a_deployment_and_not_be_negative(admin_client):
    nameless = admin_client.post("/admin/providers/price/add/", price_form(model_name=""))
    negative = admin_client.post("/admin/providers/price/add/", price_form(output="-1"))

    assert nameless.status_code == 200
    assert "Name the model it prices, or choose a deployment." in nameless.content.decode()
    assert negative.status_code == 200
    assert not Price.objects.exists()
