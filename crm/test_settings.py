"""Settings for the test suite: production settings with test-friendly defaults.

The database still comes from DATABASE_URL (PostgreSQL in CI, SQLite by default), so the same
suite proves both.
"""

import os
import tempfile
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-5d0c3b1a")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from crm.settings import *  # noqa: F403
from crm.settings import DATABASES, STORAGES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared-cache in-memory database: that one takes table locks, so a Celery
    # worker thread or the live server writing while a test reads fails with "table is locked".
    # A file gets WAL and the busy timeout, as the real app does.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"crm-test-{os.getpid()}.sqlite3")
    }

# Hashing passwords properly costs ~100 ms a login; tests log in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# Never the real AI API from tests, whatever a developer has in their environment; tests that
# draft with AI point these at the loopback fake.
ANTHROPIC_ENABLED = False
ANTHROPIC_API_KEY = ""
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Celery reads these once, on first use: a queue of this run's own, so tasks sent here are never
# consumed by another test run's worker on the same Redis (nor stale messages by ours).
CELERY_BROKER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_TASK_DEFAULT_QUEUE = f"test-{uuid.uuid4().hex[:12]}"
CELERY_TASK_ALWAYS_EAGER = False
WHITENOISE_AUTOREFRESH = True  # serve from the finders; tests never run collectstatic
