"""Plans in admin: listed with their limits and how many users have each, found by name."""

from __future__ import annotations

from quota.models import Plan, Quota

# The plan page's limits inline, left empty.
NO_LIMITS = {"limits-TOTAL_FORMS": "0", "limits-INITIAL_FORMS": "0"}


def test_it_lists_plans_with_their_limits_and_users(admin_client, make_user):
    student = Plan.objects.create(name="student", daily_request_limit=30, daily_token_limit=50_000)
    Plan.objects.create(name="staff", daily_request_limit=500)
    for name in ("ada", "bob"):
        Quota.objects.filter(user=make_user(name)).update(plan=student)

    response = admin_client.get("/admin/quota/plan/")

    assert response.status_code == 200
    rows = {plan.name: plan for plan in response.context["cl"].result_list}
    assert rows["student"].user_count == 2
    assert rows["staff"].user_count == 0
    content = response.content.decode()
    assert "50,000" in content
    assert "unlimited" in content
    assert f'<a href="/admin/accounts/user/?quota__plan__id__exact={student.pk}">2</a>' in content


def test_it_finds_plans_by_name(admin_client):
    Plan.objects.create(name="student", daily_request_limit=30)
    Plan.objects.create(name="staff", daily_request_limit=500)

    response = admin_client.get("/admin/quota/plan/", {"q": "stud"})

    assert [plan.name for plan in response.context["cl"].result_list] == ["student"]


def test_it_creates_a_plan(admin_client):
    response = admin_client.post(
        "/admin/quota/plan/add/",
        {"name": "guest", "daily_request_limit": "3", "daily_token_limit": "", **NO_LIMITS},
    )

    assert response.status_code == 302
    assert Plan.objects.get(name="guest").daily_token_limit is None
