"""Asking the upstream for a chat completion, streamed or not, asynchronously; the answer's bytes unchanged.
The legacy completions (`/completions`) go the same way, and embeddings (`/embeddings`) the non-streamed
half of it, each routed (routing.py) over the deployments whose provider speaks that endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2  # the SDK's transport: its errors surface unwrapped while a stream is read
import openai

from core import requestid
from providers import catalog
from providers.catalog import ProviderEntry
from relay.estimates import choice_text
from relay.upstream.clients import NO_AUTHORIZATION, client_for
from relay.upstream.errors import UpstreamError, UpstreamTimeout, domain_error, logged
from relay.upstream.routing import Trail, keys_in_turn, route

logger = logging.getLogger("relay.upstream")

CHAT = "/chat/completions"
COMPLETIONS = "/completions"  # the legacy text completions
EMBEDDINGS = "/embeddings"
RESPONSES = "/responses"  # OpenAI's Responses API, to a provider that speaks it
# The endpoint each path is, as a provider's capabilities name it (providers.models.ENDPOINTS).
ENDPOINT = {CHAT: "chat", COMPLETIONS: "completions", EMBEDDINGS: "embeddings", RESPONSES: "responses"}
# The Responses API's events that end a stream; its usage is in the first two.
RESPONSE_ENDS = {"response.completed", "response.incomplete", "response.failed"}


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # of the prompt, served from the provider's cache (priced at the cached price)


@dataclasses.dataclass(frozen=True)
class RawCompletion:
    """The upstream's answer exactly as it sent it, and what the gateway reads from it."""

    body: bytes
    model: str
    text: str  # of every choice (none for embeddings), for estimates and (when kept) the usage record
    usage: Usage | None
    request_id: str | None


@dataclasses.dataclass(frozen=True)
class StreamEvent:
    """One server-sent event of a streamed completion: its data as sent, and the same parsed."""

    data: str
    chunk: dict[str, Any]

    @property
    def usage(self) -> Usage | None:
        return _usage(self.chunk.get("usage"))

    @property
    def text(self) -> str:
        """The answer text this event adds (of every choice)."""
        return _texts(self.chunk.get("choices"))

    @property
    def only_usage(self) -> bool:
        """The closing chunk that `stream_options.include_usage` asks for: usage and no choices."""
        return not self.chunk.get("choices") and self.usage is not None


@dataclasses.dataclass(frozen=True)
class ResponseStreamEvent(StreamEvent):
    """One typed event of a streamed Responses API answer: its `event:` name, and its data as sent."""

    name: str = ""

    @property
    def usage(self) -> Usage | None:
        response = self.chunk.get("response")
        if self.chunk.get("type") in RESPONSE_ENDS and isinstance(response, dict):
            return response_usage(response.get("usage"))
        return None

    @property
    def text(self) -> str:
        kind = self.chunk.get("type")
        if kind in ("response.output_text.delta", "response.function_call_arguments.delta", "response.refusal.delta"):
            delta = self.chunk.get("delta")
            return delta if isinstance(delta, str) else ""
        return ""

    @property
    def only_usage(self) -> bool:
        return False


class UpstreamStream:
    """An upstream stream whose first event has arrived. Iterate it once; always `aclose()` it."""

    def __init__(self, *, stack: contextlib.AsyncExitStack, events: AsyncIterator[StreamEvent], first: StreamEvent,
                 request_id: str | None) -> None:  # fmt: skip
        self._stack = stack
        self._events = events
        self.first = first
        self.request_id = request_id

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        yield self.first
        async for event in self._events:
            yield event

    async def aclose(self) -> None:
        """Close the upstream request (at once, if it is still sending)."""
        await self._stack.aclose()


