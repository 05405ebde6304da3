"""Typed readers for environment variables: a bad value fails loudly, naming the variable."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def envfloat(name: str, default: float, *, minimum: float = 0.0, or_zero: bool = False) -> float:
    """A number greater than `minimum` (or 0, if `or_zero`: a setting that 0 turns off)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if number <= minimum and not (or_zero and number == 0):
        raise ImproperlyConfigured(f"{name} must be greater than {minimum}, not {number}")
    return number


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envgroupmap(name: str) -> dict[str, dict]:
    """A JSON object mapping a group's name to what it gives: {"plan": "…"}, {"staff": true}, {"superuser": true},
    {"team": "…"} (see sso/services.py)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return {}
    try:
        mapping = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a JSON object, not {value!r}") from None
    allowed = {"plan": str, "team": str, "staff": bool, "superuser": bool}
    if not isinstance(mapping, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object of group names")
    for group, grants in mapping.items():
        if not isinstance(grants, dict) or any(
            key not in allowed or not isinstance(grant, allowed[key]) for key, grant in grants.items()
        ):
            raise ImproperlyConfigured(
                f"{name}: the group {group!r} must map to an object of plan (a name), team (a name), "
                f"staff (true/false) and superuser (true/false), not {grants!r}"
            )
    return mapping


def envchoice(name: str, default: str, choices: set[str]) -> str:
    value = (os.environ.get(name) or "").strip().lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(sorted(choices))}, not {value!r}")
    return value


def envcurrency(name: str, default: str) -> str:
    """An ISO 4217 currency code: three capital letters (USD, CNY, EUR…)."""
    value = (os.environ.get(name) or "").strip() or default
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ImproperlyConfigured(f"{name} must be a currency's ISO 4217 code, three capital letters, not {value!r}")
    return value


def envnetworks(name: str) -> list[str]:
    """Comma-separated IP addresses or networks (`10.0.0.0/8`), each checked; as given."""
    items = envlist(name, [])
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or network") from None
    return items


# The keywords a CSP source list may hold, which the header writes quoted; .env files strip quotes, so either is taken.
_CSP_KEYWORDS = {"self", "none"}


def envcsp(name: str, default: list[str]) -> list[str]:
    """A Content-Security-Policy source list: origins (https://sso.example.org), schemes (https:), and the
    keywords self and none, quoted or not; comma-separated. 'none' stands alone, as the header requires."""
    sources = []
    for item in envlist(name, default):
        bare = item.strip("'").lower()
        if bare in _CSP_KEYWORDS:
            sources.append(f"'{bare}'")
        elif item.startswith("'") or " " in item or ";" in item:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an origin, a scheme, self or none")
        else:
            sources.append(item)
    if "'none'" in sources and len(sources) > 1:
        raise ImproperlyConfigured(f"{name}: none can't be listed with other sources")
    return sources


def envfernetkeys(name: str) -> list[str]:
    """Comma-separated Fernet keys (32 url-safe base64-encoded bytes each), in order."""
    keys = envlist(name, [])
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def derived_fernet_key(secret: str) -> str:
    """A Fernet key derived from `secret` (DJANGO_SECRET_KEY), for development only."""
    digest = hashlib.sha256(b"chatgateway provider keys\0" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def development_secret(path: Path) -> str:
    """A random secret made once per checkout and kept in `path`, so that no two installs share one.

    Made atomically (written aside, then hard-linked into place), since several server processes
    may start at once.
    """
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(50))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def is_development_secret(secret: str, path: Path) -> bool:
    """Whether `secret` is this checkout's development secret (kept in `path`) or one of Django's
    `django-insecure-` placeholders: either would let anyone who has seen it sign sessions or tokens."""
    return secret.startswith("django-insecure-") or (path.exists() and secret == path.read_text().strip())
