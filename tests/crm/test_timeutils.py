from datetime import UTC, date, datetime

import time_machine

from crm import timeutils


def test_business_today_is_the_dubai_date_not_the_utc_date(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    # 21:30 UTC on the 2nd is 01:30 on the 3rd in Dubai (UTC+4)
    with time_machine.travel(datetime(2026, 3, 2, 21, 30, tzinfo=UTC), tick=False):
        assert timeutils.business_today() == date(2026, 3, 3)
        start, end = timeutils.today_range()
        assert start == datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
        assert end == datetime(2026, 3, 3, 20, 0, tzinfo=UTC)


def test_week_start_follows_configured_first_weekday(settings):
    wednesday = date(2026, 3, 4)
    settings.BUSINESS_WEEK_START = 1
    assert timeutils.week_start(wednesday) == date(2026, 3, 2)
    settings.BUSINESS_WEEK_START = 7  # weeks starting on Sunday
    assert timeutils.week_start(wednesday) == date(2026, 3, 1)
    assert timeutils.week_start(date(2026, 3, 1)) == date(2026, 3, 1)


def test_days_since_counts_business_days(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    late_last_night = datetime(2026, 3, 2, 19, 59, tzinfo=UTC)  # 23:59 Dubai on the 2nd
    with time_machine.travel(datetime(2026, 3, 2, 20, 1, tzinfo=UTC), tick=False):  # 00:01 on the 3rd
        assert timeutils.days_since(late_last_night) == 1
    assert timeutils.days_since(None) is None
