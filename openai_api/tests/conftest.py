from __future__ import annotations

import openai
import pytest

from accounts.tokens import issue_access_token


@pytest.fixture
def sdk(gateway, user):
    """The official OpenAI SDK pointed at the gateway with `user`'s JWT; no retries of its own."""

    def make(credential: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{gateway.url}/v1", api_key=credential or issue_access_token(user), max_retries=0, timeout=20
        )

    return make
