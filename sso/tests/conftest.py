"""A real OpenID Connect provider (django-oauth-toolkit, devtools.oidcprovider) in a second process for the
run, and the gateway configured to use it."""

from __future__ import annotations

import pytest

from devtools.oidcprovider.process import OIDCProvider
from sso import provider as discovery

PROVIDER_PASSWORD = "provider-password-1"
GROUP_MAP = {"students": {"plan": "student"}, "ta": {"staff": True}, "admins": {"superuser": True}}
PEOPLE = [
    {"username": "stu", "email": "stu@example.org", "given_name": "Stu", "family_name": "Dent", "groups": ["students"]},
    {"username": "tara", "email": "tara@example.org", "groups": ["ta"]},
    {"username": "root", "groups": ["admins", "/students"]},
    {"username": "nogroup", "email": "nogroup@example.org"},
    {"username": "fault-audience"},
    {"username": "fault-expired"},
]


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    users = [{**person, "password": PROVIDER_PASSWORD} for person in PEOPLE]
    running = OIDCProvider(
        tmp_path_factory.mktemp("oidc-provider"), users=users, redirect_uris=["http://127.0.0.1/sso/callback/"]
    ).start()
    yield running
    running.stop()


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """The gateway pointed at the provider, every endpoint found by discovery."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_RP_CLIENT_ID = oidc_provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = oidc_provider.client_secret
    settings.OIDC_GROUP_MAP = GROUP_MAP
    discovery.forget()
    yield settings
    discovery.forget()


@pytest.fixture(scope="session")
def chromium():
    from web.tests.browser import start_chromium

    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, gateway, sso_settings):
    """Chromium on the live gateway, which is configured for the test provider."""
    from web.tests.browser import Browser

    browser = Browser(chromium, gateway.url)
    browser.reset()
    return browser
