"""Every DRF view takes only credentials its API family accepts (core/apis.py), and the relay's lane,
where no session middleware runs, takes exactly the table's: the table is the truth the views keep."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import SessionAuthentication

from accounts.authentication import JWTAuthentication
from apikeys.authentication import APIKeyAuthentication
from core.apis import Credential, Lane, api_for

CREDENTIALS = {APIKeyAuthentication: Credential.API_KEY, JWTAuthentication: Credential.JWT}


def _drf_views(patterns, prefix: str = "") -> Iterator[tuple[str, type]]:
    """(an example path, the view class) for every DRF view the URLs route to."""
    for pattern in patterns:
        # `<int:pk>` → 1; a regular expression's anchors and optional slash dropped: an example, not a match.
        route = prefix + re.sub(r"<[^>]+>", "1", re.sub(r"\^|\$|/\?", "", str(pattern.pattern)))
        if isinstance(pattern, URLResolver):
            yield from _drf_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield "/" + route, pattern.callback.cls


def _taken(view: type) -> set[Credential]:
    taken = set()
    for authentication in view().get_authenticators():
        if isinstance(authentication, SessionAuthentication):
            taken.add(Credential.SESSION)
        else:
            taken.add(CREDENTIALS[type(authentication)])
    return taken


def test_every_view_takes_only_the_credentials_of_its_api():
    views = list(_drf_views(get_resolver().url_patterns))

    assert len(views) > 15
    for path, view in views:
        assert _taken(view) <= api_for(path).credentials, (path, view)


def test_the_relay_lanes_views_take_exactly_the_credentials_of_the_table():
    relay_views = [
        (path, view) for path, view in _drf_views(get_resolver().url_patterns) if api_for(path).lane is Lane.RELAY
    ]

    assert {path for path, _ in relay_views} >= {"/api", "/v1/chat/completions", "/v1/models"}
    for path, view in relay_views:
        assert _taken(view) == api_for(path).credentials, (path, view)
