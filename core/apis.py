"""Which API a path belongs to, and what follows from it: the one table that every place asking "which API
is this?" reads (the error handlers and the 404 page, the lanes, the language of the answer).

The gateway serves four families of endpoints, which differ at their edges only:

| family | paths | error shape | lane | language | credentials |
|---|---|---|---|---|---|
| ChatAPI token | `/token` | `{"statu": false, "message"}` | full | the client's | a password in the body |
| ChatAPI | `/api`, `/api/` | `{"statu": false, "message"}` | relay | the client's | JWT |
| OpenAI | `/v1/…` | `{"error": {"message", "type", "param", "code"}}` | relay | English, as OpenAI | API key, JWT |
| REST | `/api/…` | DRF's `{"detail"}` or `{field: [...]}` | full | the client's | API key, JWT, session |
| site | everything else (admin, the web page) | Django's pages | full | the client's | session |

The relay's lane skips Django's middleware chain (core/lanes.py); the full lane is Django's own.
"""

from __future__ import annotations

import dataclasses
import enum


class Shape(enum.StrEnum):
    """How an error is written for the family's clients."""

    ENVELOPE = "envelope"  # the original ChatAPI's
    OPENAI = "openai"
    REST = "rest"  # DRF's
    PAGE = "page"  # Django's HTML pages


class Lane(enum.StrEnum):
    RELAY = "relay"  # core.lanes.RelayLaneHandler: no middleware chain, no thread per request
    FULL = "full"  # Django's ASGI handler and settings.MIDDLEWARE


class Credential(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105  (a kind of credential, not one)
    JWT = "jwt"
    API_KEY = "api_key"
    SESSION = "session"


@dataclasses.dataclass(frozen=True)
class API:
    name: str
    shape: Shape
    lane: Lane
    english_only: bool  # OpenAI answers in English whatever the client asks, and clients read its messages
    credentials: frozenset[Credential]
    unknown_model_status: int  # a model outside the allow-list: OpenAI says 404 (model_not_found), others 400

    @property
    def json_errors(self) -> bool:
        return self.shape is not Shape.PAGE


CHATAPI_TOKEN = API("chatapi-token", Shape.ENVELOPE, Lane.FULL, False, frozenset({Credential.PASSWORD}), 400)
CHATAPI = API("chatapi", Shape.ENVELOPE, Lane.RELAY, False, frozenset({Credential.JWT}), 400)
OPENAI = API("openai", Shape.OPENAI, Lane.RELAY, True, frozenset({Credential.API_KEY, Credential.JWT}), 404)
REST = API(
    "rest", Shape.REST, Lane.FULL, False, frozenset({Credential.API_KEY, Credential.JWT, Credential.SESSION}), 400
)
SITE = API("site", Shape.PAGE, Lane.FULL, False, frozenset({Credential.SESSION}), 400)

# Exact paths first, then prefixes, longest first; the first that matches decides. `/v1` alone is the
# site's: Django's CommonMiddleware redirects it to `/v1/`, which only the full lane runs.
EXACT = {"/token": CHATAPI_TOKEN, "/api": CHATAPI, "/api/": CHATAPI}
PREFIXES = (("/v1/", OPENAI), ("/api/", REST))


def api_for(path: str) -> API:
    """The family of endpoints that `path` belongs to."""
    if path in EXACT:
        return EXACT[path]
    for prefix, api in PREFIXES:
        if path.startswith(prefix):
            return api
    return SITE
