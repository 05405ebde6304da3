"""Numbers as the usage pages show them: 12,345 requests, 1.2M tokens, 3.4% errors."""

from __future__ import annotations

from django import template

from core.money import format_money
from usage import charts

register = template.Library()


@register.filter
def thousands(value: float | None) -> str:
    return "—" if value is None else charts.whole(value)


@register.filter
def compact(value: float | None) -> str:
    return "—" if value is None else charts.compact(value)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else charts.percent(value)


@register.filter
def money(nanos: int | None, currency: str) -> str:
    """Nanos of `currency` for people ("$0.00015", "¥2,000.00"): core/money.py."""
    return "—" if nanos is None else format_money(nanos, currency)
