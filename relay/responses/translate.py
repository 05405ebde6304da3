"""The Responses API spoken to a provider that speaks only chat completions: a request's instructions and
input items (and a `previous_response_id`'s conversation) become chat messages, function tools go both ways,
and the chat answer, or its stream of chunks, becomes a Responses object, or its typed events.

Pure functions and one stream state machine, no I/O: relay/responses/passthrough.py calls them. What has no
chat equivalent (a built-in tool such as web search, a custom tool, a background response, a prompt
template) is refused by `check_translatable` with a 400 naming it, before anything is charged.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from rest_framework import serializers

# Request fields with no chat equivalent: refused by name rather than silently dropped.
UNTRANSLATABLE_FIELDS = ("background", "prompt", "conversation")
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
TEXT_PARTS = ("input_text", "output_text", "text", "refusal")
# Passed to chat under the same name.
SAME_NAMED = ("temperature", "top_p", "parallel_tool_calls", "user", "stream")


def new_id(prefix: str) -> str:
    """An id in OpenAI's style (`resp_…`, `msg_…`, `fc_…`), made by the gateway."""
    return f"{prefix}_{secrets.token_hex(24)}"


def _refuse(param: str, message: str) -> None:
    raise serializers.ValidationError({param: [message]})


def check_translatable(params: dict[str, Any]) -> None:
    """Refuse (400, naming it) what a chat-only provider cannot be asked: built-in and custom tools, a
    background response, a stored prompt, an item chat has no word for."""
    for name in UNTRANSLATABLE_FIELDS:
        if params.get(name):
            _refuse(name, f"`{name}` is not supported for this model: its provider speaks only chat completions.")
    for tool in params.get("tools") or []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            _refuse(
                "tools",
                f"The tool type `{kind}` is not supported for this model: its provider speaks only chat "
                "completions, which take function tools alone.",
            )
    choice = params.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "function":
        _refuse("tool_choice", f"The tool choice `{choice.get('type')}` is not supported for this model.")
    for item in input_items(params.get("input")):
        if item.get("type") not in ITEM_TYPES:
            _refuse("input", f"The input item type `{item.get('type')}` is not supported for this model.")
        for part in item.get("content") if isinstance(item.get("content"), list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in TEXT_PARTS and not (kind == "input_image" and part.get("image_url")):
                _refuse("input", f"The content type `{kind}` is not supported for this model.")


def input_items(value: Any) -> list[dict[str, Any]]:
    """A request's `input` as Responses items: a string is one user message; a message's string content
    becomes one text part. Each item gets an id (as OpenAI lists them in `input_items`)."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    items = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        item = {"type": "message", **item} if "type" not in item else dict(item)
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
        prefix = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}.get(item["type"], "item")
        items.append({"id": item.get("id") or new_id(prefix), **item})
    return items


def chat_request(params: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat completions request for a Responses request whose conversation is `items` (its history,
    if it continues a response, then its own input)."""
    messages = [{"role": "system", "content": params["instructions"]}] if params.get("instructions") else []
    messages += chat_messages(items)
    chat: dict[str, Any] = {"model": params["model"], "messages": messages}
    chat.update({name: params[name] for name in SAME_NAMED if params.get(name) is not None})
    if isinstance(params.get("max_output_tokens"), int):
        chat["max_tokens"] = params["max_output_tokens"]
    if params.get("tools"):
        chat["tools"] = [_chat_tool(tool) for tool in params["tools"]]
    choice = params.get("tool_choice")
    if isinstance(choice, dict):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice is not None:
        chat["tool_choice"] = choice
    response_format = _response_format((params.get("text") or {}).get("format"))
    if response_format is not None:
        chat["response_format"] = response_format
    effort = (params.get("reasoning") or {}).get("effort")
    if effort:
        chat["reasoning_effort"] = effort
    return chat


def _chat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = {name: tool[name] for name in ("name", "description", "parameters", "strict") if name in tool}
    return {"type": "function", "function": function}


def _response_format(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or value.get("type") in (None, "text"):
        return None
    if value.get("type") == "json_schema":
        schema = {name: value[name] for name in ("name", "schema", "strict", "description") if name in value}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": value["type"]}


def chat_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses items as chat messages: messages as they are (a developer's as a system message),
    function calls as an assistant's tool calls (consecutive ones in one message), their outputs as tool
    messages; reasoning items, which chat cannot take back, are left out."""
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = "system" if item.get("role") == "developer" else item.get("role", "user")
            messages.append({"role": role, "content": _chat_content(item.get("content"), role=role)})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function"}
            call["function"] = {"name": item.get("name"), "arguments": item.get("arguments") or ""}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _text_of(output)
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
    return messages


def _chat_content(content: Any, *, role: str) -> Any:
    if not isinstance(content, list):
        return content
    if role != "user" or all(part.get("type") in TEXT_PARTS for part in content):
        return _text_of(content)
    parts = []
    for part in content:
        if part.get("type") == "input_image":
            image = {"url": part["image_url"], **({"detail": part["detail"]} if part.get("detail") else {})}
            parts.append({"type": "image_url", "image_url": image})
        else:
            parts.append({"type": "text", "text": part.get("text") or part.get("refusal") or ""})
    return parts


def _text_of(parts: Any) -> str:
    if not isinstance(parts, list):
        return "" if parts is None else str(parts)
    texts = [part.get("text") or part.get("refusal") for part in parts if isinstance(part, dict)]
    return "\n".join(text for text in texts if isinstance(text, str))


# --- The answer back --------------------------------------------------------------------------------


def response_usage(usage: Any) -> dict[str, Any] | None:
    """A chat usage as the Responses API's, with its details."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def response_object(
    params: dict[str, Any], *, response_id: str, created_at: int, status: str, output: list[dict[str, Any]],
    usage: dict[str, Any] | None, finish_reason: str | None = None, store: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """A Responses API object, as OpenAI's answer carries it."""
    details = None
    if finish_reason == "length":
        status, details = "incomplete", {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        status, details = "incomplete", {"reason": "content_filter"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": details,
        "instructions": params.get("instructions"),
        "max_output_tokens": params.get("max_output_tokens"),
        "model": params["model"],
        "output": output,
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "previous_response_id": params.get("previous_response_id"),
        "reasoning": {"effort": (params.get("reasoning") or {}).get("effort"), "summary": None},
        "store": store,
        "temperature": params.get("temperature", 1.0),
        "text": params.get("text") or {"format": {"type": "text"}},
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": params.get("tools") or [],
        "top_p": params.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": params.get("user"),
        "metadata": params.get("metadata") or {},
    }


def output_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat answer's message as Responses output items: its text (or refusal) as a message, each tool
    call as a function call."""
    output = []
    parts = []
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append({"type": "output_text", "text": message["content"], "annotations": []})
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(_message_item(new_id("msg"), parts, status="completed"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        output.append(_call_item(new_id("fc"), call.get("id"), function.get("name"), function.get("arguments")))
    return output


def _message_item(item_id: str, parts: list[dict[str, Any]], *, status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": parts}


def _call_item(item_id: str, call_id: Any, name: Any, arguments: Any, *, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments or "",
        "status": status,
    }


def response_from_chat(
    params: dict[str, Any], completion: dict[str, Any], *, response_id: str, store: bool
) -> dict[str, Any]:
    """A non-streamed chat completion as a Responses object."""
    choice = (completion.get("choices") or [{}])[0]
    return response_object(
        params,
        response_id=response_id,
        created_at=int(completion.get("created") or time.time()),
        status="completed",
        output=output_of(choice.get("message") or {}),
        usage=response_usage(completion.get("usage")),
        finish_reason=choice.get("finish_reason"),
        store=store,
    )


# --- A stream's events --------------------------------------------------------------------------------


def sse(event: dict[str, Any]) -> bytes:
    """One typed server-sent event, as the Responses API sends them."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class EventTranslation:
    """Chat completion chunks, one at a time, as the Responses API's events: `opening()` first, `chunk()`
    for each chat chunk, `closing(usage)` at the end (the output items closed, then `response.completed`,
    or `response.incomplete` when the answer was cut at its cap). `response` is the object as it stands."""

    def __init__(self, params: dict[str, Any], *, response_id: str, store: bool) -> None:
        self.params = params
        self.response_id = response_id
        self.store = store
        self.created_at = int(time.time())
        self.output: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.response: dict[str, Any] = self._response("in_progress", None)
        self._sequence = 0
        self._text: dict[str, Any] | None = None  # the message item being written
        self._calls: dict[int, dict[str, Any]] = {}  # chat's tool call index → its function_call item, open
        self._open: list[dict[str, Any]] = []  # items added and not yet done, in order

    def _response(self, status: str, usage: dict[str, Any] | None) -> dict[str, Any]:
        return response_object(
            self.params, response_id=self.response_id, created_at=self.created_at, status=status,
            output=list(self.output), usage=usage, finish_reason=self.finish_reason, store=self.store,
        )  # fmt: skip

    def _event(self, kind: str, **payload: Any) -> bytes:
        event = {"type": kind, "sequence_number": self._sequence, **payload}
        self._sequence += 1
        return sse(event)

    def opening(self) -> bytes:
        return self._event("response.created", response=self.response) + self._event(
            "response.in_progress", response=self.response
        )

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        sent = b""
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # `n` is not a Responses parameter: only the first answer exists
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                sent += self._text_delta(delta["content"])
            for call in delta.get("tool_calls") or []:
                sent += self._call_delta(call)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return sent

    def _text_delta(self, text: str) -> bytes:
        sent = b""
        if self._text is None:
            sent += self._close_all()
            self._text = _message_item(new_id("msg"), [], status="in_progress")
            self._text["text"] = ""
            sent += self._add(self._text)
            ids = self._ids(self._text)
            part = {"type": "output_text", "text": "", "annotations": []}
            sent += self._event("response.content_part.added", **ids, content_index=0, part=part)
        self._text["text"] += text
        ids = self._ids(self._text)
        return sent + self._event("response.output_text.delta", **ids, content_index=0, delta=text, logprobs=[])

    def _call_delta(self, call: dict[str, Any]) -> bytes:
        sent = b""
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self._calls.get(index)
        if item is None:
            sent += self._close_all()
            item = _call_item(new_id("fc"), call.get("id"), function.get("name"), "", status="in_progress")
            self._calls[index] = item
            sent += self._add(item)
        elif function.get("name") and not item["name"]:
            item["name"] = function["name"]
        piece = function.get("arguments")
        if isinstance(piece, str) and piece:
            item["arguments"] += piece
            sent += self._event("response.function_call_arguments.delta", **self._ids(item), delta=piece)
        return sent

    def _ids(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": item["output_index"]}

    def _add(self, item: dict[str, Any]) -> bytes:
        item["output_index"] = len(self.output) + len(self._open)
        self._open.append(item)
        return self._event("response.output_item.added", output_index=item["output_index"], item=_shown(item))

    def _close_all(self) -> bytes:
        sent = b""
        for item in self._open:
            ids = self._ids(item)
            if item["type"] == "message":
                part = {"type": "output_text", "text": item.pop("text"), "annotations": []}
                item["content"] = [part]
                sent += self._event("response.output_text.done", **ids, content_index=0, text=part["text"], logprobs=[])
                sent += self._event("response.content_part.done", **ids, content_index=0, part=part)
            else:
                sent += self._event("response.function_call_arguments.done", **ids, arguments=item["arguments"])
            item["status"] = "completed"
            done = _shown(item)
            self.output.append(done)
            sent += self._event("response.output_item.done", output_index=ids["output_index"], item=done)
        self._open = []
        self._text = None
        self._calls = {}
        return sent

    def closing(self, usage: dict[str, Any] | None) -> bytes:
        """The items closed, and the response's end with its usage."""
        sent = self._close_all()
        self.response = self._response("completed", usage)
        kind = "response.incomplete" if self.response["status"] == "incomplete" else "response.completed"
        return sent + self._event(kind, response=self.response)

    def error(self, *, code: str, message: str) -> bytes:
        """An error event that ends the stream (OpenAI's SDK raises APIError on it)."""
        error = {"message": message, "type": "server_error", "param": None, "code": code}
        return self._event("error", code=code, message=message, param=None, error=error)


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """An item as events show it: without the gateway's bookkeeping."""
    shown = {key: value for key, value in item.items() if key not in ("output_index", "text")}
    if shown["type"] == "message" and "content" not in shown:
        shown["content"] = []
    return shown
