"""Estimating tokens from text, for an upstream that reports no usage (or a request cut short).

The rule: one token per 4 characters of ASCII text (rounded up), and one per any other character.
That matches OpenAI's own rule of thumb for English (about 4 characters a token) and is close for
Chinese and Japanese, where a character is about one token; for most other scripts it errs high,
which is the safe side for a limit. Records made this way are marked `estimated`.

What counts is everything that goes upstream as text, not only the messages' content: a tool's or a
function's description and schema, a response format, a prediction, tool calls and their arguments in the
history; and in an answer, tool calls' names and arguments as well as its text. `prompt_strings` walks a
request for them, once for every endpoint: the prompt-size check and the estimates both use it. The
legacy completions' `prompt` and embeddings' `input` may also be token arrays (lists of integers): each
integer is one token, and counts as TOKEN_CHARS characters for the prompt-size check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

MESSAGE_OVERHEAD = 4  # tokens OpenAI's chat format adds around each message (role, separators)
# The request fields that the model reads as text (Chat Completions and Responses).
PROMPT_FIELDS = (
    "messages", "tools", "functions", "tool_choice", "function_call", "response_format", "prediction",
    "input", "instructions", "text", "prompt", "suffix",
)  # fmt: skip
TOKEN_ARRAY_FIELDS = ("input", "prompt")  # embeddings' and legacy completions': text, or token arrays
TOKEN_CHARS = 4  # a token of a token array, in characters (the inverse of the ASCII rule below)
# Content parts whose strings are data (an image, a sound, a file), not prompt text: bounded by the body
# size limit instead, and counted by the upstream in tokens.
DATA_PARTS = {"image_url", "input_audio", "file", "input_image", "input_file"}
STRUCTURE = {"role", "type"}  # keys whose values are the format's own words, within MESSAGE_OVERHEAD


def estimate_tokens(text: str) -> int:
    """Tokens in `text` by the rule above."""
    ascii_chars = sum(1 for char in text if char.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def estimate_prompt_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """Tokens of a chat prompt: each message's text and its overhead."""
    return estimate_request_tokens({"messages": list(messages)})


def message_text(message: dict[str, Any]) -> str:
    """The text of a message: its content, or the text parts of a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside `value` (dictionary keys, and the values of STRUCTURE's keys, aside), data parts
    excepted. Iterative, so that no nesting can exhaust a recursion (the parser limits it too:
    core/parsers.py)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            pending.extend(reversed(item))
        elif isinstance(item, dict) and not _is_data_part(item):
            pending.extend(reversed([value for key, value in item.items() if key not in STRUCTURE]))


def _is_data_part(item: dict[str, Any]) -> bool:
    """A content part of DATA_PARTS. A tool's JSON schema may say `"type": ["string", "null"]` (Codex CLI's
    do): a list, which is no part's type (and cannot be looked up in a set)."""
    kind = item.get("type")
    return isinstance(kind, str) and kind in DATA_PARTS


def prompt_strings(params: dict[str, Any]) -> Iterator[str]:
    """Every string of a request that the model reads: PROMPT_FIELDS' strings."""
    for name in PROMPT_FIELDS:
        if name in params:
            yield from strings_in(params[name])


def token_arrays(value: Any) -> list[list[int]]:
    """The token arrays in an embeddings `input` or a completions `prompt`: one list of integers, or a list
    of them (a list of strings has none)."""
    if _is_token_array(value):
        return [value]
    if isinstance(value, list):
        return [item for item in value if _is_token_array(item)]
    return []


def _is_token_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, int) for item in value)


def prompt_tokens_given(params: dict[str, Any]) -> int:
    """Tokens a request gives as token arrays, which no string holds."""
    return sum(len(array) for name in TOKEN_ARRAY_FIELDS for array in token_arrays(params.get(name)))


def prompt_chars(params: dict[str, Any]) -> int:
    """Characters of everything in a request that the model reads (CHATGATEWAY_MAX_PROMPT_CHARS bounds it),
    a token array's tokens counted as TOKEN_CHARS each."""
    return sum(len(text) for text in prompt_strings(params)) + TOKEN_CHARS * prompt_tokens_given(params)


def estimate_request_tokens(params: dict[str, Any]) -> int:
    """Tokens of a request's prompt: every string the model reads, each message's overhead, and the tokens
    of token arrays."""
    messages = params.get("messages")
    overhead = MESSAGE_OVERHEAD * len(messages) if isinstance(messages, list) else 0
    return overhead + sum(estimate_tokens(text) for text in prompt_strings(params)) + prompt_tokens_given(params)


def choice_text(choice: Any) -> str:
    """What a model wrote in one choice of an answer or a streamed chunk, whichever endpoint's: a chat
    answer's `message`, a chat chunk's `delta`, or a legacy completion's `text`."""
    if not isinstance(choice, dict):
        return ""
    if "message" in choice or "delta" in choice:
        return answer_text(choice.get("message", choice.get("delta")))
    text = choice.get("text")
    return text if isinstance(text, str) else ""


def answer_text(message: Any) -> str:
    """What a model wrote in one message or streamed delta: its text, its refusal, and its tool calls'
    (and legacy function call's) names and arguments."""
    if not isinstance(message, dict):
        return ""
    calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
    functions = [call.get("function") for call in calls if isinstance(call, dict)] + [message.get("function_call")]
    parts = [message.get("content"), message.get("refusal")]
    parts += [
        function.get(name) for function in functions if isinstance(function, dict) for name in ("name", "arguments")
    ]
    return "".join(part for part in parts if isinstance(part, str))
