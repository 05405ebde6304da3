"""ChatGateway settings: every value the environment can change is read here, and only here.

Each variable is listed with its default in `.env.example` and in the README.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from chatgateway.env import (
    derived_fernet_key,
    development_secret,
    envbool,
    envchoice,
    envcsp,
    envcurrency,
    envfernetkeys,
    envfloat,
    envgroupmap,
    envint,
    envlist,
    envnetworks,
    envstr,
    is_development_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env", override=False)

# --- Core -----------------------------------------------------------------------------------------
DEBUG = envbool("DEBUG", True)

# Production brings its own secret. In development a random one is made once per checkout
# (.dev-secret-key, ignored by git): a secret written in the repository would let anyone sign tokens.
SECRET_KEY = envstr("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = development_secret(BASE_DIR / ".dev-secret-key")
elif not DEBUG and is_development_secret(SECRET_KEY, BASE_DIR / ".dev-secret-key"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is a development secret; production needs a secret of its own.")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# CORS (django-cors-headers, through core/cors.py): browser applications on these origins may call /v1 with
# a key. None by default. Bearer credentials only: no cookies are allowed, so no session rides along.
CORS_ALLOWED_ORIGINS = envlist("CHATGATEWAY_CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/v1/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    # What the official JavaScript SDK sends from a browser (dangerouslyAllowBrowser).
    "openai-organization",
    "openai-project",
    "x-stainless-arch",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
    "x-chatgateway-team",  # the team a request draws on (teams.services.HEADER)
)
CORS_EXPOSE_HEADERS = (
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-limit-cost",
    "x-ratelimit-remaining-cost",
    "x-ratelimit-reset-cost",
    "x-ratelimit-cost-currency",
    "x-chatgateway-limit",
    "x-should-retry",
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",  # django-csp: its system checks (a setting in its 3.x format is an error, csp.E001)
    "corsheaders",  # django-cors-headers: CORS for /v1 (core/cors.py), and its checks of the CORS_ settings
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",  # POST /api/token/blacklist/ (log out a refresh token)
    "chatgateway",
    "core",
    "accounts",
    "teams",
    "quota",
    "relay",
    "chatapi",
    "apikeys",
    "conversations",
    "usage",
    "web",
    "providers",
    "sso",
]

MIDDLEWARE = [
    "core.cors.CorsMiddleware",  # first, so that a preflight is answered before anything else runs
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # the pages' Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.adminquery.RefuseNulInAdminQueries",  # 400 for a NUL in an admin query, which SQL can't hold
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.locale.LocaleMiddleware",  # after sessions, before common (Django's order)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "quota.middleware.DailyQuotaResetMiddleware",
    "accounts.middleware.LoginThrottleMiddleware",
]
if envbool("CHATGATEWAY_METRICS", True):
    # The route and the credential of each request, for the metrics' labels (core/metrics.py); both lanes.
    MIDDLEWARE.insert(0, "core.metrics.NoteRoute")

# The relay's lane (/v1/…, /api: core/lanes.py) runs every middleware above except these, each with the
# reason those endpoints do without it. A middleware added above runs on both lanes unless it is named here;
# the system check core.E001 refuses one the relay's lane could not run (docs/architecture.md).
MIDDLEWARE_FULL_LANE_ONLY = {
    "csp.middleware.CSPMiddleware": "the relay answers JSON and event streams, which no browser runs as a page; "
    "a policy built for each of them would be work on the hot path for nothing",
    "whitenoise.middleware.WhiteNoiseMiddleware": "static files are not under the relay's paths",
    "core.adminquery.RefuseNulInAdminQueries": "the admin is not on the relay's paths",
    "django.contrib.sessions.middleware.SessionMiddleware": "the relay's endpoints take bearer credentials only",
    "django.middleware.common.CommonMiddleware": "the relay's lane checks ALLOWED_HOSTS itself; its paths "
    "need no slash added",
    "django.middleware.csrf.CsrfViewMiddleware": "no cookies are read, so there is no CSRF to stop",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "DRF authenticates the bearer credentials",
    "django.contrib.messages.middleware.MessageMiddleware": "messages are shown by pages, not APIs",
    "quota.middleware.DailyQuotaResetMiddleware": "the reservation starts a stale day afresh itself",
    "accounts.middleware.LoginThrottleMiddleware": "logins are not on the relay's lane",
}

ROOT_URLCONF = "chatgateway.urls"
WSGI_APPLICATION = "chatgateway.wsgi.application"
ASGI_APPLICATION = "chatgateway.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Our versions of other packages' templates (DRF's browsable API pages), found before theirs.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sso.context_processors.sso",  # the log-in pages' "Log in with …" link
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several server processes write the quota table at once: writers queue for the lock
    # (IMMEDIATE transactions, a generous busy timeout) instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too: an in-memory database is shared between the live server's threads
    # through one cache whose table locks ignore the busy timeout, unlike any real deployment.
    # One file per test run (the process id), so that two runs in one checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per server process: a request borrows a connection for each database step and gives it
    # back at once (the relay releases it between steps), so many open streams share a few connections.
    # 0 turns the pool off (each step then opens a connection of its own, or keeps one per
    # DATABASE_CONN_MAX_AGE, which a pool excludes).
    POOL_MAX_SIZE = envint("DATABASE_POOL_MAX_SIZE", 10, minimum=0)
    if POOL_MAX_SIZE and not DATABASES["default"]["CONN_MAX_AGE"]:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": POOL_MAX_SIZE,
            "timeout": envfloat("DATABASE_POOL_TIMEOUT", 10.0),  # seconds to wait for a free connection
            # psycopg retries a lost server with doubling pauses (1, 2, 4, … s) for up to this long, then
            # starts afresh on the next request: after a database restart the gateway serves again within
            # seconds, not after a pause that grew all through the outage (its default is 300 s).
            "reconnect_timeout": 5.0,
        }
        # Django's backend, checking a lent connection only when it was not lent a moment ago (a round trip
        # for each database step of a request otherwise): core/postgresql/base.py.
        DATABASES["default"]["ENGINE"] = "core.postgresql"
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# A transaction must never stay open across a call upstream, which takes seconds.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# The threads that run the async relay's database steps (core/db.py), per process: as many as
# the pool has connections when a PostgreSQL pool is on (more would only wait for one); otherwise 16, so
# that reads are not queued behind a few writes waiting for SQLite's lock. Threads start when needed.
DATABASE_THREADS = envint(
    "DATABASE_THREADS",
    DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get("max_size") or 16,
    minimum=1,
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Every password login passes the login throttle (accounts.login_throttle).
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend", "sso.backends.OIDCBackend"]
# Off: only superusers may log in with a password (pages, /token, /api/token/); everyone else through SSO.
CHATGATEWAY_PASSWORD_LOGIN = envbool("CHATGATEWAY_PASSWORD_LOGIN", True)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")  # daily quotas reset at midnight in this zone
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# In development whitenoise serves the apps' static files straight from their folders (no
# collectstatic), since `make run` serves through uvicorn, which has no static files of its own.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Until `collectstatic` has run (production does it), whitenoise finds files through the finders.
warnings.filterwarnings("ignore", message="No directory at: ")
# Under ASGI Django reads whitenoise's (synchronous) static files whole before sending them, and
# warns each time; for stylesheets and scripts of a few kilobytes that is fine. The relay's own
# streams are asynchronous and never read whole.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# --- Content-Security-Policy (django-csp 4; docs/security.md) --------------------------------------
# Pages may run and style with the gateway's own files only: no inline script, event handler or style, nothing
# from another site. Images: the gateway's, and data: URLs (the chat page's empty favicon, the admin's and
# Swagger UI's icons). Forms post only to the gateway, and no other site may frame a page.
# CSP_FORM_ACTION adds origins forms may post (or be redirected) to, e.g. a single sign-on provider's;
# CSP_FRAME_ANCESTORS replaces none (e.g. self, to let the gateway's own pages frame it). They are read straight
# into the policy: settings of those names were django-csp 3's, which 4 refuses (csp.E001).
_csp_form_action = envcsp("CSP_FORM_ACTION", [])
if "'none'" in _csp_form_action:
    raise ImproperlyConfigured("CSP_FORM_ACTION adds to self: list origins, not none.")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": list(dict.fromkeys(["'self'", *_csp_form_action])),
        "frame-ancestors": envcsp("CSP_FRAME_ANCESTORS", ["none"]),
    },
}

# --- Security behind a proxy ----------------------------------------------------------------------
if envbool("SECURE_PROXY_SSL", False):
    # Which requests came over HTTPS is the scheme uvicorn gives Django (`manage.py serve`): the proxy's
    # X-Forwarded-Proto, believed from FORWARDED_ALLOW_IPS only. Django's own SECURE_PROXY_SSL_HEADER stays
    # unset: it would believe that header from anyone who reaches the gateway directly.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Behind TLS, everything is HTTPS: plain-HTTP requests are redirected (all but /healthz, which the
    # container's and load balancers' health checks call over plain HTTP) and browsers are told to keep
    # to HTTPS (HSTS). `preload` is only consent to be listed by browsers; nothing happens unless the
    # domain's owner submits it at hstspreload.org. 0 turns HSTS off.
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first: they take only bearer credentials starting with "sk-" and leave every other to
    # JWT. A bearer scheme comes first so that a request without credentials gets 401 with
    # WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikeys.authentication.APIKeyAuthentication",
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",  # in the shape of the path's API (core/apis.py)
    # Accept: text/event-stream is served, and credentials are checked before a 406 (core/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.EventStreamNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Tokens are signed with a key of their own when JWT_SIGNING_KEY is set: rotating it ends every token
# and nothing else (DJANGO_SECRET_KEY also signs sessions and password-reset links).
JWT_SIGNING_KEY = envstr("JWT_SIGNING_KEY") or SECRET_KEY
if not DEBUG and is_development_secret(JWT_SIGNING_KEY, BASE_DIR / ".dev-secret-key"):
    raise ImproperlyConfigured("JWT_SIGNING_KEY is a development secret; production needs a key of its own.")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(days=envint("JWT_ACCESS_TOKEN_DAYS", 30, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=envint("JWT_REFRESH_TOKEN_DAYS", 60, minimum=1)),
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer", "bearer"),  # the scheme is case-insensitive (RFC 9110)
    "UPDATE_LAST_LOGIN": False,
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "accounts.tokens.TokenVerifySerializer",
}

# --- Password guessing (accounts.login_throttle) ---------------------------------------------------
# Failed logins allowed per client address and per username in each window; past them, 429.
CHATGATEWAY_LOGIN_MAX_FAILURES = envint("CHATGATEWAY_LOGIN_MAX_FAILURES", 5, minimum=1)
CHATGATEWAY_LOGIN_WINDOW_SECONDS = envint("CHATGATEWAY_LOGIN_WINDOW_SECONDS", 60, minimum=1)
# An address a user logged in from within this many days is not locked out by failures for their
# username from elsewhere (only by its own); 0: no exception.
CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS = envint("CHATGATEWAY_LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=0)

# --- API keys -------------------------------------------------------------------------------------
# A key's last_used is written at most once in this many seconds, so that using a key is not a write
# on every request; 0 writes it every time.
CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY = envint("CHATGATEWAY_API_KEY_LAST_USED_GRANULARITY", 60, minimum=0)
# Usable (neither revoked nor expired) keys a user may hold at once.
CHATGATEWAY_MAX_API_KEYS_PER_USER = envint("CHATGATEWAY_MAX_API_KEYS_PER_USER", 20, minimum=1)

# --- Quotas and the relay -------------------------------------------------------------------------
CHATGATEWAY_DAILY_LIMIT = envint("CHATGATEWAY_DAILY_LIMIT", 10, minimum=0)
# Tokens a day for users without a plan or a limit of their own; 0 (the default): unlimited.
CHATGATEWAY_DAILY_TOKEN_LIMIT = envint("CHATGATEWAY_DAILY_TOKEN_LIMIT", 0, minimum=0) or None
# Completion tokens reserved for a request that sets no max_tokens, where a token limit applies.
CHATGATEWAY_COMPLETION_RESERVE = envint("CHATGATEWAY_COMPLETION_RESERVE", 4096, minimum=1)
# The day weekly limits (quota.Limit) start on: 0 Monday … 6 Sunday; their periods, like the others, are
# calendar ones in TIME_ZONE.
CHATGATEWAY_WEEK_STARTS_ON = envint("CHATGATEWAY_WEEK_STARTS_ON", 0, minimum=0)
if CHATGATEWAY_WEEK_STARTS_ON > 6:
    raise ImproperlyConfigured("CHATGATEWAY_WEEK_STARTS_ON is a day of the week: 0 (Monday) to 6 (Sunday).")
# Keep prompt and answer text in usage records (off: only counts are kept).
CHATGATEWAY_STORE_TEXT = envbool("CHATGATEWAY_STORE_TEXT", False)
# Longest prompt in characters: a cheap guard before any estimate (token and cost limits bound the spend).
# Large enough for coding agents (Codex CLI sends about 33,000 characters with every request).
CHATGATEWAY_MAX_PROMPT_CHARS = envint("CHATGATEWAY_MAX_PROMPT_CHARS", 200_000, minimum=1)
CHATGATEWAY_MAX_MESSAGES = envint("CHATGATEWAY_MAX_MESSAGES", 100, minimum=1)
# Whether a /v1/embeddings call takes one of the day's requests. On by default: with no token limit (the
# default), tokens bound nothing, and an embeddings call that took no request would be unlimited. Off, a
# retrieval index (thousands of calls) is bounded by the token limit alone: for users who have one.
CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS = envbool("CHATGATEWAY_EMBEDDINGS_COUNT_AS_REQUESTS", True)
# Send `store: false` with every /v1/responses request, and keep no translated response either: nothing of a
# conversation stays at the provider or in the gateway (previous_response_id and GET by id then find nothing).
CHATGATEWAY_RESPONSES_FORCE_NO_STORE = envbool("CHATGATEWAY_RESPONSES_FORCE_NO_STORE", False)
# Inputs in one /v1/embeddings call (OpenAI's own limit); each is bounded by CHATGATEWAY_MAX_PROMPT_CHARS.
CHATGATEWAY_MAX_EMBEDDING_INPUTS = envint("CHATGATEWAY_MAX_EMBEDDING_INPUTS", 2048, minimum=1)
# Bodies past this get 413 (Django's own limit, applied before any parsing).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("CHATGATEWAY_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
# JSON nested deeper than this gets 400 where it is parsed (core/parsers.py), before anything recurses into it.
CHATGATEWAY_MAX_JSON_DEPTH = envint("CHATGATEWAY_MAX_JSON_DEPTH", 64, minimum=1)
# Request headers past this many bytes in all (names and values) get 431 (core/bodylimit.py).
CHATGATEWAY_MAX_HEADER_BYTES = envint("CHATGATEWAY_MAX_HEADER_BYTES", 16 * 1024, minimum=1024)
# The one currency of prices and costs (core/money.py): costs are kept in nano-units of it, and each usage
# record keeps the currency it was charged in. The shipped price table (fixtures/prices.json) is in USD.
CHATGATEWAY_CURRENCY = envcurrency("CHATGATEWAY_CURRENCY", "USD")
CHATGATEWAY_MODEL = envstr("CHATGATEWAY_MODEL", "gpt-4o-mini")
CHATGATEWAY_MODELS = envlist("CHATGATEWAY_MODELS", [CHATGATEWAY_MODEL])
if CHATGATEWAY_MODEL not in CHATGATEWAY_MODELS:
    raise ImproperlyConfigured("CHATGATEWAY_MODELS must include CHATGATEWAY_MODEL.")
# Where a relay's quota settlement and usage record wait when the database fails after the upstream
# answered (relay/outbox.py), and how often they are retried.
CHATGATEWAY_OUTBOX_DIR = Path(envstr("CHATGATEWAY_OUTBOX_DIR", str(BASE_DIR / "outbox")))
CHATGATEWAY_OUTBOX_RETRY_SECONDS = envfloat("CHATGATEWAY_OUTBOX_RETRY_SECONDS", 2.0)

# --- Conversations kept by the gateway (/api/conversations/) ---------------------------------------
# The history sent upstream with a new message, in estimated tokens (relay/estimates.py): the oldest
# messages are left out first; the system prompt and the new message are always sent.
CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = envint("CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS", 4000, minimum=1)
CHATGATEWAY_CONVERSATIONS_PAGE_SIZE = envint("CHATGATEWAY_CONVERSATIONS_PAGE_SIZE", 20, minimum=1)
# Starting a conversation costs no quota, so what a user may keep, and how fast they may start them, is
# capped (conversations/services.py). Messages are bounded by the quota: each is a relayed request.
CHATGATEWAY_MAX_CONVERSATIONS_PER_USER = envint("CHATGATEWAY_MAX_CONVERSATIONS_PER_USER", 1000, minimum=1)
CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER = envint(
    "CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER", 2_000_000, minimum=1
)
CHATGATEWAY_CONVERSATIONS_PER_MINUTE = envint("CHATGATEWAY_CONVERSATIONS_PER_MINUTE", 30, minimum=1)

# With no OPENAI_API_KEY the gateway talks to the bundled development upstream
# (`python -m devtools.devupstream`), whose answers are canned, not a real model's.
DEV_UPSTREAM_PORT = envint("DEV_UPSTREAM_PORT", 8001, minimum=1)
DEV_UPSTREAM_KEY = "dev-upstream-key"  # rungateway starts it with this key; no secret, it is a local fake
USE_DEV_UPSTREAM = envstr("OPENAI_API_KEY") is None
OPENAI_API_KEY = DEV_UPSTREAM_KEY if USE_DEV_UPSTREAM else envstr("OPENAI_API_KEY")
OPENAI_BASE_URL = envstr("OPENAI_BASE_URL", f"http://127.0.0.1:{DEV_UPSTREAM_PORT}/v1" if USE_DEV_UPSTREAM else None)
OPENAI_TIMEOUT = envfloat(
    "OPENAI_TIMEOUT", 60.0
)  # seconds for an answer or a first chunk, retries included; and the longest pause inside a stream
OPENAI_MAX_RETRIES = envint("OPENAI_MAX_RETRIES", 2, minimum=0)
# The longest a relayed request may last: a stream still running then ends with an error event, and
# counts with what it sent (relay/streams.py). A non-streamed request is bounded by OPENAI_TIMEOUT.
CHATGATEWAY_MAX_REQUEST_SECONDS = envfloat("CHATGATEWAY_MAX_REQUEST_SECONDS", 600.0)
if CHATGATEWAY_MAX_REQUEST_SECONDS < OPENAI_TIMEOUT:
    raise ImproperlyConfigured("CHATGATEWAY_MAX_REQUEST_SECONDS must be at least OPENAI_TIMEOUT.")
# Each reservation is a lease (quota/leases.py) that expires this long after it was taken: longer than
# any request may last (the longest stream, plus the longest pause inside one), so that only the lease
# of a lost request (its process killed, its host gone) ever expires. Each server process looks for
# lost ones every CHATGATEWAY_LEASE_SWEEP_SECONDS (0: this process doesn't; a reservation about to be
# refused still looks at once).
CHATGATEWAY_LEASE_SECONDS = envfloat("CHATGATEWAY_LEASE_SECONDS", CHATGATEWAY_MAX_REQUEST_SECONDS + OPENAI_TIMEOUT + 60)
if CHATGATEWAY_LEASE_SECONDS <= CHATGATEWAY_MAX_REQUEST_SECONDS + OPENAI_TIMEOUT:
    raise ImproperlyConfigured(
        "CHATGATEWAY_LEASE_SECONDS must be longer than CHATGATEWAY_MAX_REQUEST_SECONDS + OPENAI_TIMEOUT."
    )
CHATGATEWAY_LEASE_SWEEP_SECONDS = envfloat("CHATGATEWAY_LEASE_SWEEP_SECONDS", 30.0, or_zero=True)

# --- Providers, their keys and models (providers/, docs/providers.md) --------------------------------
# Fernet keys, comma-separated, that encrypt the providers' keys stored in the database: the first encrypts,
# every one decrypts (rotation: add the new key first, run `manage.py rotate_provider_keys`, drop the old).
# Development only: with DEBUG on and none set, one is derived from DJANGO_SECRET_KEY. With DEBUG off and
# keys stored, none set is a system check error (providers.E001).
CHATGATEWAY_KEY_ENCRYPTION_KEYS = envfernetkeys("CHATGATEWAY_KEY_ENCRYPTION_KEYS")
if not CHATGATEWAY_KEY_ENCRYPTION_KEYS and DEBUG:
    CHATGATEWAY_KEY_ENCRYPTION_KEYS = [derived_fernet_key(SECRET_KEY)]
# A providers.yaml that `make run` and `make serve` apply at start (manage.py sync_providers), if set.
CHATGATEWAY_PROVIDERS_FILE = envstr("CHATGATEWAY_PROVIDERS_FILE")
# How often each server process looks whether an administrator changed the providers (one primary-key read;
# 0: this process doesn't, and sees only its own changes).
CHATGATEWAY_PROVIDERS_REFRESH_SECONDS = envfloat("CHATGATEWAY_PROVIDERS_REFRESH_SECONDS", 1.0, or_zero=True)
# A deployment failing this many times in a row (connection, timeout, 5xx, 429) rests for the cooldown, then
# one request probes it (relay/upstream/routing.py); per server process.
CHATGATEWAY_BREAKER_FAILURES = envint("CHATGATEWAY_BREAKER_FAILURES", 3, minimum=1)
CHATGATEWAY_BREAKER_COOLDOWN_SECONDS = envfloat("CHATGATEWAY_BREAKER_COOLDOWN_SECONDS", 30.0)
# On: responses carry `x-chatgateway-provider`, the name of the provider that answered. Off: clients never
# learn which provider it was.
CHATGATEWAY_EXPOSE_PROVIDER = envbool("CHATGATEWAY_EXPOSE_PROVIDER", False)

# --- `make run` (manage.py rungateway) and `make serve` (manage.py serve) serve on HOST:PORT -------
RUN_HOST = envstr("HOST", "127.0.0.1")
RUN_PORT = envint("PORT", 8000, minimum=1)
# `make serve` only: uvicorn worker processes (WEB_CONCURRENCY, as uvicorn and most platforms call it).
WEB_WORKERS = envint("WEB_CONCURRENCY", 2, minimum=1)
ACCESS_LOG = envbool("ACCESS_LOG", True)
FORWARDED_ALLOW_IPS = envstr("FORWARDED_ALLOW_IPS", "127.0.0.1")
KEEP_ALIVE_SECONDS = envint("KEEP_ALIVE_SECONDS", 5, minimum=1)

# --- Metrics (GET /metrics, core/metrics.py, docs/metrics.md) ------------------------------------
# Off, no request is counted and /metrics is a 404 (the cost of counting: docs/performance.md).
CHATGATEWAY_METRICS = envbool("CHATGATEWAY_METRICS", True)
# Who may scrape: a bearer token, and/or client addresses (comma-separated addresses or networks). Each one
# set is required; with neither set, /metrics is a 404, as if it did not exist.
CHATGATEWAY_METRICS_TOKEN = envstr("CHATGATEWAY_METRICS_TOKEN", "")
CHATGATEWAY_METRICS_ALLOWED_IPS = envnetworks("CHATGATEWAY_METRICS_ALLOWED_IPS")
# `serve` and `rungateway`: where the worker processes keep their counts (emptied at start); unset,
# `chatgateway-metrics-<port>` in the system's temporary directory.
CHATGATEWAY_METRICS_DIR = envstr("CHATGATEWAY_METRICS_DIR", "")

# --- Logging: one line per event; no stack trace, exception text, body or credential -------------
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
# `json`: one JSON object a line, for log collectors (core/logfilters.py); `text`: for people.
LOG_FORMAT = envchoice("LOG_FORMAT", "text", {"text", "json"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "core.logfilters.JsonLines"},
    },
    "filters": {
        "one_line": {"()": "core.logfilters.OneLineErrors"},
        "request_id": {"()": "core.requestid.RequestIdFilter"},  # each line says which request wrote it
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["one_line", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The HTTP clients log every request line at INFO; keep them quiet unless asked.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        # Its retries while the database is gone are several lines each; the gateway logs the outage itself.
        "psycopg.pool": {"level": "ERROR"},
    },
}

# --- Languages and the web chat page --------------------------------------------------------------
# The page and the API's messages follow the browser's Accept-Language, or the language picked on the
# page (set_language's cookie); /v1 answers in English whatever is asked (core/locale.py).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LOGIN_URL = "web:home"  # the chat page at / is its own log-in form
LOGIN_REDIRECT_URL = "web:home"

# --- Single sign-on: OpenID Connect (mozilla-django-oidc; sso/, README "Single sign-on") -----------
# Off unless OIDC_ISSUER is set. Endpoints left empty are read from the issuer's discovery document
# ({OIDC_ISSUER}/.well-known/openid-configuration) the first time they are needed, then kept.
OIDC_ISSUER = (envstr("OIDC_ISSUER", "") or "").rstrip("/")
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_PROVIDER_NAME = envstr("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_RP_CLIENT_ID = envstr("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = envstr("OIDC_CLIENT_SECRET", "")
if OIDC_ENABLED and not OIDC_RP_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_CLIENT_ID must be set when OIDC_ISSUER is.")
OIDC_RP_SCOPES = " ".join(envlist("OIDC_SCOPES", ["openid", "email", "profile"]))
OIDC_OP_AUTHORIZATION_ENDPOINT = envstr("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = envstr("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = envstr("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = envstr("OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = "RS256"  # the ID token's signature, checked with the provider's JWKS
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_TIMEOUT = envfloat("OIDC_TIMEOUT", 10.0)
OIDC_USERNAME_CLAIM = envstr("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_EMAIL_CLAIM = envstr("OIDC_EMAIL_CLAIM", "email")
OIDC_GROUPS_CLAIM = envstr("OIDC_GROUPS_CLAIM", "groups")
OIDC_CREATE_USER = envbool("OIDC_CREATE_USERS", True)  # off: only users who already exist may log in
# {"students": {"plan": "student"}, "ta": {"staff": true}, "admins": {"superuser": true}}; empty: no mapping.
OIDC_GROUP_MAP = envgroupmap("OIDC_GROUP_MAP")
OIDC_AUTHENTICATE_CLASS = "sso.views.AuthenticationRequestView"
OIDC_CALLBACK_CLASS = "sso.views.AuthenticationCallbackView"
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"

# --- OpenAPI schema (drf-spectacular): /api/schema/, and Swagger UI at /api/docs/ -----------------
# Swagger UI's scripts come from drf-spectacular-sidecar, served by whitenoise: no CDN, so the docs
# work on a gateway without internet access.
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "ChatGateway API",
    "DESCRIPTION": (
        "Three APIs over one quota: the original ChatAPI (`/token`, `/api`), the REST API (`/api/...`) "
        "and the OpenAI-compatible API (`/v1/...`). See docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,  # the schema does not describe itself
    "SERVE_AUTHENTICATION": [],  # public, whatever credentials a browser happens to send
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["core.openapi.one_path_per_endpoint"],
    # Requests and responses get components of their own: a response never requires a write-only field.
    "COMPONENT_SPLIT_REQUEST": True,
}
