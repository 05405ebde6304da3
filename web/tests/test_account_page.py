"""The account page at /account/: the user's limits, usage chart, keys and password form (server side)."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client

from conftest import PASSWORD, bearer_client
from quota.models import Limit
from teams.models import Membership, Team


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_sends_a_visitor_to_the_log_in_form(db, client):
    response = client.get("/account/")

    assert response.status_code == 302
    assert response["Location"].startswith("/?next=/account/")


def test_it_shows_the_users_limits_and_chart_and_links_back_to_the_chat(make_user):
    user = make_user("ada", daily_limit=7)

    response = logged_in(user).get("/account/")

    assert response.status_code == 200
    assert b'id="requests-used">0 / 7<' in response.content
    assert b"<svg" in response.content
    assert b'id="account-config"' in response.content
    assert b'id="password-form"' in response.content
    assert b'href="/"' in response.content


def test_the_chat_page_links_to_it(user):
    assert b'href="/account/"' in logged_in(user).get("/").content


def test_a_new_password_is_taken_and_ends_the_old_tokens_but_not_the_session(user):
    client = logged_in(user)
    old_token = bearer_client(user)
    assert old_token.get("/api/quota/").status_code == 200

    new = "a new long passphrase 42"
    response = client.post("/account/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert old_token.get("/api/quota/").status_code == 401
    assert b"Your password was changed" in client.get("/account/").content  # still logged in


def test_a_wrong_old_password_changes_nothing(user):
    new = "a new long one 42"
    response = logged_in(user).post("/account/", {"old_password": "wrong", "new_password1": new, "new_password2": new})

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_user_without_a_password_gets_no_password_form(user):
    user.set_unusable_password()
    user.save()

    response = logged_in(user).get("/account/")

    assert b'id="password-form"' not in response.content


def test_it_shows_what_is_left_of_a_cost_limit_and_of_the_teams_limits(user):
    course = Team.objects.create(name="course-101")
    Membership.objects.create(team=course, user=user)
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))
    Limit.objects.create(team=course, metric="requests", period="minute", amount=Decimal(60))
    Limit.objects.create(user=user, metric="tokens", period="total", amount=Decimal(100000))

    page = logged_in(user).get("/account/").content.decode()

    assert 'id="more-limits"' in page
    assert "<dt>Spending per month</dt><dd>$2.00 of $2.00 left</dd>" in page
    assert "<dt>Requests per minute, team course-101</dt><dd>60 of 60 left</dd>" in page
    assert "<dt>Tokens in all</dt><dd>100,000 of 100,000 left</dd>" in page
    assert "never resets" in page


def test_it_shows_no_other_limits_when_there_are_none(user):
    assert 'id="more-limits"' not in logged_in(user).get("/account/").content.decode()


def test_it_shows_the_other_limits_in_chinese(user):
    Limit.objects.create(user=user, metric="cost", period="month", amount=Decimal("2.00"))

    page = logged_in(user).get("/account/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert "<dt>花费（每月）</dt><dd>剩余 $2.00（共 $2.00）</dd>" in page  # noqa: RUF001 (Chinese punctuation)


def test_it_opens_at_the_top_with_no_field_focused(user):
    assert "autofocus" not in logged_in(user).get("/account/").content.decode()
