from __future__ import annotations

from providers import catalog
from providers.models import Deployment
from quota.models import Plan


def test_models_restricted_to_plans_are_listed_for_those_plans_only(db, make_provider, make_model):
    local = make_provider("local")
    student = Plan.objects.create(name="student", daily_request_limit=5)
    staff = Plan.objects.create(name="staff", daily_request_limit=50)
    make_model("open", (local, "a"))
    make_model("for-staff", (local, "b")).plans.set([staff])
    make_model("for-both", (local, "c")).plans.set([staff, student])

    snapshot = catalog.refresh()

    assert snapshot.model_names_for(None) == ["open"]  # a user without a plan: unrestricted models only
    assert snapshot.model_names_for(student.pk) == ["for-both", "open"]
    assert snapshot.model_names_for(staff.pk) == ["for-both", "for-staff", "open"]
    assert snapshot.model("for-staff").plan_ids == frozenset({staff.pk})
    assert snapshot.model("for-staff").allowed_for(staff.pk)
    assert not snapshot.model("for-staff").allowed_for(None)


def test_deployments_come_by_priority_and_only_usable_ones(db, make_provider, make_model):
    openai = make_provider("openai", keys=("sk-openai-key-000000-KEY1",), timeout=12.5, max_retries=1)
    down = make_provider("down", enabled=False)
    local = make_provider("local", completion_cap="max_tokens", extra_headers={"HTTP-Referer": "https://x.org"})
    model = make_model("smart", (local, "qwen"), (openai, "gpt-4o"), (down, "whatever"))
    Deployment.objects.filter(model=model, upstream_model="qwen").update(priority=5)
    make_model("disabled", (local, "x"), enabled=False)
    off = make_model("deployment-off", (local, "y"))
    off.deployments.update(enabled=False)

    snapshot = catalog.refresh()

    assert sorted(snapshot.models) == ["smart"]
    assert sorted(snapshot.providers) == ["local", "openai"]
    smart = snapshot.model("smart")
    assert [(d.provider.name, d.upstream_model, d.priority) for d in smart.deployments] == [
        ("openai", "gpt-4o", 2),
        ("local", "qwen", 5),
    ]
    assert smart.deployments[0].provider is snapshot.providers["openai"]
    openai_entry = snapshot.providers["openai"]
    assert (openai_entry.timeout, openai_entry.max_retries) == (12.5, 1)
    assert dict(snapshot.providers["local"].headers) == {"HTTP-Referer": "https://x.org"}


def test_a_provider_with_no_timeout_of_its_own_takes_the_settings(db, settings, make_provider, make_model):
    settings.OPENAI_TIMEOUT = 33.0
    settings.OPENAI_MAX_RETRIES = 4
    make_model("m", (make_provider("local"), "x"))

    entry = catalog.refresh().providers["local"]

    assert (entry.timeout, entry.max_retries) == (33.0, 4)


def test_an_azure_provider_carries_its_api_version(db, make_provider, make_model):
    azure = make_provider("azure", kind="azure", base_url="https://ours.openai.azure.com", api_version="2024-10-21")
    make_model("gpt-4o", (azure, "our-gpt-4o-deployment"))

    entry = catalog.refresh().providers["azure"]

    assert (entry.kind, entry.base_url, entry.api_version) == ("azure", "https://ours.openai.azure.com", "2024-10-21")
