"""Every HTML page the gateway serves sends a Content-Security-Policy that lets it run and style with the
gateway's own files only; the relay's lane, which serves no page, sends none (docs/security.md)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from chatgateway.env import envcsp
from conftest import PASSWORD
from relay.tests.records import record

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES_FOR_ANYONE = ["/", "/admin/login/", "/api-auth/login/", "/api/docs/"]
PAGES_FOR_STAFF = [
    "/",  # the chat page itself, once logged in
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/relay/usagerecord/",
    "/admin/relay/usagerecord/dashboard/",
    "/api/quota/",  # the browsable API
    "/api/conversations/",
]


@pytest.mark.parametrize("path", PAGES_FOR_ANYONE)
def test_every_page_for_anyone_says_what_we_intend(db, path):
    response = Client().get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert directives(response) == POLICY


@pytest.mark.parametrize("path", PAGES_FOR_STAFF)
def test_every_page_for_staff_says_what_we_intend(staff, path):
    record(staff)  # the dashboard and the records' list with something in them
    response = logged_in(staff).get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert directives(response) == POLICY


def test_a_change_form_and_the_error_pages_say_it_too(staff, settings):
    settings.DEBUG = False  # django-csp leaves DEBUG's 404 and 500 pages alone; production's get it
    client = logged_in(staff)

    assert directives(client.get(f"/admin/accounts/user/{staff.pk}/change/")) == POLICY
    assert directives(client.get("/no-such-page/", HTTP_ACCEPT="text/html")) == POLICY


def test_no_page_allows_inline_script_or_style(staff):
    header = logged_in(staff).get("/")["Content-Security-Policy"]

    assert "unsafe" not in header
    assert "nonce" not in header  # nothing inline is needed, so nothing is let in by nonce either
    assert "*" not in header


def test_the_pages_name_no_inline_script_or_style(staff):
    """What the policy would refuse is not on the pages: no <script> with code, <style>, style= or on…=."""
    record(staff)  # the dashboard and the user's page with charts and tables
    client = logged_in(staff)
    for path in ["/", "/admin/", "/admin/relay/usagerecord/dashboard/", f"/admin/accounts/user/{staff.pk}/change/"]:
        page = client.get(path).content.decode()
        for needle in ["<style", " style=", " onclick=", " onload=", "<script>"]:
            assert needle not in page, f"{needle} on {path}"


def test_swagger_ui_starts_from_a_script_file(db):
    page = Client().get("/api/docs/").content.decode()
    script = Client().get("/api/docs/?script")

    assert 'src="/api/docs/?script=' in page
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_relay_lane_sends_no_policy_but_the_full_lane_does(gateway, user):
    """The relay's endpoints answer JSON and event streams; the CSP middleware is full-lane only."""
    token = requests.post(f"{gateway.url}/token", json={"u": user.username, "p": PASSWORD}, timeout=10)
    relayed = requests.get(f"{gateway.url}/v1/models", headers={"Authorization": "Bearer nothing"}, timeout=10)
    page = requests.get(f"{gateway.url}/", timeout=10)

    assert "Content-Security-Policy" not in relayed.headers
    assert "Content-Security-Policy" in token.headers  # /token is on the full lane: harmless there
    assert dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";")) == POLICY


def test_the_settings_read_form_action_and_frame_ancestors_from_the_environment():
    env = {"DJANGO_SETTINGS_MODULE": "chatgateway.settings", "PATH": "/usr/bin:/bin",
           "CSP_FORM_ACTION": "https://sso.example.org", "CSP_FRAME_ANCESTORS": "self"}  # fmt: skip
    code = "from django.conf import settings; print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True,
                            text=True, check=True)  # fmt: skip

    policy = ast.literal_eval(result.stdout)
    assert policy["form-action"] == ["'self'", "https://sso.example.org"]
    assert policy["frame-ancestors"] == ["'self'"]


def test_django_csp_finds_no_setting_in_its_old_format():
    """django-csp 3 read CSP_FORM_ACTION and the like as settings; 4 refuses them (csp.E001)."""
    assert [message.id for message in run_checks() if message.id.startswith("csp.")] == []


def test_form_action_and_frame_ancestors_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CSP_FORM_ACTION", "https://sso.example.org, 'self'")
    monkeypatch.setenv("CSP_FRAME_ANCESTORS", "self")

    assert envcsp("CSP_FORM_ACTION", []) == ["https://sso.example.org", "'self'"]
    assert envcsp("CSP_FRAME_ANCESTORS", ["none"]) == ["'self'"]


@pytest.mark.parametrize("value", ["'unsafe-inline'", "none, self", "https://a.example; script-src *"])
def test_a_bad_source_list_fails_loudly_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("CSP_FRAME_ANCESTORS", value)

    with pytest.raises(ImproperlyConfigured, match="CSP_FRAME_ANCESTORS"):
        envcsp("CSP_FRAME_ANCESTORS", ["none"])
