"""Under a limit in money: what is left after each answer and in /quota, and the limit that refused a
message, in the gateway's words (in the user's language)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from chatcli.render import money
from core.money import NANOS
from providers.tests import prices
from providers.tests.prices import priced
from quota.models import Limit
from relay.models import UsageRecord
from teams.models import Membership, Team


@pytest.fixture(autouse=True)
def only_these_prices(transactional_db):
    prices.only_these_prices()


def test_after_each_answer_it_says_how_much_money_is_left_this_month(chat, user):
    priced(input="2000", output="4000")  # dollars per million tokens: an answer costs some cents
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))
    screen = chat(user)

    screen.type("What does it cost?")

    shown = screen.wait_for("left this month")
    charged = UsageRecord.objects.get(user=user).cost
    left = (Decimal(2 * NANOS - charged) / NANOS).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert f"${left} of $2.00 left this month · 9 requests left today" in shown


def test_quota_lists_every_limit_in_force_with_whose_it_is(chat, user):
    course = Team.objects.create(name="course-101")
    Membership.objects.create(team=course, user=user)
    Limit.objects.create(user=user, metric="cost", period="week", amount=Decimal("5"))
    Limit.objects.create(team=course, metric="requests", period="minute", amount=Decimal(60))
    Limit.objects.create(user=user, metric="tokens", period="total", amount=Decimal(100000))
    screen = chat(user)

    screen.type("/quota")

    shown = screen.wait_for("team course-101")
    assert "$5.00 of $5.00 left this week" in shown
    assert "100,000 of 100,000 tokens left in all" in shown
    assert "team course-101: 60 of 60 requests left this minute" in shown


def test_a_refusal_by_a_cost_limit_names_the_limit_and_exits_four(run_cli, logged_in, user):
    priced(input="1000000", output="1")  # a dollar a prompt token: no prompt fits in fifty cents
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("0.50"))
    logged_in(user)

    result = run_cli("ask", "Too dear")

    assert result.returncode == 4
    assert "Your limit of $0.50 a month is reached. It resets at " in result.stderr
    assert "Daily limit" not in result.stderr


def test_a_refusal_by_a_cost_limit_comes_in_chinese_with_lang_zh(run_cli, logged_in, user):
    priced(input="1000000", output="1")
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("0.50"))
    logged_in(user)

    result = run_cli("--lang", "zh", "ask", "太贵了")

    assert result.returncode == 4
    assert "你的限额（每月 $0.50）已用完，将于 " in result.stderr


def test_a_model_without_a_price_under_a_cost_limit_is_a_refusal_not_a_block(run_cli, logged_in, user):
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("5"))
    logged_in(user)

    result = run_cli("ask", "Hello")

    assert result.returncode == 1
    assert "has no price, and a spending limit applies to you" in result.stderr
    assert "blocked" not in result.stderr


def test_money_is_written_as_the_gateway_writes_it():
    assert money("2", "USD") == "$2.00"
    assert money("1234.5", "CNY") == "¥1,234.50"
    assert money("0.00015", "USD") == "$0.00015"
    assert money("0.123456789", "USD") == "$0.123457"
    assert money("12.3", "EUR") == "12.30 EUR"
