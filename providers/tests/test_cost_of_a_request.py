"""The cost of a request (providers.pricing): exact integer nanos, rounded up once, never a float."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from providers.catalog import PriceEntry
from providers.pricing import cost_nanos, reserve_cost_nanos


def per_million(input: str, output: str, cached_input: str | None = None) -> PriceEntry:
    cached = Decimal(input if cached_input is None else cached_input)
    return PriceEntry(id=None, input=Decimal(input), cached_input=cached, output=Decimal(output),
                      valid_from=dt.date(2026, 12, 1))  # fmt: skip


def test_it_charges_prompt_and_completion_tokens_at_their_prices():
    gpt_4o_mini = per_million("0.15", "0.60")

    # 1,000 prompt tokens at $0.15/M = $0.00015; 500 completion tokens at $0.60/M = $0.0003
    assert cost_nanos(gpt_4o_mini, input_tokens=1000, output_tokens=500) == 150_000 + 300_000


def test_it_charges_cached_prompt_tokens_at_the_cached_price():
    gpt_4o = per_million("2.50", "10", cached_input="1.25")

    assert cost_nanos(gpt_4o, input_tokens=1000, cached_input_tokens=400, output_tokens=0) == 600 * 2500 + 400 * 1250


def test_it_never_counts_more_cached_tokens_than_the_prompt_had():
    gpt_4o = per_million("2.50", "10", cached_input="1.25")

    assert cost_nanos(gpt_4o, input_tokens=10, cached_input_tokens=99, output_tokens=0) == 10 * 1250


def test_it_rounds_a_fraction_of_a_nano_up_once_for_the_whole_request():
    cheapest = per_million("0.000001", "0.000001")  # a thousandth of a nano per token

    assert cost_nanos(cheapest, input_tokens=1, output_tokens=0) == 1
    assert cost_nanos(cheapest, input_tokens=1000, output_tokens=0) == 1
    assert cost_nanos(cheapest, input_tokens=1000, output_tokens=1) == 2  # 1.001 nanos
    assert cost_nanos(cheapest, input_tokens=0, output_tokens=0) == 0


def test_it_is_exact_for_large_counts_where_a_float_would_drift():
    price = per_million("1.234567", "7.654321")

    cost = cost_nanos(price, input_tokens=987_654_321, output_tokens=123_456_789)

    exact = (987_654_321 * Decimal("1.234567") + 123_456_789 * Decimal("7.654321")) * 1000  # 2164303324749.276
    assert cost == math.ceil(exact) == 2_164_303_324_750


def test_the_reservation_is_the_prompt_at_the_dearer_input_price_and_the_whole_budget_at_the_output_price():
    odd = per_million("1", "4", cached_input="3")  # a cached price above the input price: taken as the worst

    assert reserve_cost_nanos(odd, prompt_tokens=100, completion_budget=1000) == 100 * 3000 + 1000 * 4000
    assert reserve_cost_nanos(per_million("1", "4"), prompt_tokens=100, completion_budget=0) == 100 * 1000
