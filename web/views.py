from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from quota.services import quota_status
from relay.rules import allowed_models, default_model
from usage import charts
from usage.dashboard import ERROR, OK, Period, usage_per_day


def login(request: HttpRequest) -> HttpResponse:
    """Django's log-in form, with the single sign-on button when a provider is configured."""
    sso = {"name": settings.OIDC_PROVIDER_NAME} if settings.OIDC_ENABLED else None
    context = {"sso": sso, "password_login": settings.CHATGATEWAY_PASSWORD_LOGIN}
    return LoginView.as_view(template_name="web/login.html", next_page="web:home", extra_context=context)(request)


CHART_DAYS = 14  # the account page's chart: two weeks, readable on a phone


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """The chat page for a logged-in user; the log-in form (Django's, with the session and CSRF) for anyone else."""
    if not request.user.is_authenticated or request.method != "GET":
        return login(request)
    config = {
        "urls": {"quota": reverse("quota"), "conversations": reverse("conversations")},
        "models": allowed_models(request.user),
        "defaultModel": default_model(),
        "maxPromptChars": settings.CHATGATEWAY_MAX_PROMPT_CHARS,
    }
    return render(request, "web/chat.html", {"config": config})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The user's own page: limits, usage, API keys and (for password users) a new password.

    The keys and the usage table are read and changed by account.js through /api/keys/ and /api/usage/,
    with the session, as the chat page uses its APIs; the password form is an ordinary form post.
    """
    password_form = None
    if request.user.has_usable_password():
        password_form = PasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
        if request.method == "POST" and password_form.is_valid():
            # User.save() ends every token the user holds (accounts.models); the session goes on.
            update_session_auth_hash(request, password_form.save())
            messages.success(request, _("Your password was changed. Tokens made with the old one no longer work."))
            return redirect("web:account")
    elif request.method == "POST":
        return redirect("web:account")
    config = {
        "urls": {"keys": reverse("api-keys"), "usage": reverse("usage")},
        "baseUrl": request.build_absolute_uri("/v1"),
        "model": default_model(),
    }
    context = {
        "config": config,
        "quota": quota_status(user_id=request.user.pk),
        "chart": _requests_chart(user_id=request.user.pk),
        "password_form": password_form,
        "model": default_model(),
    }
    return render(request, "web/account.html", context, status=400 if request.method == "POST" else 200)


def _requests_chart(*, user_id: int) -> SafeString:
    """The user's requests per day over the last CHART_DAYS days, in the page's language."""
    days = usage_per_day(period=Period.last_days(CHART_DAYS), user_id=user_id)
    return charts.bar_chart(
        title=_("Your requests per day"),
        labels=[_day_label(day.day) for day in days],
        series=[
            charts.Series(_("Answered"), [day.successful for day in days], OK),
            charts.Series(_("Failed"), [day.errors for day in days], ERROR),
        ],
        empty_text=_("No requests in the last two weeks"),
    )


def _day_label(day: dt.date) -> str:
    return f"{day.month}/{day.day}"
