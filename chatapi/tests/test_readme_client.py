"""The original ChatAPI client code, as the README shows it, runs unchanged against a live gateway."""

import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command


def readme_client_code() -> str:
    readme = (settings.BASE_DIR / "README.md").read_text()
    block = re.search(r"<!-- client-code:start -->\n```python\n(.*?)```\n<!-- client-code:end -->", readme, re.S)
    assert block, "the README lost its client code block"
    return block.group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_client_code_runs_unchanged_against_a_live_gateway(live_server):
    call_command("loaddata", "users", verbosity=0)
    code = readme_client_code()
    assert 'BASE_URL = "http://127.0.0.1:8000"' in code
    # Only the address changes: the test server listens on a free port.
    code = code.replace("http://127.0.0.1:8000", live_server.url)

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert "not a real model" in result.stdout
    assert "Hello, who are you?" in result.stdout
