"""A fast OpenAI-compatible fake upstream for load tests: one asyncio process (uvicorn, raw ASGI).

The development upstream (devtools/devupstream.py) runs a thread per connection, which at a thousand
open streams measures itself more than the gateway. This one answers `POST /v1/chat/completions` from
one event loop: unstreamed at once, streamed as N content chunks M seconds apart, then a finish chunk,
a usage chunk (when `stream_options.include_usage`) and `data: [DONE]`. Only two of the development
upstream's directives are understood, anywhere in the last message, so a request means the same to
both: `[dev:chunks=20] [dev:interval=0.25]`. Nothing else (faults, models, stats) is offered.

    .venv/bin/python bench/fake_upstream.py --port 8101 --key bench-upstream-key
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from typing import Any

import uvicorn

DIRECTIVE = re.compile(r"\[dev:(chunks|interval)=([0-9.]+)\]")
ANSWER_WORDS = ["(fake", "upstream)", "Hello", "from", "the", "benchmark."]


def make_app(key: str):
    expected = f"Bearer {key}".encode()

    async def app(scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if scope["path"] == "/healthz":
            return await _respond(send, 200, b'{"status": "ok"}')
        if dict(scope["headers"]).get(b"authorization") != expected:
            return await _respond(send, 401, b'{"error": {"message": "Incorrect API key.", "code": "invalid_api_key"}}')
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            return await _respond(send, 404, b'{"error": {"message": "Unknown path.", "code": "not_found"}}')
        request = json.loads(body)
        last = str(request["messages"][-1].get("content", ""))
        shape = dict(DIRECTIVE.findall(last))
        chunks, interval = int(shape.get("chunks", len(ANSWER_WORDS))), float(shape.get("interval", 0))
        pieces = _pieces(chunks)
        usage = {"prompt_tokens": 9, "completion_tokens": chunks, "total_tokens": 9 + chunks}
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": request["model"]}
        if request.get("stream"):
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            return await _stream(send, base, pieces, interval, usage if include_usage else None)
        message = {"role": "assistant", "content": "".join(pieces)}
        completion = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        }
        return await _respond(send, 200, json.dumps(completion).encode())

    return app


async def _read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def _pieces(chunks: int) -> list[str]:
    words = [word if index == 0 else f" {word}" for index, word in enumerate(ANSWER_WORDS)]
    words += [f" word{number}" for number in range(1, chunks - len(words) + 1)]
    return [*words[: chunks - 1], "".join(words[chunks - 1 :])]


async def _respond(send, status: int, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", f"req-{uuid.uuid4().hex[:12]}".encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(send, base: dict[str, Any], pieces: list[str], interval: float, usage: dict | None) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"x-request-id", f"req-{uuid.uuid4().hex[:12]}".encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    base = {**base, "object": "chat.completion.chunk"}
    for index, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        await _event(send, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        if interval:
            await asyncio.sleep(interval)
    await _event(send, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage is not None:
        await _event(send, {**base, "choices": [], "usage": usage})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _event(send, payload: dict[str, Any]) -> None:
    await send({"type": "http.response.body", "body": f"data: {json.dumps(payload)}\n\n".encode(), "more_body": True})


def main() -> None:
    parser = argparse.ArgumentParser(description="A fast fake OpenAI-compatible upstream for load tests.")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--key", default="bench-upstream-key")
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.key),
        host="127.0.0.1",
        port=args.port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
