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
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.money import format_money
from quota.limits import Reading
from quota.services import quota_status_of_request
from relay.rules import allowed_models, default_model
from teams.selectors import team_names_of
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
        # Offered as the X-ChatGateway-Team header: a name outside printable ASCII can't travel in one.
        "teams": [name for name in team_names_of(user_id=request.user.pk) if name.isascii() and name.isprintable()],
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
        # Django's form focuses its first field, which scrolled the page down to it past the limits; a
        # page with errors comes back at #password anyway.
        password_form.fields["old_password"].widget.attrs.pop("autofocus", None)
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
    quota = quota_status_of_request(user_id=request.user.pk)  # with the team their requests draw on by default
    context = {
        "config": config,
        "quota": quota,
        "limits": [_limit_row(reading, quota.currency) for reading in quota.limits],
        "chart": _requests_chart(user_id=request.user.pk),
        "password_form": password_form,
        "model": default_model(),
    }
    return render(request, "web/account.html", context, status=400 if request.method == "POST" else 200)


METRICS = {"cost": gettext_lazy("Spending"), "requests": gettext_lazy("Requests"), "tokens": gettext_lazy("Tokens")}
PERIODS = {
    "minute": gettext_lazy("per minute"),
    "day": gettext_lazy("per day"),
    "week": gettext_lazy("per week"),
    "month": gettext_lazy("per month"),
    "total": gettext_lazy("in all"),
}


def _limit_row(reading: Reading, currency: str) -> dict[str, str]:
    """One limit beyond the daily ones as the account page shows it: what it is, what is left, when it resets
    (in the server's zone; account.js writes it in the browser's, as it does today's reset)."""
    limit = reading.limit
    name = _("%(metric)s %(period)s") % {"metric": METRICS[limit.metric], "period": PERIODS[limit.period]}
    if limit.scope == "team":
        name = _("%(limit)s, team %(team)s") % {"limit": name, "team": limit.name}
    if limit.metric == "cost":
        amounts = {"remaining": format_money(reading.remaining, currency), "limit": format_money(limit.units, currency)}
    else:
        amounts = {"remaining": f"{reading.remaining:,}", "limit": f"{limit.units:,}"}
    left = _("%(remaining)s of %(limit)s left") % amounts
    if reading.resets_at is None:
        resets = _("never resets")
    else:
        resets = _("resets %(time)s") % {"time": date_format(localtime(reading.resets_at), "Y-m-d H:i T")}
    resets_at = reading.resets_at.isoformat() if reading.resets_at is not None else ""
    return {
        "id": f"{limit.scope}-{limit.metric}-{limit.period}",
        "name": name,
        "left": left,
        "resets": resets,
        "resets_at": resets_at,
    }


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
