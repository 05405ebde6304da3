from __future__ import annotations

import pytest

from quota.models import Quota
from teams.models import Membership, Team


@pytest.fixture
def ada(make_user):
    """A user whose daily request limit stays out of the way of the limits under test."""
    user = make_user("ada")
    Quota.objects.filter(user=user).update(daily_limit=1000)
    return user


@pytest.fixture
def team(ada):
    """A team of Ada's, with no limits yet."""
    team = Team.objects.create(name="course-101")
    Membership.objects.create(team=team, user=ada)
    return team
