"""Who may do what is cached in each process (core/access.py) while the database's access stamp is
unchanged; every change to what the cache holds replaces the stamp, by triggers, whoever makes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from django.db import connection
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import create_api_key
from core import access
from devtools.testing import GatewayServer
from quota.models import Limit, Plan, Quota
from teams.models import Membership, Team

WATCHED = {  # table: the columns an update of which changes nothing the cache holds
    "accounts_user": {"last_login"},
    "apikeys_apikey": {"last_used"},
    "teams_team": set(),
    "teams_membership": set(),
    "quota_limit": set(),
}
ONLY = {"quota_quota": {"plan_id"}}  # of a quota row, only its plan changes what the cache holds


def stamp() -> int | None:
    return access.current_stamp()


def changes_stamp(change: Callable[[], object]) -> bool:
    before = stamp()
    change()
    return stamp() != before


@pytest.fixture
def things(user):
    team = Team.objects.create(name="course")
    membership = Membership.objects.create(team=team, user=user)
    api_key, _ = create_api_key(user=user, name="laptop")
    plan = Plan.objects.create(name="student", daily_request_limit=30)
    limit = Limit.objects.create(user=user, metric="requests", period="day", amount=5)
    return {"user": user, "team": team, "membership": membership, "api_key": api_key, "plan": plan, "limit": limit}


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t["user"].__class__.objects.filter(pk=t["user"].pk).update(is_active=False),
        lambda t: t["user"].set_password("a-new-one-1234") or t["user"].save(),
        lambda t: APIKey.objects.filter(pk=t["api_key"].pk).revoke(now=timezone.now()),
        lambda t: APIKey.objects.filter(pk=t["api_key"].pk).update(team=t["team"]),
        lambda t: create_api_key(user=t["user"], name="another"),
        lambda t: t["api_key"].delete(),
        lambda t: Team.objects.filter(pk=t["team"].pk).update(name="course-2"),
        lambda t: Membership.objects.filter(pk=t["membership"].pk).update(is_default=True),
        lambda t: t["membership"].delete(),
        lambda t: Limit.objects.filter(pk=t["limit"].pk).update(amount=6),
        lambda t: Limit.objects.create(team=t["team"], metric="cost", period="month", amount=1),
        lambda t: t["limit"].delete(),
        lambda t: Quota.objects.filter(user=t["user"]).update(plan=t["plan"]),
    ],
    ids=[
        "user deactivated", "password changed", "key revoked", "key given a team", "key made", "key deleted",
        "team renamed", "default team changed", "member left", "limit changed", "limit made", "limit deleted",
        "plan changed",
    ],
)  # fmt: skip
def test_every_change_to_what_the_cache_holds_replaces_the_stamp_even_by_a_queryset_update(things, change):
    assert changes_stamp(lambda: change(things))


@pytest.mark.parametrize(
    "change",
    [
        lambda t: APIKey.objects.filter(pk=t["api_key"].pk).update(last_used=timezone.now()),
        lambda t: t["user"].__class__.objects.filter(pk=t["user"].pk).update(last_login=timezone.now()),
        lambda t: Quota.objects.filter(user=t["user"]).update(used=3, tokens_used=100),
        lambda t: Membership.objects.filter(team__name__in=["no such team"]).delete(),
        lambda t: APIKey.objects.filter(name="no such key").update(revoked=timezone.now()),
    ],
    ids=["a key's use", "a login", "a quota row's counts", "a delete of nothing", "an update of nothing"],
)
def test_what_every_request_writes_leaves_the_stamp_alone(things, change):
    assert not changes_stamp(lambda: change(things))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
@pytest.mark.parametrize("table", [*WATCHED, *ONLY])
def test_a_truncated_table_replaces_the_stamp(things, table):
    def truncate():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own inserts' deferred checks, first
            cursor.execute(f"TRUNCATE {table} CASCADE")

    assert changes_stamp(truncate)


def test_a_team_named_by_a_request_fills_no_cache(user):
    """The cache holds a user's teams, not what a request names: a header can't grow it."""
    from teams.exceptions import TeamNotAllowed
    from teams.services import team_for_request

    team = Team.objects.create(name="course")
    Membership.objects.create(team=team, user=user)
    assert team_for_request(user_id=user.pk) == team
    entries = len(access._entries)
    for number in range(50):
        with pytest.raises(TeamNotAllowed):
            team_for_request(user_id=user.pk, asked=f"team-{number}")
    assert team_for_request(user_id=user.pk, asked="course") == team
    assert len(access._entries) == entries


def test_the_triggers_watch_every_column_but_those_the_hot_path_writes(db):
    """A migration that adds a column to a watched table must watch it too (core.access.watch again);
    on SQLite, a table that a migration rebuilt has lost its triggers: this names it."""
    for table, ignored in {**WATCHED, **{t: None for t in ONLY}}.items():
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
        expected = ONLY[table] if ignored is None else columns - ignored
        assert watched_columns(table) == expected, table


def watched_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT event_object_column FROM information_schema.triggered_update_columns "
                "WHERE event_object_table = %s AND trigger_name = %s",
                [table, f"{table}_access_update"],
            )
            return {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [f"{table}_access_update"])
        [(sql,)] = cursor.fetchall()
        of = sql[sql.index("UPDATE OF") + len("UPDATE OF") : sql.index(" ON ")]
        return {column.strip().strip('"') for column in of.split(",")}


def test_a_cached_value_is_read_again_once_the_stamp_changes(user):
    reads = []

    def make():
        reads.append(1)
        return len(reads)

    assert access.cached("test", "key", make) == 1
    assert access.cached("test", "key", make) == 1
    Limit.objects.create(user=user, metric="requests", period="day", amount=5)
    assert access.cached("test", "key", make) == 2


def test_a_revoked_key_and_a_deactivated_user_are_refused_at_once_by_every_server_process(tmp_path, dev_upstream):
    """Two uvicorn worker processes with their caches warm; the change is made by a third process."""
    with GatewayServer(
        tmp_path=tmp_path, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=2
    ) as server:
        key, token = server.python(
            "from accounts.models import User; from accounts.tokens import issue_access_token; "
            "from apikeys.services import create_api_key; "
            "u = User.objects.create_user('ada', password='x'); v = User.objects.create_user('bob', password='x'); "
            "print(create_api_key(user=u, name='k')[1], issue_access_token(v))"
        ).split()

        def statuses(credential: str) -> set[int]:
            # Enough requests, on fresh connections, that both workers answer some.
            return {
                requests.get(
                    f"{server.url}/api/quota/", headers={"Authorization": f"Bearer {credential}"}, timeout=10
                ).status_code
                for _ in range(16)
            }

        assert statuses(key) == {200}
        assert statuses(token) == {200}

        server.python("from apikeys.models import APIKey; APIKey.objects.get(name='k').revoke()")
        assert statuses(key) == {401}
        server.python("from accounts.models import User; User.objects.filter(username='bob').update(is_active=False)")
        assert statuses(token) == {401}
