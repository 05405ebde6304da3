"""The README's OpenAI SDK example runs unchanged against a live gateway, with an API key and with a JWT."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from accounts.tokens import issue_access_token
from apikeys.services import create_api_key


def readme_sdk_code() -> str:
    readme = (settings.BASE_DIR / "README.md").read_text()
    block = re.search(r"<!-- sdk-code:start -->\n```python\n(.*?)```\n<!-- sdk-code:end -->", readme, re.S)
    assert block, "the README lost its SDK code block"
    return block.group(1)


@pytest.mark.parametrize("credential", ["api key", "jwt"])
def test_the_readme_sdk_code_runs_against_a_live_gateway(gateway, user, credential):
    secret = create_api_key(user=user, name="readme")[1] if credential == "api key" else str(issue_access_token(user))
    code = readme_sdk_code()
    assert 'base_url="http://127.0.0.1:8000/v1"' in code
    code = code.replace("http://127.0.0.1:8000", gateway.url)  # only the address changes

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CHATGATEWAY_API_KEY": secret},
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['gpt-4o-mini']"
    assert lines[1].endswith("You said: Say hello.")
    assert lines[2].endswith("You said: Count to five.")
    assert re.fullmatch(r"\[\d+ tokens\]", lines[3])
    assert lines[4].endswith("You said: Say hi.")
    assert lines[5] == "completed"
