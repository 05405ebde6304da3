from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.login_throttle import client_address, count_failure, login_succeeded, refuse_if_throttled
from accounts.models import User


class ThrottledModelBackend(ModelBackend):
    """Django's username and password check, behind the login throttle (accounts.login_throttle).

    Every password login goes through here, whatever the page, so no login form escapes the throttle.
    Raises LoginThrottled, which DRF answers with 429 and accounts.middleware answers for other pages.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:  # no client to hold back (shell, commands)
            return self._password_login_allowed(
                super().authenticate(request, username=username, password=password, **kwargs)
            )
        address = client_address(request)
        refuse_if_throttled(address=address, username=username)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            count_failure(address=address, username=username)
        else:
            login_succeeded(address=address, username=username)
        return self._password_login_allowed(user)

    @staticmethod
    def _password_login_allowed(user: User | None) -> User | None:
        # CHATGATEWAY_PASSWORD_LOGIN off: the right password still lets only superusers in (the way back in
        # when the provider is down); everyone else signs in through it. Counted as a success by the throttle:
        # the password was right, and saying otherwise would not make it wrong.
        if user is not None and not settings.CHATGATEWAY_PASSWORD_LOGIN and not user.is_superuser:
            return None
        return user

    async def aauthenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        # ModelBackend's own aauthenticate checks the password without calling authenticate(), so the async
        # login path (django.contrib.auth.aauthenticate) would skip the throttle. The throttle's steps are
        # synchronous database work; run the one throttled path, in a thread, rather than a second copy of it.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)
