"""Deadlines per stage, counted in the municipality's business days (開庁日).

A business day is a weekday that is not a national holiday (jpholiday, which follows the
Cabinet Office's list including substitute holidays), not in the year-end break 12/29–1/3
(行政機関の休日に関する法律 第1条), and not a day the municipality itself closes (ClosedDay).

A case in stage S since day s is due on the N-th business day after s (s itself is not
counted: a case referred on Friday with 1 day is due on Monday), where N is the
municipality's StageDeadline for S or DEFAULT_DAYS. It is overdue from the day after.

For lists, each stage's rule becomes one date comparison, so the database can filter and
count overdue cases with an index instead of computing a deadline per row:
    due on or before day E  ⇔  at least N business days lie in (s, E]
                            ⇔  s < the N-th business day counted back from E (inclusive)
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import jpholiday
from django.db.models import Q

from .models import ClosedDay, Municipality, Stage, StageDeadline

# Stages with a clock; closed and withdrawn cases are never late.
TIMED_STAGES = [
    Stage.INQUIRY,
    Stage.AGENCY_CONTACT,
    Stage.NEGOTIATION,
    Stage.VISIT,
    Stage.SETTLEMENT,
]
# Business days, until the municipality sets its own: agency answers and compensation
# talks took weeks in the reference cases, the rest should take days.
DEFAULT_DAYS = {
    Stage.INQUIRY: 10,
    Stage.AGENCY_CONTACT: 20,
    Stage.NEGOTIATION: 30,
    Stage.VISIT: 15,
    Stage.SETTLEMENT: 10,
}


def _year_end_break(day: date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@cache
def _national_business_days(year: int) -> tuple[int, ...]:
    """Ordinals of the year's days that are business days everywhere in Japan: not a
    weekend, not a national holiday, not in the year-end break. The same for every
    municipality and request, so computed once per process and year."""
    holidays = {d for d, _name in jpholiday.between(date(year, 1, 1), date(year, 12, 31))}
    days = (
        date.fromordinal(o)
        for o in range(date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal())
    )
    return tuple(
        d.toordinal()
        for d in days
        if d.weekday() < 5 and not _year_end_break(d) and d not in holidays
    )


class BusinessCalendar:
    """One municipality's calendar. Build it once per request or command (one query).

    Business days are kept as a sorted list of ordinals over the years asked about, so
    counting and stepping are binary searches, not walks day by day (a list page marks
    fifty cases, some in their stage for years)."""

    def __init__(self, closed: frozenset[date] = frozenset()):
        self.closed = frozenset(closed)
        self._first_year = self._last_year = None
        self._days: list[int] = []  # ordinals of business days, ascending

    @classmethod
    def for_municipality(cls, municipality: Municipality | int | None) -> "BusinessCalendar":
        if municipality is None:
            return cls()
        days = ClosedDay.objects.filter(municipality=municipality).values_list("day", flat=True)
        return cls(frozenset(days))

    def is_business_day(self, day: date) -> bool:
        # Decided day by day, apart from the cached lists below: the tests check the lists
        # (and so every count and step) against this.
        return not (
            day.weekday() >= 5
            or _year_end_break(day)
            or jpholiday.is_holiday(day)
            or day in self.closed
        )

    def _year(self, year: int) -> list[int]:
        national = _national_business_days(year)
        if not self.closed:
            return list(national)
        closed = {d.toordinal() for d in self.closed if d.year == year}
        return [o for o in national if o not in closed]

    def _cover(self, first: int, last: int) -> None:
        """Make the list span the years first … last (and one either side, for stepping
        across a year end)."""
        first, last = max(first - 1, 1), min(last + 1, 9998)
        if self._first_year is None:
            self._days = [o for y in range(first, last + 1) for o in self._year(y)]
            self._first_year, self._last_year = first, last
            return
        if first < self._first_year:
            before = [o for y in range(first, self._first_year) for o in self._year(y)]
            self._days = before + self._days
            self._first_year = first
        if last > self._last_year:
            self._days += [o for y in range(self._last_year + 1, last + 1) for o in self._year(y)]
            self._last_year = last

    def _count_to(self, day: date) -> int:
        """Business days on or before `day`, within the covered years."""
        return bisect_right(self._days, day.toordinal())

    def add(self, start: date, days: int) -> date:
        """The `days`-th business day after `start` (start itself not counted)."""
        if days <= 0:
            return start
        # A business year has about 240 days: cover enough years ahead.
        self._cover(start.year, start.year + days // 200 + 1)
        return date.fromordinal(self._days[self._count_to(start) + days - 1])

    def back(self, end: date, days: int) -> date:
        """The `days`-th business day counted back from `end`, `end` included."""
        self._cover(end.year - days // 200 - 1, end.year)
        index = self._count_to(end) - days
        if index < 0:
            raise ValueError("before the calendar's first year")
        return date.fromordinal(self._days[index])

    def between(self, start: date, end: date) -> int:
        """Business days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.between(end, start)
        self._cover(start.year, end.year)
        return self._count_to(end) - self._count_to(start)


