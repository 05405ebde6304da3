"""Estimating tokens from text, for an upstream that reports no usage.

The rule: one token per 4 characters of ASCII text (rounded up), and one per any other character.
That matches OpenAI's own rule of thumb for English (about 4 characters a token) and is close for
Chinese and Japanese, where a character is about one token; for most other scripts it errs high,
which is the safe side for a limit. Records made this way are marked `estimated`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

MESSAGE_OVERHEAD = 4  # tokens OpenAI's chat format adds around each message (role, separators)


def estimate_tokens(text: str) -> int:
    """Tokens in `text` by the rule above."""
    ascii_chars = sum(1 for char in text if char.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def estimate_prompt_tokens(messages: Iterable[dict[str, Any]]) -> int:
    """Tokens of a chat prompt: each message's text and its overhead."""
    return sum(MESSAGE_OVERHEAD + estimate_tokens(message_text(message)) for message in messages)


def message_text(message: dict[str, Any]) -> str:
    """The text of a message: its content, or the text parts of a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""
