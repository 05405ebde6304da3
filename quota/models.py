from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from core.money import NANOS, format_money


def default_daily_limit() -> int:
    """Kept for the first migration, which used it as the column's default."""
    return settings.CHATGATEWAY_DAILY_LIMIT


class PlanManager(models.Manager):
    def get_by_natural_key(self, name: str) -> Plan:
        return self.get(name=name)


class Plan(models.Model):
    """A named allowance that administrators give to many users at once, e.g. "student"."""

    name = models.CharField(max_length=100, unique=True)
    daily_request_limit = models.PositiveIntegerField(help_text="Requests a day; 0 blocks the plan's users.")
    daily_token_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Prompt and completion tokens a day; empty: unlimited."
    )

    objects = PlanManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        tokens = "unlimited tokens" if self.daily_token_limit is None else f"{self.daily_token_limit:,} tokens"
        return f"{self.name} ({self.daily_request_limit} requests, {tokens} a day)"

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class Quota(models.Model):
    """What a user may relay a day, and what they relayed on `day`.

    The limits in force are the user's own (`daily_limit`, `daily_token_limit`) where set, else their
    plan's, else the defaults from settings: see `request_limit()` and `token_limit()`. They are read
    at each reservation, so a change applies to the next request.

    The counts (`used`, `tokens_used`, `tokens_reserved`) are for `day` only: on any later day the user
    has used nothing yet. The stored row is brought forward by the daily reset middleware or by the
    first reservation of the day, whichever comes first; readers go through `used_on()` and the like.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="quota"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="quotas")
    daily_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="daily request limit",
        help_text="Requests a day for this user, overriding the plan; empty: the plan's. 0 blocks the user.",
    )
    daily_token_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens a day for this user, overriding the plan; empty: the plan's."
    )
    used = models.PositiveIntegerField(default=0, editable=False)
    tokens_used = models.PositiveBigIntegerField(default=0, editable=False)
    # Completion budgets of requests in flight, taken when they start and settled when they end.
    tokens_reserved = models.PositiveBigIntegerField(default=0, editable=False)
    day = models.DateField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        tokens = self.token_limit()
        return f"{self.request_limit()} requests, {'unlimited' if tokens is None else f'{tokens:,}'} tokens a day"

    def save(self, *args, **kwargs) -> None:
        # The counts and `day` change only through the atomic updates in quota.services: saving a row
        # read earlier (an admin form, say) must not put back a count that has moved since.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = ["plan", "daily_limit", "daily_token_limit"]
        super().save(*args, **kwargs)

    def request_limit(self) -> int:
        """Requests a day in force: the user's own, else the plan's, else CHATGATEWAY_DAILY_LIMIT."""
        if self.daily_limit is not None:
            return self.daily_limit
        if self.plan is not None:
            return self.plan.daily_request_limit
        return settings.CHATGATEWAY_DAILY_LIMIT

    def token_limit(self) -> int | None:
        """Tokens a day in force (None: unlimited): the user's, else the plan's, else the default."""
        if self.daily_token_limit is not None:
            return self.daily_token_limit
        if self.plan is not None:
            return self.plan.daily_token_limit
        return settings.CHATGATEWAY_DAILY_TOKEN_LIMIT

    def counts_on(self, day: dt.date) -> bool:
        # A row on a later day is already counting the day this caller's clock is about to reach.
        return self.day is not None and self.day >= day

    def used_on(self, day: dt.date) -> int:
        return self.used if self.counts_on(day) else 0

    def tokens_used_on(self, day: dt.date) -> int:
        return self.tokens_used if self.counts_on(day) else 0

    def tokens_reserved_on(self, day: dt.date) -> int:
        return self.tokens_reserved if self.counts_on(day) else 0

    def remaining_on(self, day: dt.date) -> int:
        return max(0, self.request_limit() - self.used_on(day))

    def tokens_remaining_on(self, day: dt.date) -> int | None:
        """Tokens left to start new requests with (in-flight budgets are taken); None: unlimited."""
        limit = self.token_limit()
        if limit is None:
            return None
        return max(0, limit - self.tokens_used_on(day) - self.tokens_reserved_on(day))


class Lease(models.Model):
    """A reservation in flight: one request taken from `user`'s count for `day`, with `token_budget`
    completion tokens set aside (None: no token limit applied), held by the server process `owner`
    until `expires`.

    Whoever deletes the lease settles the reservation, in the same transaction (quota.services): the
    request's own process when it ends, or any process once the owner is gone or the lease has
    expired (quota.leases). So a reservation is settled exactly once, and none outlives its request
    by more than the lease's length. The quota row's `tokens_reserved` is the sum of its day's leases'
    budgets, kept in step by those transactions.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    day = models.DateField()
    token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    # The process serving the request: "host pid start-time" (quota.leases.this_process).
    owner = models.CharField(max_length=300)
    taken = models.DateTimeField()
    expires = models.DateTimeField(db_index=True)
    # What the request was, for the record of a request its process lost (relay: endpoint, model, key).
    note = models.JSONField(default=dict, blank=True)
    # What it took on the counters of its key's, user's and team's limits (quota.limits.Charge, as lists),
    # settled on them with the quota row.
    charges = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner"], name="quota_lease_owner")]

    def __str__(self) -> str:
        return f"lease of user {self.user_id} on {self.day} held by {self.owner} until {self.expires:%H:%M:%S}"


