"""Usage pages are for staff only: anyone else is sent to the admin's login."""

from __future__ import annotations

import pytest

PAGES = ["/admin/relay/usagerecord/", "/admin/relay/usagerecord/dashboard/", "/admin/relay/usagerecord/export/"]


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_a_user_who_is_not_staff_to_the_login(client, user, page):
    client.force_login(user)

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_an_anonymous_visitor_to_the_login(client, db, page):
    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", PAGES)
def test_it_refuses_staff_without_the_permission_to_view_usage(client, make_user, page):
    client.force_login(make_user("clerk", is_staff=True))

    assert client.get(page).status_code == 403