def _body(params: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The client's request as sent, and for a stream always with usage (the gateway counts it)."""
    if not stream:
        return {**params, "stream": False}
    return {**params, "stream": True, "stream_options": {**(params.get("stream_options") or {}), "include_usage": True}}


async def _post(
    client: openai.AsyncOpenAI, provider: ProviderEntry, params: dict[str, Any], *, stream: bool, timeout: float,
    path: str = CHAT,
) -> httpx2.Response:  # fmt: skip
    """POST `path` (/chat/completions, /completions; /embeddings with `stream` false) through the SDK's
    client (its key, base URL, headers and error classes), with the body as the client sent it.

    The SDK's typed `chat.completions.create()` would transform every parameter against its type
    definitions first (a deep copy and a walk of the types), which cost about a quarter of the
    gateway's CPU per request (docs/performance.md). The gateway checks what it needs itself
    (openai_api.serializers) and passes the rest on unchanged, so it uses the SDK's plain `post`,
    which the SDK offers for exactly this ("undocumented endpoints" in its README). With `stream`, the
    response's body is not read yet; the caller must close it.
    """
    headers = requestid.upstream_headers()  # the provider's logs can name it
    if not provider.keys:
        headers = {**headers, **NO_AUTHORIZATION}  # a provider without a key gets no Authorization header
    if path == EMBEDDINGS:
        body = params
    elif path == RESPONSES:
        body = {**params, "stream": stream}  # its usage comes in `response.completed` without asking
    else:
        body = _body(params, stream=stream)
    options: dict[str, Any] = {"timeout": timeout, "headers": headers}
    return await client.post(path, cast_to=httpx2.Response, body=body, options=options, stream=stream)


async def pass_through_completion(
    params: dict[str, Any], trail: Trail | None = None, *, path: str = CHAT
) -> RawCompletion:
    """Ask for one non-streamed chat completion (or, with `path`, a legacy one), routed over the model's
    deployments (routing.py, which notes in `trail` what it took); its body comes back byte for byte."""
    response, data = await _post_for_json(params, trail, path=path, listing="choices")
    return RawCompletion(
        body=response.content,
        model=str(data.get("model") or params["model"]),
        text=_texts(data["choices"]),
        usage=_usage(data.get("usage")),
        request_id=response.headers.get("x-request-id"),
    )


async def pass_through_text_completion(params: dict[str, Any], trail: Trail | None = None) -> RawCompletion:
    """Ask for one non-streamed legacy completion (`POST /completions`); its body comes back byte for byte."""
    return await pass_through_completion(params, trail, path=COMPLETIONS)


async def pass_through_embeddings(params: dict[str, Any], trail: Trail | None = None) -> RawCompletion:
    """Ask for embeddings (`POST /embeddings`); the body comes back byte for byte, its vectors as the
    upstream encoded them (float or base64), and its usage has no completion."""
    response, data = await _post_for_json(params, trail, path=EMBEDDINGS, listing="data")
    usage = data.get("usage")
    if isinstance(usage, dict) and "completion_tokens" not in usage:
        usage = {**usage, "completion_tokens": 0}
    return RawCompletion(
        body=response.content,
        model=str(data.get("model") or params["model"]),
        text="",
        usage=_usage(usage),
        request_id=response.headers.get("x-request-id"),
    )


async def pass_through_response(
    params: dict[str, Any], trail: Trail | None = None, *, provider: str = ""
) -> RawCompletion:
    """Ask a provider that speaks the Responses API (`POST /responses`), or only `provider` when named (the
    one that keeps a `previous_response_id`); the body comes back byte for byte."""
    response, data = await _post_for_json(params, trail, path=RESPONSES, listing="output", provider=provider)
    return RawCompletion(
        body=response.content,
        model=str(data.get("model") or params["model"]),
        text=output_text(data["output"]),
        usage=response_usage(data.get("usage")),
        request_id=response.headers.get("x-request-id"),
    )


async def open_response_stream(
    params: dict[str, Any], trail: Trail | None = None, *, provider: str = ""
) -> UpstreamStream:
    """Open a streamed Responses API answer (typed events), as `open_stream` does a chat one."""
    return await open_stream(params, trail, path=RESPONSES, provider=provider)


async def response_by_id(*, provider: str, method: str, path: str) -> tuple[int, bytes]:
    """Call `provider` (by name) about a response it keeps: `GET` or `DELETE /responses/{id}`, `GET
    .../input_items`, `POST .../cancel`. Its status and body as they are, or (404, b"") if it does not know
    the id; any other failure raises UpstreamError (a 400 with its reason, redacted), without retries."""
    entry = catalog.current().providers.get(provider)
    if entry is None or ENDPOINT[RESPONSES] not in entry.endpoints:
        return 404, b""
    key = keys_in_turn(entry)[0]
    headers = requestid.upstream_headers() if key is not None else {**requestid.upstream_headers(), **NO_AUTHORIZATION}
    options: dict[str, Any] = {"timeout": entry.timeout, "headers": headers}
    client = client_for(entry, key)
    try:
        if method == "GET":
            response = await client.get(path, cast_to=httpx2.Response, options=options)
        elif method == "DELETE":
            response = await client.delete(path, cast_to=httpx2.Response, options=options)
        else:
            response = await client.post(path, cast_to=httpx2.Response, body={}, options=options)
    except openai.NotFoundError:
        return 404, b""
    except openai.OpenAIError as exc:
        raise domain_error(exc) from None
    return response.status_code, response.content


def output_text(output: Any) -> str:
    """What the model wrote in a Responses API `output`: messages' text and refusals, function calls' names
    and arguments (billed as output tokens)."""
    parts: list[Any] = []
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message" and isinstance(item.get("content"), list):
            parts += [part.get("text") or part.get("refusal") for part in item["content"] if isinstance(part, dict)]
        elif item.get("type") == "function_call":
            parts += [item.get("name"), item.get("arguments")]
    return "".join(part for part in parts if isinstance(part, str))


def response_usage(value: Any) -> Usage | None:
    """A Responses API usage (`input_tokens`, `output_tokens`, `total_tokens`) as the gateway counts it."""
    if not isinstance(value, dict):
        return None
    counts = [value.get(name) for name in ("input_tokens", "output_tokens")]
    if not all(isinstance(count, int) and not isinstance(count, bool) and count >= 0 for count in counts):
        return None
    # Cached input is priced apart: `input_tokens_details.cached_tokens`, as chat's `prompt_tokens_details`.
    cached = _cached_tokens({"prompt_tokens_details": value.get("input_tokens_details")}, prompt_tokens=counts[0])
    return Usage(counts[0], counts[1], counts[0] + counts[1], cached_tokens=cached)


async def _post_for_json(
    params: dict[str, Any], trail: Trail | None, *, path: str, listing: str, provider: str = ""
) -> tuple[httpx2.Response, dict[str, Any]]:
    """POST a non-streamed request, routed; the response and its JSON, which must be an object with a
    list in `listing` (`choices`, `data`), else UpstreamError."""

    async def attempt(client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float, provider: ProviderEntry) -> Any:
        return await _post(client, provider, body, stream=False, timeout=timeout, path=path)

    response = await route(params, trail or Trail(), attempt, endpoint=ENDPOINT[path], only_provider=provider)
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get(listing), list):
        logger.warning("upstream call failed: upstream_malformed_response")
        raise UpstreamError("upstream_malformed_response")
    return response, data


