"""The one settings module. Every deploy-specific value comes from the environment.

Defaults give a working local app on SQLite; production is this same file with other values
(see the README's configuration table).
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from crm.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_timezone

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# Only a DEBUG process may fall back to a well-known key; production must set its own.
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-8c1f2e"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "django_filters",
    "django_celery_beat",
    "crm",
    "leads",
    "calls",
    "campaigns",
    "scoring",
    "hubspot_sync",
    # Login throttling: failed attempts per username and per address, lockout, cool-off (README).
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy (django-csp) and Permissions-Policy headers on every response.
    "csp.middleware.CSPMiddleware",
    "crm.middleware.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Axes first: it refuses a locked-out username or address before any password is checked (and
# hashed: 12 clients guessing used to slow every page); it authenticates nobody itself.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "crm.auth.UserWithOwnerBackend"]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.user_roles",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a seed or a worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Sign a user out after this many hours without a request: a request pushes the session's
# expiry (cookie and database row) this far ahead, at most once every SESSION_IDLE_REFRESH_SECONDS
# (crm.sessions: not a write per request, as SESSION_SAVE_EVERY_REQUEST would be).
SESSION_IDLE_TIMEOUT_HOURS = env_int("SESSION_IDLE_TIMEOUT_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_HOURS * 3600
SESSION_IDLE_REFRESH_SECONDS = 300
SESSION_ENGINE = "crm.sessions"

# Login throttling (django-axes), on /login/ and /admin/login/ alike. After LOGIN_FAILURE_LIMIT
# failures a username is locked, and so is the address they came from (whatever usernames it
# tried), for LOGIN_COOLOFF_MINUTES after the last failure; ops can unlock earlier in the admin
# (Axes > Access attempts: delete the row). Locking by username lets anyone lock a known user out
# for the cool-off: accepted, a guessed password is worse.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not clear the failures: it would clear the address's count too, so anyone with
# a login of their own could reset it between guesses at someone else's password.
AXES_RESET_ON_SUCCESS = False
# The lockout is the sign-in page with a message, in the site layout (not axes' bare 403 text).
AXES_LOCKOUT_CALLABLE = "crm.auth.lockout_response"
# Which address a request came from: REMOTE_ADDR, or behind a proxy the address the proxy saw
# (else every user would share the proxy's address and one guesser would lock everyone out).
AXES_CLIENT_IP_CALLABLE = "crm.auth.client_ip"
# No "AXES: BEGIN" line from every process start; lockouts are still logged (usernames and
# addresses masked there: ops read them in the admin).
AXES_VERBOSE = False

# --- Time -----------------------------------------------------------------------------
USE_TZ = True
# The business time zone: "today", "yesterday" and "this week" are its days (crm.timeutils).
TIME_ZONE = env_timezone("TIME_ZONE", "Asia/Dubai")
# ISO weekday the business week starts on (1 = Monday ... 7 = Sunday).
BUSINESS_WEEK_START = env_int("BUSINESS_WEEK_START", 1, minimum=1)
if BUSINESS_WEEK_START > 7:
    raise ImproperlyConfigured("BUSINESS_WEEK_START must be an ISO weekday from 1 (Monday) to 7 (Sunday).")
LANGUAGE_CODE = "en-gb"
USE_I18N = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the source folders, no collectstatic needed.
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "media/"

# --- Security (production values unless DEBUG) -----------------------------------------
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Behind one reverse proxy (load balancer) that sets X-Forwarded-Proto and appends the client's
# address to X-Forwarded-For; also read by login throttling (crm.auth.client_ip).
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REFERRER_POLICY = "same-origin"
# Only our own scripts, styles and requests: htmx and the page scripts are static files, no page
# has inline script or style (base.html turns off htmx's injected indicator <style> and its eval,
# so hx-on / js: / event filters are not used), and the admin needs none either (Django 5.2).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page uses, off for the page and anything it could embed (crm.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)
X_FRAME_OPTIONS = "DENY"
# Health checks come from load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]

# --- Call queue -------------------------------------------------------------------------
# After a call nobody answered, the lead comes back to the queue after this many hours.
QUEUE_RETRY_AFTER_HOURS = env_float("QUEUE_RETRY_AFTER_HOURS", 4.0, minimum=0)

# --- Business hours and speed to lead (follow-up table) ---------------------------------
# Opening hours in the business zone (whole hours, end exclusive) and the ISO weekdays open
# (1 = Monday; the UAE works Monday to Friday). Response times count only these hours.
BUSINESS_HOURS_START = env_int("BUSINESS_HOURS_START", 9, minimum=0)
BUSINESS_HOURS_END = env_int("BUSINESS_HOURS_END", 18, minimum=1)
if not BUSINESS_HOURS_START < BUSINESS_HOURS_END <= 24:
    raise ImproperlyConfigured("BUSINESS_HOURS_START must be before BUSINESS_HOURS_END, both hours 0-24.")
try:
    BUSINESS_DAYS = sorted({int(day) for day in env_list("BUSINESS_DAYS", ["1", "2", "3", "4", "5"])})
except ValueError:
    raise ImproperlyConfigured("BUSINESS_DAYS must be ISO weekdays such as 1,2,3,4,5.") from None
if not BUSINESS_DAYS or not set(BUSINESS_DAYS) <= set(range(1, 8)):
    raise ImproperlyConfigured("BUSINESS_DAYS must be ISO weekdays from 1 (Monday) to 7 (Sunday).")
# A new lead must get its first call within this many minutes of business hours ("speed to lead").
SPEED_TO_LEAD_MINUTES = env_int("SPEED_TO_LEAD_MINUTES", 15, minimum=1)

# --- Lead files (replenishment sources) ---------------------------------------------------
# The largest lead file (upload or path) that is read; a bigger one is refused with a message.
LEAD_FILE_MAX_MB = env_int("LEAD_FILE_MAX_MB", 50, minimum=1)

# --- Manager dashboard ---------------------------------------------------------------------
# A client at or above this predictive risk counts as "high risk" and in revenue at risk.
REVENUE_AT_RISK_MIN_RISK = env_int("REVENUE_AT_RISK_MIN_RISK", 60, minimum=0)
# Success rates (and the queue factor built on them) need this many recorded outcomes per
# intervention type and zone before they are trusted.
INTERVENTION_RATE_MIN_OUTCOMES = env_int("INTERVENTION_RATE_MIN_OUTCOMES", 5, minimum=1)

# --- Phone numbers --------------------------------------------------------------------
# Region assumed for numbers typed without a country code (050 123 4567 -> +971501234567).
PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "AE").upper()

# --- Cache ----------------------------------------------------------------------------
# Drafts and other derived values are cached; Redis in production so every process shares them.
CACHE_URL = env_str("CACHE_URL", "locmem://")
if CACHE_URL.startswith("redis"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: use locmem:// or a redis:// URL.")
# Rendered page fragments (a queue entry, a follow-up row), keyed by everything they show, so an
# entry whose facts did not change is not rendered again. Each process keeps its own: a fragment
# is cheap to rebuild, and a round trip to Redis per entry would cost what rendering saves. With
# DEBUG on they are not kept, so an edited template shows at once.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.dummy.DummyCache"
    if DEBUG
    else "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": env_int("FRAGMENT_CACHE_ENTRIES", 10_000, minimum=100)},
}
# Whole queue lists (50 cached entries each, about 240 KB): few are kept, least recently used
# first out, since a list changes with every call its setter logs.
CACHES["fragment_lists"] = {
    **CACHES["fragments"],
    "LOCATION": "fragment-lists",
    "OPTIONS": {"MAX_ENTRIES": env_int("FRAGMENT_LIST_CACHE_ENTRIES", 100, minimum=10)},
}

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
# A worker process killed mid-task (OOM, SIGKILL of a pool child) puts its message back at once
# instead of acknowledging it as failed; every task is safe to run twice (STYLE.md), and jobs that
# keep killing their worker fail themselves after a few attempts (leads.jobs).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# When a whole worker dies, Redis hands its unacknowledged (acks_late) messages to another worker
# only after this long. It must exceed every acks_late task's time_limit, or a long task still
# running is delivered a second time (crm.checks enforces it). 40 minutes: the longest limits
# are the nightly facts rebuild (1,900 s) and webhook processing (1,860 s). Long work is chunked
# instead of raising this: a reassignment job runs in slices of a few minutes that re-enqueue
# themselves, and the HubSpot sync (3 h limit, resumable from its cursor, re-run by beat every
# 15 minutes) is acknowledged on receipt, below.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 2400, minimum=5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    # Each worker looks for messages past their visibility timeout this often (kombu's default is
    # about every 100 s: ten 10 s ticks).
    "unacked_restore_interval": env_int("CELERY_RESTORE_INTERVAL_SECONDS", 30, minimum=1),
    "unacked_restore_throttle": 1,
}
# Background jobs (a large reassignment, a replenishment run) hold their work by a lease renewed
# with every batch or step; a worker killed mid-job is known dead once this long passes without a
# heartbeat, and the next worker (a redelivery, or the sweeper every minute) takes the job over.
# It must exceed the longest gap between two heartbeats: one batch, or one replenishment step.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60, minimum=2)
# Contacts per committed batch of a reassignment job (the unit a retry repeats).
REASSIGN_JOB_BATCH = env_int("REASSIGN_JOB_BATCH", 500, minimum=1)
# One task works a job this long, then queues the next slice: every task stays far below the
# visibility timeout however large the selection.
JOB_SLICE_SECONDS = env_int("JOB_SLICE_SECONDS", 120, minimum=1)

# --- Integrations: each has an enabled flag; secrets only from the environment ----------
HUBSPOT_ENABLED = env_bool("HUBSPOT_ENABLED", False)
HUBSPOT_API_BASE = env_str("HUBSPOT_API_BASE", "https://api.hubapi.com").rstrip("/")
# HubSpot is moving to date-based paths (/crm/objects/2026-03); switching is this one value.
HUBSPOT_OBJECTS_PATH = env_str("HUBSPOT_OBJECTS_PATH", "/crm/v3/objects").rstrip("/")
HUBSPOT_ACCESS_TOKEN = env_str("HUBSPOT_ACCESS_TOKEN", "")
HUBSPOT_CLIENT_SECRET = env_str("HUBSPOT_CLIENT_SECRET", "")
HUBSPOT_PORTAL_ID = env_str("HUBSPOT_PORTAL_ID", "")
# The URL HubSpot posts webhooks to, exactly as it signs it (behind a proxy the request's own URL
# can differ); empty means the URL the request arrived on.
HUBSPOT_WEBHOOK_URL = env_str("HUBSPOT_WEBHOOK_URL", "")
# Client-side budgets kept under HubSpot's limits (100 requests / 10 s per app, 5 / s for search);
# 0 switches a budget off (benchmarks against the local fake).
HUBSPOT_REQUESTS_PER_SECOND = env_float("HUBSPOT_REQUESTS_PER_SECOND", 9.0, minimum=0)
HUBSPOT_SEARCH_REQUESTS_PER_SECOND = env_float("HUBSPOT_SEARCH_REQUESTS_PER_SECOND", 4.0, minimum=0)
HUBSPOT_MAX_ATTEMPTS = env_int("HUBSPOT_MAX_ATTEMPTS", 5, minimum=1)
HUBSPOT_TIMEOUT_SECONDS = env_float("HUBSPOT_TIMEOUT_SECONDS", 30.0, minimum=1)
# A 429 is waited out (it uses none of the attempts above) for at most this long on one request;
# past it the request fails as RateLimited and the next scheduled run resumes from the cursor.
HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS = env_float("HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS", 900.0, minimum=0)
# Incremental windows start this long before the saved cursor: HubSpot search is eventually
# consistent, so a record modified just before the last window may only now be indexed.
HUBSPOT_SYNC_OVERLAP_SECONDS = env_int("HUBSPOT_SYNC_OVERLAP_SECONDS", 120, minimum=0)
# A sync holds its object type's lock by heartbeat (every page and request, and through long
# rate-limit waits); a worker killed mid-run frees its type after this long without one. It must
# exceed the longest gap between two heartbeats: one request's timeout plus one page's write.
HUBSPOT_SYNC_LOCK_LEASE_SECONDS = env_int("HUBSPOT_SYNC_LOCK_LEASE_SECONDS", 120, minimum=10)
# When a synced contact's owner changes, open a NEW_OWNER_INTRODUCTION intervention for the new owner.
HUBSPOT_OWNER_CHANGE_INTERVENTION = env_bool("HUBSPOT_OWNER_CHANGE_INTERVENTION", True)

ANTHROPIC_ENABLED = env_bool("ANTHROPIC_ENABLED", False)
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
ANTHROPIC_MODEL = env_str("ANTHROPIC_MODEL", "claude-haiku-4-5")
AI_DRAFT_BUDGET_SECONDS = env_float("AI_DRAFT_BUDGET_SECONDS", 8.0, minimum=0.1)

TWILIO_ENABLED = env_bool("TWILIO_ENABLED", False)
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_WHATSAPP_FROM = env_str("TWILIO_WHATSAPP_FROM", "")

EMAIL_ENABLED = env_bool("EMAIL_ENABLED", False)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_ENABLED
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")

for _flag, _secret in [
    ("HUBSPOT_ENABLED", "HUBSPOT_ACCESS_TOKEN"),
    ("ANTHROPIC_ENABLED", "ANTHROPIC_API_KEY"),
    ("TWILIO_ENABLED", "TWILIO_AUTH_TOKEN"),
]:
    if globals()[_flag] and not globals()[_secret]:
        raise ImproperlyConfigured(f"{_flag} is on but {_secret} is not set.")

# --- Logging: one JSON object per line, so a log shipper can index the fields ----------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "crm.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
