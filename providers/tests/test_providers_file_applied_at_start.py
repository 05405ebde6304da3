"""CHATGATEWAY_PROVIDERS_FILE: `make run` (rungateway) and `make serve` (serve) apply it before serving."""

from __future__ import annotations

import pytest
import uvicorn
from django.core.management import CommandError, call_command

from providers.models import Model
from providers.tests.helpers import ISSUE_EXAMPLE


@pytest.fixture
def served(monkeypatch, tmp_path):
    """uvicorn.run noted instead of run: what matters is what happened before it. The commands also point
    PROMETHEUS_MULTIPROC_DIR at a fresh directory, in this process: set here first, so that monkeypatch
    takes it away again (left behind, it turned every later scrape in the test process to that directory)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.parametrize(("command", "debug"), [("rungateway", True), ("serve", False)])
def test_the_file_is_applied_before_serving(db, tmp_path, example_env, settings, served, command, debug):
    path = tmp_path / "providers.yaml"
    path.write_text(ISSUE_EXAMPLE)
    settings.CHATGATEWAY_PROVIDERS_FILE = str(path)
    settings.USE_DEV_UPSTREAM = False
    settings.DEBUG = debug

    call_command(command, *(["--noreload"] if command == "rungateway" else []))

    assert sorted(Model.objects.values_list("name", flat=True)) == ["fast", "smart"]
    assert served


def test_a_wrong_file_stops_the_start(db, tmp_path, settings, served):
    path = tmp_path / "providers.yaml"
    path.write_text("providers: [{name: x}]\n")
    settings.CHATGATEWAY_PROVIDERS_FILE = str(path)
    settings.USE_DEV_UPSTREAM = False

    with pytest.raises(CommandError, match="line 1: provider 'x' needs 'base_url'"):
        call_command("rungateway", "--noreload")

    assert not served
