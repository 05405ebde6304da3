"""The development upstream: a small OpenAI-compatible HTTP server with canned answers.

It lets the gateway run and be tested with no real model. Every answer says it is not from one.
Run it alone with `python -m chatgateway.devupstream --port 8001`; `make run` starts it when no
OPENAI_API_KEY is set, and the test suite starts one on a free port.

It speaks `GET /v1/models` and `POST /v1/chat/completions` (streamed or not), and accepts only
`Authorization: Bearer <its key>`. Faults for tests, chosen per request by a directive anywhere in
the last message, or for every request by `POST /_dev/fault {"fault": "<directive>"}`:

    [dev:status=503]   answer with that HTTP status and an OpenAI-style error body
    [dev:delay=2.5]    wait that many seconds before answering
    [dev:garbage]      answer 200 with a body that is not JSON
    [dev:drop]         close the connection without answering
    [dev:flaky=2]      answer 503 the first 2 times this same message arrives, then normally

`GET /_dev/requests` lists what it received (method, path, Authorization header, body), newest last.
Standard library only, so that it runs anywhere the gateway does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_KEY = "dev-upstream-key"
NOTICE = "(development upstream, not a real model)"
MODELS = ["gpt-4o-mini", "gpt-4o", "dev-echo"]
_DIRECTIVE = re.compile(r"\[dev:(status|delay|garbage|drop|flaky)(?:=([0-9.]+))?\]")


class DevUpstream:
    """A running development upstream on 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(self, *, port: int = 0, key: str = DEFAULT_KEY, host: str = "127.0.0.1") -> None:
        self.key = key
        self.fault: str = ""
        self.received: list[dict[str, Any]] = []  # the last 100
        self.received_count = 0
        self.flaky_seen: dict[str, int] = {}
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"upstream": self})
        self.server = _QuietServer((host, port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/v1"

    def start(self) -> DevUpstream:
        threading.Thread(target=self.server.serve_forever, name="dev-upstream", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def note_flaky(self, text: str) -> int:
        """How many times this message has now been seen by a [dev:flaky] directive."""
        with self._lock:
            self.flaky_seen[text] = self.flaky_seen.get(text, 0) + 1
            return self.flaky_seen[text]

    def remember(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.received = [*self.received[-99:], entry]
            self.received_count += 1


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped connection ([dev:drop], a client gone) is expected here, not news


class _Handler(BaseHTTPRequestHandler):
    upstream: DevUpstream
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and `make run` share a terminal
        pass

    def do_GET(self) -> None:
        if self.path == "/_dev/requests":
            return self._json(200, self.upstream.received)
        self._remember(None)
        if not self._authorised():
            return None
        if self.path == "/v1/models":
            return self._json(200, {"object": "list", "data": [_model(name) for name in MODELS]})
        if self.path.startswith("/v1/models/"):
            return self._json(200, _model(self.path.rsplit("/", 1)[1]))
        return self._error(404, "Unknown path.", "invalid_request_error", "not_found")

    def do_POST(self) -> None:
        body = self._read_json()
        if self.path == "/_dev/fault":
            self.upstream.fault = str((body or {}).get("fault", ""))
            return self._json(200, {"fault": self.upstream.fault})
        self._remember(body)
        if not self._authorised():
            return None
        if self.path != "/v1/chat/completions":
            return self._error(404, "Unknown path.", "invalid_request_error", "not_found")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            return self._error(400, "'model' and 'messages' are required.", "invalid_request_error", None)
        last = str(body["messages"][-1].get("content", "")) if body["messages"] else ""
        if self._fault(self.upstream.fault + last):
            return None
        return self._complete(body, last)

    # --- answers ---------------------------------------------------------------------------------
    def _complete(self, body: dict[str, Any], last: str) -> None:
        answer = f"{NOTICE} You said: {_DIRECTIVE.sub('', last).strip()}"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"]) or 1
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer.split()),
            "total_tokens": prompt_tokens + len(answer.split()),
        }
        completion_id = f"chatcmpl-dev-{uuid.uuid4().hex[:12]}"
        if body.get("stream"):
            return self._stream(body, completion_id, answer, usage)
        return self._json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    def _stream(self, body: dict[str, Any], completion_id: str, answer: str, usage: dict[str, int]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("x-request-id", f"req-dev-{uuid.uuid4().hex[:12]}")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }
        words = answer.split(" ")
        for index, word in enumerate(words):
            delta = {"content": word if index == 0 else " " + word}
            if index == 0:
                delta["role"] = "assistant"
            self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def _fault(self, text: str) -> bool:
        """Act on the directives in `text`; True when the answer has been given (or refused)."""
        for name, value in _DIRECTIVE.findall(text):
            if name == "delay":
                time.sleep(float(value or 1))
            elif name == "status":
                status = int(float(value or 500))
                self._error(status, f"Simulated upstream failure {status}.", "server_error", "dev_fault")
                return True
            elif name == "garbage":
                self._raw(200, b"<html>this is not JSON</html>", "application/json")
                return True
            elif name == "flaky" and self.upstream.note_flaky(text) <= int(float(value or 1)):
                self._error(503, "Simulated passing failure.", "server_error", "dev_fault")
                return True
            elif name == "drop":
                self.close_connection = True
                self.connection.close()
                return True
        return False

    # --- plumbing --------------------------------------------------------------------------------
    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.upstream.key}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return False

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _remember(self, body: Any) -> None:
        self.upstream.remember(
            {
                "method": self.command,
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "body": body,
            }
        )

    def _error(self, status: int, message: str, kind: str, code: str | None) -> None:
        headers = {"Retry-After": "7"} if status == 429 else {}
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req-dev-{uuid.uuid4().hex[:12]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "chatgateway-dev"}


def _exit_with_parent(upstream: DevUpstream, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    upstream.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="ChatGateway's development upstream (canned answers).")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--key", default=DEFAULT_KEY, help="the API key it accepts")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started it ends")
    args = parser.parse_args()
    upstream = DevUpstream(port=args.port, key=args.key)
    if args.exit_with_parent:
        threading.Thread(target=_exit_with_parent, args=(upstream, os.getppid()), daemon=True).start()
    print(f"Development upstream on {upstream.url} (answers are canned, not from a real model)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        upstream.server.serve_forever()


if __name__ == "__main__":
    main()
