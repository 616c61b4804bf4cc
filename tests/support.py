"""Helpers for tests that need real services.

On a developer's machine a missing PostgreSQL, Redis or Chromium skips the test with a reason;
under CI (CI=true) the same absence fails it, so CI can never pass by skipping.
"""

import os
import shutil
import socket
import time

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def require(available: bool, reason: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """For tests marked `postgres`: CI runs them in its PostgreSQL pass and deselects them
    (-m "not postgres") in its SQLite pass."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL=postgres://...)")


def require_redis(url: str) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    require(port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379), f"needs Redis at {url}")


def require_chromium() -> None:
    require(os.path.exists(CHROMIUM), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")


def database_url() -> str:
    """The test database as a DATABASE_URL, for a subprocess (a killed worker or sync) that must
    see what a transactional test committed."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll `predicate` until it holds (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
