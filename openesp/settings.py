"""openesp settings: one module, every value from the environment through typed helpers.

With no configuration at all openesp runs on SQLite in ``OPENESP_DATA_DIR`` (default ``./var``),
creating its database, secret-key file and encryption-key file there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.translation import gettext_lazy as _

from openesp.lib.datadir import encryption_keys_file, ensure_dir, read_keys, secret_key_from_file
from openesp.lib.env import (
    ConfigError,
    envbool,
    envfloat,
    envint,
    envlist,
    envnetworks,
    envseconds,
    envsecret,
    envstr,
    envwindow,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = ensure_dir(Path(envstr("OPENESP_DATA_DIR", "var")).resolve())

DEBUG = envbool("OPENESP_DEBUG", False)
SECRET_KEY = envsecret("OPENESP_SECRET_KEY") or secret_key_from_file(DATA_DIR)

_encryption_keys = envsecret("OPENESP_ENCRYPTION_KEYS")
OPENESP_ENCRYPTION_KEYS: list[str] = read_keys(
    _encryption_keys or encryption_keys_file(DATA_DIR).read_text(encoding="utf-8")
)
OPENESP_ENCRYPTION_KEYS_FROM_FILE = not _encryption_keys

OPENESP_BASE_URL = envstr("OPENESP_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Unset, ``openesp serve`` makes the base URL the address it listens on (--host/--port), so that
# links in mail point at the server that is actually running.
OPENESP_BASE_URL_FROM_ENV = bool(envstr("OPENESP_BASE_URL"))
_base = urlsplit(OPENESP_BASE_URL)
if _base.scheme not in {"http", "https"} or not _base.hostname:
    raise ConfigError(f"OPENESP_BASE_URL: expected an http(s) URL, got {OPENESP_BASE_URL!r}")
ALLOWED_HOSTS = envlist("OPENESP_ALLOWED_HOSTS", [_base.hostname, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _base.scheme == "https"
# The mail domain names our Message-IDs and the default system sender.
OPENESP_MAIL_DOMAIN = envstr("OPENESP_MAIL_DOMAIN", _base.hostname if "." in _base.hostname else "openesp.local")
OPENESP_SYSTEM_FROM = envstr("OPENESP_SYSTEM_FROM", f"no-reply@{OPENESP_MAIL_DOMAIN}")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django-ninja's own static files (Swagger UI): with the app installed, /api/docs loads them
    # from openesp itself instead of a CDN, so the docs work on a machine without internet.
    "ninja",
    "openesp.lib",
    "openesp.accounts",
    "openesp.esp",
    "openesp.messaging",
    "openesp.audience",
    "openesp.campaigns",
    "openesp.events",
    "openesp.stats",
    "openesp.tracking",
    "openesp.hooksout",
    "openesp.delivery",
    "openesp.api",
    "openesp.smtpd",
    "openesp.front",
    "openesp.ops",
    "openesp.compat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "openesp.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "openesp.api.middleware.ApiMethodNotAllowedMiddleware",
]

ROOT_URLCONF = "openesp.urls"
WSGI_APPLICATION = "openesp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "openesp.front.context.base_url_mismatch",
            ],
        },
    },
]

_database_url = envstr("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"].setdefault("OPTIONS", {})
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "openesp.sqlite3"),
            "OPTIONS": {},
            # Kept open between requests, as PostgreSQL's: opening SQLite and running the
            # PRAGMAs below on every API request cost more than the request's own insert.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; synchronous=FULL makes a commit durable
    # before we acknowledge it (a 202/250 must never be lost). IMMEDIATE transactions take
    # the write lock up front, so two writers queue instead of failing with "database is locked".
    # Checkpoints are left to a thread of `openesp serve` (openesp.lib.walcheckpoint); a
    # connection checkpoints by itself only once the log holds 10,000 pages (40 MB).
    DATABASES["default"]["OPTIONS"].update(
        {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                "PRAGMA wal_autocheckpoint=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
_test_db_name = envstr("OPENESP_TEST_DATABASE_NAME")
if _test_db_name:
    DATABASES["default"]["TEST"] = {"NAME": _test_db_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("sv", _("Swedish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
# English dates as the rest of the pages write them (2026-12-05 07:22), not 12/05/2026.
FORMAT_MODULE_PATH = ["openesp.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = ensure_dir(DATA_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the package in the all-in-one process: no collectstatic step needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Standard providers run by the operator -------------------------------------------------
OPENESP_SENDGRID_API_KEY = envsecret("OPENESP_SENDGRID_API_KEY")
OPENESP_SENDGRID_API_URL = envstr("OPENESP_SENDGRID_API_URL", "https://api.sendgrid.com").rstrip("/")
OPENESP_SENDGRID_SENDING_DOMAIN = envstr("OPENESP_SENDGRID_SENDING_DOMAIN")
OPENESP_MAILJET_API_KEY = envsecret("OPENESP_MAILJET_API_KEY")
OPENESP_MAILJET_SECRET_KEY = envsecret("OPENESP_MAILJET_SECRET_KEY")
OPENESP_MAILJET_API_URL = envstr("OPENESP_MAILJET_API_URL", "https://api.mailjet.com").rstrip("/")
OPENESP_MAILJET_SENDING_DOMAIN = envstr("OPENESP_MAILJET_SENDING_DOMAIN")
# sendgrid, mailjet, smtp://user:pass@host:port (an operator relay), or empty.
OPENESP_DEFAULT_PROVIDER = envsecret("OPENESP_DEFAULT_PROVIDER")
# Sending limits of the operator's providers, held across all workers: messages per second,
# a sliding window "N/SECONDS", and (SMTP relay) connections.
OPENESP_SENDGRID_MAX_PER_SECOND = envfloat("OPENESP_SENDGRID_MAX_PER_SECOND")
OPENESP_SENDGRID_WINDOW = envwindow("OPENESP_SENDGRID_WINDOW")
OPENESP_MAILJET_MAX_PER_SECOND = envfloat("OPENESP_MAILJET_MAX_PER_SECOND")
OPENESP_MAILJET_WINDOW = envwindow("OPENESP_MAILJET_WINDOW")
OPENESP_RELAY_MAX_PER_SECOND = envfloat("OPENESP_RELAY_MAX_PER_SECOND")
OPENESP_RELAY_WINDOW = envwindow("OPENESP_RELAY_WINDOW")
OPENESP_RELAY_CONNECTIONS = envint("OPENESP_RELAY_CONNECTIONS", 8, minimum=1, maximum=1000)
OPENESP_PROVIDER_HTTP_TIMEOUT = envint("OPENESP_PROVIDER_HTTP_TIMEOUT", 15, minimum=1, maximum=300)
# Failover: a provider that fails at connection level this long in a row hands due mail to the
# fallback of the config (if it names one); while it does, one worker probes it this often.
OPENESP_FAILOVER_AFTER = envseconds("OPENESP_FAILOVER_AFTER", 300, maximum=7 * 24 * 3600)
OPENESP_FAILOVER_PROBE_EVERY = envseconds("OPENESP_FAILOVER_PROBE_EVERY", 30, maximum=3600)

# --- Custom SMTP servers supplied by customers --------------------------------------------
OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = envbool("OPENESP_ALLOW_PRIVATE_SMTP_HOSTS", False)
OPENESP_SMTP_ALLOWED_PORTS = [
    int(p) for p in envlist("OPENESP_SMTP_ALLOWED_PORTS", ["25", "465", "587", "2525"]) if p.isdigit()
]
if len(OPENESP_SMTP_ALLOWED_PORTS) != len(envlist("OPENESP_SMTP_ALLOWED_PORTS", ["25", "465", "587", "2525"])):
    raise ConfigError("OPENESP_SMTP_ALLOWED_PORTS: expected a list of port numbers")
OPENESP_SMTP_ALLOW_ANY_PORT = envbool("OPENESP_SMTP_ALLOW_ANY_PORT", False)
OPENESP_EGRESS_IPS = envlist("OPENESP_EGRESS_IPS")
OPENESP_SMTP_SOURCE_ADDRESS = envstr("OPENESP_SMTP_SOURCE_ADDRESS")
OPENESP_SMTP_CONNECTIONS = envint("OPENESP_SMTP_CONNECTIONS", 8, minimum=1, maximum=100)
OPENESP_SMTP_TIMEOUT = envint("OPENESP_SMTP_TIMEOUT", 15, minimum=1, maximum=300)
# DNS servers for checking sending domains ("host" or "host:port"; default: the system's).
OPENESP_DNS_SERVERS = envlist("OPENESP_DNS_SERVERS")
OPENESP_DNS_TIMEOUT = envint("OPENESP_DNS_TIMEOUT", 5, minimum=1, maximum=60)
OPENESP_TEST_CONNECTION_LIMIT = envint("OPENESP_TEST_CONNECTION_LIMIT", 30, minimum=1)  # per person and hour
OPENESP_SMTP_TLS_VERIFY = envbool("OPENESP_SMTP_TLS_VERIFY", True)
OPENESP_SMTP_CA_FILE = envstr("OPENESP_SMTP_CA_FILE")

# --- The SMTP submission server (openesp smtp, and inside openesp serve) ---------------------
# A STARTTLS port and an implicit-TLS port (0 turns either off); AUTH only after TLS.
OPENESP_SMTP_HOST = envstr("OPENESP_SMTP_HOST", "127.0.0.1")
OPENESP_SMTP_PORT = envint("OPENESP_SMTP_PORT", 2525, minimum=0, maximum=65535)
OPENESP_SMTPS_PORT = envint("OPENESP_SMTPS_PORT", 4650, minimum=0, maximum=65535)
# Certificate and key (PEM); without them a self-signed pair is made in the data directory.
OPENESP_SMTP_TLS_CERT_FILE = envstr("OPENESP_SMTP_TLS_CERT_FILE")
OPENESP_SMTP_TLS_KEY_FILE = envstr("OPENESP_SMTP_TLS_KEY_FILE")
if bool(OPENESP_SMTP_TLS_CERT_FILE) != bool(OPENESP_SMTP_TLS_KEY_FILE):
    raise ConfigError("OPENESP_SMTP_TLS_CERT_FILE and OPENESP_SMTP_TLS_KEY_FILE: set both or neither")
OPENESP_SMTP_MAX_BYTES = envint("OPENESP_SMTP_MAX_BYTES", 30 * 1024 * 1024, minimum=1024)
# Provider events in and bounce mail (docs/events.md): the webhooks' credentials, the VERP
# bounce domain and the inbound MX, and when soft bounces suppress an address.
OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY = envsecret("OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY")
OPENESP_MAILJET_WEBHOOK_USER = envstr("OPENESP_MAILJET_WEBHOOK_USER")
OPENESP_MAILJET_WEBHOOK_PASSWORD = envsecret("OPENESP_MAILJET_WEBHOOK_PASSWORD")
OPENESP_BOUNCE_DOMAIN = envstr("OPENESP_BOUNCE_DOMAIN").strip().lower()
OPENESP_MX_HOST = envstr("OPENESP_MX_HOST", "0.0.0.0")  # noqa: S104 - an MX must be reachable
OPENESP_MX_PORT = envint("OPENESP_MX_PORT", 2526, minimum=0, maximum=65535)
OPENESP_SOFT_BOUNCE_LIMIT = envint("OPENESP_SOFT_BOUNCE_LIMIT", 3, minimum=1)
OPENESP_SOFT_BOUNCE_WINDOW = envseconds("OPENESP_SOFT_BOUNCE_WINDOW", 7 * 24 * 3600, minimum=60)
# The bounce mailboxes of custom SMTP configurations (IMAP): how often the workers poll each one,
# and how long one IMAP command may take.
OPENESP_IMAP_POLL_SECONDS = envseconds("OPENESP_IMAP_POLL_SECONDS", 300, minimum=10, maximum=24 * 3600)
OPENESP_IMAP_TIMEOUT = envint("OPENESP_IMAP_TIMEOUT", 30, minimum=1, maximum=300)
# Open and click tracking (docs/tracking.md): the links' host, default the site's own.
OPENESP_TRACKING_BASE_URL = envstr("OPENESP_TRACKING_BASE_URL", OPENESP_BASE_URL).rstrip("/")
# Outbound webhooks (docs/webhooks.md): endpoints are user-supplied hosts, kept off private
# addresses like custom SMTP servers unless the operator allows them.
OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = envbool("OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS", False)
OPENESP_WEBHOOK_TIMEOUT = envint("OPENESP_WEBHOOK_TIMEOUT", 10, minimum=1, maximum=60)
OPENESP_WEBHOOK_RETRY_FIRST_SECONDS = envint("OPENESP_WEBHOOK_RETRY_FIRST_SECONDS", 30, minimum=1)
OPENESP_WEBHOOK_RETRY_MAX_SECONDS = envint("OPENESP_WEBHOOK_RETRY_MAX_SECONDS", 3600, minimum=1)
OPENESP_WEBHOOK_MAX_ATTEMPTS = envint("OPENESP_WEBHOOK_MAX_ATTEMPTS", 20, minimum=1, maximum=100)

# Retries of temporary failures: exponential backoff with jitter from the first delay up to
# the cap; a message still failing after its lifetime bounces with reason "expired".
OPENESP_RETRY_FIRST_SECONDS = envint("OPENESP_RETRY_FIRST_SECONDS", 60, minimum=1)
OPENESP_RETRY_MAX_SECONDS = envint("OPENESP_RETRY_MAX_SECONDS", 3600, minimum=1)
OPENESP_MESSAGE_LIFETIME_HOURS = envint("OPENESP_MESSAGE_LIFETIME_HOURS", 120, minimum=1)
OPENESP_MAX_ATTACHMENT_BYTES = envint("OPENESP_MAX_ATTACHMENT_BYTES", 20 * 1024 * 1024, minimum=0)
# The largest request body read into memory: the attachments in base64 (a third larger) and
# room for the rest of a message. A bigger request is refused (the API answers 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = OPENESP_MAX_ATTACHMENT_BYTES * 4 // 3 + 5 * 1024 * 1024
# Uploaded files over OPENESP_IMPORT_MAX_BYTES are stopped as they arrive (openesp/lib/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "openesp.lib.uploads.LimitedTemporaryFileUploadHandler",
]
# CSV imports: the largest file accepted (bytes) and the most rows imported from one file; the
# rows after that are skipped, counted, and a warning says so.
OPENESP_IMPORT_MAX_BYTES = envint("OPENESP_IMPORT_MAX_BYTES", 256 * 1024 * 1024, minimum=1)
OPENESP_IMPORT_MAX_ROWS = envint("OPENESP_IMPORT_MAX_ROWS", 2_000_000, minimum=1)
OPENESP_INVITATION_DAYS = envint("OPENESP_INVITATION_DAYS", 7, minimum=1, maximum=365)
# A campaign's invitations are queued this many recipients at a time, as delivery drains them
# (campaigns.invitations; docs/decisions/022-invitations-queued-in-chunks.md).
OPENESP_CAMPAIGN_CHUNK = envint("OPENESP_CAMPAIGN_CHUNK", 10_000, minimum=1, maximum=10_000_000)
OPENESP_DOUBLE_OPT_IN_DAYS = envint("OPENESP_DOUBLE_OPT_IN_DAYS", 7, minimum=1, maximum=365)

# Abuse limits of the public doors (openesp/accounts/limits.py, docs/security.md#abuse-limits).
# The reverse proxies whose X-Forwarded-For is believed (openesp/lib/clientaddr.py).
OPENESP_TRUSTED_PROXIES = envnetworks("OPENESP_TRUSTED_PROXIES")
# Mail anyone can ask for (password reset, verification, invitations, double opt-in re-sends):
# one per address per interval, and so many per address and day.
OPENESP_MAIL_REQUEST_INTERVAL = envseconds("OPENESP_MAIL_REQUEST_INTERVAL", 300, minimum=1, maximum=86400)
OPENESP_MAIL_REQUESTS_PER_DAY = envint("OPENESP_MAIL_REQUESTS_PER_DAY", 5, minimum=1)
# Log-in: this many failures for one account from one client within the window block that pair,
# first for OPENESP_LOGIN_BLOCK, twice as long at each further block, at most OPENESP_LOGIN_BLOCK_MAX.
OPENESP_LOGIN_FAILURES = envint("OPENESP_LOGIN_FAILURES", 5, minimum=1)
OPENESP_LOGIN_FAILURE_WINDOW = envseconds("OPENESP_LOGIN_FAILURE_WINDOW", 900, minimum=1)
OPENESP_LOGIN_BLOCK = envseconds("OPENESP_LOGIN_BLOCK", 60, minimum=1)
OPENESP_LOGIN_BLOCK_MAX = envseconds("OPENESP_LOGIN_BLOCK_MAX", 3600, minimum=1)
OPENESP_SIGNUPS_PER_HOUR = envint("OPENESP_SIGNUPS_PER_HOUR", 10, minimum=1)  # per client address
OPENESP_API_KEY_FAILURES_PER_MINUTE = envint("OPENESP_API_KEY_FAILURES_PER_MINUTE", 20, minimum=1)  # per client

NINJA_PAGINATION_PER_PAGE = 50

# OPENESP_LOG_FORMAT=json: one JSON object per line (openesp.lib.jsonlog; docs/operations.md).
OPENESP_LOG_FORMAT = envstr("OPENESP_LOG_FORMAT", "plain").strip().lower()
if OPENESP_LOG_FORMAT not in ("plain", "json"):
    raise ConfigError(f"OPENESP_LOG_FORMAT must be plain or json, not {OPENESP_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "openesp.lib.jsonlog.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": OPENESP_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": envstr("OPENESP_LOG_LEVEL", "INFO")},
}

# GET /metrics (Prometheus) answers only a scrape with this bearer token; unset: 404.
OPENESP_METRICS_TOKEN = envsecret("OPENESP_METRICS_TOKEN")
