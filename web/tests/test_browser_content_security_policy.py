"""In Chromium, under the pages' Content-Security-Policy: the chat page, the admin, the browsable API and
Swagger UI still work, the console reports no violation, and a script injected into a page does not run."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from conftest import PASSWORD
from relay.tests.records import record


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def admin_log_in(browser, username: str) -> None:
    browser.open("/admin/login/")
    browser.find("#id_username").send_keys(username)
    browser.find("#id_password").send_keys(PASSWORD)
    browser.find("#login-form input[type=submit]").click()
    browser.wait(lambda: browser.find_all("#user-tools"))  # signed in: the log-in page has #site-name too


def test_the_chat_page_streams_and_renders_answers_with_no_violation(browser, user):
    browser.log_in(user.username)

    browser.send("Count with me [dev:chunks=12] [dev:interval=0.15]")
    partial = browser.wait(lambda: browser.text(".message.assistant.streaming"))
    assert browser.wait_for_answer().startswith(partial)
    browser.send("Some `inline` code,\n```python\nprint(1)\n```\nand **bold**")
    browser.wait(lambda: len(browser.answers()) == 2 and not browser.find_all(".message.streaming"))

    answer = browser.find_all(".message.assistant")[-1]
    assert answer.find_element(By.CSS_SELECTOR, "pre code").text == "print(1)"  # Markdown, by marked + DOMPurify
    assert answer.find_element(By.CSS_SELECTOR, "p code").text == "inline"
    assert answer.find_element(By.CSS_SELECTOR, "strong").text == "bold"
    assert browser.csp_violations() == []


def test_the_log_in_page_reports_no_violation(browser):
    browser.open("/")
    browser.wait(lambda: browser.find_all("#login-form"))

    assert browser.csp_violations() == []


def test_the_admin_changelist_actions_and_a_change_forms_date_widgets_work(browser, staff, make_user):
    make_user("ada")
    record(staff)  # the change form then shows the user's last 30 days: a chart and a table
    admin_log_in(browser, staff.username)

    browser.open("/admin/accounts/user/")
    browser.find("#action-toggle").click()  # the admin's actions.js
    assert all(box.is_selected() for box in browser.find_all("input.action-select"))
    assert browser.wait(lambda: browser.text(".action-counter")) == "2 of 2 selected"

    browser.open(f"/admin/accounts/user/{staff.pk}/change/")
    browser.wait(lambda: browser.find_all(".datetimeshortcuts"))  # DateTimeShortcuts.js drew its links
    assert browser.find_all("svg.sparkline rect.tone-ok")
    date = browser.find("#id_last_login_0")
    date.clear()
    browser.find("#id_last_login_0 + .datetimeshortcuts a").click()  # "Today"
    assert browser.wait(lambda: date.get_attribute("value"))
    browser.find("#calendarlink0").click()
    assert browser.find("#calendarbox0").is_displayed()  # calendar.js drew the month
    assert browser.csp_violations() == []


def test_the_usage_dashboard_is_drawn_with_its_stylesheet_and_no_violation(browser, staff):
    record(staff)
    record(staff, status_code=502)
    admin_log_in(browser, staff.username)

    browser.open("/admin/relay/usagerecord/dashboard/")
    bar = browser.find("#requests-per-day rect.tone-ok")
    share = browser.find("#top-users td.share rect.part")

    assert bar.value_of_css_property("fill") != "rgb(0, 0, 0)"  # usage.css coloured it
    assert float(share.get_attribute("width")) == 100  # one user: all of the requests
    assert browser.csp_violations() == []


def test_the_browsable_api_and_swagger_ui_work_with_no_violation(browser, user):
    browser.open("/api-auth/login/")
    browser.find("#id_username").send_keys(user.username)
    browser.find("#id_password").send_keys(PASSWORD)
    browser.find("#submit-id-submit").click()
    browser.wait(lambda: "/api-auth/login/" not in browser.driver.current_url)
    browser.open("/api/quota/")
    assert "daily_limit" in browser.wait(lambda: browser.text(".response-info"))

    browser.find(".navbar .dropdown-toggle").click()  # DRF's bootstrap.js menu
    browser.find("form.logout button").click()  # a form, not DRF's onclick link
    browser.wait(lambda: "401" in browser.text(".response-info"))

    browser.open("/api/docs/")
    browser.wait(lambda: len(browser.find_all(".opblock")) > 10)  # Swagger UI started from its script file
    assert browser.csp_violations() == []


def test_a_script_injected_into_the_page_is_refused(browser, user):
    browser.log_in(user.username)

    violation = browser.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        document.addEventListener("securitypolicyviolation",
            (event) => done({directive: event.effectiveDirective, blocked: event.blockedURI}), {once: true});
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        """
    )
    handler = browser.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        document.addEventListener("securitypolicyviolation", (event) => done(event.effectiveDirective), {once: true});
        const picture = '<img src="data:," onerror="window.injected = true">';
        document.getElementById("messages").insertAdjacentHTML("beforeend", picture);
        """
    )

    assert violation == {"directive": "script-src-elem", "blocked": "inline"}
    assert handler == "script-src-attr"
    assert browser.script("return window.injected") is None
    assert len(browser.csp_violations()) == 2  # and the console says so