class Metric(models.TextChoices):
    REQUESTS = "requests", "requests"
    TOKENS = "tokens", "tokens (prompt and completion)"
    COST = "cost", "cost (in CHATGATEWAY_CURRENCY)"


class Period(models.TextChoices):
    """Calendar periods in TIME_ZONE (quota.clock.period_start); TOTAL never starts afresh (a prepaid allowance)."""

    MINUTE = "minute", "per minute"
    DAY = "day", "per day"
    WEEK = "week", "per week"
    MONTH = "month", "per month"
    TOTAL = "total", "in total (never resets)"


HOLDERS = ("plan", "user", "api_key", "team")  # what a limit or a counter belongs to: exactly one of them


def _one_holder(*names: str) -> models.Q:
    """Exactly one of the fields `names` is set."""
    either = models.Q()
    for name in names:
        alone = models.Q(**{f"{name}__isnull": False})
        for other in names:
            if other != name:
                alone &= models.Q(**{f"{other}__isnull": True})
        either |= alone
    return either


class Limit(models.Model):
    """At most `amount` of `metric` per `period`, for a plan's users (each on their own), a user, an API
    key or a team (its members together).

    A user's own limit overrides their plan's of the same metric and period. A request must fit every
    limit that applies to it: its key's, its user's (own or plan's) and its team's (quota.services).
    The daily request and token limits of a plan or user are their `daily_*` fields, as before; a limit
    row adds the other periods, cost, and the limits of keys and teams."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, null=True, blank=True, related_name="limits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="limits"
    )
    api_key = models.ForeignKey(
        "apikeys.APIKey", on_delete=models.CASCADE, null=True, blank=True, related_name="limits"
    )
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="limits")
    metric = models.CharField(max_length=10, choices=Metric.choices)
    period = models.CharField(max_length=10, choices=Period.choices)
    amount = models.DecimalField(
        max_digits=20,
        decimal_places=6,
        validators=[MinValueValidator(0)],
        help_text="Requests or tokens (whole numbers), or money in CHATGATEWAY_CURRENCY. 0 blocks.",
    )

    class Meta:
        ordering = ["metric", "period"]
        constraints = [
            models.CheckConstraint(condition=_one_holder(*HOLDERS), name="quota_limit_has_one_holder"),
            *(
                models.UniqueConstraint(
                    fields=[holder, "metric", "period"],
                    name=f"quota_one_limit_per_{holder}_metric_period",
                    violation_error_message="This already has a limit of that metric and period.",
                )
                for holder in HOLDERS
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_text()} {self.get_metric_display().split(' ')[0]} {self.get_period_display()}"

    def clean(self) -> None:
        super().clean()
        if self.metric in (Metric.REQUESTS, Metric.TOKENS) and self.amount is not None and self.amount % 1:
            raise ValidationError({"amount": "Requests and tokens are whole numbers."})
        if (
            self.period == Period.DAY
            and self.metric in (Metric.REQUESTS, Metric.TOKENS)
            and (self.plan_id is not None or self.user_id is not None)
        ):
            raise ValidationError(
                "A plan's or user's daily request and token limits are its “daily” fields: set them there."
            )

    @property
    def holder(self) -> str:
        return next(name for name in HOLDERS if getattr(self, f"{name}_id") is not None)

    def units(self) -> int:
        """The amount in counted units: requests, tokens or nano-units of money."""
        if self.metric == Metric.COST:
            return int(self.amount * NANOS)
        return int(self.amount)

    def amount_text(self) -> str:
        if self.metric == Metric.COST:
            return format_money(self.units(), settings.CHATGATEWAY_CURRENCY)
        return f"{int(self.amount):,}"


class Counter(models.Model):
    """What a user, an API key or a team used in the `period` that began at `start`, and what requests in
    flight have set aside (`*_reserved`): the counts that its limits (and its plan's) are held to.

    Like a quota row's day, a counter still on an earlier period counts nothing: the first reservation of
    a new period starts it afresh (quota.services), with no job to run. A request is charged to the period
    it started in; when it ends in a later one, it changes nothing there."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="counters"
    )
    api_key = models.ForeignKey(
        "apikeys.APIKey", on_delete=models.CASCADE, null=True, blank=True, related_name="counters"
    )
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="counters")
    period = models.CharField(max_length=10, choices=Period.choices)
    start = models.DateTimeField(null=True, blank=True)
    requests = models.PositiveBigIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    cost = models.PositiveBigIntegerField(default=0, help_text="Nano-units of the currency.")
    tokens_reserved = models.PositiveBigIntegerField(default=0)
    cost_reserved = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_one_holder("user", "api_key", "team"), name="quota_counter_has_one_holder"
            ),
            *(
                models.UniqueConstraint(fields=[holder, "period"], name=f"quota_one_counter_per_{holder}_period")
                for holder in ("user", "api_key", "team")
            ),
        ]

    def __str__(self) -> str:
        return f"counter {self.period} from {self.start}"

    def counts_in(self, start: dt.datetime) -> bool:
        """Whether the stored counts are those of the period beginning at `start` (or of a later one,
        which another host's clock reached first: a period never moves backwards)."""
        return self.start is not None and self.start >= start
