"""In a real browser: the account page makes a key that works with the OpenAI SDK, revokes it, changes the
password, and fits a phone, in English and Chinese, within the Content-Security-Policy."""

from __future__ import annotations

import openai
import pytest
from selenium.webdriver.support import expected_conditions

from accounts.tokens import issue_access_token
from conftest import PASSWORD
from web.tests.browser import PHONE


def open_account(browser, user) -> None:
    browser.log_in(user.username)
    browser.find("#account-link").click()
    browser.wait(lambda: browser.find_all("#keys-title"))


def create_key(browser, name: str) -> str:
    browser.find("#key-name").send_keys(name)
    browser.find("#create-key").click()
    return browser.wait(lambda: browser.text("#new-key-value"))


def test_a_key_made_on_the_page_is_shown_once_works_with_the_sdk_and_stops_once_revoked(browser, user, gateway):
    open_account(browser, user)

    key = create_key(browser, "laptop")

    assert key.startswith("sk-")
    assert f'api_key="{key}"' in browser.text("#example-python")
    assert f'base_url="{gateway.url}/v1"' in browser.text("#example-python")
    assert f'OPENAI_API_KEY="{key}"' in browser.text("#example-shell")
    row = browser.wait(lambda: browser.find_all("#key-rows tr"))[0]
    assert "laptop" in row.text
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    assert client.models.list().data

    browser.open("/account/")  # shown once: not on the page again
    browser.wait(lambda: browser.find_all("#key-rows tr"))
    assert key not in browser.driver.page_source
    assert browser.find("#new-key-shown").is_displayed() is False

    browser.find("#key-rows button.revoke").click()
    browser.wait(lambda: expected_conditions.alert_is_present()(browser.driver)).accept()
    browser.wait(lambda: browser.find_all("#key-rows tr.revoked"))
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert browser.csp_violations() == []


def test_the_copy_button_copies_the_key(browser, user):
    browser.driver.execute_cdp_cmd(
        "Browser.grantPermissions", {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}
    )
    open_account(browser, user)
    key = create_key(browser, "copied")

    browser.find("#new-key-shown button.copy").click()

    browser.wait(lambda: browser.text("#new-key-shown button.copy") == "Copied")
    assert (
        browser.driver.execute_async_script("navigator.clipboard.readText().then(arguments[arguments.length - 1])")
        == key
    )


def test_the_usage_table_lists_the_users_requests_and_pages(browser, make_user, gateway):
    user = make_user("ada", daily_limit=50)
    open_account(browser, user)
    key = create_key(browser, "usage")
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    for _ in range(12):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    browser.open("/account/")
    browser.wait(lambda: len(browser.find_all("#usage-rows tr")) == 10)
    assert "gpt-4o-mini" in browser.text("#usage-rows tr")
    assert browser.text("#requests-used").startswith("12 /")
    browser.find("#usage-older").click()
    browser.wait(lambda: len(browser.find_all("#usage-rows tr")) == 2)
    assert browser.text("#usage-page") == "page 2 of 2"
    assert "Successful" not in browser.text("#usage")  # the chart's own words, in the page's language


def test_changing_the_password_ends_the_old_tokens(browser, user, gateway):
    token = issue_access_token(user)
    old = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0)
    assert old.models.list().data
    open_account(browser, user)

    browser.find("#id_old_password").send_keys(PASSWORD)
    browser.find("#id_new_password1").send_keys("a brand new passphrase 7")
    browser.find("#id_new_password2").send_keys("a brand new passphrase 7")
    browser.find("#change-password").click()

    browser.wait(lambda: "Your password was changed" in browser.text("#account-message"))
    with pytest.raises(openai.AuthenticationError):
        old.models.list()
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase 7")


def test_on_a_phone_in_chinese_it_fits_and_speaks_chinese(browser, user):
    browser.reset(languages="zh-CN,zh", screen=PHONE)
    open_account(browser, user)
    create_key(browser, "手机")

    assert browser.text("#keys-title") == "API 密钥"
    assert browser.text("#usage-page").startswith("第")
    assert "最近两周没有请求" in browser.text("#usage")  # the chart's words too
    assert browser.has_no_sideways_scroll()
    assert browser.csp_violations() == []
