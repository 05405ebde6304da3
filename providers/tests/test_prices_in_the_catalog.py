"""Prices are part of the catalog's snapshot: looked up with no query per request, a deployment's own price
first, then its provider model's, then its public model's; the one in force is the latest dated not after
today; an edit bumps the catalog's version like any catalog edit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from providers import catalog
from providers.models import CatalogVersion, Deployment, Price

DAY = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def no_shipped_prices(db):
    Price.objects.all().delete()


def price(model_name: str = "", *, input: str, output: str = "1", valid_from: dt.date = DAY, **fields) -> Price:
    return Price.objects.create(
        model_name=model_name, input=Decimal(input), output=Decimal(output), valid_from=valid_from, **fields
    )


@pytest.fixture
def smart(make_provider, make_model):
    """Model `smart` served by openai/gpt-4o (first) and local/qwen (second)."""
    model = make_model("smart", (make_provider("openai"), "gpt-4o"), (make_provider("local"), "qwen"))
    return {d.upstream_model: d for d in Deployment.objects.filter(model=model)}


def deployment_entry(snapshot: catalog.Catalog, upstream_model: str) -> catalog.DeploymentEntry:
    return next(d for d in snapshot.model("smart").deployments if d.upstream_model == upstream_model)


def test_a_deployments_own_price_wins_then_its_provider_models_then_its_public_models(smart):
    price("smart", input="1")
    price("gpt-4o", input="2")
    price(deployment=smart["gpt-4o"], input="3")
    snapshot = catalog.refresh()
    gpt4o, qwen = deployment_entry(snapshot, "gpt-4o"), deployment_entry(snapshot, "qwen")

    assert snapshot.price("smart", gpt4o, on=DAY).input == 3
    assert snapshot.price("smart", "gpt-4o", on=DAY).input == 2  # by the provider model's name alone
    assert snapshot.price("smart", qwen, on=DAY).input == 1  # neither its own nor its model's: the public one
    assert snapshot.price("other", "unknown", on=DAY) is None


def test_the_price_in_force_is_the_latest_dated_not_after_the_day(smart):
    price("smart", input="1", valid_from=DAY)
    price("smart", input="5", valid_from=DAY + dt.timedelta(days=30))
    snapshot = catalog.refresh()

    assert snapshot.price("smart", on=DAY - dt.timedelta(days=1)) is None
    assert snapshot.price("smart", on=DAY + dt.timedelta(days=29)).input == 1
    assert snapshot.price("smart", on=DAY + dt.timedelta(days=30)).input == 5
    with time_machine.travel(dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC), tick=False):
        assert snapshot.price("smart").input == 5  # today, by default: no reload needed on the day


def test_a_missing_cached_price_is_the_input_price(db):
    price("gpt-4o-mini", input="0.15", output="0.6")
    price("gpt-4o", input="2.5", output="10", cached_input=Decimal("1.25"))
    snapshot = catalog.refresh()

    assert snapshot.price("gpt-4o-mini", on=DAY).cached_input == Decimal("0.15")
    assert snapshot.price("gpt-4o", on=DAY).cached_input == Decimal("1.25")


def test_the_worst_price_is_the_highest_of_each_over_the_deployments_a_request_could_take(smart):
    price("gpt-4o", input="2.5", output="10", cached_input=Decimal("1.25"))
    price("qwen", input="4", output="6")
    snapshot = catalog.refresh()

    worst = snapshot.worst_price("smart", on=DAY)

    assert (worst.input, worst.cached_input, worst.output) == (Decimal(4), Decimal(4), Decimal(10))


def test_there_is_no_worst_price_while_any_deployment_is_unpriced(smart):
    price("gpt-4o", input="2.5", output="10")
    snapshot = catalog.refresh()

    assert snapshot.price("smart", deployment_entry(snapshot, "gpt-4o"), on=DAY) is not None
    assert snapshot.worst_price("smart", on=DAY) is None
    assert snapshot.worst_price("unknown", on=DAY) is None


def test_the_implicit_catalog_prices_its_models_by_name(db, settings):
    settings.CHATGATEWAY_MODELS = ["gpt-4o-mini"]
    price("gpt-4o-mini", input="0.15", output="0.6")
    snapshot = catalog.refresh()

    assert snapshot.implicit
    (deployment,) = snapshot.model("gpt-4o-mini").deployments
    assert snapshot.price("gpt-4o-mini", deployment, on=DAY).output == Decimal("0.6")
    assert snapshot.worst_price("gpt-4o-mini", on=DAY).input == Decimal("0.15")


def test_looking_up_a_price_reads_no_database(smart, django_assert_num_queries):
    price("smart", input="1")
    snapshot = catalog.refresh()

    with django_assert_num_queries(0):
        for _ in range(100):
            assert catalog.current().price("smart", deployment_entry(snapshot, "qwen")) is not None


def test_a_price_edit_bumps_the_catalog_version_and_this_process_reloads(smart, django_capture_on_commit_callbacks):
    before = catalog.refresh()

    with django_capture_on_commit_callbacks(execute=True):
        edited = price("smart", input="1", valid_from=timezone.localdate())
    assert CatalogVersion.objects.get(pk=1).version > before.version
    assert catalog.current().price("smart").input == 1

    with django_capture_on_commit_callbacks(execute=True):
        edited.input = Decimal("7")
        edited.save()
    assert catalog.current().price("smart").input == 7

    with django_capture_on_commit_callbacks(execute=True):
        edited.delete()
    assert catalog.current().price("smart") is None
