"""In a real browser: the log-out link ends the session."""

from __future__ import annotations


def test_logging_out_brings_back_the_log_in_form_and_ends_the_session(browser, user):
    browser.log_in(user.username)

    browser.find("#logout").click()

    browser.wait(lambda: browser.find_all("#login-form"))
    browser.open("/")
    assert browser.find_all("#login-form")
    status = browser.script("return fetch('/api/quota/').then((response) => response.status)")
    assert status in (401, 403)
