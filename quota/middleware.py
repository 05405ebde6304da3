from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from quota import clock
from quota.services import reset_stale_counts

logger = logging.getLogger(__name__)


class DailyQuotaResetMiddleware:
    """Resets yesterday's counts on the first request of each day this process serves.

    It does not look at `request.user` (JWTs are authenticated later, inside DRF): the reset is
    one idempotent UPDATE of every stale row, so it is right whoever asks and however many
    processes run it. Reservations never depend on it having run (see
    `quota.services.reserve_request`); it keeps stored counts true for admin pages and reports.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.reset_for: dt.date | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        today = clock.today()
        if self.reset_for != today:
            # Marked first, so that the requests arriving meanwhile don't each run it too (at start-up
            # or midnight under load that was hundreds of the same UPDATE); unmarked if it fails.
            self.reset_for = today
            try:
                rows = reset_stale_counts()
            except DatabaseError:
                self.reset_for = None
                logger.warning("daily quota reset postponed: the database is unavailable")
            else:
                if rows:
                    logger.info("daily quota reset: %d user counts started afresh for %s", rows, today)
        return self.get_response(request)
