"""Codex CLI (npm `@openai/codex`, the version pinned in .tools/package-lock.json, installed by `make test`)
run for real with `codex exec` against a live gateway and the development upstream, through a custom model
provider (`wire_api = "responses"`, `env_key` holding the user's JWT: no login).

With a provider that speaks the Responses API it answers, and runs the shell command the (scripted) upstream
asks for before answering. With a chat-only provider (the gateway translates), Codex's default tools include
a `namespace` tool (multi-agent) and `web_search`, which chat completions cannot express: a clear 400 naming
the tool, nothing charged. With those two turned off (`web_search = "disabled"`, `--disable multi_agent`) only
function tools are left, and Codex works there too.

Nothing may reach the internet: Codex gets a CODEX_HOME of its own with no update check, analytics or
feedback, a HOME of its own, and a proxy (HTTPS_PROXY and the rest) that is a local socket counting the
connections made to it; only 127.0.0.1 (the gateway) bypasses it, and the tests check that nothing else was
tried. Without the binary these tests skip, saying why; with CI=true they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts.tokens import issue_access_token
from conftest import used_today
from relay.models import UsageRecord

CODEX = Path(django_settings.BASE_DIR) / ".tools" / "node_modules" / ".bin" / "codex"
NOTICE = "(development upstream, not a real model)"
# Codex sends about 33,000 characters with every request (its instructions and tools' schemas), which the
# default CHATGATEWAY_MAX_PROMPT_CHARS (200,000) takes; these tests keep it at that default whatever the suite sets.
PROMPT_CHARS = 200_000
NO_CHAT_ONLY_TOOLS = ["-c", 'web_search="disabled"', "--disable", "multi_agent"]


@pytest.fixture(scope="module")
def codex() -> Path:
    if not os.access(CODEX, os.X_OK):
        reason = f"Codex CLI is not installed at {CODEX}: `make install` (npm ci --prefix .tools) puts it there"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CODEX


class Sinkhole:
    """A local socket standing for every proxy: it notes the first line of each request made to it (where to)
    and closes the connection."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.tried: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    first_line = connection.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError:
                    first_line = ""
            self.tried.append(first_line)  # e.g. "CONNECT example.com:443 HTTP/1.1"


@pytest.fixture
def sinkhole():
    hole = Sinkhole()
    yield hole
    hole.socket.close()


@pytest.fixture
def run_codex(codex, gateway, user, tmp_path, settings, sinkhole):
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = PROMPT_CHARS
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f"""\
model_provider = "chatgateway"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.chatgateway]
name = "ChatGateway"
base_url = "{gateway.url}/v1"
env_key = "CHATGATEWAY_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false

[analytics]
enabled = false

[feedback]
enabled = false
""")
    workdir = tmp_path / "work"
    workdir.mkdir()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "CHATGATEWAY_API_KEY": str(issue_access_token(user)),
        **{name: sinkhole.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy")},
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }

    def run(model: str, prompt: str, *options: str) -> subprocess.CompletedProcess:
        command = [str(codex), "exec", "--strict-config", "--skip-git-repo-check", "--ephemeral", "--color=never"]
        command += ["-m", model, "-C", str(workdir), *options, prompt]
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    yield run
    assert sinkhole.tried == [], "Codex tried to reach something other than the gateway"


def _responses_records() -> set[tuple[str, int, bool]]:
    return set(UsageRecord.objects.values_list("endpoint", "status_code", "stream"))


def test_codex_answers_through_the_gateway(run_codex, user, dev_upstream):
    done = run_codex("gpt-4o-mini", "Say hello")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{NOTICE} You said: Say hello"
    assert used_today(user) == 1
    assert _responses_records() == {("responses", 200, True)}
    sent = dev_upstream.received[-1]
    assert (sent["path"], sent["body"]["stream"], sent["body"]["store"]) == ("/v1/responses", True, False)


@pytest.mark.parametrize("provider", ["responses", "chat only"])
def test_codex_runs_the_command_it_is_asked_for_then_answers(run_codex, user, request, provider, dev_upstream):
    model, options, upstream = "gpt-4o-mini", [], dev_upstream
    if provider == "chat only":
        upstream = request.getfixturevalue("chat_only")
        model, options = "smart", NO_CHAT_ONLY_TOOLS

    # The upstream calls Codex's first function tool, exec_command, with {"cmd": "echo codex-ran-$((6 * 7))"}:
    # only a shell makes that "codex-ran-42".
    before = upstream.received_count  # the upstream serves the whole session, and keeps its last 100 requests
    done = run_codex(model, "echo codex-ran-$((6 * 7)) [dev:call]", *options)

    assert done.returncode == 0, done.stderr
    answer = done.stdout.strip()
    assert answer.startswith(f"{NOTICE} You said: ")
    assert "codex-ran-42" in answer  # the command's output, sent back to the upstream, which echoes it
    assert used_today(user) == 2  # the call, then the answer
    assert _responses_records() == {("responses", 200, True)}
    assert UsageRecord.objects.count() == 2
    made = upstream.received_count - before  # this test's requests: the last of those kept
    paths = {entry["path"] for entry in upstream.received[len(upstream.received) - made :]}
    assert paths == ({"/v1/responses"} if provider == "responses" else {"/v1/chat/completions"})


def test_on_a_chat_only_provider_codex_default_tools_get_a_clear_400(run_codex, user, chat_only):
    done = run_codex("smart", "Say hello")

    assert done.returncode != 0
    assert "The tool type `namespace` is not supported for this model" in done.stderr
    assert "speaks only chat completions" in done.stderr
    assert used_today(user) == 0
    assert chat_only.received == []


def test_on_a_chat_only_provider_codex_answers_with_only_function_tools(run_codex, user, chat_only):
    done = run_codex("smart", "Say hello", *NO_CHAT_ONLY_TOOLS)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{NOTICE} You said: Say hello"
    assert used_today(user) == 1
    assert _responses_records() == {("responses", 200, True)}
    tools = chat_only.received[-1]["body"]["tools"]
    assert {tool["type"] for tool in tools} == {"function"}
