"""What administrators see of the usage: totals, days, top users, keys and models, errors, and what they cost.

Everything is aggregated in the database, a fixed handful of queries whatever the number of
records: the dashboard and a user's days read the roll-up (usage/rollup.py) and the few records
after it. Days are days in the configured TIME_ZONE, the quota's days. Costs are summed in nanos
(core/money.py) over the records charged in the gateway's currency (CHATGATEWAY_CURRENCY): a record
charged in another, before the setting changed, keeps its cost but is left out of the sums.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils.safestring import SafeString

from accounts.models import User
from apikeys.models import APIKey
from core import money
from quota import clock
from relay.models import UsageRecord
from usage import charts, rollup

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


def all_time_totals(*, users: int) -> Totals:
    """What every record adds up to, from the roll-up's days and the records after it; `users`: how many
    users have records (the usage list knows them already, from its filter's choices)."""
    found = rollup.report(first=dt.date.min, last=dt.date.max, groupings=[])
    return dataclasses.replace(_totals(found), users=users)


def _totals(found: rollup.Report) -> Totals:
    whole = found.total()
    return Totals(
        requests=whole.requests,
        successful=whole.requests - whole.errors,
        errors=whole.errors,
        prompt_tokens=whole.prompt_tokens,
        completion_tokens=whole.completion_tokens,
        total_tokens=whole.total_tokens,
        cost=whole.cost,
        users=len(found.users),
        latency_ms=whole.latency_ms / whole.requests if whole.requests else None,
    )


def usage_per_day(*, period: Period, user_id: int | None = None) -> list[Day]:
    """Each day of `period`, those without records included: from the roll-up and the records after it."""
    found = rollup.report(first=period.first, last=period.last, user_id=user_id, fresh=user_id is None).days
    return [_day(day, found.get(day)) for day in period.days()]


def _day(day: dt.date, sums: rollup.Sums | None) -> Day:
    if sums is None:
        return Day(day=day)
    return Day(day=day, **{name: getattr(sums, name) for name in DAY_FIELDS})


DAY_FIELDS = ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost")


def _ranked(groups: dict[str, rollup.Sums], *, labels: dict[str, str], of: int, limit: int, by_cost: bool = False):
    """The first `limit` groups, most requests first (most spent first, `by_cost`); a group without a label
    (an API key deleted since: its records no longer name it) is left out, as the records leave it out."""
    rows = [
        Ranked(
            key=key,
            label=labels[key],
            requests=sums.requests,
            tokens=sums.total_tokens,
            share=sums.requests / of if of else 0.0,
            cost=sums.cost,
        )
        for key, sums in groups.items()
        if key in labels and sums.requests
    ]
    if by_cost:
        rows.sort(key=lambda row: (-row.cost, -row.requests, row.label))
    else:
        rows.sort(key=lambda row: (-row.requests, -row.tokens, row.label))
    return rows[:limit]


def _served(groups: dict[str, rollup.Sums], *, limit: int) -> list[Served]:
    rows = []
    for key, sums in groups.items():
        provider, upstream_model = key.split(rollup.SEPARATOR, 1)
        rows.append(
            Served(
                provider=provider,
                upstream_model=upstream_model,
                requests=sums.requests,
                latency_ms=sums.latency_ms / sums.requests if sums.requests else None,
                ttfb_ms=sums.ttfb_ms / sums.ttfb_count if sums.ttfb_count else None,
                after_fallback=sums.after_fallback,
            )
        )
    rows.sort(key=lambda row: (-row.requests, row.provider, row.upstream_model))
    return rows[:limit]


def dashboard(*, days: int = 30) -> Dashboard:
    """The dashboard of the last `days` days, today included, from the roll-up and the records after it
    (usage/rollup.py): the same few queries however many records there are."""
    period = Period.last_days(days)
    found = rollup.report(first=period.first, last=period.last)
    totals = _totals(found)
    groups = found.groups
    by = rollup.BY
    usernames = dict(
        User.objects.filter(pk__in=[int(key) for key in groups[by.USER]]).values_list("pk", "username").order_by()
    )
    prefixes = dict(
        APIKey.objects.filter(pk__in=[int(key) for key in groups[by.KEY]]).values_list("pk", "prefix").order_by()
    )
    reasons = {key: key.split(rollup.SEPARATOR, 1)[1] for key in groups[by.ERROR]}
    errors = _ranked(groups[by.ERROR], labels=reasons, of=totals.errors, limit=TOP)
    return Dashboard(
        period=period,
        totals=totals,
        days=[_day(day, found.days.get(day)) for day in period.days()],
        top_users=_ranked(
            groups[by.USER], labels={str(pk): name for pk, name in usernames.items()}, of=totals.requests, limit=TOP
        ),
        top_keys=_ranked(
            groups[by.KEY],
            labels={str(pk): prefix for pk, prefix in prefixes.items()},
            of=totals.requests,
            limit=TOP,
            by_cost=True,
        ),
        top_teams=_ranked(
            groups[by.TEAM], labels={key: key for key in groups[by.TEAM]}, of=totals.requests, limit=TOP, by_cost=True
        ),
        top_models=_ranked(
            groups[by.MODEL], labels={key: key for key in groups[by.MODEL]}, of=totals.requests, limit=TOP
        ),
        top_errors=[
            dataclasses.replace(
                row,
                key=row.key.split(rollup.SEPARATOR, 1)[0],
                label=f"{row.key.split(rollup.SEPARATOR, 1)[0]} {row.label or '(no reason)'}",
            )
            for row in errors
        ],
        served=_served(groups[by.SERVED], limit=TOP),
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
