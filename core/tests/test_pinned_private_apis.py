"""The two places that lean on Django's and adrf's insides, pinned: an upgrade that changes what they
copy fails here, not in production."""

from __future__ import annotations

import inspect
import re

from adrf.views import APIView as AdrfAPIView
from django.core.handlers.asgi import ASGIHandler

from core.async_views import AsyncAPIView
from core.lanes import RelayLaneHandler


def _private_attributes(handler: ASGIHandler) -> set[str]:
    return {name for name in vars(handler) if name.startswith("_")}


def test_the_relay_lane_sets_every_private_attribute_djangos_load_middleware_sets():
    # RelayLaneHandler.load_middleware() builds what BaseHandler.load_middleware() builds, by hand: if
    # Django adds or renames one of these attributes, the lane would run with a stale one.
    assert _private_attributes(RelayLaneHandler()) == _private_attributes(ASGIHandler())


def _body(function) -> list[str]:
    """The statements of a function: no docstring, comments or blank lines; calls joined on one line."""
    source = inspect.getsource(function)
    source = re.sub(r'"""[\s\S]*?"""', "", source)
    source = re.sub(r"#.*", "", source)
    source = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", re.sub(r",\s+", ", ", source)))
    return [line.strip() for line in source.splitlines()[1:] if line.strip()]


def test_async_dispatch_is_adrfs_own_but_for_where_initial_runs():
    # core.async_views copies adrf's async_dispatch to run `initial()` in the database threads; the rest
    # must stay adrf's, line for line.
    adrfs = _body(AdrfAPIView.async_dispatch)
    ours = _body(AsyncAPIView.async_dispatch)

    assert "await sync_to_async(self.initial)(request, *args, **kwargs)" in adrfs
    assert "await in_db(self.initial, request, *args, **kwargs)" in ours
    swapped = [
        "await in_db(self.initial, request, *args, **kwargs)"
        if line == "await sync_to_async(self.initial)(request, *args, **kwargs)"
        else line
        for line in adrfs
    ]
    assert ours == swapped
