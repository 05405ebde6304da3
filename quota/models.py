from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


def default_daily_limit() -> int:
    return settings.CHATGATEWAY_DAILY_LIMIT


class Quota(models.Model):
    """How many relayed requests a user may make a day, and how many they made on `day`.

    `used` counts for `day` only: on any later day the user has used nothing yet. The stored
    row is brought forward by the daily reset middleware or by the first reservation of the
    day, whichever comes first; readers go through `used_on()` and never need to care.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="quota"
    )
    daily_limit = models.PositiveIntegerField(
        default=default_daily_limit, help_text="Requests a day; 0 blocks the user from the relay."
    )
    used = models.PositiveIntegerField(default=0, editable=False)
    day = models.DateField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.daily_limit} requests a day"

    def save(self, *args, **kwargs) -> None:
        # `used` and `day` change only through the atomic updates in quota.services: saving a row
        # read earlier (an admin form, say) must not put back a count that has moved since.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = ["daily_limit"]
        super().save(*args, **kwargs)

    def used_on(self, day: dt.date) -> int:
        # A row on a later day is already counting the day this caller's clock is about to reach.
        return self.used if self.day is not None and self.day >= day else 0

    def remaining_on(self, day: dt.date) -> int:
        return max(0, self.daily_limit - self.used_on(day))
