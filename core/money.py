"""Money as the gateway keeps it: whole **nano-units** of the gateway's one currency (CHATGATEWAY_CURRENCY),
10**-9 of a dollar, a yuan, a euro, in integer (BigInteger) columns, so that sums and F()-updates are exact
and no float ever holds an amount. A cheap request (a few hundred tokens of a small model) costs some
thousands of nanos; a BigInteger holds about 9.2 billion units.

Shown to people with `format_money`: two decimals from one unit up ("$1.23", "¥2,000.00"); below one
unit, up to six significant digits (at least two decimals, at most nine), so that a cheap request never
reads as zero ("$0.00015", "$0.000002"). A currency with a symbol here is written with it in front; any
other as the number then its code ("12.34 EUR", since "€" goes before or after by country).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

NANOS = 10**9  # nano-units in one unit of the currency
DECIMAL_PLACES = 9  # of an amount in units: whole nanos

SYMBOLS = {"USD": "$", "CNY": "¥", "JPY": "¥", "GBP": "£", "HKD": "HK$"}
SIGNIFICANT = 6  # digits shown of an amount below one unit


def to_nanos(amount: Decimal | int | str) -> int:
    """`amount` (in units of the currency) as whole nanos; a fraction of a nano is rounded up (the
    gateway never charges less than the amount)."""
    return int((Decimal(amount) * NANOS).to_integral_value(rounding=ROUND_CEILING))


def from_nanos(nanos: int) -> Decimal:
    """`nanos` as an exact amount in units, with nine decimal places ("0.000150000")."""
    return Decimal(int(nanos)).scaleb(-DECIMAL_PLACES)


def format_money(nanos: int, currency: str) -> str:
    """`nanos` for people, in `currency` (see the module's docstring for the decimals shown)."""
    amount = from_nanos(nanos)
    sign = "-" if amount < 0 else ""
    text = _digits(abs(amount))
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def _digits(amount: Decimal) -> str:
    if amount >= 1 or amount == 0:
        return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    # The first significant digit's place after the point (0.00015: 4), then SIGNIFICANT digits from it.
    first = -amount.adjusted()
    places = min(DECIMAL_PLACES, max(2, first + SIGNIFICANT - 1))
    shown = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{shown:f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
