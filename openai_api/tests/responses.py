"""What the Responses API's tests share, native and translated."""

from __future__ import annotations

import requests

from accounts.tokens import issue_access_token

NOTICE = "(development upstream, not a real model)"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}


def post_response(gateway, user, body, *, model: str, **headers) -> requests.Response:
    """`POST /v1/responses` of `body` for `model`, as `user`, over real HTTP."""
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", **headers}
    return requests.post(f"{gateway.url}/v1/responses", json={"model": model, **body}, headers=headers, timeout=20)
