"""The shipped price table (fixtures/prices.json): loaded by a migration on a fresh install, loadable again
with `loaddata prices` without duplicates, and covering the development upstream's models."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command

from devtools.devupstream import MODELS as DEV_MODELS
from providers import catalog
from providers.models import Price

TABLE = json.loads((settings.BASE_DIR / "fixtures" / "prices.json").read_text())
NAMES = {entry["fields"]["model_name"] for entry in TABLE}
migration = importlib.import_module("providers.migrations.0004_default_prices")


def test_the_table_is_dated_and_says_where_each_price_comes_from():
    assert {entry["fields"]["valid_from"] for entry in TABLE} == {"2026-12-01"}
    assert all(entry["fields"]["note"] for entry in TABLE)
    assert len(NAMES) == len(TABLE)


def test_it_covers_the_development_upstreams_models_and_the_default_model():
    assert set(DEV_MODELS) <= NAMES
    assert "gpt-4o-mini" in NAMES


@pytest.mark.parametrize(
    "name",
    ["gpt-4o", "gpt-4.1-nano", "o3", "o4-mini", "gpt-5", "gpt-5-nano", "text-embedding-3-large", "deepseek-reasoner",
     "qwen-max", "qwen-turbo"],
)  # fmt: skip
def test_it_covers_the_popular_models(name):
    assert name in NAMES


def test_the_migration_loads_it_on_a_fresh_install_and_leaves_prices_already_there(db):
    Price.objects.all().delete()
    Price.objects.create(model_name="gpt-4o", input=7, output=7, valid_from=dt.date(2026, 12, 1))

    migration.load_default_prices(apps, None)

    assert Price.objects.count() == len(TABLE)
    assert Price.objects.get(model_name="gpt-4o").input == 7  # an administrator's edit stands
    snapshot = catalog.refresh()
    for name in DEV_MODELS:
        assert snapshot.price(name, on=dt.date(2026, 12, 1)) is not None


def test_the_migration_loads_nothing_in_another_currency(db, settings):
    settings.CHATGATEWAY_CURRENCY = "CNY"
    Price.objects.all().delete()

    migration.load_default_prices(apps, None)

    assert not Price.objects.exists()


def test_loaddata_prices_loads_it_and_loading_again_duplicates_nothing(db):
    Price.objects.all().delete()

    call_command("loaddata", "prices", verbosity=0)
    call_command("loaddata", "prices", verbosity=0)

    assert Price.objects.count() == len(TABLE)
    mini = Price.objects.get(model_name="gpt-4o-mini")
    assert (str(mini.input), str(mini.cached_input), str(mini.output)) == ("0.150000", "0.075000", "0.600000")
