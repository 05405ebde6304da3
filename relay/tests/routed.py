"""What the routing tests share: asking the gateway's /v1 for a model, streamed or not."""

from __future__ import annotations

import json

import requests

from accounts.tokens import issue_access_token


def ask(gateway, user, model: str, content: str = "Hi", *, stream: bool = False, **params) -> requests.Response:
    """POST /v1/chat/completions as `user`; a stream's body is read whole."""
    return requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}], "stream": stream, **params},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=30,
    )


def events(response: requests.Response) -> list[dict]:
    """The data events of a streamed answer, parsed, without [DONE]."""
    lines = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return [json.loads(data) for data in lines if data != "[DONE]"]


def answer(response: requests.Response) -> str:
    if response.headers["content-type"].startswith("text/event-stream"):
        return "".join(
            choice["delta"].get("content") or "" for event in events(response) for choice in event.get("choices", [])
        )
    return response.json()["choices"][0]["message"]["content"]