def days_by_stage(municipality: Municipality | int | None) -> dict[str, int]:
    days = {str(stage): n for stage, n in DEFAULT_DAYS.items()}
    if municipality is not None:
        rows = StageDeadline.objects.filter(municipality=municipality)
        days |= dict(rows.values_list("stage", "business_days"))
    return days


@dataclass(frozen=True)
class Deadline:
    due_on: date
    overdue: bool
    # Business days left until due (0 on the day itself), or how many are past (negative).
    business_days_left: int

    @property
    def business_days_late(self) -> int:
        return max(-self.business_days_left, 0)


class Deadlines:
    """Deadlines for one municipality on one day: two queries to build, none per case."""

    def __init__(self, municipality: Municipality | int | None, today: date):
        self.today = today
        self.calendar = BusinessCalendar.for_municipality(municipality)
        self.days = days_by_stage(municipality)

    def for_case(self, stage: str, stage_since: date) -> Deadline | None:
        if stage not in self.days:
            return None
        due = self.calendar.add(stage_since, self.days[stage])
        return Deadline(
            due_on=due,
            overdue=due < self._last_business_day,
            business_days_left=self.calendar.between(self.today, due),
        )

    def due_by(self, end: date) -> Q:
        """Cases whose deadline falls on or before `end`."""
        condition = Q(pk__in=[])
        for stage, days in self.days.items():
            cutoff = self.calendar.back(end, days)
            condition |= Q(stage=stage, stage_since__lt=cutoff)
        return condition

    @property
    def _last_business_day(self) -> date:
        return self.calendar.back(self.today, 1)

    def overdue(self) -> Q:
        """Cases past their deadline by at least one business day: a case due on Friday is
        not overdue on Saturday, but is on Monday."""
        return self.due_by(self._last_business_day - timedelta(days=1))

    def due_within(self, business_days: int) -> Q:
        """Overdue, or due within the next `business_days` business days (today included
        when it is a business day)."""
        end = self.calendar.add(self.today - timedelta(days=1), max(business_days, 1))
        return self.due_by(end)


class DeadlineBook:
    """Deadlines across the municipalities a user sees (one for city staff, those its
    company serves for contractor staff), built lazily: two queries per municipality."""

    def __init__(self, municipality_ids: Iterable[int], today: date):
        self.today = today
        self.municipality_ids = sorted(set(municipality_ids))
        self._books: dict[int, Deadlines] = {}

    def of(self, municipality_id: int) -> Deadlines:
        if municipality_id not in self._books:
            self._books[municipality_id] = Deadlines(municipality_id, self.today)
        return self._books[municipality_id]

    def mark(self, cases: Iterable) -> list:
        """Set `.deadline` on each case, for lists and the case page."""
        cases = list(cases)
        for case in cases:
            deadlines = self.of(case.municipality_id)
            case.deadline = deadlines.for_case(case.stage, case.stage_since)
        return cases

    def _each(self, condition) -> Q:
        combined = Q(pk__in=[])
        for mid in self.municipality_ids:
            combined |= Q(municipality_id=mid) & condition(self.of(mid))
        return combined

    def overdue(self) -> Q:
        return self._each(lambda d: d.overdue())

    def due_within(self, business_days: int) -> Q:
        return self._each(lambda d: d.due_within(business_days))
