"""The two steps of the login through the provider: off to it (with state, nonce and PKCE), and back."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from sso import provider
from sso.services import SignInRefused

log = logging.getLogger(__name__)


def failure_page(request: HttpRequest, *, reason: str, status: int) -> HttpResponse:
    """A page that says the login did not work and why, in words for people, with a way back."""
    return render(
        request, "sso/failed.html", {"reason": reason, "provider": settings.OIDC_PROVIDER_NAME}, status=status
    )


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    """GET /sso/login/: a redirect to the provider's authorization endpoint."""

    def __init__(self, *args, **kwargs) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)  # no endpoint read yet
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.endpoint("authorization_endpoint")
        except provider.ProviderUnavailable as error:
            log.warning("Single sign-on: the provider is unavailable: %s", error)
            return failure_page(request, reason=_unavailable(), status=502)
        return super().get(request)


class AuthenticationCallbackView(OIDCAuthenticationCallbackView):
    """GET /sso/callback/: the provider sends the browser back here with a code, exchanged for the ID token."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            raise Http404
        try:
            return super().get(request)
        except SignInRefused as error:
            log.info("Single sign-on refused: %s", error)
            reason = _("The gateway refused the login: %(why)s.") % {"why": error}
            return failure_page(request, reason=reason, status=403)
        except (provider.ProviderUnavailable, requests.RequestException) as error:
            log.warning("Single sign-on: the provider is unavailable or refused the code: %s", error)
            return failure_page(request, reason=_unavailable(), status=502)
        except SuspiciousOperation as error:
            log.warning("Single sign-on: a login was refused: %s", error)
            return failure_page(request, reason=_expired(), status=400)

    def login_failure(self) -> HttpResponse:
        if self.request.GET.get("error"):  # the provider said no (the user cancelled, or is not allowed)
            reason = _("%(provider)s did not let you in (%(error)s).") % {
                "provider": settings.OIDC_PROVIDER_NAME,
                "error": self.request.GET["error"][:100],
            }
            return failure_page(self.request, reason=reason, status=403)
        return failure_page(self.request, reason=_expired(), status=400)


def _unavailable() -> str:
    return _("%(provider)s could not be reached, or did not answer as expected. Please try again in a while.") % {
        "provider": settings.OIDC_PROVIDER_NAME
    }


def _expired() -> str:
    return _("This login could not be checked: it may have expired or been used already. Please log in again.")
