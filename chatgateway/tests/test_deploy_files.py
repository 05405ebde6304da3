"""The deployment files (Dockerfile, docker-compose.yml, deploy/nginx/, docs/deploy.md) checked against the code.

No Docker here: these are structural checks that fail when a file drifts from the settings, the commands
or the defaults it relies on. The image's health check alone is run for real, against a stub server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.core.management import get_commands

from devtools.testing import free_port

ROOT = settings.BASE_DIR


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def dockerfile(instruction: str) -> list[str]:
    return [arguments for name, arguments in dockerfile_instructions() if name == instruction]


def dockerfile_env() -> dict[str, str]:
    return dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", " ".join(dockerfile("ENV"))))


def documented_settings() -> set[str]:
    """Variables in the README's settings table, .env.example, and deploy.md's compose-only table."""
    names: set[str] = set()
    for path in ("README.md", "docs/deploy.md"):
        for row in (ROOT / path).read_text().splitlines():
            if row.startswith("| `"):
                names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1]))
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"#?\s*([A-Z][A-Z0-9_]*)=", line):
            names.add(match.group(1))
    return names


def env_example_default(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert match, f"{name} has a default in .env.example"
    return match.group(1)


def compose_service(name: str) -> str:
    """The text of one service in docker-compose.yml, up to the next top-level or service key."""
    text = (ROOT / "docker-compose.yml").read_text()
    match = re.search(rf"^  {name}:\n(.*?)(?=^  \S|^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docker-compose.yml has a service {name!r}"
    return match.group(1)


def test_the_image_migrates_then_runs_the_production_server():
    (cmd,) = dockerfile("CMD")
    command = " ".join(json.loads(cmd))

    assert re.search(r"manage\.py migrate --noinput && exec python manage\.py serve$", command)
    assert "serve" in get_commands()


def test_the_image_runs_as_a_user_that_is_not_root():
    users = dockerfile("USER")

    assert users, "the Dockerfile sets a USER"
    assert users[-1] not in {"root", "0"}


def test_the_image_collects_static_files_without_keeping_a_secret():
    (collect,) = [run for run in dockerfile("RUN") if "collectstatic" in run]

    assert collect.startswith("DJANGO_SECRET_KEY=")
    assert "DJANGO_SECRET_KEY" not in dockerfile_env(), "the build's throwaway secret stays out of the image"
    assert dockerfile_env()["STATIC_ROOT"] == "/app/staticfiles"


def test_the_image_defaults_are_documented_production_settings():
    env = dockerfile_env()
    settings_env = {name: value for name, value in env.items() if not name.startswith(("PYTHON", "PIP_"))}

    assert settings_env == {
        "DEBUG": "0",
        "HOST": "0.0.0.0",  # noqa: S104 (the container's port is what gets published)
        "PORT": "8000",
        "WEB_CONCURRENCY": "2",
        "STATIC_ROOT": "/app/staticfiles",
        "CHATGATEWAY_OUTBOX_DIR": "/var/lib/chatgateway/outbox",
    }
    assert set(settings_env) <= documented_settings()
    assert dockerfile("EXPOSE") == [env["PORT"]]


def test_secrets_and_local_state_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()

    for path in (".env", ".dev-secret-key", "*.sqlite3", ".venv/", ".git/"):
        assert path in ignored


def compose_env_values(text: str) -> dict[str, str]:
    """An env file read as Docker Compose reads it: a line `KEY=   # note` gives KEY the value "# note"."""
    values = {}
    for line in text.splitlines():
        if match := re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=[ \t]*(.*)", line):
            values[match.group(1)] = match.group(2).split(" #")[0].rstrip()
    return values


def notes_read_as_values(text: str) -> list[str]:
    return sorted(name for name, value in compose_env_values(text).items() if value.startswith("#"))


def run_entrypoint(*command: str, **env: str) -> subprocess.CompletedProcess:
    (entrypoint,) = dockerfile("ENTRYPOINT")
    return subprocess.run(
        [*json.loads(entrypoint), *command], env={"PATH": os.environ["PATH"], **env},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_the_image_refuses_to_start_while_a_variable_holds_a_note():
    result = run_entrypoint("echo", "started", JWT_SIGNING_KEY="# default: DJANGO_SECRET_KEY", DEBUG="0")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "hold a note instead of a value: JWT_SIGNING_KEY (Docker Compose" in result.stderr


def test_the_image_runs_its_command_when_no_variable_holds_a_note():
    result = run_entrypoint("echo", "started", DJANGO_SECRET_KEY="#starts-with-a-hash", OPENAI_API_KEY="sk-x # y")

    assert result.returncode == 0
    assert result.stdout == "started\n"


def test_compose_reads_no_note_of_env_example_as_a_value():
    assert notes_read_as_values((ROOT / ".env.example").read_text()) == []


def test_every_variable_the_compose_file_reads_is_documented():
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))

    assert used, "docker-compose.yml reads variables"
    assert used - documented_settings() == set()


def test_the_compose_file_requires_the_secrets_and_overrides_the_development_values():
    gateway = compose_service("gateway")

    assert "${DJANGO_SECRET_KEY:?" in gateway
    assert "${OPENAI_API_KEY:?" in gateway
    # .env.example's values are for `make run`; in the container these must win over .env.
    for line in ('DEBUG: "0"', "HOST: 0.0.0.0", 'PORT: "8000"', "STATIC_ROOT: /app/staticfiles"):
        assert re.search(rf"^      {re.escape(line)}( +#.*)?$", gateway, re.MULTILINE), line
    assert re.search(r"DATABASE_URL: postgres://\S+@db:5432/", gateway)
    assert re.search(r"condition: service_healthy", gateway)


def test_the_compose_file_has_its_services_and_no_tabs():
    text = (ROOT / "docker-compose.yml").read_text()

    assert "\t" not in text
    assert "image: postgres:16" in compose_service("db")
    assert "pg_isready" in compose_service("db")
    assert 'profiles: ["redis"]' in compose_service("redis")


def nginx_directive(name: str) -> str:
    """The one value of `name` in the shipped nginx file (chatgateway/tests/test_nginx.py runs the file)."""
    (value,) = re.findall(rf"^\s*{name} ([^;]+);", (ROOT / "deploy/nginx/chatgateway.conf").read_text(), re.MULTILINE)
    return value


def test_the_nginx_file_agrees_with_the_gateway_defaults():
    assert int(nginx_directive("client_max_body_size").removesuffix("m")) * 1024 * 1024 == int(
        env_example_default("CHATGATEWAY_MAX_BODY_BYTES")
    ), "nginx and the gateway refuse the same bodies, so that the gateway's 413 is the one clients get"
    assert int(nginx_directive("proxy_read_timeout").removesuffix("s")) > float(env_example_default("OPENAI_TIMEOUT"))
    for timeout in ("client_header_timeout", "client_body_timeout"):
        assert int(nginx_directive(timeout).removesuffix("s")) <= 30, f"{timeout}: slow clients are dropped soon"


def test_the_deploy_guide_points_to_the_nginx_file_instead_of_a_copy():
    deploy = (ROOT / "docs/deploy.md").read_text()

    assert "(../deploy/nginx/chatgateway.conf)" in deploy
    assert "proxy_pass" not in deploy
    assert "server {" not in deploy


class StubServer(ThreadingHTTPServer):
    """Answers /healthz with 200 when the Host header is the allowed one, 400 otherwise, as Django does."""

    def __init__(self, allowed_host: str) -> None:
        self.allowed_host = allowed_host
        self.hosts_seen: list[str] = []
        super().__init__(("127.0.0.1", 0), StubHandler)


class StubHandler(BaseHTTPRequestHandler):
    server: StubServer

    def do_GET(self) -> None:
        self.server.hosts_seen.append(self.headers["Host"])
        ok = self.path == "/healthz" and self.headers["Host"] == self.server.allowed_host
        self.send_response(200 if ok else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub():
    server = StubServer(allowed_host="chat.example.org")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(*, port: int, allowed_hosts: str) -> int:
    (healthcheck,) = dockerfile("HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert command[:2] == ["python", "-c"]
    env = {"PORT": str(port), "ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True, timeout=30).returncode


def test_the_health_check_sends_the_first_allowed_host(stub):
    assert run_healthcheck(port=stub.server_port, allowed_hosts="chat.example.org,localhost") == 0
    assert stub.hosts_seen == ["chat.example.org"]


def test_the_health_check_turns_a_wildcard_domain_into_its_name(stub):
    assert run_healthcheck(port=stub.server_port, allowed_hosts=".chat.example.org") == 0
    assert stub.hosts_seen == ["chat.example.org"]


def test_the_health_check_fails_on_an_error_status(stub):
    assert run_healthcheck(port=stub.server_port, allowed_hosts="other.example.org") != 0
    assert stub.hosts_seen == ["other.example.org"]


def test_the_health_check_fails_when_nothing_answers():
    assert run_healthcheck(port=free_port(), allowed_hosts="chat.example.org") != 0
