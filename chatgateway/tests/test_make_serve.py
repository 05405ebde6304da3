"""`make serve`, for real: the production server with DEBUG off, its static files through whitenoise,
several worker processes, and a refusal to start as a development server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests
from django.conf import settings

from devtools.testing import SECRET, free_port, wait_until_healthy


def test_make_serve_runs_the_production_server(tmp_path, dev_upstream):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "OPENAI_API_KEY": dev_upstream.key,
        "OPENAI_BASE_URL": dev_upstream.url,
    }
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve"], cwd=settings.BASE_DIR, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process=server, seconds=90)
        login_page = requests.get(f"{base}/admin/login/", timeout=10)
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', login_page.text)
        css = requests.get(f"{base}{stylesheet.group(1)}", timeout=10) if stylesheet else None
        debug_page = requests.get(f"{base}/no-such-page", timeout=10)
        docs_page = requests.get(f"{base}/api/docs/", timeout=10)
        docs_script = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+\.js)"', docs_page.text)
        script = requests.get(f"{base}{docs_script.group(1)}", timeout=10) if docs_script else None
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.seek(0)
        output = log.read()

    assert "with 2 worker process(es)" in output
    assert login_page.status_code == 200
    assert stylesheet, "static files are served under their hashed names (collectstatic's manifest)"
    assert css.status_code == 200
    assert "max-age" in css.headers["Cache-Control"]
    assert debug_page.status_code == 404
    assert "Django tried these URL patterns" not in debug_page.text, "DEBUG is off"
    assert docs_script, "Swagger UI's scripts are the gateway's own static files"
    assert script.status_code == 200


def test_serve_refuses_to_run_with_debug_on():
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=settings.BASE_DIR, env={**os.environ, "DEBUG": "1"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode != 0
    assert "set DEBUG=0" in result.stderr
