"""In a real browser: a member of several teams picks the one their messages draw on, and sees its limits."""

from __future__ import annotations

from decimal import Decimal

from selenium.webdriver.support.select import Select

from quota.models import Limit
from relay.models import UsageRecord
from teams.models import Membership, Team


def test_a_member_of_two_teams_picks_one_and_sees_and_spends_its_limits(browser, user):
    course = Team.objects.create(name="course-101")
    research = Team.objects.create(name="research")
    Membership.objects.create(team=course, user=user, is_default=True)
    Membership.objects.create(team=research, user=user)
    Limit.objects.create(team=course, metric="requests", period="month", amount=Decimal(50))
    Limit.objects.create(team=research, metric="requests", period="day", amount=Decimal(5))
    browser.log_in(user.username)
    assert "team course-101: 50 of 50 requests left this month" in browser.text("#quota")
    assert [option.text for option in Select(browser.find("#team")).options] == ["course-101", "research"]

    Select(browser.find("#team")).select_by_visible_text("research")
    browser.wait(lambda: "team research: 5 of 5 requests left today" in browser.text("#quota"))
    browser.send("On the research budget")
    browser.wait_for_answer()

    browser.wait(lambda: "team research: 4 of 5 requests left today" in browser.text("#quota"))
    assert "course-101" not in browser.text("#quota")
    assert UsageRecord.objects.get(user=user).team == "research"


def test_a_member_of_one_team_has_nothing_to_pick(browser, user):
    Membership.objects.create(team=Team.objects.create(name="course-101"), user=user)
    browser.log_in(user.username)

    assert not browser.find_all("#team")
