"""JSON that the gateway can always handle: no duplicate keys, no unpaired surrogates, no runaway nesting."""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy
from rest_framework import parsers
from rest_framework.exceptions import ParseError

NOT_JSON = gettext_lazy("The request body is not valid JSON.")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set[str] = set()
        key = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ParseError(gettext("The key {key} appears twice in a JSON object; give it once.").format(key=repr(key)))
    return data


def _refuse_constant(name: str) -> None:
    raise ParseError(gettext("{name} is not a JSON number; send a finite number.").format(name=name))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ParseError(gettext("The number {number} is too large.").format(number=text[:20]))
    return value


# A JSON string, escapes included (the unrolled loop: no backtracking), and anything but a bracket.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _refuse_deep_nesting(text: str) -> None:
    """Refuse JSON nested deeper than CHATGATEWAY_MAX_JSON_DEPTH before it is parsed.

    Everything that reads a request recursively (the parser itself, the prompt-size count, the
    serializers, the JSON sent upstream) is then safe at any body size. The count runs over the
    brackets outside strings, at C speed, and stops at the first level too deep; a body with no more
    brackets than the limit skips it.
    """
    limit = settings.CHATGATEWAY_MAX_JSON_DEPTH
    if text.count("[") + text.count("{") <= limit:
        return
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    depths = accumulate(map(_STEP.__getitem__, brackets))
    if next(filter(limit.__lt__, depths), None) is not None:  # stops at the first level past the limit
        raise ParseError(
            gettext("The JSON in the request body is nested more than {limit} levels deep.").format(limit=limit)
        )


class StrictJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing what would otherwise be ambiguous or fail later with a 500.

    A repeated key ({"prompt": "a", "prompt": "b"}) is ambiguous. A lone UTF-16 surrogate ("\\ud800")
    is valid JSON but not text: it cannot be stored, compared or sent back. Nesting deeper than
    CHATGATEWAY_MAX_JSON_DEPTH would exhaust a recursion (the parser's, or any reader's after it).
    NaN, Infinity and numbers too large for a float are not JSON at all (Python reads them anyway)
    and could not be sent upstream.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            _refuse_deep_nesting(text)
            data = json.loads(
                text,
                object_pairs_hook=_refuse_duplicate_keys,
                parse_constant=_refuse_constant,
                parse_float=_finite_float,
            )
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeError:
            raise ParseError(gettext("The request body contains text that is not valid Unicode.")) from None
        except (ValueError, RecursionError):
            raise ParseError(NOT_JSON) from None
        return data


class AnyContentTypeJSONParser(StrictJSONParser):
    """Reads the body as JSON whatever Content-Type the client sent (old clients vary)."""

    media_type = "*/*"
