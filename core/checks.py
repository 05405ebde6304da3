"""System checks of what the bottom layer promises: every middleware is accounted for by the lanes."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from core.lanes import relay_lane_middleware

# Hooks the relay's lane does not run: a middleware that needs them must be declared full-lane only.
UNRUN_HOOKS = ("process_view", "process_exception", "process_template_response")


@register()
def check_every_middleware_has_a_lane(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """A middleware in settings.MIDDLEWARE runs on the relay's lane too (`/v1/…`, `/api`) unless
    settings.MIDDLEWARE_FULL_LANE_ONLY names it; refuse one that lane could not run as Django would."""
    errors: list[CheckMessage] = []
    for path in relay_lane_middleware():
        middleware = import_string(path)
        unrun = [hook for hook in UNRUN_HOOKS if hasattr(middleware, hook)]
        if issubclass(middleware, MiddlewareMixin) and not unrun:
            continue
        errors.append(
            Error(
                f"{path} is in MIDDLEWARE but the relay's lane (/v1/…, /api) can't run it: it runs only "
                f"MiddlewareMixin's process_request and process_response"
                + (f", not {', '.join(unrun)}." if unrun else "."),
                hint="Give it those hooks only, or add it to MIDDLEWARE_FULL_LANE_ONLY in settings with the reason "
                "the relay's endpoints do without it (docs/architecture.md, 'The relay's lane').",
                id="core.E001",
            )
        )
    return errors
