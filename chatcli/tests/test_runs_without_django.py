"""The client needs only its own small dependencies: it runs where Django and the gateway's apps can't be imported."""

from __future__ import annotations

import subprocess

from chatcli.tests.terminal import run_client

# Runs the client as `python -m chatcli` would, with every import of Django, DRF and the gateway's
# own apps refused, and reports what else it imported.
WITHOUT_DJANGO = """
import importlib.abc, json, runpy, sys

REFUSED = ("django", "rest_framework", "rest_framework_simplejwt", "adrf", "openai", "psycopg", "uvicorn",
           "accounts", "apikeys", "quota", "relay", "chatapi", "openai_api", "conversations")

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED or name == "chatgateway.settings":
            raise ImportError(f"{name} is not available to the client")
        return None

sys.meta_path.insert(0, Refuse())
sys.argv = ["chatcli", *sys.argv[1:]]
try:
    runpy.run_module("chatcli", run_name="__main__", alter_sys=True)
finally:
    print(json.dumps(sorted(name for name in sys.modules if name.startswith("chatgateway"))), file=sys.stderr)
"""


def run_without_django(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_client(["-c", WITHOUT_DJANGO, *args], env=env)


def test_help_works_without_django(cli_env):
    result = run_without_django("--help", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert "usage: python -m chatcli" in result.stdout
    assert "Exit status:" in result.stdout


def test_a_whole_question_and_answer_works_without_django(cli_env, logged_in, user, gateway):
    logged_in(user)

    result = run_without_django("--url", gateway.url, "ask", "Hello from a bare client", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert "You said: Hello from a bare client" in result.stdout
    assert "chatgateway.settings" not in result.stderr
