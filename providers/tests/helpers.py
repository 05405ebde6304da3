"""What the providers tests share: an encryption key, the providers file of issue 13 exactly as written there,
and running sync_providers on a file."""

from __future__ import annotations

import io
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.management import call_command

ENCRYPTION_KEY = Fernet.generate_key().decode()
EXAMPLE_KEYS = {"OPENAI_KEY_A": "sk-example-key-a-0123456789-AAAA", "OPENAI_KEY_B": "sk-example-key-b-9876543210-BBBB"}

ISSUE_EXAMPLE = """\
providers:
  - name: openai
    base_url: https://api.openai.com/v1
    key_env: [OPENAI_KEY_A, OPENAI_KEY_B]   # environment variables holding the keys, used in turn
    completion_cap: max_completion_tokens    # or max_tokens
    endpoints: [chat, responses, embeddings]
    timeout: 60
  - name: local
    base_url: http://127.0.0.1:8080/v1
    key_env: []                              # no key
    completion_cap: max_tokens
    endpoints: [chat]
models:
  - name: smart                              # what users send as "model"
    deployments:
      - {provider: openai, model: gpt-4o, priority: 1}
      - {provider: local, model: qwen2.5-7b-instruct, priority: 2}
  - name: fast
    deployments:
      - {provider: openai, model: gpt-4o-mini, priority: 1, weight: 3}
      - {provider: local, model: qwen2.5-7b-instruct, priority: 1, weight: 1}
"""


def sync(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "providers.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("sync_providers", str(path), *args, stdout=out)
    return out.getvalue()
