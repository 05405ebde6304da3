"""What administrators see of the usage: totals, days, top users, keys and models, errors, and what they cost.

Everything is aggregated in the database, a fixed handful of queries whatever the number of
records. Days are days in the configured TIME_ZONE, the quota's days. Costs are summed in nanos
(core/money.py) over the records charged in the gateway's currency (CHATGATEWAY_CURRENCY): a record
charged in another, before the setting changed, keeps its cost but is left out of the sums.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils.safestring import SafeString

from core import money
from quota import clock
from relay.models import UsageRecord
from usage import charts

# Successful is what the relay answered with 200; anything else (an upstream failure, a client gone
# away: 499) is an error.
SUCCESSFUL = Q(status_code=200)
PERIODS = (7, 30, 90)
TOP = 10

# Each series' tone: the class that gives it its colour (usage/static/usage/usage.css).
OK = "ok"
ERROR = "error"
PROMPT = "prompt"
COMPLETION = "completion"
COST = "completion"  # spend shares the completion tokens' colour: most of a bill is output


@dataclasses.dataclass(frozen=True)
class Period:
    """Whole days in the configured time zone, `first` to `last` included."""

    first: dt.date
    last: dt.date

    @classmethod
    def last_days(cls, days: int) -> Period:
        today = clock.today()
        return cls(first=today - dt.timedelta(days=days - 1), last=today)

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def records(self) -> QuerySet[UsageRecord]:
        """The records charged to these days (the day each was reserved on, not the one it ended on)."""
        return UsageRecord.objects.filter(day__gte=self.first, day__lte=self.last)


@dataclasses.dataclass(frozen=True)
class Totals:
    requests: int = 0
    successful: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: int = 0  # nanos of CHATGATEWAY_CURRENCY
    users: int = 0
    latency_ms: float | None = None  # the mean; None without records

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclasses.dataclass(frozen=True)
class Day:
    day: dt.date
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: int = 0  # nanos of CHATGATEWAY_CURRENCY

    @property
    def successful(self) -> int:
        return self.requests - self.errors

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclasses.dataclass(frozen=True)
class Ranked:
    """A user, a key, a model or an error, with what it accounts for; `key` is what the usage list filters on."""

    key: str
    label: str
    requests: int
    tokens: int
    share: float  # of the period's requests (of its errors, for an error)
    cost: int = 0  # nanos of CHATGATEWAY_CURRENCY


@dataclasses.dataclass(frozen=True)
class Served:
    """A provider's model, by what it answered: how many, how fast, and how many after a fallback."""

    provider: str
    upstream_model: str
    requests: int
    latency_ms: float | None
    ttfb_ms: float | None
    after_fallback: int  # answered after another attempt failed


@dataclasses.dataclass(frozen=True)
class Dashboard:
    period: Period
    totals: Totals
    days: list[Day]
    top_users: list[Ranked]
    top_keys: list[Ranked]
    top_teams: list[Ranked]
    top_models: list[Ranked]
    top_errors: list[Ranked]
    served: list[Served]


def _counts() -> dict:
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=~SUCCESSFUL),
        "prompt_tokens": Sum("prompt_tokens", default=0),
        "completion_tokens": Sum("completion_tokens", default=0),
        "total_tokens": Sum("total_tokens", default=0),
        "cost": _cost(),
    }


def _cost() -> Sum:
    """The cost of the records charged in the gateway's currency, in nanos (exact: an integer sum)."""
    return Sum("cost", filter=Q(currency=settings.CHATGATEWAY_CURRENCY), default=0)


def usage_totals(*, records: QuerySet[UsageRecord]) -> Totals:
    """What `records` add up to, in one query."""
    row = records.aggregate(**_counts(), users=Count("user", distinct=True), latency_ms=Avg("latency_ms"))
    return Totals(successful=row["requests"] - row["errors"], **row)


def usage_per_day(*, period: Period, user_id: int | None = None) -> list[Day]:
    """Each day of `period`, those without records included, in one query."""
    records = period.records() if user_id is None else period.records().filter(user_id=user_id)
    rows = records.values("day").annotate(**_counts()).order_by("day")
    found = {row.pop("day"): row for row in rows}
    return [Day(day=day, **found.get(day, {})) for day in period.days()]


def _ranked(
    records: QuerySet[UsageRecord], *, key: str, label: str, of: int, limit: int, by_cost: bool = False
) -> list[Ranked]:
    """The first `limit` groups by `key`, most requests first (most spent first, `by_cost`)."""
    order = ("-cost", "-requests", label) if by_cost else ("-requests", "-tokens", label)
    rows = (
        records.values(key, label)
        .annotate(requests=Count("id"), tokens=Sum("total_tokens", default=0), cost=_cost())
        .order_by(*order)[:limit]
    )
    return [
        Ranked(
            key=str(row[key]),
            label=str(row[label]),
            requests=row["requests"],
            tokens=row["tokens"],
            share=row["requests"] / of if of else 0.0,
            cost=row["cost"],
        )
        for row in rows
    ]


