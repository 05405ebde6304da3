"""The only module that talks to the upstream model, through the official `openai` SDK.

Everything else calls `create_chat_completion()` and catches the domain errors below, never the
SDK's. Error messages here are meant for people; `reason` is a short label for logs and usage
records. Neither ever contains the upstream key or any text the upstream sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx2  # the SDK's transport: its errors surface unwrapped while a stream is read
import openai
from django.conf import settings

logger = logging.getLogger(__name__)

_CLIENT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_TIMEOUT"}
T = TypeVar("T")
RETRY_BACKOFF = 0.5  # seconds before the first retry, doubling after each
MAX_RETRY_PAUSE = 4.0


class UpstreamError(Exception):
    """The upstream did not answer usefully. `status` is what the gateway's client gets."""

    status = 502
    message = "The upstream model service failed to answer. Please try again later."

    def __init__(self, reason: str, *, message: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if message:
            self.message = message
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status = 504
    message = "The upstream model service took too long to answer. Please try again later."


class UpstreamBusy(UpstreamError):
    status = 503
    message = "The upstream model service is busy. Please try again shortly."


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (400/422): a parameter it does not accept, a prompt
    longer than the model's context. The client's to fix, so a 400 with the upstream's reason."""

    status = 400
    message = "The upstream model service refused the request."


class UpstreamMisconfigured(UpstreamError):
    message = "The gateway is misconfigured: the upstream refused its credentials. Please tell an administrator."


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclasses.dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: Usage | None  # None: the upstream reported none
    request_id: str | None


@functools.cache
def client() -> openai.OpenAI:
    """The shared SDK client: built once, it pools its connections across requests.

    Its own retries are off: `create_chat_completion` retries within one deadline instead, so that
    OPENAI_TIMEOUT bounds the whole wait (the SDK would give each retry a full timeout of its own).
    """
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=0,
    )


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = weakref.WeakKeyDictionary()


def async_client() -> openai.AsyncOpenAI:
    """The async SDK client of the running event loop (its connection pool belongs to that loop).

    A server has one loop per worker process, so this is one client per process; only code that
    runs a loop per call (a test's async_to_sync) gets a client per call.
    """
    loop = asyncio.get_running_loop()
    if loop not in _async_clients:
        _async_clients[loop] = openai.AsyncOpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.OPENAI_TIMEOUT,
            max_retries=0,
        )
    return _async_clients[loop]


def forget_client_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _CLIENT_SETTINGS:
        client.cache_clear()
        _async_clients.clear()


def create_chat_completion(*, messages: list[dict[str, str]], model: str, max_tokens: int | None = None) -> Completion:
    """Ask the upstream for one chat completion, retrying passing failures until OPENAI_TIMEOUT."""
    limit = {"max_tokens": max_tokens} if max_tokens else {}
    response = _with_retries(lambda timeout: client().chat.completions.create(
        model=model, messages=messages, timeout=timeout, **limit
    ))  # fmt: skip
    if not getattr(response, "choices", None):
        raise UpstreamError("upstream_malformed_response")
    usage = response.usage
    return Completion(
        text=response.choices[0].message.content or "",
        model=response.model or model,
        usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else None,
        request_id=response._request_id,
    )


def _with_retries(call: Callable[[float], T]) -> T:
    """`call(timeout)` until it succeeds, OPENAI_MAX_RETRIES run out, or OPENAI_TIMEOUT has passed."""
    deadline = time.monotonic() + settings.OPENAI_TIMEOUT
    for attempt in itertools.count():
        try:
            return call(deadline - time.monotonic())
        except (openai.OpenAIError, ValueError) as exc:
            # ValueError: a 200 whose body is not the JSON it claims to be (the SDK does not wrap that).
            time.sleep(_pause_before_retry(exc, attempt, deadline))
    raise AssertionError("unreachable")


async def _with_retries_async(call: Callable[[float], Awaitable[T]]) -> T:
    """The async twin of `_with_retries`: the same rules, waiting without blocking the loop."""
    deadline = time.monotonic() + settings.OPENAI_TIMEOUT
    for attempt in itertools.count():
        try:
            return await call(deadline - time.monotonic())
        except (openai.OpenAIError, ValueError) as exc:
            await asyncio.sleep(_pause_before_retry(exc, attempt, deadline))
    raise AssertionError("unreachable")


def _pause_before_retry(exc: Exception, attempt: int, deadline: float) -> float:
    """How long to wait before the next attempt; raises the domain error when there is none."""
    pause = min(RETRY_BACKOFF * 2**attempt, MAX_RETRY_PAUSE)
    if attempt >= settings.OPENAI_MAX_RETRIES or not _retryable(exc) or time.monotonic() + pause >= deadline:
        raise _domain_error(exc) from None
    logger.info("upstream attempt %d failed (%s); retrying in %.1f s", attempt + 1, type(exc).__name__, pause)
    return pause


def _retryable(exc: Exception) -> bool:
    """Failures that another attempt may not meet: lost connections, overload, upstream 5xx."""
    if isinstance(exc, openai.APITimeoutError):
        return False  # the deadline is spent
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in {408, 409, 429} or exc.status_code >= 500)


