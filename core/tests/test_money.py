"""Money in whole nanos of a currency (core/money.py): exact conversions, and amounts shown to people so
that a cheap request never reads as nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import NANOS, format_money, from_nanos, to_nanos


def test_it_converts_amounts_to_nanos_and_back_exactly():
    assert to_nanos(Decimal("1.23")) == 1_230_000_000
    assert from_nanos(1_230_000_001) == Decimal("1.230000001")
    assert to_nanos(from_nanos(987_654_321_123)) == 987_654_321_123


def test_it_rounds_a_fraction_of_a_nano_up():
    assert to_nanos("0.0000000001") == 1
    assert to_nanos("0.0000000011") == 2


@pytest.mark.parametrize(
    ("nanos", "currency", "shown"),
    [
        (1_230_000_000, "USD", "$1.23"),
        (2000 * NANOS, "CNY", "¥2,000.00"),
        (12_340_000_000, "EUR", "12.34 EUR"),
        (500_000_000, "USD", "$0.50"),
        (0, "USD", "$0.00"),
        (150_000, "USD", "$0.00015"),  # 1,000 tokens of gpt-4o-mini's prompt
        (123_456_789, "USD", "$0.123457"),  # six significant digits below one unit
        (1, "USD", "$0.000000001"),  # never zero
    ],
)
def test_it_shows_two_decimals_from_one_unit_up_and_six_significant_digits_below(nanos, currency, shown):
    assert format_money(nanos, currency) == shown