async def open_text_completion_stream(params: dict[str, Any], trail: Trail | None = None) -> UpstreamStream:
    """Open a streamed legacy completion (`POST /completions`), as `open_stream` does a chat one."""
    return await open_stream(params, trail, path=COMPLETIONS)


async def open_stream(
    params: dict[str, Any], trail: Trail | None = None, *, path: str = CHAT, provider: str = ""
) -> UpstreamStream:
    """Open a streamed completion and wait for its first event, routed over the model's deployments and
    retrying passing failures, all within OPENAI_TIMEOUT (routing.py); after that, the provider's timeout
    bounds each pause between events. Once the first event is here, nothing is tried elsewhere."""

    async def attempt(
        client: openai.AsyncOpenAI, body: dict[str, Any], timeout: float, provider: ProviderEntry
    ) -> UpstreamStream:
        stack = contextlib.AsyncExitStack()
        try:
            # The whole opening (connect, headers, first event) gets what is left of the deadline;
            # each read after it gets the provider's full timeout, whatever earlier attempts took.
            response, events, first = await asyncio.wait_for(_open(stack, client, provider, body, path), timeout)
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, TimeoutError):
                raise logged(UpstreamTimeout("upstream_timeout")) from None
            if isinstance(exc, StopAsyncIteration):
                raise logged(UpstreamError("upstream_empty_stream")) from None
            raise
        return UpstreamStream(stack=stack, events=events, first=first, request_id=response.headers.get("x-request-id"))

    return await route(params, trail or Trail(), attempt, endpoint=ENDPOINT[path], only_provider=provider)


