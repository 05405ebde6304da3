"""Fixtures shared by every app's tests: users, authenticated clients, and the development upstream."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_access_token
from devtools.devupstream import DevUpstream
from devtools.testing import InProcessGateway
from relay.upstream import routing

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def dev_upstream():
    """A real development upstream over HTTP on a free port, for the whole run."""
    upstream = DevUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture(autouse=True)
def gateway_uses_dev_upstream(settings, dev_upstream):
    """Point the gateway's SDK client at the test upstream; no retries, so faults show at once."""
    settings.OPENAI_BASE_URL = dev_upstream.url
    settings.OPENAI_API_KEY = dev_upstream.key
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT = 5.0
    dev_upstream.fault = ""
    routing.reset_state()  # breakers, resting keys and turns are per process: each test starts afresh
    yield
    dev_upstream.fault = ""


@pytest.fixture(autouse=True)
def no_background_threads_in_the_test_process(settings):
    """The sweeper of lost reservations (started when this process serves the ASGI application, as
    InProcessGateway does) and the providers' catalog poller must not run here: they would read the test
    database from threads of their own, outside each test's transaction and database access. Server
    processes that tests start run them as configured; the tests of each turn it on where they need it."""
    settings.CHATGATEWAY_LEASE_SWEEP_SECONDS = 0
    settings.CHATGATEWAY_PROVIDERS_REFRESH_SECONDS = 0


@pytest.fixture(autouse=True)
def prompts_of_at_most_8000_characters(settings):
    """The cases of a prompt over the limit are written against 8,000 characters (the original ChatAPI's, and
    the default until coding agents' prompts needed more; the default is now 200,000)."""
    settings.CHATGATEWAY_MAX_PROMPT_CHARS = 8000


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The demo fixture's PBKDF2 hashes must still verify, so PBKDF2 stays in the list.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def make_user(db):
    def make(username: str = "ada", *, daily_limit: int | None = None, **fields) -> User:
        user = User.objects.create_user(username=username, password=PASSWORD, **fields)
        if daily_limit is not None:
            user.quota.daily_limit = daily_limit
            user.quota.save()
        return user

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user()


def used_today(user: User) -> int:
    """Requests `user` has used today, as stored now."""
    user.quota.refresh_from_db()
    return user.quota.used_on(timezone.localdate())


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(user)}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    """An API client that sends `user`'s JWT."""
    return bearer_client(user)


@pytest.fixture
def gateway(transactional_db):
    """The real gateway served over HTTP by uvicorn (async views, streaming) on the test database."""
    with InProcessGateway() as server:
        yield server


@pytest.fixture(autouse=True)
def outbox_in_tmp(settings, tmp_path):
    """Each test's relay outbox (relay/outbox.py) is its own, never the checkout's."""
    settings.CHATGATEWAY_OUTBOX_DIR = tmp_path / "outbox"
