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


def business_zone():
    """settings.TIME_ZONE. Named outright rather than taken as Django's "current" zone: they are
    the same (nothing activates another), but the current one is looked up through a
    thread-local, and that was half the cost of a queue entry, which counts days several times."""
    return timezone.get_default_timezone()


def business_today(*, at: datetime | None = None) -> date:
    """The business day of `at` (default: now) in the business time zone."""
    return timezone.localdate(at, business_zone())


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in the business zone (DST-safe)."""
    return timezone.make_aware(datetime.combine(day, time.min), business_zone())


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
    return (business_today(at=at) - business_today(at=moment)).days


def days_ago_boundary(days: int, *, at: datetime | None = None) -> datetime:
    """Moments before this are at least `days` business days before `at` (default: now), as
    days_since counts them."""
    return start_of_day(business_today(at=at) - timedelta(days=days - 1))


def _opening_hours(day: date) -> tuple[datetime, datetime] | None:
    """When the business opens and closes on `day` (settings.BUSINESS_*), None on a closed day."""
    if day.isoweekday() not in settings.BUSINESS_DAYS:
        return None
    opens = start_of_day(day) + timedelta(hours=settings.BUSINESS_HOURS_START)
    if settings.BUSINESS_HOURS_END == 24:
        return opens, start_of_day(day + timedelta(days=1))
    return opens, timezone.make_aware(
        datetime.combine(day, time(settings.BUSINESS_HOURS_END)), business_zone()
    )


def business_time_before(moment: datetime, minutes: float) -> datetime:
    """The moment from which `minutes` of business hours had passed by `moment`.

    Something that started at or before the result has had at least `minutes` of open hours;
    a lead arriving at night starts its clock at the next opening. Walking back day by day is
    bounded by a year, far beyond any response time.
    """
    remaining = timedelta(minutes=minutes)
    cursor = timezone.localtime(moment, business_zone())
    day = cursor.date()
    for _ in range(366):
        hours = _opening_hours(day)
        if hours is not None:
            opens, closes = hours
            end = min(cursor, closes)
            if end > opens:
                if end - opens >= remaining:
                    return end - remaining
                remaining -= end - opens
        cursor = start_of_day(day)
        day -= timedelta(days=1)
    return cursor
