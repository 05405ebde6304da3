"""Prices for tests that charge: each makes the ones it charges at (the shipped table has its own test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from providers import catalog
from providers.models import Price


def only_these_prices() -> None:
    """No price but those the test makes: the shipped table's rows gone, and the catalog made again."""
    Price.objects.all().delete()
    catalog.forget()


def priced(
    model_name: str = "gpt-4o-mini", *, input: str, output: str, cached_input: str | None = None, **fields
) -> Price:
    """A price in force today (per million tokens), seen by the next request, as an administrator's save is."""
    fields.setdefault("valid_from", timezone.localdate() - dt.timedelta(days=1))
    price = Price.objects.create(
        model_name=model_name,
        input=Decimal(input),
        output=Decimal(output),
        cached_input=None if cached_input is None else Decimal(cached_input),
        **fields,
    )
    catalog.refresh()
    return price