async def _open(
    stack: contextlib.AsyncExitStack, client: openai.AsyncOpenAI, provider: ProviderEntry, params: dict[str, Any],
    path: str,
) -> tuple[Any, Any, StreamEvent]:  # fmt: skip
    response = await _post(client, provider, params, stream=True, timeout=provider.timeout, path=path)
    stack.push_async_callback(response.aclose)
    events = _response_events(response.aiter_lines()) if path == RESPONSES else _events(response.aiter_lines())
    return response, events, await anext(events)


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """The data events of an SSE body until `[DONE]`; a stream that ends before its answer did, or
    that carries an error event, raises UpstreamError."""
    finished = False
    try:
        async for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, comments, `event:` names
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = StreamEvent(data=data, chunk=_chunk(data))
            finished = finished or any(choice.get("finish_reason") for choice in event.chunk.get("choices") or [])
            yield event
    except httpx2.TimeoutException:
        raise logged(UpstreamTimeout("upstream_stream_stalled")) from None
    except httpx2.HTTPError:
        raise logged(UpstreamError("upstream_stream_cut")) from None
    if not finished:  # some upstreams end without [DONE], but never before the finish reason
        raise logged(UpstreamError("upstream_stream_cut"))


async def _response_events(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """The typed events of a Responses API stream (`event:` and `data:` lines) until the response ends
    (completed, incomplete); one that ends before, fails, or carries an error event raises UpstreamError."""
    name = ""
    try:
        async for line in lines:
            if line.startswith("event:"):
                name = line[6:].strip()
                continue
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = _chunk(data)
            kind = chunk.get("type")
            if kind in ("error", "response.failed"):
                raise logged(UpstreamError("upstream_stream_error"))
            yield ResponseStreamEvent(data=data, chunk=chunk, name=name or str(kind or "message"))
            name = ""
            if kind in RESPONSE_ENDS:
                return
    except httpx2.TimeoutException:
        raise logged(UpstreamTimeout("upstream_stream_stalled")) from None
    except httpx2.HTTPError:
        raise logged(UpstreamError("upstream_stream_cut")) from None
    raise logged(UpstreamError("upstream_stream_cut"))


def _chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise logged(UpstreamError("upstream_malformed_stream"))
    if chunk.get("error"):
        raise logged(UpstreamError("upstream_stream_error"))
    return chunk


def _texts(choices: Any) -> str:
    """What the model wrote in `choices` (an answer's, or a chunk's, of any endpoint): text and tool calls
    alike, which the upstream bills as completion tokens (relay.estimates.choice_text)."""
    return "".join(choice_text(choice) for choice in choices) if isinstance(choices, list) else ""


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    counts = [value.get(name) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(count, int) and count >= 0 for count in counts):
        return None
    return Usage(*counts, cached_tokens=_cached_tokens(value, prompt_tokens=counts[0]))


def _cached_tokens(usage: dict[str, Any], *, prompt_tokens: int) -> int:
    """`prompt_tokens_details.cached_tokens` where the upstream reports it (OpenAI, DeepSeek, Qwen…), within
    the prompt; 0 otherwise."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if not isinstance(cached, int) or isinstance(cached, bool) or cached < 0:
        return 0
    return min(cached, prompt_tokens)
