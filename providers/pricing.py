"""The cost of a request from its price (providers.catalog.PriceEntry: per million tokens) and its tokens,
in whole nano-units of CHATGATEWAY_CURRENCY (core.money). Pure and exact: a price has six decimal places,
so it is a whole number of micro-units per million tokens, that is of 1/1000 nano per token; the cost is
that sum in integers, rounded **up** to whole nanos once: a request is never charged less than its price,
and no float is involved."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Protocol

MICRO = 10**6  # a price's six decimal places
THOUSANDTHS_PER_NANO = 1000  # micro-units per million tokens = thousandths of a nano per token


class PriceLike(Protocol):
    input: Decimal
    cached_input: Decimal
    output: Decimal


def cost_nanos(price: PriceLike, *, input_tokens: int, cached_input_tokens: int = 0, output_tokens: int) -> int:
    """What `input_tokens` (of which `cached_input_tokens` the provider served from its cache) and
    `output_tokens` cost at `price`, in nanos, rounded up."""
    cached = min(max(cached_input_tokens, 0), max(input_tokens, 0))
    thousandths = (
        (max(input_tokens, 0) - cached) * _micro(price.input)
        + cached * _micro(price.cached_input)
        + max(output_tokens, 0) * _micro(price.output)
    )
    return -(-thousandths // THOUSANDTHS_PER_NANO)  # ceiling division


def reserve_cost_nanos(price: PriceLike, *, prompt_tokens: int, completion_budget: int) -> int:
    """The most a request can cost before it is made: its prompt at the dearer of the input prices (a
    cache may or may not serve it) and its whole completion budget at the output price."""
    dearer = max(price.input, price.cached_input)
    return cost_nanos(
        _Flat(input=dearer, cached_input=dearer, output=price.output),
        input_tokens=prompt_tokens,
        output_tokens=completion_budget,
    )


def _micro(amount: Decimal) -> int:
    """A price as whole micro-units; a price with more than six decimals (not from the table) is
    rounded up to the next micro-unit."""
    scaled = Decimal(amount) * MICRO
    whole = int(scaled)
    return whole if whole == scaled else whole + (1 if scaled > 0 else 0)


@dataclasses.dataclass(frozen=True)
class _Flat:
    input: Decimal
    cached_input: Decimal
    output: Decimal
