"""Money as whole nano-units of the gateway's one currency (CHATGATEWAY_CURRENCY): exact in sums and in
the database's atomic updates, and fine enough for the cheapest token."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

NANOS = 10**9  # nano-units in one unit of the currency
SYMBOLS = {"USD": "$", "CNY": "¥", "EUR": "€", "GBP": "£", "JPY": "¥"}


def to_nanos(amount: Decimal | int | str) -> int:
    """`amount` units of the currency in nano-units, rounded up."""
    return int((Decimal(amount) * NANOS).to_integral_value(rounding=ROUND_CEILING))


def from_nanos(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS


def format_money(nanos: int, currency: str) -> str:
    """ "$1.23", "¥2,000.00", "12.34 CHF": two decimals from a cent up, else up to six, so that a cheap
    request does not show as nothing ("$0.000042")."""
    amount = from_nanos(nanos)
    if amount == 0 or abs(amount) >= Decimal("0.01"):
        text = f"{amount:,.2f}"
    else:
        text = f"{amount:.6f}".rstrip("0")
        text = text if not text.endswith(".") else text + "00"
        if Decimal(text) == 0:
            text = f"{amount:.9f}".rstrip("0")
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
