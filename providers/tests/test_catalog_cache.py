"""The catalog is read from memory on every request: the database only on the first call, and after a
change, by the process that saved it (on commit) or by each process's poller (CatalogVersion)."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.db import transaction

from providers import catalog
from providers.models import CatalogVersion, Model, Provider
from providers.services import bump_catalog_version


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not within time")
        time.sleep(0.02)


def test_current_reads_no_database_once_loaded(make_provider, make_model, django_assert_num_queries):
    make_model("smart", (make_provider("openai", keys=("sk-a-key-for-the-cache-test-CACH",)), "gpt-4o"))
    first = catalog.current()

    with django_assert_num_queries(0):
        for _ in range(100):
            assert catalog.current() is first


def test_the_implicit_catalog_reads_no_database_once_loaded(db, django_assert_num_queries):
    catalog.current()

    with django_assert_num_queries(0):
        assert catalog.current().implicit


def test_every_change_bumps_the_version_in_its_own_transaction(make_provider, make_model):
    version = CatalogVersion.objects.get().version
    provider = make_provider("openai")
    assert CatalogVersion.objects.get().version > version

    version = CatalogVersion.objects.get().version
    with transaction.atomic():
        make_model("smart", (provider, "gpt-4o"))
        transaction.set_rollback(True)  # the save is undone
    assert CatalogVersion.objects.get().version == version  # undone with it

    model = make_model("smart", (provider, "gpt-4o"))
    for change in (lambda: model.plans.set([]), lambda: model.deployments.get().delete(), model.delete):
        version = CatalogVersion.objects.get().version
        change()
        assert CatalogVersion.objects.get().version >= version


def test_a_save_in_this_process_reloads_the_catalog_when_it_commits(
    make_provider, make_model, django_capture_on_commit_callbacks
):
    assert catalog.current().implicit

    with django_capture_on_commit_callbacks(execute=True):
        make_model("smart", (make_provider("local"), "qwen"))

    assert list(catalog.current().models) == ["smart"]
    with django_capture_on_commit_callbacks(execute=True):
        Model.objects.filter(name="smart").get().delete()
    assert dict(catalog.current().models) == {}


@pytest.mark.django_db(transaction=True)
def test_the_poller_sees_a_change_made_by_another_process(settings):
    settings.CHATGATEWAY_PROVIDERS_REFRESH_SECONDS = 0.05
    assert catalog.current().implicit

    # As another process would: rows written and the version bumped, none of this process's signals run.
    provider = Provider.objects.bulk_create([Provider(name="local", base_url="http://127.0.0.1:9/v1")])[0]
    model = Model.objects.bulk_create([Model(name="smart")])[0]
    model.deployments.model.objects.bulk_create(
        [model.deployments.model(model=model, provider=provider, upstream_model="q")]
    )
    CatalogVersion.objects.update_or_create(pk=1, defaults={"version": 10_000})

    wait_for(lambda: "smart" in catalog.current().models)
    assert catalog.current().version == 10_000


@pytest.mark.django_db(transaction=True)
def test_the_first_load_works_from_an_async_view():
    async def view() -> catalog.Catalog:
        return catalog.current()

    assert asyncio.run(view()).implicit


def test_bumping_makes_a_missing_version_row(db):
    CatalogVersion.objects.all().delete()

    bump_catalog_version()

    assert CatalogVersion.objects.get().version == 1
