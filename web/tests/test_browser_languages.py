"""In a real browser: the page in Simplified Chinese, chosen by the browser's language or by the switch."""

from __future__ import annotations

from selenium.webdriver.support.select import Select


def test_a_chinese_browser_gets_the_page_in_chinese(browser, user):
    browser.set_languages("zh-CN,zh")  # Chromium adds the q-values
    browser.open("/")
    assert browser.script("return document.documentElement.lang") == "zh-hans"
    assert browser.text("#login-form button") == "登录"

    browser.log_in(user.username)
    assert browser.text("#quota").startswith("今天还可以发送 10 次请求（共 10 次）")  # noqa: RUF001 (Chinese punctuation)
    assert browser.text("#send") == "发送"
    assert browser.text("#logout") == "退出登录"


def test_the_language_switch_changes_the_page_and_the_choice_stays(browser, user):
    browser.log_in(user.username)
    assert browser.text("#send") == "Send"

    Select(browser.find("#language")).select_by_value("zh-hans")

    browser.wait(lambda: browser.script("return document.documentElement.lang") == "zh-hans")
    browser.wait(lambda: browser.text("#quota").startswith("今天还可以发送"))
    browser.open("/")
    assert browser.text("#send") == "发送"  # kept in a cookie, over the browser's English
