from __future__ import annotations

from providers import catalog
from providers.models import Model
from quota.models import Plan


def model_form(provider_pk: int, **fields) -> dict:
    form = {
        "name": "smart", "description": "", "enabled": "on",
        "deployments-TOTAL_FORMS": "1", "deployments-INITIAL_FORMS": "0", "deployments-MIN_NUM_FORMS": "1",
        "deployments-MAX_NUM_FORMS": "1000", "deployments-0-provider": str(provider_pk),
        "deployments-0-upstream_model": "gpt-4o", "deployments-0-priority": "1", "deployments-0-weight": "2",
        "deployments-0-enabled": "on",
    }  # fmt: skip
    form.update(fields)
    return form


def test_an_admin_maps_a_public_name_to_a_deployment(admin_client, make_provider):
    openai = make_provider("openai")
    student = Plan.objects.create(name="student", daily_request_limit=5)

    response = admin_client.post("/admin/providers/model/add/", model_form(openai.pk, plans=[str(student.pk)]))

    assert response.status_code == 302, response.content.decode()[:3000]
    smart = Model.objects.get(name="smart")
    assert [(d.provider.name, d.upstream_model, d.weight) for d in smart.deployments.all()] == [("openai", "gpt-4o", 2)]
    entry = catalog.refresh().model("smart")
    assert entry.plan_ids == frozenset({student.pk})


def test_a_model_needs_a_deployment(admin_client, make_provider):
    openai = make_provider("openai")

    response = admin_client.post(
        "/admin/providers/model/add/", model_form(openai.pk, **{"deployments-0-upstream_model": ""})
    )

    assert response.status_code == 200
    assert not Model.objects.exists()


def test_a_weight_below_one_is_refused(admin_client, make_provider):
    response = admin_client.post(
        "/admin/providers/model/add/", model_form(make_provider("openai").pk, **{"deployments-0-weight": "0"})
    )

    assert response.status_code == 200
    assert not Model.objects.exists()


def test_the_lists_show_what_serves_each_model_and_each_providers_keys(admin_client, make_provider, make_model):
    openai = make_provider("openai", keys=("sk-list-page-key-0000-LIST",))
    make_model("smart", (openai, "gpt-4o"), (make_provider("local"), "qwen"))

    models_page = admin_client.get("/admin/providers/model/").content.decode()
    providers_page = admin_client.get("/admin/providers/provider/").content.decode()

    assert "1: openai/gpt-4o; 2: local/qwen" in models_page
    assert "all" in models_page
    assert "Keys in use" in providers_page
    assert admin_client.get(f"/admin/providers/model/{Model.objects.get().pk}/change/").status_code == 200
