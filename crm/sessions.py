"""Sessions that end after SESSION_IDLE_TIMEOUT_HOURS without a request (SESSION_ENGINE).

Django's way, SESSION_SAVE_EVERY_REQUEST, writes the session row on every request: two more
queries on every page and every htmx fragment, and on SQLite a write that waits for the one
writer. Here a request pushes the expiry (database row and cookie) ahead only when the session
was last saved more than SESSION_IDLE_REFRESH_SECONDS ago, so a busy setter costs a write every
few minutes and an idle session still ends within that margin of the timeout.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.utils import timezone


class SessionStore(DbSessionStore):
    def _get_session_from_db(self):
        session = super()._get_session_from_db()
        if session is not None and self._idle_refresh_due(session.expire_date):
            # SessionMiddleware saves a modified session on the way out, with a new expiry.
            self.modified = True
        return session

    def _idle_refresh_due(self, expire_date) -> bool:
        # expire_date is when it was last saved plus the age: little left means saved long ago.
        # (SESSION_COOKIE_AGE, not get_expiry_age(): that reads the session being loaded here.)
        left = expire_date - timezone.now()
        age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
        return left < age - timedelta(seconds=settings.SESSION_IDLE_REFRESH_SECONDS)
