"""Business days and weeks.

"Today", "yesterday" and "this week" are the business's, in settings.TIME_ZONE (default
Asia/Dubai), whatever the server's clock zone is. Every helper returns aware datetimes, so they
can be compared with stored timestamps directly.
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def business_today() -> date:
    return timezone.localdate()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in the business zone (DST-safe)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def today_range() -> tuple[datetime, datetime]:
    today = business_today()
    return start_of_day(today), start_of_day(today + timedelta(days=1))


def yesterday_range() -> tuple[datetime, datetime]:
    today = business_today()
    return start_of_day(today - timedelta(days=1)), start_of_day(today)


def week_start(day: date | None = None) -> date:
    """First day of the business week containing `day` (settings.BUSINESS_WEEK_START)."""
    day = day or business_today()
    offset = (day.isoweekday() - settings.BUSINESS_WEEK_START) % 7
    return day - timedelta(days=offset)


def this_week_range() -> tuple[datetime, datetime]:
    start = week_start()
    return start_of_day(start), start_of_day(start + timedelta(days=7))


def days_since(moment: datetime | None, *, at: datetime | None = None) -> int | None:
    """Whole business days between `moment` and now (0 = today); None when never."""
    if moment is None:
        return None
    at = at or now()
    return (timezone.localdate(at) - timezone.localdate(moment)).days


def days_ago_boundary(days: int) -> datetime:
    """Moments before this are at least `days` business days ago (days_since(moment) >= days)."""
    return start_of_day(business_today() - timedelta(days=days - 1))