def top_users(*, period: Period, of: int, limit: int = TOP) -> list[Ranked]:
    """The users with the most requests in `period`; `of`: all its requests, for their share."""
    return _ranked(period.records(), key="user_id", label="user__username", of=of, limit=limit)


def top_keys(*, period: Period, of: int, limit: int = TOP) -> list[Ranked]:
    """The API keys that spent most in `period` (a key shown by its prefix, which is no secret)."""
    keyed = period.records().exclude(api_key=None)
    return _ranked(keyed, key="api_key_id", label="api_key__prefix", of=of, limit=limit, by_cost=True)


def top_teams(*, period: Period, of: int, limit: int = TOP) -> list[Ranked]:
    """The teams that spent most in `period` (a record keeps its team's name as it was then)."""
    teamed = period.records().exclude(team="")
    return _ranked(teamed, key="team", label="team", of=of, limit=limit, by_cost=True)


def top_models(*, period: Period, of: int, limit: int = TOP) -> list[Ranked]:
    """The models asked for most in `period`."""
    return _ranked(period.records(), key="model", label="model", of=of, limit=limit)


def top_errors(*, period: Period, of: int, limit: int = TOP) -> list[Ranked]:
    """The commonest failures in `period`, by status and reason; `of`: all its errors, for their share."""
    errors = period.records().exclude(SUCCESSFUL)
    rows = _ranked(errors, key="status_code", label="error", of=of, limit=limit)
    return [dataclasses.replace(row, label=f"{row.key} {row.label or '(no reason)'}") for row in rows]


def served_by_providers(*, period: Period, limit: int = TOP) -> list[Served]:
    """Each provider's model that answered in `period` (relay/upstream/routing.py), busiest first."""
    rows = (
        period.records()
        .exclude(provider="")
        .values("provider", "upstream_model")
        .annotate(
            requests=Count("id"),
            latency_ms=Avg("latency_ms"),
            ttfb_ms=Avg("ttfb_ms"),
            after_fallback=Count("id", filter=Q(attempts__gt=1)),
        )
        .order_by("-requests", "provider", "upstream_model")[:limit]
    )
    return [Served(**row) for row in rows]


def dashboard(*, days: int = 30) -> Dashboard:
    """The dashboard of the last `days` days, today included: nine queries."""
    period = Period.last_days(days)
    totals = usage_totals(records=period.records())
    return Dashboard(
        period=period,
        totals=totals,
        days=usage_per_day(period=period),
        top_users=top_users(period=period, of=totals.requests),
        top_keys=top_keys(period=period, of=totals.requests),
        top_teams=top_teams(period=period, of=totals.requests),
        top_models=top_models(period=period, of=totals.requests),
        top_errors=top_errors(period=period, of=totals.errors),
        served=served_by_providers(period=period),
    )


def _label(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def requests_chart(days: list[Day]) -> SafeString:
    return charts.bar_chart(
        title="Requests per day",
        labels=[_label(d.day) for d in days],
        series=[
            charts.Series("Successful", [d.successful for d in days], OK),
            charts.Series("Errors", [d.errors for d in days], ERROR),
        ],
    )


def tokens_chart(days: list[Day]) -> SafeString:
    return charts.bar_chart(
        title="Tokens per day",
        labels=[_label(d.day) for d in days],
        series=[
            charts.Series("Prompt tokens", [d.prompt_tokens for d in days], PROMPT),
            charts.Series("Completion tokens", [d.completion_tokens for d in days], COMPLETION),
        ],
    )


def spend_chart(days: list[Day]) -> SafeString:
    """What each day's requests cost, in the gateway's currency."""
    shown = _money_formatter()
    return charts.bar_chart(
        title=f"Spend per day ({settings.CHATGATEWAY_CURRENCY})",
        labels=[_label(d.day) for d in days],
        series=[charts.Series("Spend", [d.cost for d in days], COST)],
        axis=shown,
        exact=shown,
    )


def _money_formatter() -> charts.Formatter:
    currency = settings.CHATGATEWAY_CURRENCY
    return lambda nanos: money.format_money(round(nanos), currency)


def error_rate_chart(days: list[Day]) -> SafeString:
    return charts.line_chart(
        title="Error rate per day",
        labels=[_label(d.day) for d in days],
        line=charts.Series("Errors / requests", [d.error_rate for d in days], ERROR),
    )


def sparkline(days: list[Day]) -> SafeString:
    """Requests per day, small enough for a user's page."""
    return charts.sparkline(
        labels=[d.day.isoformat() for d in days],
        values=[d.requests for d in days],
        tooltips=[f"{d.requests:,} requests, {d.total_tokens:,} tokens" for d in days],
        tone=OK,
    )
