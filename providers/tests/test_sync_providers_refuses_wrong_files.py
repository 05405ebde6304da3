from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command

from providers.models import CatalogVersion, Model, Provider, ProviderKey
from providers.tests.helpers import ISSUE_EXAMPLE, sync

WRONG_FILES = {
    "an unknown field": (
        ISSUE_EXAMPLE.replace("    timeout: 60\n", "    timeout: 60\n    tiemout: 30\n"),
        "tiemout: 30",
        "unknown field 'tiemout' in a provider",
    ),
    "a model with no deployment": (
        ISSUE_EXAMPLE + "  - name: lonely\n    deployments: []\n",
        "deployments: []",
        "model 'lonely' has no deployment",
    ),
    "a model without deployments at all": (
        ISSUE_EXAMPLE + "  - name: lonely\n",
        "name: lonely",
        "model 'lonely' needs 'deployments'",
    ),
    "an unknown provider in a deployment": (
        ISSUE_EXAMPLE.replace(
            "{provider: local, model: qwen2.5-7b-instruct, priority: 2}", "{provider: lokal, model: q}"
        ),
        "provider: lokal",
        "unknown provider 'lokal'",
    ),
    "a missing key variable": (
        ISSUE_EXAMPLE.replace("[OPENAI_KEY_A, OPENAI_KEY_B]", "[OPENAI_KEY_A,\n      OPENAI_KEY_MISSING]"),
        "OPENAI_KEY_MISSING",
        "the environment variable OPENAI_KEY_MISSING (a key of 'openai') is not set",
    ),
    "a bad completion_cap": (
        ISSUE_EXAMPLE.replace("completion_cap: max_tokens", "completion_cap: max_tokenz"),
        "max_tokenz",
        "completion_cap: 'max_tokenz' is not one of max_completion_tokens, max_tokens",
    ),
    "bad YAML": (
        ISSUE_EXAMPLE.replace("endpoints: [chat]\n", "endpoints: [chat\n"),
        "models:",  # where the parser gives up; the message names where the list began
        "not valid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence on line 12)",
    ),
    "an unknown endpoint": (
        ISSUE_EXAMPLE.replace("endpoints: [chat]", "endpoints: [chat, speech]"),
        "endpoints: [chat, speech]",
        "Unknown endpoint(s): speech",
    ),
    "a weight of 0": (
        ISSUE_EXAMPLE.replace("weight: 1}", "weight: 0}"),
        "weight: 0",
        "weight: expected a whole number of at least 1",
    ),
    "a base_url that is no URL": (
        ISSUE_EXAMPLE.replace("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
        "base_url: 127.0.0.1:8080",
        "base_url: Enter a valid URL.",
    ),
    "a provider declared twice": (
        ISSUE_EXAMPLE.replace("  - name: local\n", "  - name: openai\n"),
        "  - name: openai\n    base_url: http://",
        "provider 'openai' is declared twice",
    ),
    "an unknown plan": (
        ISSUE_EXAMPLE.replace("  - name: fast\n", "  - name: fast\n    plans: [gold]\n"),
        "name: fast",
        "model 'fast': no plan is named 'gold'",
    ),
    "a priority past what is stored": (
        ISSUE_EXAMPLE.replace("model: gpt-4o, priority: 1}", "model: gpt-4o, priority: 99999}"),
        "priority: 99999",
        "priority: Ensure this value is less than or equal to 32767.",
    ),
    "a model name too long": (
        ISSUE_EXAMPLE.replace("name: fast", "name: " + "f" * 101),
        "f" * 101,
        "name: Ensure this value has at most 100 characters",
    ),
    "an unknown top-level section": (ISSUE_EXAMPLE + "routes: []\n", "routes: []", "unknown field 'routes'"),
}


@pytest.mark.parametrize("case", WRONG_FILES, ids=list(WRONG_FILES))
def test_a_wrong_file_names_the_line_and_changes_nothing(db, tmp_path, example_env, case):
    sync(tmp_path, ISSUE_EXAMPLE.replace("timeout: 60", "timeout: 45"))  # what is there before
    before = _state()
    text, needle, message = WRONG_FILES[case]
    line = text[: text.index(needle)].count("\n") + 1  # each needle is found once in its file

    with pytest.raises(CommandError) as raised:
        sync(tmp_path, text)

    assert f"line {line}: " in str(raised.value), str(raised.value)
    assert message in str(raised.value)
    assert "nothing changed" in str(raised.value)
    assert _state() == before


def test_every_mistake_of_a_file_is_listed_at_once(db, tmp_path, example_env):
    text = ISSUE_EXAMPLE.replace("completion_cap: max_tokens", "completion_cap: max_tokenz").replace(
        "weight: 1}", "weight: 0}"
    )

    with pytest.raises(CommandError) as raised:
        sync(tmp_path, text)

    assert len(re.findall(r", line \d+: ", str(raised.value))) == 2


def test_a_missing_file_is_named(db, tmp_path):
    with pytest.raises(CommandError, match="Can't read"):
        call_command("sync_providers", str(tmp_path / "nowhere.yaml"))


def test_an_empty_file_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="the file is empty"):
        sync(tmp_path, "# nothing\n")


def _state() -> tuple:
    return (
        sorted(Provider.objects.values_list("name", "timeout", "updated")),
        sorted(ProviderKey.objects.values_list("pk", "enabled", "encrypted_secret")),
        sorted(Model.objects.values_list("name", "updated")),
        list(CatalogVersion.objects.values_list("version", flat=True)),
    )
