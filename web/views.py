from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from relay.rules import allowed_models, default_model

login = LoginView.as_view(template_name="web/login.html", next_page="web:home")


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
