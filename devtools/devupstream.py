"""The development upstream: a small OpenAI-compatible HTTP server with canned answers.

It lets the gateway run and be tested with no real model. Every answer says it is not from one.
Run it alone with `python -m devtools.devupstream --port 8001`; `make run` starts it when no
OPENAI_API_KEY is set, and the test suite starts one on a free port.

It speaks `GET /v1/models`, `POST /v1/chat/completions` and the legacy `POST /v1/completions` (streamed or
not), `POST /v1/embeddings`, and the Responses API (`POST /v1/responses`, streamed as typed events or not;
`GET` and `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`, `POST .../cancel`: responses
are kept in memory unless sent with `store: false`, and `previous_response_id` continues one), and
accepts only `Authorization: Bearer <its key>`. Faults for tests, chosen
per request by directives anywhere in the last message (a legacy completion's prompts, embeddings' inputs),
or for every request by `POST /_dev/fault {"fault": "<directives>"}`:

    [dev:status=503]   answer with that HTTP status and an OpenAI-style error body
    [dev:delay=2.5]    wait that many seconds before answering
    [dev:garbage]      answer 200 with a body that is not JSON
    [dev:drop]         close the connection without answering
    [dev:flaky=2]      answer 503 the first 2 times this same message arrives, then normally
    [dev:chunks=20]    make the answer exactly 20 content chunks (padded with " word1", " word2"...,
                       or with the surplus words joined into the last chunk); unstreamed, the same text
    [dev:interval=0.25] wait that long after each content chunk, so 20 chunks take 5 s;
                       unstreamed, the whole answer waits chunks x interval
    [dev:cut=3]        stream 3 content chunks, then reset the connection: no finish chunk, no [DONE]
    [dev:stall=2]      stream the first content chunk, send nothing for 2 s, then carry on
    [dev:error_event]  stream 2 content chunks, then `data: {"error": {..., "code": "dev_fault"}}`, and end
    [dev:leak=masked]  refuse with 400, quoting the key it was given in that form (exact, upper, lower,
                       masked as OpenAI writes it, ellipsis, zerowidth, fullwidth): what a careless
                       provider might say, for the gateway's redaction tests
    [dev:tool_call=N]  unstreamed, answer with a call of the tool `lookup` whose arguments are N
                       characters of JSON, and no text (finish_reason "tool_calls")
    [dev:call]         when the request offers function tools, call the first one, with arguments
                       `{"q": <the message's text>}` and no text, streamed or not (chat and Responses);
                       when its schema requires other arguments, the first required one takes the text
                       instead of `q` (Codex CLI's `exec_command` gets `{"cmd": "echo hi"}`: a command)
    [dev:nousage]      report no usage: no usage chunk even with stream_options.include_usage, and no
                       `usage` in an unstreamed answer
    [dev:cached=N]     chat: report N of the prompt's tokens (at most all of them) as served from a cache,
                       in `usage.prompt_tokens_details.cached_tokens`, as OpenAI and DeepSeek do; the
                       Responses API: in `usage.input_tokens_details.cached_tokens`

cut, stall and error_event shape streams only; an unstreamed answer ignores them. Directives combine,
e.g. `[dev:chunks=20] [dev:interval=0.1] [dev:cut=5]`. Embeddings, which do not stream, heed status, delay,
garbage, drop, flaky, leak and nousage.

Embeddings are fake: each input's vector is made from a hash of it (the same input, the same vector), of
`dimensions` numbers (64 when unset), of unit length, as floats or, with `encoding_format: base64`, as
little-endian float32 in base64, as OpenAI sends them; the answer carries `"x_dev_notice"` saying so. Its
usage counts one token per word of a text input (at least one), one per token of a token array.
A legacy completion answers each prompt (a string, a list of strings, token arrays) as chat does its last
message, as `text_completion` choices, capped at 16 tokens when it sets no `max_tokens`, as OpenAI does.

It counts one token per word (whitespace-separated), in the prompt and in the answer, and honours a
completion cap as a real model does: `max_tokens`, `max_completion_tokens` or `max_output_tokens` (a
positive integer; the smallest, if several) cuts the answer, streamed or not, at that many tokens, mid-chunk
if need be; its finish_reason is then "length" and its usage counts only the tokens sent.

A streamed answer is one SSE event per content chunk, a finish chunk, a usage chunk when
`stream_options.include_usage` is true, then `data: [DONE]`. Every chunk carries a non-standard top-level
field `"x_dev_sent_at": <time.time()>`, the moment it was sent, so a test can tell chunks that arrive
one by one from chunks that arrive in a batch.

`responses = False` makes it a chat-only server, as most local servers are: `/v1/responses` is then a 404.
A Responses answer echoes the last input item (a message's text, or a function call's output) as chat does
the last message.

Several providers in one test run several upstreams (each on its own port, with its own `fault`). One may
accept further keys (`keys`, a set of secrets besides `key`), play a fault only for requests made with a
given key (`key_faults`: secret → directives, e.g. `{"sk-b": "[dev:status=429]"}`), or take requests with
no Authorization header at all (`keyless`, a local server's way).

`GET /_dev/requests` lists what it received (method, path, Authorization and X-Request-ID headers, body,
and `abandoned`: whether the client went away mid-stream), newest last. `GET /_dev/stats` gives
`{"open_connections": n, "received_count": m, "streams_abandoned": k}`: client connections open now (not
counting the one asking; a kept-alive connection counts until its client closes it), requests received, and
streams whose client disconnected before the end. The same numbers are attributes of `DevUpstream`.
Standard library only, so that it runs anywhere the gateway does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_KEY = "dev-upstream-key"
NOTICE = "(development upstream, not a real model)"
MODELS = ["gpt-4o-mini", "gpt-4o", "dev-echo", "text-embedding-3-small", "gpt-3.5-turbo-instruct"]
CAPS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
EMBEDDING_DIMENSIONS = 64  # when a request sets no `dimensions` (OpenAI's small model has 1536)
LEGACY_DEFAULT_MAX_TOKENS = 16  # OpenAI's /v1/completions cap when a request sets none
_TOKEN = re.compile(r"\s*\S+")  # a token, with the whitespace before it
_DIRECTIVE = re.compile(
    r"\[dev:(status|delay|garbage|drop|flaky|chunks|interval|cut|stall|error_event|nousage|leak|tool_call|cached|call)"
    r"(?:=([0-9.]+|[a-z]+))?\]"
)


class DevUpstream:
    """A running development upstream on 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(self, *, port: int = 0, key: str = DEFAULT_KEY, host: str = "127.0.0.1") -> None:
        self.key = key
        self.keys: set[str] = set()  # further keys it accepts
        self.key_faults: dict[str, str] = {}  # a key's own directives, played for the requests made with it
        self.keyless = False  # True: requests without an Authorization header are served too
        self.responses = True  # False: a chat-only server (no /v1/responses)
        self.stored: dict[str, dict[str, Any]] = {}  # Responses kept: id → {"response", "input_items"}
        self.fault: str = ""
        self.received: list[dict[str, Any]] = []  # the last 100
        self.received_count = 0
        self.flaky_seen: dict[str, int] = {}
        self.open_connections = 0
        self.streams_abandoned = 0
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

    def note_connection(self, change: int) -> None:
        """Count a client connection opening (+1) or closing (-1)."""
        with self._lock:
            self.open_connections += change

    def note_abandoned(self, entry: dict[str, Any]) -> None:
        """Record that the client of the request `entry` went away before its stream ended."""
        with self._lock:
            entry["abandoned"] = True
            self.streams_abandoned += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "open_connections": self.open_connections,
                "received_count": self.received_count,
                "streams_abandoned": self.streams_abandoned,
            }


