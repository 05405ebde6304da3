"""JSON that the gateway can always handle: no duplicate keys, no unpaired surrogates, no runaway nesting."""

from __future__ import annotations

import json
import math
from typing import Any

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


class StrictJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing what would otherwise be ambiguous or fail later with a 500.

    A repeated key ({"prompt": "a", "prompt": "b"}) is ambiguous. A lone UTF-16 surrogate ("\\ud800")
    is valid JSON but not text: it cannot be stored, compared or sent back. Deep nesting exhausts
    the parser's recursion. NaN, Infinity and numbers too large for a float are not JSON at all
    (Python reads them anyway) and could not be sent upstream.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
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
