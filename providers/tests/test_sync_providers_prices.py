"""A providers file may set a price on a model (by its public name) or on a deployment (its own price):
applied as the price in force from today, never rewriting an earlier one; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from providers import catalog
from providers.models import Deployment, Price
from providers.tests.helpers import sync

FILE = """
providers:
  - name: local
    base_url: http://127.0.0.1:8080/v1
    key_env: []
models:
  - name: smart
    price: {input: 1.5, output: 6}
    deployments:
      - provider: local
        model: qwen2.5-7b-instruct
        price: {input: 0.15, cached_input: 0.075, output: 0.6}
"""
TODAY = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_day(db):
    Price.objects.all().delete()
    with time_machine.travel(TODAY, tick=False):
        yield


def test_it_prices_the_model_by_name_and_the_deployment_as_its_own(tmp_path):
    out = sync(tmp_path, FILE)

    assert "model smart: created" in out
    by_name = Price.objects.get(model_name="smart")
    own = Price.objects.get(deployment=Deployment.objects.get(upstream_model="qwen2.5-7b-instruct"))
    assert (by_name.input, by_name.cached_input, by_name.output) == (Decimal("1.5"), None, Decimal(6))
    assert (own.input, own.cached_input, own.output) == (Decimal("0.15"), Decimal("0.075"), Decimal("0.6"))
    assert own.valid_from == by_name.valid_from == dt.date(2026, 12, 2)
    snapshot = catalog.refresh()
    (deployment,) = snapshot.model("smart").deployments
    assert snapshot.price("smart", deployment).input == Decimal("0.15")


def test_a_second_run_changes_no_price(tmp_path):
    sync(tmp_path, FILE)
    before = list(Price.objects.values_list("pk", "input", "output", "valid_from"))

    out = sync(tmp_path, FILE)

    assert "model smart: unchanged" in out
    assert list(Price.objects.values_list("pk", "input", "output", "valid_from")) == before


def test_a_changed_price_starts_on_the_day_of_the_sync_and_keeps_the_earlier_one(tmp_path):
    sync(tmp_path, FILE)

    with time_machine.travel(TODAY + dt.timedelta(days=3), tick=False):
        out = sync(tmp_path, FILE.replace("input: 1.5", "input: 2"))

    assert "model smart: updated (price)" in out
    assert list(Price.objects.filter(model_name="smart").order_by("valid_from").values_list("valid_from", "input")) == [
        (dt.date(2026, 12, 2), Decimal("1.5")),
        (dt.date(2026, 12, 5), Decimal("2")),
    ]


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("{input: 1}", "a price needs 'output'"),
        ("{input: -1, output: 1}", "expected an amount of 0 or more"),
        ("{input: cheap, output: 1}", "expected an amount per million tokens"),
        ("{input: 0.0000001, output: 1}", "input:"),
        ("{input: 1, output: 1, per: token}", "per"),
    ],
)
def test_a_wrong_price_names_its_line_and_changes_nothing(tmp_path, price, message):
    path = tmp_path / "providers.yaml"
    path.write_text(FILE.replace("{input: 1.5, output: 6}", price))

    with pytest.raises(CommandError, match=message) as refused:
        call_command("sync_providers", str(path))

    assert "line 8" in str(refused.value)
    assert not Price.objects.exists()
