"""In a real browser on a phone-sized screen: nothing scrolls sideways, and the conversations are a tap away."""

from __future__ import annotations

from web.tests.browser import PHONE


def test_on_a_phone_nothing_scrolls_sideways_and_the_list_is_a_tap_away(browser, user):
    browser.set_screen(PHONE)
    browser.open("/")
    assert browser.has_no_sideways_scroll()
    browser.log_in(user.username)
    assert browser.has_no_sideways_scroll()
    assert not browser.find("#sidebar").is_displayed()

    question = "A long line: " + "x" * 300 + "\n\n```\n" + "code " * 60 + "\n```"
    browser.send(question)
    browser.wait_for_answer()
    assert [message.text for message in browser.find_all(".message.user")] == [question]  # one message, as typed
    assert browser.find_all(".message.assistant pre code")
    assert browser.has_no_sideways_scroll()

    browser.find("#toggle-sidebar").click()
    item = browser.wait(lambda: [b for b in browser.find_all("#conversations button.conversation") if b.is_displayed()])
    assert browser.has_no_sideways_scroll()
    item[0].click()
    browser.wait(lambda: not browser.find("#sidebar").is_displayed())  # it closes once a conversation is picked
    assert len(browser.answers()) == 1
    assert browser.find("#logout").is_displayed()
