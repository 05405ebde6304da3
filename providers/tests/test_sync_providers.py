from __future__ import annotations

from pathlib import Path

from django.db import connection

from providers import catalog
from providers.models import Deployment, Model, Provider, ProviderKey
from providers.tests.helpers import ISSUE_EXAMPLE, sync
from quota.models import Plan


def test_the_issues_example_file_makes_its_providers_keys_and_models(db, tmp_path, example_env):
    out = sync(tmp_path, ISSUE_EXAMPLE)

    assert "provider openai: created" in out
    assert "model fast: created" in out
    openai = Provider.objects.get(name="openai")
    assert openai.completion_cap == "max_completion_tokens"
    assert openai.endpoints == ["chat", "responses", "embeddings"]
    assert openai.timeout == 60
    assert openai.managed_by_file
    assert sorted(key.secret() for key in openai.keys.all()) == sorted(example_env.values())
    assert list(openai.keys.values_list("label", flat=True)) == ["OPENAI_KEY_A", "OPENAI_KEY_B"]
    assert not Provider.objects.get(name="local").keys.exists()
    snapshot = catalog.refresh()
    assert not snapshot.implicit
    fast = snapshot.model("fast")
    assert [(d.provider.name, d.upstream_model, d.priority, d.weight) for d in fast.deployments] == [
        ("openai", "gpt-4o-mini", 1, 3),
        ("local", "qwen2.5-7b-instruct", 1, 1),
    ]
    smart = snapshot.model("smart")
    assert [(d.provider.name, d.priority) for d in smart.deployments] == [("openai", 1), ("local", 2)]
    assert snapshot.providers["local"].keys == ()
    assert snapshot.providers["openai"].timeout == 60.0
    assert snapshot.model_names_for(None) == ["fast", "smart"]


def test_the_output_never_holds_a_key(db, tmp_path, example_env):
    out = sync(tmp_path, ISSUE_EXAMPLE)

    for secret in example_env.values():
        assert secret not in out
        assert f"…{secret[-4:]}" in out


def test_a_second_run_of_the_same_file_changes_nothing(db, tmp_path, example_env):
    sync(tmp_path, ISSUE_EXAMPLE)
    rows = _everything()

    out = sync(tmp_path, ISSUE_EXAMPLE)

    assert "nothing to change" in out
    assert "created" not in out
    assert "updated" not in out
    assert _everything() == rows


def test_a_changed_file_updates_what_changed_and_says_so(db, tmp_path, example_env):
    sync(tmp_path, ISSUE_EXAMPLE)

    out = sync(
        tmp_path,
        ISSUE_EXAMPLE.replace("timeout: 60", "timeout: 30").replace("priority: 1, weight: 3", "priority: 1, weight: 5"),
    )

    assert "provider openai: updated (timeout)" in out
    assert "model fast: updated (deployments)" in out
    assert "model smart: unchanged" in out
    assert Deployment.objects.get(model__name="fast", upstream_model="gpt-4o-mini").weight == 5


def test_a_key_no_longer_listed_is_disabled_and_a_new_one_added(db, tmp_path, example_env, monkeypatch):
    sync(tmp_path, ISSUE_EXAMPLE)
    monkeypatch.setenv("OPENAI_KEY_C", "sk-example-key-c-new-CCCC")

    out = sync(tmp_path, ISSUE_EXAMPLE.replace("[OPENAI_KEY_A, OPENAI_KEY_B]", "[OPENAI_KEY_A, OPENAI_KEY_C]"))

    assert "key OPENAI_KEY_C (…CCCC) of openai: created" in out
    assert "disabled (no longer in the file)" in out
    states = {key.label: key.enabled for key in ProviderKey.objects.all()}
    assert states == {"OPENAI_KEY_A": True, "OPENAI_KEY_B": False, "OPENAI_KEY_C": True}
    assert [key.last4 for key in catalog.refresh().providers["openai"].keys] == ["AAAA", "CCCC"]


def test_a_key_is_matched_by_its_secret_whatever_variable_holds_it(db, tmp_path, example_env, monkeypatch):
    sync(tmp_path, ISSUE_EXAMPLE)
    monkeypatch.setenv("OPENAI_MAIN", example_env["OPENAI_KEY_A"])

    out = sync(tmp_path, ISSUE_EXAMPLE.replace("[OPENAI_KEY_A, OPENAI_KEY_B]", "[OPENAI_MAIN, OPENAI_KEY_B]"))

    assert "key OPENAI_MAIN (…AAAA) of openai: updated (label)" in out
    assert ProviderKey.objects.count() == 2


def test_what_the_file_does_not_mention_stays_unless_pruned(db, tmp_path, example_env, make_provider, make_model):
    own = make_provider("by-hand")
    make_model("kept-by-hand", (own, "m"))

    sync(tmp_path, ISSUE_EXAMPLE)
    assert Model.objects.filter(name="kept-by-hand").exists()

    out = sync(tmp_path, ISSUE_EXAMPLE, "--prune")
    assert "model kept-by-hand: deleted (--prune)" in out
    assert "provider by-hand: deleted (--prune)" in out
    assert sorted(Provider.objects.values_list("name", flat=True)) == ["local", "openai"]


def test_a_deployment_may_name_a_provider_configured_in_the_admin(db, tmp_path, make_provider):
    make_provider("by-hand")

    sync(tmp_path, "models:\n  - name: m\n    deployments:\n      - {provider: by-hand, model: x}\n")

    assert Deployment.objects.get().provider.name == "by-hand"


def test_plans_restrict_a_model_by_name(db, tmp_path, example_env):
    student = Plan.objects.create(name="student", daily_request_limit=5)
    text = ISSUE_EXAMPLE.replace("  - name: fast\n", "  - name: fast\n    plans: [student]\n")

    sync(tmp_path, text)

    assert list(Model.objects.get(name="fast").plans.all()) == [student]
    snapshot = catalog.refresh()
    assert snapshot.model_names_for(None) == ["smart"]
    assert snapshot.model_names_for(student.pk) == ["fast", "smart"]


def test_a_dry_run_says_what_would_change_and_changes_nothing(db, tmp_path, example_env):
    out = sync(tmp_path, ISSUE_EXAMPLE, "--dry-run")

    assert "provider openai: created" in out
    assert "would change" in out
    assert not Provider.objects.exists()


def _everything() -> list:
    tables = ["providers_provider", "providers_providerkey", "providers_model", "providers_deployment"]
    with connection.cursor() as cursor:
        rows = []
        for table in tables:
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608  (our own table names)
            rows.append(cursor.fetchall())
    return rows


def test_the_example_in_the_docs_applies(db, tmp_path, monkeypatch, settings):
    for name in ("OPENAI_KEY_A", "OPENAI_KEY_B", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.setenv(name, f"sk-{name.lower()}-0000")
    Plan.objects.create(name="demo-plus", daily_request_limit=50)

    sync(tmp_path, (Path(settings.BASE_DIR) / "docs" / "providers.example.yaml").read_text())

    assert sorted(catalog.refresh().models) == ["deepseek-chat", "fast", "smart"]
