"""Password guessing: failed logins are limited per client address and per username.

Every login that checks a password (`/token`, `/api/token/`, the admin's and the browsable API's login
pages) goes through `accounts.backends.ThrottledModelBackend`, in three steps:

1. `refuse_if_throttled` before the password is checked: an address or username with no failures left
   is refused at once, without hashing anything. This only reads, so right passwords arriving together
   (a classroom behind one NAT) hold nothing back from each other: only failures count.
2. A wrong password: `count_failure` takes one failure with a conditional UPDATE (`failures < limit`).
   When none is left, because parallel guesses took the last ones while this one was being checked,
   the answer is 429, not 401.
3. A right password: `login_succeeded` checks again (step 1) and lets it in only while failures are
   left, then remembers the address.

The bound, whatever the concurrency: per key and window at most `CHATGATEWAY_LOGIN_MAX_FAILURES` logins
are answered "wrong password", and a right password is let in only while fewer failures than that are
counted. Every other attempt gets 429, whether its password was right or wrong, so it tells a guesser
nothing. (Passwords are hashed for the attempts that arrive while failures are left, the ones in flight
included; those beyond the limit cost hashing time but give no answer.)

Policy for a username under attack from elsewhere: an address the user logged in from successfully
in the last CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS is not held back by the username's failures (only by
its own), so guessing at someone's password from other addresses does not lock them out for ever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import math
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts.exceptions import LoginThrottled
from accounts.models import KnownLoginAddress, LoginFailures

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address as the server saw it (uvicorn puts a trusted proxy's X-Forwarded-For there,
    FORWARDED_ALLOW_IPS); an IPv6 address stands for its /64, which one client usually holds whole."""
    raw = request.META.get("REMOTE_ADDR") or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:45]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def username_key(username: str) -> str:
    """The same key for every spelling of one username (Unicode forms, case), of bounded length."""
    normal = unicodedata.normalize("NFKC", username).casefold().strip()
    return "user:" + hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def refuse_if_throttled(*, address: str, username: str) -> None:
    """Raise LoginThrottled (with the seconds to wait) when the address, or the username from an address it
    is not known at, has no failures left. Reads only: attempts in flight take nothing."""
    now = timezone.now()
    LoginFailures.objects.filter(window_start__lte=now - _window()).delete()
    wait = _wait(f"addr:{address}", now=now)
    if wait:
        logger.warning("login refused for %d s: too many failures from %s", wait, address)
        raise LoginThrottled(wait=wait)
    user_key = username_key(username)
    wait = _wait(user_key, now=now)
    if wait and not _is_known(user_key, address, now=now):
        # The username is not logged: people type their password into the wrong field.
        logger.warning("login refused for %d s: too many failures for the username tried from %s", wait, address)
        raise LoginThrottled(wait=wait)


def count_failure(*, address: str, username: str) -> None:
    """A wrong password: count it against the address and the username (the username only from an address
    it is not known at, when its own failures are used up).

    Raises LoginThrottled when no failure is left to take: parallel guesses used them up while this
    password was being checked, and the answer must not say whether it was right.
    """
    now = timezone.now()
    address_key, user_key = f"addr:{address}", username_key(username)
    wait = _take(address_key, now=now)
    if wait:
        logger.warning("login refused for %d s: too many failures from %s", wait, address)
        raise LoginThrottled(wait=wait)
    wait = _take(user_key, now=now)
    if not wait or _is_known(user_key, address, now=now):
        return
    _give_back([address_key])
    logger.warning("login refused for %d s: too many failures for the username tried from %s", wait, address)
    raise LoginThrottled(wait=wait)


def login_succeeded(*, address: str, username: str) -> None:
    """A right password: let it in only if failures are still left (parallel guesses may have used the last
    ones while it was checked; else LoginThrottled), and remember the address as known for this username."""
    refuse_if_throttled(address=address, username=username)
    days = settings.CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS
    if days:
        now = timezone.now()
        KnownLoginAddress.objects.filter(last_success__lte=now - dt.timedelta(days=days)).delete()
        KnownLoginAddress.objects.update_or_create(
            key=_known_key(username_key(username), address), defaults={"last_success": now}
        )


def _wait(key: str, *, now: dt.datetime) -> int:
    """0 if `key` has failures left in its window, else the whole seconds until the window ends."""
    limit = settings.CHATGATEWAY_LOGIN_MAX_FAILURES
    start = LoginFailures.objects.filter(key=key, failures__gte=limit).values_list("window_start", flat=True).first()
    if start is None:
        return 0
    return max(1, math.ceil((start + _window() - now).total_seconds()))


def _take(key: str, *, now: dt.datetime) -> int:
    """One failure from `key`'s allowance: 0 if granted, else the whole seconds until its window ends."""
    limit = settings.CHATGATEWAY_LOGIN_MAX_FAILURES
    if LoginFailures.objects.filter(key=key, failures__lt=limit).update(failures=F("failures") + 1):
        return 0
    try:
        with transaction.atomic():
            LoginFailures.objects.create(key=key, window_start=now, failures=1)
        return 0
    except IntegrityError:  # it exists: full, or made by a parallel attempt a moment ago
        pass
    if LoginFailures.objects.filter(key=key, failures__lt=limit).update(failures=F("failures") + 1):
        return 0
    start = LoginFailures.objects.filter(key=key).values_list("window_start", flat=True).first() or now
    return max(1, math.ceil((start + _window() - now).total_seconds()))


def _give_back(keys: list[str]) -> None:
    LoginFailures.objects.filter(key__in=keys, failures__gt=0).update(failures=F("failures") - 1)


def _is_known(user_key: str, address: str, *, now: dt.datetime) -> bool:
    days = settings.CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS
    since = now - dt.timedelta(days=days)
    return (
        bool(days)
        and KnownLoginAddress.objects.filter(key=_known_key(user_key, address), last_success__gt=since).exists()
    )


def _known_key(user_key: str, address: str) -> str:
    return f"{user_key}|{address}"


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.CHATGATEWAY_LOGIN_WINDOW_SECONDS)