@dataclass(frozen=True)
class _Shape:
    """How one answer is delivered, from its shaping directives (the last of each kind wins)."""

    chunks: int | None = None
    interval: float = 0.0
    cut: int | None = None
    stall: float = 0.0
    error_event: bool = False
    nousage: bool = False
    tool_call: int | None = None
    cached: int | None = None
    call: bool = False

    @classmethod
    def parse(cls, text: str) -> _Shape:
        found = dict(_DIRECTIVE.findall(text))

        def number(name: str, *, bare: float) -> float | None:
            """The directive's value; `bare` when it is given without one; None when it is absent."""
            return float(found[name] or bare) if name in found else None

        chunks, cut = number("chunks", bare=0), number("cut", bare=1)
        return cls(
            chunks=max(1, int(chunks)) if chunks else None,  # a bare [dev:chunks] keeps one chunk per word
            interval=number("interval", bare=1) or 0.0,
            cut=None if cut is None else int(cut),
            stall=number("stall", bare=1) or 0.0,
            error_event="error_event" in found,
            nousage="nousage" in found,
            tool_call=None if (calls := number("tool_call", bare=100)) is None else int(calls),
            cached=None if (cached := number("cached", bare=0)) is None else int(cached),
            call="call" in found,
        )

    def pieces(self, answer: str) -> list[str]:
        """The answer split into content chunks: one per word, or exactly `chunks` of them."""
        words = answer.split(" ")
        pieces = [word if index == 0 else " " + word for index, word in enumerate(words)]
        if self.chunks is None:
            return pieces
        pieces += [f" word{number}" for number in range(1, self.chunks - len(pieces) + 1)]
        return [*pieces[: self.chunks - 1], "".join(pieces[self.chunks - 1 :])]

    def content_to_send(self, pieces: list[str]) -> list[str]:
        """The content chunks streamed before the stream ends, normally or not."""
        if self.cut is not None:
            return pieces[: self.cut]
        return pieces[:2] if self.error_event else pieces


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped connection ([dev:drop], a client gone) is expected here, not news


