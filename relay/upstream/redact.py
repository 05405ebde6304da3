"""Keeping the upstream's key out of what the upstream says: its text reaches a client only in a
refusal's reason (`errors._rejection`), and a provider may quote the key it was given there in any form.

OpenAI writes a masked key (`sk-proj-****…abcd`); a proxy may change its case; a copy may hide a
zero-width character or use full-width letters. So the text is normalised first (NFKC, invisible
characters dropped), and then every key-like run of characters that holds a fragment of a key (eight
characters of it in a row, case-insensitive; a key shorter than 32 characters whole), or a masked form
ending in the key's last four, is replaced whole.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

REDACTED = "[redacted]"
FRAGMENT = 8  # characters of a key in a row that give it away
# Providers' keys are long and random; a shorter key (the development upstream's "dev-upstream-key") is
# matched whole, or its fragments would be words ("upstream") that the text may well hold.
FRAGMENTED = 32
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
KEY_LIKE = re.compile(r"[\w\-*.…]+")  # a key, masked or not, and what is glued to it
MASK = re.compile(r"\*|…|\.\.\.")


def redact_keys(text: str, keys: Iterable[str | None]) -> str:
    """`text` with every form of each of `keys` replaced by "[redacted]"."""
    text = unicodedata.normalize("NFKC", text).translate(INVISIBLE)
    for key in keys:
        if key:
            text = KEY_LIKE.sub(lambda run, key=key: REDACTED if _gives_away(run.group(), key) else run.group(), text)
    return text


def _gives_away(run: str, key: str) -> bool:
    run = run.lower()
    fragments, tail = _fragments(key.lower())
    if any(fragment in run for fragment in fragments):
        return True
    return bool(tail) and MASK.search(run) is not None and run.endswith(tail)


@functools.lru_cache(maxsize=512)
def _fragments(key: str) -> tuple[frozenset[str], str]:
    """Every run of FRAGMENT characters of `key` (the whole key if it is shorter than FRAGMENTED), and its
    last four characters, which a mask shows."""
    if len(key) < FRAGMENTED:
        return frozenset({key}), ""
    return frozenset(key[i : i + FRAGMENT] for i in range(len(key) - FRAGMENT + 1)), key[-4:]