def _domain_error(exc: Exception) -> UpstreamError:
    """Translate an SDK error; log one line that names the kind of failure, not its text."""
    if isinstance(exc, openai.APITimeoutError):
        error: UpstreamError = UpstreamTimeout("upstream_timeout")
    elif isinstance(exc, openai.APIConnectionError):
        error = UpstreamError("upstream_unreachable")
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        error = UpstreamMisconfigured(f"upstream_auth_{exc.status_code}")
    elif isinstance(exc, openai.RateLimitError):
        error = UpstreamBusy("upstream_rate_limited", retry_after=_retry_after(exc.response))
    elif isinstance(exc, openai.NotFoundError):
        # A wrong OPENAI_BASE_URL or a model name the upstream does not know: the gateway's setup.
        error = UpstreamMisconfigured(
            "upstream_not_found",
            message="The gateway is misconfigured: the upstream does not know this address or model. "
            "Please tell an administrator.",
        )
    elif isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        error = UpstreamRejected(f"upstream_http_{exc.status_code}", message=_rejection(exc))
    elif isinstance(exc, openai.APIStatusError):
        error = UpstreamError(f"upstream_http_{exc.status_code}")
    else:
        error = UpstreamError("upstream_malformed_response")
    log = logger.error if isinstance(error, UpstreamMisconfigured) else logger.warning
    log("upstream call failed: %s", error.reason)
    return error


def _rejection(exc: openai.APIStatusError) -> str:
    """The upstream's reason for refusing a request, which is about the request (never about the
    upstream's credentials: those refusals are 401/403 and say nothing to the client)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    reason = body.get("message") if isinstance(body.get("message"), str) else ""
    reason = reason.replace(settings.OPENAI_API_KEY or "\0", "[redacted]")[:500]
    return f"{UpstreamRejected.message} {reason}".strip()


def _retry_after(response: Any) -> int | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(1, int(float(value))) if value else None
    except ValueError:
        return None


# --- The OpenAI-compatible pass-through (/v1): asynchronous, the upstream's bytes unchanged ------


@dataclasses.dataclass(frozen=True)
class RawCompletion:
    """The upstream's answer exactly as it sent it, and what the gateway reads from it."""

    body: bytes
    model: str
    text: str  # of every choice, for estimates and (when kept) the usage record
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
        return _texts(choice.get("delta") for choice in self.chunk.get("choices") or [] if isinstance(choice, dict))

    @property
    def only_usage(self) -> bool:
        """The closing chunk that `stream_options.include_usage` asks for: usage and no choices."""
        return not self.chunk.get("choices") and self.usage is not None


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


def _sdk_arguments(params: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The client's request as the SDK takes it: model and messages by name, every other field as
    sent (in `extra_body`, which the SDK does not check), and always usage for a stream."""
    rest = {key: value for key, value in params.items() if key not in {"model", "messages", "stream"}}
    if stream:
        rest["stream_options"] = {**(params.get("stream_options") or {}), "include_usage": True}
    return {"model": params["model"], "messages": params["messages"], "extra_body": rest}


async def pass_through_completion(params: dict[str, Any]) -> RawCompletion:
    """Ask for one non-streamed completion; its body comes back byte for byte."""

    async def attempt(timeout: float) -> Any:
        return await async_client().chat.completions.with_raw_response.create(
            **_sdk_arguments(params, stream=False), timeout=timeout
        )

    response = await _with_retries_async(attempt)
    body = response.content
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        logger.warning("upstream call failed: upstream_malformed_response")
        raise UpstreamError("upstream_malformed_response")
    choices = [choice for choice in data["choices"] if isinstance(choice, dict)]
    return RawCompletion(
        body=body,
        model=str(data.get("model") or params["model"]),
        text=_texts(choice.get("message") for choice in choices),
        usage=_usage(data.get("usage")),
        request_id=response.request_id,
    )


async def open_stream(params: dict[str, Any]) -> UpstreamStream:
    """Open a streamed completion and wait for its first event, retrying passing failures, all
    within OPENAI_TIMEOUT; after that, OPENAI_TIMEOUT bounds each pause between events."""

    async def attempt(timeout: float) -> UpstreamStream:
        stack = contextlib.AsyncExitStack()
        try:
            # The whole opening (connect, headers, first event) gets what is left of the deadline;
            # each read after it gets a full OPENAI_TIMEOUT, whatever earlier attempts took.
            response, events, first = await asyncio.wait_for(_open(stack, params), timeout)
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, TimeoutError):
                raise _logged(UpstreamTimeout("upstream_timeout")) from None
            if isinstance(exc, StopAsyncIteration):
                raise _logged(UpstreamError("upstream_empty_stream")) from None
            raise
        return UpstreamStream(stack=stack, events=events, first=first, request_id=response.request_id)

    return await _with_retries_async(attempt)


async def _open(stack: contextlib.AsyncExitStack, params: dict[str, Any]) -> tuple[Any, Any, StreamEvent]:
    response = await stack.enter_async_context(
        async_client().chat.completions.with_streaming_response.create(
            **_sdk_arguments(params, stream=True), stream=True, timeout=settings.OPENAI_TIMEOUT
        )
    )
    events = _events(response.iter_lines())
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
        raise _logged(UpstreamTimeout("upstream_stream_stalled")) from None
    except httpx2.HTTPError:
        raise _logged(UpstreamError("upstream_stream_cut")) from None
    if not finished:  # some upstreams end without [DONE], but never before the finish reason
        raise _logged(UpstreamError("upstream_stream_cut"))


def _chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise _logged(UpstreamError("upstream_malformed_stream"))
    if chunk.get("error"):
        raise _logged(UpstreamError("upstream_stream_error"))
    return chunk


def _texts(messages: Any) -> str:
    return "".join(
        message["content"]
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    counts = [value.get(name) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
    if not all(isinstance(count, int) and count >= 0 for count in counts):
        return None
    return Usage(*counts)


def _logged(error: UpstreamError) -> UpstreamError:
    logger.warning("upstream call failed: %s", error.reason)
    return error
