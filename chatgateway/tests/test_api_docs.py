"""Swagger UI at /api/docs/ works on a gateway without internet: its assets are the gateway's own."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_loads_its_assets_from_the_gateway_only(gateway):
    page = requests.get(f"{gateway.url}/api/docs/", timeout=10)

    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, "the page names no script or stylesheet"
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is fetched from elsewhere"
        assert requests.get(f"{gateway.url}{asset}", timeout=10).status_code == 200, asset


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_a_browser_with_no_other_host_to_reach_shows_every_operation(gateway, tmp_path):
    # Every host but the gateway's is unresolvable, as on a gateway with no internet access.
    dom = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=10000", "--dump-dom", f"{gateway.url}/api/docs/",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip

    assert 'class="swagger-ui' in dom
    for operation in ["/v1/chat/completions", "/api/chat/", "/api/keys/{id}/", "/token", "/healthz"]:
        assert f'data-path="{operation}"' in dom, operation
