"""In a real browser: the daily limit is shown when it is reached, with the time it resets."""

from __future__ import annotations

import requests
from django.utils.dateformat import format as format_date
from django.utils.timezone import localtime

from accounts.tokens import issue_access_token
from conversations.models import Conversation
from quota.clock import next_reset


def test_the_last_request_of_the_day_brings_the_limit_and_its_reset_time(browser, make_user):
    user = make_user("ada", daily_limit=1)
    browser.log_in(user.username)

    browser.send("The only one of today")
    browser.wait_for_answer()

    midnight = next_reset()
    notice = browser.wait(lambda: browser.text("#limit"))
    assert (
        notice
        == f"You have used your 1 request of today. Your quota resets at {midnight:%b} {midnight.day}, 00:00 UTC."
    )
    assert browser.text("#quota").startswith("0 of 1 request left today")
    assert not browser.find("#send").is_enabled()
    assert not browser.find("#prompt").is_enabled()


def test_a_message_past_the_limit_gets_the_gateways_message_and_costs_nothing(browser, gateway, make_user):
    user = make_user("ada", daily_limit=1)
    browser.log_in(user.username)  # the page still shows one request left...
    used = requests.post(  # ...which another client then uses
        f"{gateway.url}/api/chat/",
        json={"prompt": "Elsewhere"},
        headers={"Authorization": f"Bearer {issue_access_token(user)}"},
        timeout=10,
    )
    assert used.status_code == 200

    browser.send("One too many")

    resets = format_date(localtime(next_reset()), "Y-m-d H:i T")
    notice = browser.wait(lambda: browser.text("#limit"))
    assert notice.startswith(f"Daily limit of 1 requests reached. It resets at {resets}.")
    assert browser.find("#prompt").get_attribute("value") == "One too many"  # given back, to send tomorrow
    assert not browser.find_all(".message")
    browser.wait(lambda: not Conversation.objects.filter(user=user).exists())  # the empty conversation went
    browser.wait(lambda: browser.text("#quota").startswith("0 of 1 request left today"))
