"""Business days and weeks of the demo world, as POSIX seconds.

The generator works in integer seconds (cheap to add, compare and bisect millions of times)
and turns them into aware datetimes in the business time zone only when it writes a row.
"""

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from crm import timeutils
from leads.demo.catalog import OPENING_HOURS


@dataclass(frozen=True)
class Week:
    """One business week: when each working day opens and the running total of open seconds."""

    opens: tuple[int, ...]
    cumulative: tuple[int, ...]

    def slot(self, u: float) -> int:
        """The moment a fraction `u` (0 <= u < 1) of this week's open time has passed."""
        elapsed = min(int(u * self.cumulative[-1]), self.cumulative[-1] - 1)  # float rounding can give u == 1
        day = bisect.bisect_right(self.cumulative, elapsed)
        return self.opens[day] + elapsed - (self.cumulative[day - 1] if day else 0)


class BusinessCalendar:
    """The weeks from `days` before `now` up to the end of the current business week."""

    def __init__(self, *, now: datetime, days: int) -> None:
        self.tz = timezone.get_current_timezone()
        self.now = int(now.timestamp())
        self.today = timezone.localdate(now)
        first_day = self.today - timedelta(days=days)
        self.window_start = int(timeutils.start_of_day(first_day).timestamp())
        this_week = timeutils.week_start(self.today)
        self.this_week_start = int(timeutils.start_of_day(this_week).timestamp())
        self.weeks: list[Week] = []
        self.week_starts: list[int] = []
        self.opens: list[int] = []
        self.closes: list[int] = []
        start = timeutils.week_start(first_day)
        while start <= this_week:
            opens, cumulative, total = [], [], 0
            for offset in range(7):
                day = start + timedelta(days=offset)
                hours = OPENING_HOURS.get(day.isoweekday())
                if hours is None:
                    continue
                opening, closing = self.at(day, hours[0]), self.at(day, hours[1])
                opens.append(opening)
                total += closing - opening
                cumulative.append(total)
                self.opens.append(opening)
                self.closes.append(closing)
            self.weeks.append(Week(tuple(opens), tuple(cumulative)))
            self.week_starts.append(int(timeutils.start_of_day(start).timestamp()))
            start += timedelta(days=7)

    def at(self, day: date, hour: int, minute: int = 0) -> int:
        return int(timezone.make_aware(datetime.combine(day, time(hour, minute)), self.tz).timestamp())

    def to_datetime(self, moment: int) -> datetime:
        return datetime.fromtimestamp(moment, self.tz)

    def to_date(self, moment: int) -> date:
        return datetime.fromtimestamp(moment, self.tz).date()

    def week_index(self, moment: int) -> int:
        """Index in `weeks` of the week holding `moment` (0 for anything before the window)."""
        return max(bisect.bisect_right(self.week_starts, moment) - 1, 0)

    def snap(self, moment: int, rng: random.Random) -> int | None:
        """`moment` if the business is open then, else a time soon after the next opening;
        None past the end of the calendar."""
        day = bisect.bisect_right(self.opens, moment) - 1
        if day >= 0 and moment < self.closes[day]:
            return moment
        if day + 1 >= len(self.opens):
            return None
        return self.opens[day + 1] + int(rng.random() * 5400)  # calls start within 90 minutes of opening
