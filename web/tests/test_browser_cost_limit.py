"""In a real browser: what is left of a limit in money, and of the other limits, above the chat; updated
after each answer; a refusal by one of them in the gateway's words."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from core.money import NANOS
from providers.tests import prices
from providers.tests.prices import priced
from quota.models import Limit
from relay.models import UsageRecord
from web.tests.browser import PHONE


@pytest.fixture(autouse=True)
def only_these_prices(transactional_db):
    prices.only_these_prices()


def dollars(nanos: int) -> str:
    return f"${(Decimal(nanos) / NANOS).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def test_the_money_left_this_month_is_shown_and_goes_down_after_each_answer(browser, user):
    priced(input="2000", output="4000")  # dollars per million tokens: an answer costs some cents
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))
    browser.log_in(user.username)
    assert browser.text("#quota").startswith("$2.00 of $2.00 left this month · 10 of 10 requests left today")

    browser.send("What does it cost?")
    browser.wait_for_answer()

    charged = UsageRecord.objects.get(user=user).cost
    assert charged > 0
    left = dollars(2 * NANOS - charged)
    assert left != "$2.00"
    browser.wait(lambda: browser.text("#quota").startswith(f"{left} of $2.00 left this month"))
    assert browser.find("#send").is_enabled()


def test_the_other_limits_are_shown_and_one_used_up_stops_the_page_until_it_resets(browser, user):
    Limit.objects.create(user=user, metric="requests", period="minute", amount=Decimal(1))
    Limit.objects.create(user=user, metric="tokens", period="total", amount=Decimal(100000))
    browser.log_in(user.username)
    assert "1 of 1 request left this minute" in browser.text("#quota")
    assert "100,000 of 100,000 tokens left in all" in browser.text("#quota")

    browser.send("One a minute")
    browser.wait_for_answer()

    notice = browser.wait(lambda: browser.text("#limit"))
    assert notice.startswith("You have reached a limit (0 of 1 request left this minute). It resets at ")
    assert "0 of 1 request left this minute" in browser.text("#quota")
    assert not browser.find("#send").is_enabled()


def test_a_refusal_by_a_cost_limit_shows_the_gateways_message(browser, user):
    priced(input="1000000", output="1")  # a dollar a prompt token: no prompt fits in fifty cents
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("0.50"))
    browser.log_in(user.username)

    browser.send("Too dear")

    error = browser.wait(lambda: browser.text("#error"))
    assert "Your limit of $0.50 a month is reached" in error
    assert browser.find("#prompt").get_attribute("value") == "Too dear"  # given back, to shorten or send elsewhere
    assert not browser.find_all(".message")
    assert browser.text("#quota").startswith("$0.50 of $0.50 left this month")


def test_in_chinese_on_a_phone_the_money_left_fits_the_screen(browser, user):
    priced(input="2000", output="4000")
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))
    browser.reset(languages="zh-CN,zh", screen=PHONE)
    browser.log_in(user.username)

    assert browser.text("#quota").startswith("本月剩余 US$2.00（共 US$2.00）")  # noqa: RUF001 (Chinese punctuation)
    assert browser.find("#quota").is_displayed()
    assert browser.has_no_sideways_scroll()


def test_in_chinese_a_refusal_by_a_cost_limit_is_in_chinese(browser, user):
    priced(input="1000000", output="1")
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("0.50"))
    browser.reset(languages="zh-CN,zh", screen=PHONE)
    browser.log_in(user.username)

    browser.send("太贵了")

    error = browser.wait(lambda: browser.text("#error"))
    assert error.startswith("你的限额（每月 $0.50）已用完，将于 ")  # noqa: RUF001
    assert browser.has_no_sideways_scroll()


def test_the_account_page_shows_the_money_left_and_when_it_resets_in_the_browsers_words(browser, user):
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))
    browser.log_in(user.username)

    browser.open("/account/")

    assert browser.text("#limit-user-cost-month dt") == "Spending per month"
    assert browser.text("#limit-user-cost-month dd") == "$2.00 of $2.00 left"
    month_end = timezone.localtime().replace(day=1) + dt.timedelta(days=32)
    assert browser.text("#limit-user-cost-month dd.resets") == f"resets {month_end:%b} 1, {month_end.year}, 00:00"
