"""In a real browser, through the real redirects: the log-in page's button, the provider's form, and back logged in
to the chat page (and to admin, for a user whose group makes them staff), with the groups mapped."""

from __future__ import annotations

from accounts.models import User
from quota.models import Plan
from sso.models import SSOIdentity
from sso.tests.conftest import PROVIDER_PASSWORD
from web.tests.browser import Browser


def log_in_through_provider(browser: Browser, username: str, *, start: str = "/") -> None:
    browser.open(start)
    browser.find("#sso-login").click()
    browser.wait(lambda: browser.find_all("#provider-login"))  # the provider's own page, on its own port
    browser.find("#id_username").send_keys(username)
    browser.find("#id_password").send_keys(PROVIDER_PASSWORD)
    browser.find("#provider-login button[type=submit]").click()


def test_the_log_in_page_offers_the_provider_and_a_user_comes_back_to_the_chat_page(browser):
    Plan.objects.create(name="student", daily_request_limit=30)
    browser.open("/")
    assert browser.text("#sso-login") == "Log in with Test IdP"

    log_in_through_provider(browser, "stu")

    browser.wait(lambda: browser.find_all("#composer"))
    browser.wait(lambda: browser.text("#quota"))
    assert "of 30 requests left today" in browser.text("#quota")
    user = User.objects.get(username="stu")
    assert (user.email, user.first_name, user.last_name) == ("stu@example.org", "Stu", "Dent")
    assert not user.has_usable_password()
    assert user.sso_identity.groups == ["students"]
    assert browser.csp_violations() == []


def test_a_staff_mapped_user_logs_in_to_admin_from_admins_own_log_in_page(browser, gateway):
    browser.open("/admin/")
    assert browser.find_all("#login-form")  # admin's own form stays, for superusers' passwords

    browser.find("#sso-login").click()
    browser.wait(lambda: browser.find_all("#provider-login"))
    browser.find("#id_username").send_keys("tara")
    browser.find("#id_password").send_keys(PROVIDER_PASSWORD)
    browser.find("#provider-login button[type=submit]").click()

    browser.wait(lambda: browser.find_all("#site-name"))  # back in admin, at the page asked for
    assert browser.driver.current_url == f"{gateway.url}/admin/"
    assert not browser.find_all("#login-form")
    user = User.objects.get(username="tara")
    assert user.is_staff
    assert not user.is_superuser
    assert browser.csp_violations() == []


def test_a_removed_group_is_taken_away_at_the_next_login_unless_an_administrator_overrode_it(browser):
    student = Plan.objects.create(name="student", daily_request_limit=30)
    tara = User.objects.create_user(username="tara", is_staff=False)
    tara.quota.plan = student
    tara.quota.save()

    log_in_through_provider(browser, "tara")  # tara's only group is "ta" now
    browser.wait(lambda: browser.find_all("#composer"))

    tara.refresh_from_db()
    tara.quota.refresh_from_db()
    assert (tara.is_staff, tara.is_superuser, tara.quota.plan) == (True, False, None)

    SSOIdentity.objects.filter(user=tara).update(managed_by_groups=False)
    User.objects.filter(pk=tara.pk).update(is_superuser=True)
    browser.find("#logout").click()
    browser.wait(lambda: browser.find_all("#sso-login"))
    browser.find("#sso-login").click()  # the provider remembers the user: straight back
    browser.wait(lambda: browser.find_all("#composer"))

    tara.refresh_from_db()
    assert tara.is_superuser  # the administrator's choice stands


def test_a_refused_login_shows_a_clear_page_in_the_browser(browser):
    log_in_through_provider(browser, "fault-expired")

    browser.wait(lambda: browser.find_all("#sso-failed"))
    assert "could not be checked" in browser.text("#sso-failed")
    browser.find("#try-again").click()
    browser.wait(lambda: browser.find_all("#sso-login"))
    assert not User.objects.filter(username="fault-expired").exists()
