"""The roll-up of the relay's usage records (usage/rollup.py): what the dashboard reads instead of millions of rows."""

from __future__ import annotations

from django.db import models


class DailyUsage(models.Model):
    """What the records of one day add up to, grouped one way (`by`): per user, API key, team, model, error or
    provider's model. Exact for the records up to `RollupState.last_id`; the rest are read from the records."""

    class By(models.TextChoices):
        USER = "user"  # key: the user's id
        KEY = "key"  # the API key's id (records without a key are not in it)
        TEAM = "team"  # the team's name as the record kept it (records without a team are not in it)
        MODEL = "model"  # the model asked for
        ERROR = "error"  # "<status code>\n<error>" of a record not answered with 200
        SERVED = "served"  # "<provider>\n<upstream model>" of a record a provider answered

    day = models.DateField()
    by = models.CharField(max_length=8, choices=By.choices)
    key = models.CharField(max_length=320)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.BigIntegerField(default=0, help_text="Nanos of RollupState.currency (of records charged in it).")
    latency_ms = models.BigIntegerField(default=0, help_text="The sum: the mean is this over `requests`.")
    ttfb_ms = models.BigIntegerField(default=0, help_text="The sum over the records with a time to first byte.")
    ttfb_count = models.BigIntegerField(default=0)
    after_fallback = models.BigIntegerField(default=0, help_text="Records answered after more than one attempt.")

    class Meta:
        indexes = [models.Index(fields=["by", "day"], name="daily_usage_by_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.by} {self.key}"


class RollupState(models.Model):
    """One row: the roll-up holds every record whose id is at most `last_id` (all of them committed when it was
    taken), its costs in `currency`."""

    last_id = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    refreshed = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"records up to {self.last_id}"


class DirtyDay(models.Model):
    """A day whose records were deleted (or moved to another day) after it was rolled up: written by a database
    trigger on the records' table (migration 0001), which costs an insert nothing; the next refresh recomputes
    the day. `marks` counts the statements that marked it, so a refresh forgets only what it has seen."""

    day = models.DateField(primary_key=True)
    marks = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return str(self.day)