class _Handler(BaseHTTPRequestHandler):
    upstream: DevUpstream
    protocol_version = "HTTP/1.1"
    entry: dict[str, Any] | None = None  # what _remember recorded for the current request

    def setup(self) -> None:
        super().setup()
        self.upstream.note_connection(+1)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.upstream.note_connection(-1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and `make run` share a terminal
        pass

    def do_GET(self) -> None:
        if self.path == "/_dev/requests":
            return self._json(200, self.upstream.received)
        if self.path == "/_dev/stats":
            stats = self.upstream.stats()
            stats["open_connections"] -= 1  # not the connection asking
            return self._json(200, stats)
        self._remember(None)
        if not self._authorised():
            return None
        if self.path == "/v1/models":
            return self._json(200, {"object": "list", "data": [_model(name) for name in MODELS]})
        if self.path.startswith("/v1/models/"):
            return self._json(200, _model(self.path.rsplit("/", 1)[1]))
        if self.path.startswith("/v1/responses/") and self.upstream.responses:
            return self._response_by_id()
        return self._error(404, "Unknown path.", "invalid_request_error", "not_found")

    def do_POST(self) -> None:
        body = self._read_json()
        if self.path == "/_dev/fault":
            self.upstream.fault = str((body or {}).get("fault", ""))
            return self._json(200, {"fault": self.upstream.fault})
        self._remember(body)
        if not self._authorised():
            return None
        if self.path in ("/v1/embeddings", "/v1/completions"):
            return self._legacy_or_embeddings(body)
        if self.path.startswith("/v1/responses") and self.upstream.responses:
            return self._responses(body)
        if self.path != "/v1/chat/completions":
            return self._error(404, "Unknown path.", "invalid_request_error", "not_found")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            return self._error(400, "'model' and 'messages' are required.", "invalid_request_error", None)
        last = str(body["messages"][-1].get("content", "")) if body["messages"] else ""
        given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        fault = self.upstream.fault + self.upstream.key_faults.get(given, "")
        if self._fault(fault + last):
            return None
        return self._complete(body, last, _Shape.parse(fault + last))

    def _legacy_or_embeddings(self, body: Any) -> None:
        field = "input" if self.path == "/v1/embeddings" else "prompt"
        items = _items(body.get(field)) if isinstance(body, dict) else None
        if not items or not body.get("model"):
            return self._error(400, f"'model' and '{field}' are required.", "invalid_request_error", None)
        text = " ".join(item for item in items if isinstance(item, str))
        if self._fault(self.upstream.fault + text):
            return None
        shape = _Shape.parse(self.upstream.fault + text)
        if field == "input":
            return self._embed(body, items, shape)
        return self._complete_text(body, items, shape)

    def do_DELETE(self) -> None:
        self._remember(None)
        if not self._authorised():
            return None
        if self.path.startswith("/v1/responses/") and self.upstream.responses:
            return self._response_by_id()
        return self._error(404, "Unknown path.", "invalid_request_error", "not_found")

    # --- the Responses API -----------------------------------------------------------------------
    def _response_by_id(self) -> None:
        """GET or DELETE /v1/responses/{id}, GET .../input_items, POST .../cancel."""
        parts = self.path.split("?", 1)[0].removeprefix("/v1/responses/").split("/")
        kept = self.upstream.stored.get(parts[0])
        if kept is None:
            return self._error(404, f"Response with id '{parts[0]}' not found.", "invalid_request_error", None)
        if parts[1:] == ["input_items"] and self.command == "GET":
            items = kept["input_items"]
            listing = {"object": "list", "data": items[::-1], "has_more": False}
            return self._json(200, {**listing, "first_id": items[-1]["id"], "last_id": items[0]["id"]})
        if parts[1:] == ["cancel"] and self.command == "POST":
            message = "Only responses created with background=true can be cancelled."
            return self._error(400, message, "invalid_request_error", None)
        if parts[1:] or self.command not in ("GET", "DELETE"):
            return self._error(404, "Unknown path.", "invalid_request_error", "not_found")
        if self.command == "DELETE":
            del self.upstream.stored[parts[0]]
            return self._json(200, {"id": parts[0], "object": "response", "deleted": True})
        return self._json(200, kept["response"])

    def _responses(self, body: Any) -> None:
        if self.path != "/v1/responses":
            return self._response_by_id()
        if not isinstance(body, dict) or not body.get("model") or "input" not in body:
            return self._error(400, "'model' and 'input' are required.", "invalid_request_error", None)
        previous = body.get("previous_response_id")
        if previous and previous not in self.upstream.stored:
            message = f"Previous response with id '{previous}' not found."
            return self._error(400, message, "invalid_request_error", "previous_response_not_found")
        items = _input_items(body["input"])
        last = _item_text(items[-1]) if items else ""
        given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        fault = self.upstream.fault + self.upstream.key_faults.get(given, "")
        if self._fault(fault + last):
            return None
        shape = _Shape.parse(fault + last)
        response = _response_answer(body, items, last, shape)
        if body.get("store", True) is not False:
            self.upstream.stored[response["id"]] = {"response": response, "input_items": items}
        if body.get("stream"):
            try:
                self._stream_headers()
                self._send_response_events(response, shape)
            except ConnectionError:
                self.close_connection = True
                if self.entry is not None:
                    self.upstream.note_abandoned(self.entry)
            return None
        time.sleep(len(shape.pieces(last)) * shape.interval)
        return self._json(200, response)

    def _send_response_events(self, response: dict[str, Any], shape: _Shape) -> None:
        """The Responses API's typed events for `response`, as OpenAI streams them."""
        sequence = iter(range(1_000_000))
        begun = {**response, "status": "in_progress", "output": [], "usage": None}

        def send(kind: str, **payload: Any) -> None:
            data = {"type": kind, "sequence_number": next(sequence), **payload, "x_dev_sent_at": time.time()}
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        send("response.created", response=begun)
        send("response.in_progress", response=begun)
        deltas = 0
        for index, item in enumerate(response["output"]):
            send("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
            if item["type"] == "function_call":
                send("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                     delta=item["arguments"])  # fmt: skip
                send("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                     arguments=item["arguments"])  # fmt: skip
            else:
                ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
                text = item["content"][0]["text"]
                send("response.content_part.added", **ids, part={**item["content"][0], "text": ""})
                for number, piece in enumerate(shape.content_to_send(shape.pieces(text) if text else [])):
                    send("response.output_text.delta", **ids, delta=piece)
                    deltas += 1
                    pause = (shape.stall if number == 0 else 0) + shape.interval
                    if pause:
                        time.sleep(pause)
                if shape.cut is not None:
                    return self._reset()
                if shape.error_event:
                    error = {"code": "dev_fault", "message": "Simulated failure in mid-stream.", "param": None}
                    return send("error", **error)
                send("response.output_text.done", **ids, text=text)
                send("response.content_part.done", **ids, part=item["content"][0])
            send("response.output_item.done", output_index=index, item=item)
        send(f"response.{'incomplete' if response['status'] == 'incomplete' else 'completed'}", response=response)
        return None

    # --- answers ---------------------------------------------------------------------------------
    def _embed(self, body: dict[str, Any], items: list[Any], shape: _Shape) -> None:
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": index, "embedding": _vector(item, int(dimensions), as_base64=as_base64)}
            for index, item in enumerate(items)
        ]
        tokens = sum(_prompt_tokens(item) for item in items)
        answer = {"object": "list", "data": data, "model": body["model"], "x_dev_notice": NOTICE}
        if not shape.nousage:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return self._json(200, answer)

    def _complete_text(self, body: dict[str, Any], prompts: list[Any], shape: _Shape) -> None:
        """A legacy completion: each prompt answered as a chat's last message is, as `text_completion`."""
        cap = _cap(body) or LEGACY_DEFAULT_MAX_TOKENS
        answers = [
            _capped(shape.pieces(f"{NOTICE} You said: {_DIRECTIVE.sub('', _as_text(prompt)).strip()}"), cap)
            for prompt in prompts
        ]
        prompt_tokens = sum(_prompt_tokens(prompt) for prompt in prompts)
        completion_tokens = sum(len("".join(pieces).split()) for pieces, _ in answers)
        usage = None if shape.nousage else {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }  # fmt: skip
        finishes = {index: "length" if cut_short else "stop" for index, (_, cut_short) in enumerate(answers)}
        base = {"id": f"cmpl-dev-{uuid.uuid4().hex[:12]}", "object": "text_completion", "created": int(time.time())}
        base["model"] = body["model"]
        if body.get("stream"):
            pieces = [(index, piece) for index, (each, _) in enumerate(answers) for piece in each]
            return self._stream_with(body, base, pieces, usage, shape, finishes, kind="text")
        time.sleep(sum(len(pieces) for pieces, _ in answers) * shape.interval)
        choices = [
            {"text": "".join(pieces), "index": index, "logprobs": None, "finish_reason": finishes[index]}
            for index, (pieces, _) in enumerate(answers)
        ]
        completion = {**base, "choices": choices}
        return self._json(200, completion if usage is None else {**completion, "usage": usage})

    def _complete(self, body: dict[str, Any], last: str, shape: _Shape) -> None:
        if shape.call and _function_names(body.get("tools")):
            return self._call_a_tool(body, last)
        pieces = shape.pieces(f"{NOTICE} You said: {_DIRECTIVE.sub('', last).strip()}")
        pieces, cut_short = _capped(pieces, _cap(body))
        finish_reason = "length" if cut_short else "stop"
        answer = "".join(pieces)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"]) or 1
        usage: dict[str, Any] | None = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer.split()),
            "total_tokens": prompt_tokens + len(answer.split()),
        }
        if shape.cached is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": min(shape.cached, prompt_tokens)}
        if shape.nousage:
            usage = None
        completion_id = f"chatcmpl-dev-{uuid.uuid4().hex[:12]}"
        if body.get("stream"):
            return self._stream(body, completion_id, pieces, usage, shape, finish_reason)
        time.sleep(len(pieces) * shape.interval)
        message = {"role": "assistant", "content": answer}
        if shape.tool_call is not None:
            message, finish_reason = _tool_call_message(shape.tool_call), "tool_calls"
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        }
        return self._json(200, completion if usage is None else {**completion, "usage": usage})

    def _call_a_tool(self, body: dict[str, Any], last: str) -> None:
        """[dev:call]: a chat answer that calls the first function tool with `{"q": <the last message>}`."""
        name = _function_names(body["tools"])[0]
        arguments = _call_arguments(body["tools"], last)
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"]) or 1
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(arguments.split()),
                 "total_tokens": prompt_tokens + len(arguments.split())}  # fmt: skip
        base = {"id": f"chatcmpl-dev-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": body["model"]}
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            return self._json(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        base["object"] = "chat.completion.chunk"
        self._stream_headers()
        opening = {"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}  # fmt: skip
        self._event({**base, "choices": [{"index": 0, "delta": opening, "finish_reason": None}]})
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        return None

    def _stream(
        self,
        body: dict[str, Any],
        completion_id: str,
        pieces: list[str],
        usage: dict[str, int] | None,
        shape: _Shape,
        finish_reason: str,
    ) -> None:
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }
        indexed = [(0, piece) for piece in pieces]
        return self._stream_with(body, base, indexed, usage, shape, {0: finish_reason}, kind="chat")

    def _stream_with(
        self,
        body: dict[str, Any],
        base: dict[str, Any],
        pieces: list[tuple[int, str]],
        usage: dict[str, int] | None,
        shape: _Shape,
        finishes: dict[int, str],
        *,
        kind: str,
    ) -> None:
        """Stream `pieces` (each with its choice's index) as chat chunks or legacy `text_completion` ones."""
        if not (body.get("stream_options") or {}).get("include_usage"):
            usage = None
        try:
            self._stream_headers()
            self._send_stream(base, pieces, usage, shape, finishes, kind)
        except ConnectionError:  # the client went away (BrokenPipeError, ConnectionResetError...)
            self.close_connection = True
            if self.entry is not None:
                self.upstream.note_abandoned(self.entry)

    def _stream_headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("x-request-id", f"req-dev-{uuid.uuid4().hex[:12]}")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _send_stream(
        self,
        base: dict[str, Any],
        pieces: list[tuple[int, str]],
        usage: dict[str, int] | None,
        shape: _Shape,
        finishes: dict[int, str],
        kind: str,
    ) -> None:
        for number, (index, piece) in enumerate(shape.content_to_send(pieces)):
            self._event({**base, "choices": [_choice(kind, index, piece, first=number == 0, finish_reason=None)]})
            pause = (shape.stall if number == 0 else 0) + shape.interval
            if pause:
                time.sleep(pause)
        if shape.cut is not None:
            return self._reset()
        if shape.error_event:
            error = {"message": "Simulated failure in mid-stream.", "type": "server_error", "param": None}
            return self._event({"error": {**error, "code": "dev_fault"}}, stamped=False)
        for index, finish_reason in finishes.items():
            self._event({**base, "choices": [_choice(kind, index, None, first=False, finish_reason=finish_reason)]})
        if usage is not None:
            self._event({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        return None

    def _event(self, payload: dict[str, Any], *, stamped: bool = True) -> None:
        if stamped:
            payload = {**payload, "x_dev_sent_at": time.time()}
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def _reset(self) -> None:
        """Close the connection abruptly: a TCP reset, as when a stream is cut, not an orderly close."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

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
            elif name == "leak":
                quoted = key_as(self.upstream.key, value or "exact")
                self._error(400, f"This request was refused (key {quoted}).", "invalid_request_error", "dev_fault")
                return True
            elif name == "drop":
                self.close_connection = True
                self.connection.close()
                return True
        return False

    # --- plumbing --------------------------------------------------------------------------------
    def _authorised(self) -> bool:
        given = self.headers.get("Authorization")
        if given is None and self.upstream.keyless:
            return True
        if given in {f"Bearer {key}" for key in {self.upstream.key, *self.upstream.keys}}:
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
        self.entry = {
            "method": self.command,
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "request_id": self.headers.get("X-Request-ID"),  # the gateway's request id, sent on (core/requestid.py)
            "body": body,
            "abandoned": False,
        }
        self.upstream.remember(self.entry)

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


def _cap(body: dict[str, Any]) -> int | None:
    """The completion cap the request sets: the smallest positive integer among CAPS, or None."""
    caps = [
        value
        for value in (body.get(name) for name in CAPS)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    return min(caps, default=None)


def _capped(pieces: list[str], cap: int | None) -> tuple[list[str], bool]:
    """The content chunks up to `cap` tokens (the last one cut if the cap falls inside it), and whether any
    token was left out."""
    if cap is None:
        return pieces, False
    kept: list[str] = []
    left = cap
    for piece in pieces:
        tokens = _TOKEN.findall(piece)
        if len(tokens) > left:
            if left:
                kept.append("".join(tokens[:left]))
            return kept, True
        kept.append(piece)
        left -= len(tokens)
    return kept, False


def _choice(kind: str, index: int, piece: str | None, *, first: bool, finish_reason: str | None) -> dict[str, Any]:
    """One choice of a streamed chunk: a chat delta, or a legacy completion's text (None: the finish chunk)."""
    if kind == "text":
        return {"text": piece or "", "index": index, "logprobs": None, "finish_reason": finish_reason}
    delta = {} if piece is None else {"role": "assistant", "content": piece} if first else {"content": piece}
    return {"index": index, "delta": delta, "finish_reason": finish_reason}


def _function_names(tools: Any) -> list[str]:
    """The names of the function tools a chat or Responses request offers."""
    names = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            name = (tool.get("function") or {}).get("name") if "function" in tool else tool.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


def _call_arguments(tools: list[Any], last: str) -> str:
    """[dev:call]'s arguments for the first function tool: the message's text (directives aside) as `q`, or
    as the first argument its schema requires when it requires some that are not `q`."""
    tool = next(tool for tool in tools if isinstance(tool, dict) and tool.get("type") == "function")
    schema = (tool.get("function") or {}).get("parameters") if "function" in tool else tool.get("parameters")
    required = schema.get("required") if isinstance(schema, dict) else None
    name = "q"
    if isinstance(required, list) and required and "q" not in required and isinstance(required[0], str):
        name = required[0]
    return json.dumps({name: _DIRECTIVE.sub("", last).strip()})


def _input_items(value: Any) -> list[dict[str, Any]]:
    """A Responses `input` as items, each with an id as OpenAI lists them."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    items = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            item = {"type": "message", **item} if "type" not in item else dict(item)
            if item["type"] == "message" and isinstance(item.get("content"), str):
                kind = "output_text" if item.get("role") == "assistant" else "input_text"
                item["content"] = [{"type": kind, "text": item["content"]}]
            items.append({"id": item.get("id") or f"msg_dev{uuid.uuid4().hex[:16]}", **item})
    return items


def _item_text(item: dict[str, Any]) -> str:
    """What an input item says: a message's text, or a function call's output."""
    if item.get("type") == "function_call_output":
        return str(item.get("output", ""))
    content = item.get("content")
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _response_answer(body: dict[str, Any], items: list[dict[str, Any]], last: str, shape: _Shape) -> dict[str, Any]:
    """A Responses API answer to `items`: a call of the first function tool ([dev:call]), else the last
    item echoed, capped at `max_output_tokens`; its usage counts words."""
    names = _function_names(body.get("tools"))
    status, details = "completed", None
    if shape.call and names:
        arguments = _call_arguments(body["tools"], last)
        call = {"type": "function_call", "id": f"fc_dev{uuid.uuid4().hex[:16]}"}
        call["call_id"] = f"call_{uuid.uuid4().hex[:12]}"
        output = [{**call, "name": names[0], "arguments": arguments, "status": "completed"}]
        written = arguments
    else:
        pieces, cut_short = _capped(shape.pieces(f"{NOTICE} You said: {_DIRECTIVE.sub('', last).strip()}"), _cap(body))
        written = "".join(pieces)
        if cut_short:
            status, details = "incomplete", {"reason": "max_output_tokens"}
        part = {"type": "output_text", "text": written, "annotations": []}
        output = [{"type": "message", "id": f"msg_dev{uuid.uuid4().hex[:16]}", "status": "completed",
                   "role": "assistant", "content": [part]}]  # fmt: skip
    said = " ".join([str(body.get("instructions") or ""), *(_item_text(item) for item in items)])
    input_tokens, output_tokens = max(1, len(said.split())), len(written.split())
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": min(shape.cached or 0, input_tokens)},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }  # fmt: skip
    return {
        "id": f"resp_dev{uuid.uuid4().hex[:24]}", "object": "response", "created_at": int(time.time()),
        "status": status, "incomplete_details": details, "error": None, "model": body["model"],
        "instructions": body.get("instructions"), "output": output, "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"), "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
        "max_output_tokens": body.get("max_output_tokens"), "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [], "text": body.get("text") or {"format": {"type": "text"}},
        "usage": None if shape.nousage else usage, "metadata": body.get("metadata") or {},
        "x_dev_notice": NOTICE,
    }  # fmt: skip


def _items(value: Any) -> list[Any] | None:
    """An embeddings `input` or a completions `prompt` as a list of strings or token arrays; None if neither."""
    if isinstance(value, str) or _is_tokens(value):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) or _is_tokens(item) for item in value):
        return value
    return None


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, int) for item in value)


def _as_text(item: Any) -> str:
    return item if isinstance(item, str) else f"{len(item)} tokens"


def _prompt_tokens(item: Any) -> int:
    """Tokens of a text (one per word, at least one) or of a token array."""
    return max(1, len(item.split())) if isinstance(item, str) else len(item)


def _vector(item: Any, dimensions: int, *, as_base64: bool) -> list[float] | str:
    """A fake embedding of `item`: `dimensions` numbers from its hash, of unit length (float32, or base64)."""
    digest = hashlib.shake_256(json.dumps(item).encode()).digest(4 * dimensions)
    raw = [number / 2**31 - 1 for number in struct.unpack(f"<{dimensions}I", digest)]
    norm = sum(value * value for value in raw) ** 0.5 or 1.0
    vector = [value / norm for value in raw]
    if as_base64:
        return base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
    return [round(value, 6) for value in vector]


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "chatgateway-dev"}


def _exit_with_parent(upstream: DevUpstream, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    upstream.server.shutdown()


def _tool_call_message(length: int) -> dict[str, Any]:
    """An answer that calls the tool `lookup` with `length` characters of JSON arguments."""
    arguments = json.dumps({"q": "x" * max(0, length - 9)})  # {"q": ""} is 9 characters
    call = {
        "id": f"call_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": "lookup", "arguments": arguments},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def key_as(key: str, form: str) -> str:
    """`key` written as a provider's error message might quote it."""
    if form == "upper":
        return key.upper()
    if form == "lower":
        return key.lower()
    if form == "masked":  # OpenAI's "Incorrect API key provided: sk-proj-****...abcd"
        return f"{key[:8]}{'*' * 20}{key[-4:]}"
    if form == "ellipsis":
        return f"{key[:6]}...{key[-4:]}"
    if form == "zerowidth":
        return "\u200b".join(key)
    if form == "fullwidth":
        return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in key)
    return key


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
