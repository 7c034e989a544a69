"""Deadlines per stage, counted in the municipality's business days (開庁日).

A business day is a weekday that is not a national holiday (jpholiday, which follows the
Cabinet Office's list including substitute holidays), not in the year-end break 12/29–1/3
(行政機関の休日に関する法律 第1条), and not a day the municipality itself closes (ClosedDay).

The clock, one rule for the case page, the lists, the work queues, the dashboard and the
reminders:

- A case in stage S since day s may use N business days in S, where N is the
  municipality's StageDeadline for S or DEFAULT_DAYS. Day s itself is not counted.
- While the city waits on an agency's answer the clock stops. A request asked on day c and
  answered on day a (an AgencyContact; any other app may register such a wait with
  `register_pause`) stops the clock on the business days in (c, a]: the day the request
  went out was a working day, the day the answer came was still a day of waiting, work
  resumes on the next business day. A request still unanswered stops it from c + 1 on, for
  as long as it stays unanswered. Overlapping requests stop it once, not twice; a request
  answered before the stage began does not touch it; one asked in an earlier stage and
  still open stops the new stage's clock too.
- used(E) = business days in (s, E] on which the clock ran. The case is due by day E when
  used(E) ≥ N (its due date is the day used reaches N) and overdue on day T when
  used(T) ≥ N + 1: one business day past the due date on which the clock ran. A case due on
  Friday is not overdue on Saturday, but is on Monday; a case whose request went out on its
  due day is not overdue while it waits. Business days left = N − used(T), negative when
  late.

For lists, the database must filter and count without computing a clock per row. A case
that never waited in its stage (no request unanswered or answered after s) has
used(E) = business days in (s, E], so its rule is one date comparison on an index:
    used(E) ≥ K  ⇔  at least K business days lie in (s, E]
                 ⇔  s < the K-th business day counted back from E (inclusive) =: t
Each case keeps the last day its waits stopped the clock (`Case.waits_until`: the latest
answer, STILL_WAITING while a request is open; `refresh_waits`, called by the services
that record waits). The days after it all ran, so a case with waits_until < t is reached
whatever its waits; and a case waiting on a request that went out on or before s
(`Case.waiting_since` ≤ s) has used no day at all. Only the other cases with
s < t ≤ waits_until are in doubt: they are read
with their requests (one query per municipality, from an index) and their clocks run
here, and each stage's filter is the plain rule with the doubtful cases that fall short
left out by id, or, when fewer, the plain rule for the cases not in doubt with the
doubtful cases that are reached added by id: no subquery per case, and no list longer than
the doubtful cases. Both paths run the same `active_days`; tests/cases/test_clock_pauses.py
checks with Hypothesis that the per-case marks and the queryset filters agree for random
request histories.
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import jpholiday
from django.db import connection
from django.db.models import BooleanField, F, Max, Min, Model, OuterRef, Q, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Least, NullIf

from .models import Case, ClosedDay, Municipality, Stage, StageDeadline

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
def national_business_days(year: int) -> tuple[int, ...]:
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
        national = national_business_days(year)
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
        # Run for every case in doubt (cases/deadlines.Deadlines._decide): cover only when
        # needed, then two binary searches.
        if self._first_year is None or not (
            self._first_year < start.year and end.year < self._last_year
        ):
            self._cover(start.year, end.year)
        return bisect_right(self._days, end.toordinal()) - bisect_right(
            self._days, start.toordinal()
        )


def days_by_stage(municipality: Municipality | int | None) -> dict[str, int]:
    days = {str(stage): n for stage, n in DEFAULT_DAYS.items()}
    if municipality is not None:
        rows = StageDeadline.objects.filter(municipality=municipality)
        days |= dict(rows.values_list("stage", "business_days"))
    return days


# A wait on an agency: (asked on, answered on, or None while unanswered).
Pause = tuple[date, date | None]


@dataclass(frozen=True)
class PauseSource:
    """Rows of another app that stop a case's clock while they wait (AgencyContact).

    cases/ must not import remedies/ (DESIGN.md, Boundaries): remedies registers its model
    at start-up, as it registers its case-page sections."""

    model: type[Model]  # with a foreign key `case`
    start: str  # the day the wait began
    end: str  # the day it ended; null while waiting


_PAUSE_SOURCES: list[PauseSource] = []


def register_pause(source: PauseSource) -> None:
    if source not in _PAUSE_SOURCES:
        _PAUSE_SOURCES.append(source)


# Case.waits_until while a request is still unanswered: later than any day a clock reaches.
STILL_WAITING = date.max
_NEVER = date.min


def _combined(parts: list, pick, unknown: date):
    """One value from several sources' subqueries (Greatest and Least are null when any
    part is: the unknown value stands in for a null, and is turned back into one)."""
    if len(parts) == 1:
        return parts[0]
    return NullIf(pick(*(Coalesce(p, Value(unknown)) for p in parts)), Value(unknown))


def refresh_waits(case_ids: Iterable[int]) -> None:
    """Set `Case.waits_until` and `Case.waiting_since` of these cases from their waits, in
    one UPDATE: every service that records, answers or removes a wait calls it in its
    transaction (the deadline filters rely on them). waits_until: the latest answer,
    STILL_WAITING while any request is open, null without waits; waiting_since: the day the
    oldest open request went out."""
    # The base managers: the cases are named by id by the service that changed them, and the
    # subqueries read only their own rows, so no tenant scope is needed (nor widened).
    latest, oldest_open = [], []
    for source in _PAUSE_SOURCES:
        rows = source.model._base_manager.filter(case=OuterRef("pk")).order_by().values("case")
        latest.append(
            Subquery(
                rows.annotate(last=Max(Coalesce(source.end, Value(STILL_WAITING)))).values("last")
            )
        )
        oldest_open.append(
            Subquery(
                rows.filter(**{f"{source.end}__isnull": True})
                .annotate(first=Min(source.start))
                .values("first")
            )
        )
    if _PAUSE_SOURCES:
        Case._base_manager.filter(pk__in=list(case_ids)).update(
            waits_until=_combined(latest, Greatest, _NEVER),
            waiting_since=_combined(oldest_open, Least, STILL_WAITING),
        )


def waits_from(rows: Iterable[Model]) -> tuple[date | None, date | None]:
    """(waits_until, waiting_since) as refresh_waits sets them, from a case's rows in hand
    rather than in the database: the case-file import's compiled path builds a case and its
    requests in memory (remedies/interchange/compiled.py). Rows of no registered source are
    not waits."""
    pauses: list[Pause] = [
        (getattr(row, source.start), getattr(row, source.end))
        for row in rows
        for source in _PAUSE_SOURCES
        if isinstance(row, source.model)
    ]
    if not pauses:
        return None, None
    still_open = [start for start, end in pauses if end is None]
    return (
        max(STILL_WAITING if end is None else end for _, end in pauses),
        min(still_open) if still_open else None,
    )


def _not_stopped_all_stage(prefix: str = "") -> Q:
    """Cases whose clock may have run in their stage: not waiting on a request that went
    out on or before the day the stage began (such a clock has used no day, and no stage
    allows 0: StageDeadline's constraint, at least 1)."""
    return Q(**{f"{prefix}waiting_since__isnull": True}) | Q(
        **{f"{prefix}waiting_since__gt": F(f"{prefix}stage_since")}
    )


@dataclass(frozen=True)
class _Branch:
    """One stage's part of a filter of cases whose clock reached a threshold: the plain
    rule (stage_since before the threshold) with the cases in doubt decided. When fewer of
    them fall short than are reached, the plain rule less those short; otherwise the plain
    rule for the cases not in doubt, and those reached by id."""

    stage: str
    threshold: date
    reached: list[int]
    short: list[int]

    @property
    def _less_short(self) -> bool:
        return len(self.short) <= len(self.reached)

    def q(self) -> Q:
        branch = Q(stage=self.stage, stage_since__lt=self.threshold)
        if self._less_short:
            branch &= _not_stopped_all_stage()
            if self.short:
                branch &= ~Q(pk__in=self.short)
        else:
            branch &= Q(waits_until__isnull=True) | Q(waits_until__lt=self.threshold)
            if self.reached:
                branch |= Q(stage=self.stage, pk__in=self.reached)
        return branch

    def sql(self) -> tuple[str, list]:
        """The same condition as `q()`, as SQL on the case table's own columns (unqualified:
        the query's only table)."""
        day = connection.ops.adapt_datefield_value(self.threshold)
        plain = "stage = %s AND stage_since < %s"
        params: list = [self.stage, day]
        if self._less_short:
            sql = f"{plain} AND (waiting_since IS NULL OR waiting_since > stage_since)"
            if self.short:
                sql += f" AND NOT (id IN ({', '.join(['%s'] * len(self.short))}))"
                params += self.short
            return f"({sql})", params
        sql = f"({plain} AND (waits_until IS NULL OR waits_until < %s))"
        params.append(day)
        if self.reached:
            sql += f" OR (stage = %s AND id IN ({', '.join(['%s'] * len(self.reached))}))"
            params += [self.stage, *self.reached]
        return f"({sql})", params


def _among_key(among: dict | None) -> tuple | None:
    """`among` (lookups on the case: {"assignee": user}) as a key: a model by its class and
    id, a collection as a tuple."""
    if among is None:
        return None
    key = []
    for name, value in sorted(among.items()):
        if isinstance(value, Model):
            value = (type(value).__name__, value.pk)
        elif isinstance(value, (list, tuple, set, frozenset)):
            value = tuple(getattr(v, "pk", v) for v in value)
        key.append((name, value))
    return tuple(key)


@dataclass(frozen=True)
class Deadline:
    stage: str
    # None while the clock is stopped with days still left: the day is not known yet.
    due_on: date | None
    overdue: bool
    # Business days left until due (0 on the day itself), or how many are past (negative).
    business_days_left: int
    # The earliest unanswered request, when the clock is stopped now.
    paused_since: date | None = None
    # Business days of the stage, up to today, on which the clock was stopped.
    paused_days: int = 0

    @property
    def business_days_late(self) -> int:
        return max(-self.business_days_left, 0)

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label


class Deadlines:
    """Deadlines for one municipality on one day: two queries to build, a third the first
    time a clock or filter needs the cases that waited on an agency; none per case."""

    def __init__(self, municipality: Municipality | int | None, today: date):
        self.today = today
        self.municipality_id = getattr(municipality, "pk", municipality)
        self.calendar = BusinessCalendar.for_municipality(municipality)
        self.days = days_by_stage(municipality)
        # Waits read for some cases only (a page marking a few cases): case id → waits, and
        # the ids read, with or without waits.
        self._some: dict[int, tuple[str, date, list[Pause]]] = {}
        self._read: set[int] = set()
        # (end, extra, among) → stage → (ids reached, ids short) of the cases in doubt.
        self._doubtful: dict[tuple, dict[str, tuple[list[int], list[int]]]] = {}

    # ---- the rule --------------------------------------------------------------------

    def active_days(self, since: date, end: date, pauses: Iterable[Pause] = ()) -> int:
        """used(end): business days in (since, end] on which the clock ran."""
        if end <= since:
            return 0
        spans = sorted(
            (max(start, since), end if stop is None else min(stop, end)) for start, stop in pauses
        )
        stopped, reach = 0, since
        for low, high in spans:
            low = max(low, reach)  # overlapping waits stop the clock once
            if high > low:
                stopped += self.calendar.between(low, high)
                reach = high
        return self.calendar.between(since, end) - stopped

    def _reach_day(self, since: date, n: int, pauses: list[Pause]) -> date:
        """The first day on which used reaches n (it must reach it)."""
        day = self.calendar.add(since, n)
        while (used := self.active_days(since, day, pauses)) < n:
            # Never past the answer: the next n − used business days hold at most that many
            # days on which the clock ran.
            day = self.calendar.add(day, n - used)
        return day

    def clock(self, stage: str, stage_since: date, pauses: Iterable[Pause] = ()) -> Deadline | None:
        if stage not in self.days:
            return None
        pauses = list(pauses)
        n = self.days[stage]
        used = self.active_days(stage_since, self.today, pauses)
        waiting = [start for start, stop in pauses if stop is None]
        left = n - used
        due = None if waiting and left > 0 else self._reach_day(stage_since, n, pauses)
        return Deadline(
            stage=stage,
            due_on=due,
            overdue=left < 0,
            business_days_left=left,
            paused_since=min(waiting) if waiting else None,
            paused_days=max(self.calendar.between(stage_since, self.today), 0) - used,
        )

    def for_case(self, case) -> Deadline | None:
        """The clock of one case of this municipality, with its waits on agencies."""
        if case.stage not in self.days:
            return None
        self.read_waits([case.pk])
        waited = self._some.get(case.pk)
        return self.clock(case.stage, case.stage_since, waited[2] if waited else ())

    def days_late(self, case) -> int:
        """Business days the case's clock has run past its stage's allowance, 0 when not
        late: `for_case(case).business_days_late` without working out the due day (the
        dashboard ranks fifty cases by it to list ten)."""
        if case.stage not in self.days:
            return 0
        self.read_waits([case.pk])
        waited = self._some.get(case.pk)
        used = self.active_days(case.stage_since, self.today, waited[2] if waited else ())
        return max(used - self.days[case.stage], 0)

    def mark(self, cases: Iterable) -> list:
        """Set `.deadline` on each of these cases of this municipality (one read of their
        waits)."""
        cases = list(cases)
        self.read_waits([case.pk for case in cases if case.stage in self.days])
        for case in cases:
            case.deadline = self.for_case(case)
        return cases

    def read_waits(self, case_ids: Iterable[int]) -> None:
        """Read the waits of these cases (one query per registered source), those not read
        yet: a page that marks a few cases reads as much at 100,000 cases as at 1,000."""
        missing = [pk for pk in case_ids if pk not in self._read]
        if not missing:
            return
        self._some |= self._load_waits(ids=missing)
        self._read.update(missing)

    # ---- the same rule as a database filter -------------------------------------------

    def _load_waits(
        self, cases: Q | None = None, *, ids: list[int] | None = None
    ) -> dict[int, tuple[str, date, list[Pause]]]:
        """The waits that may stop the clock of the municipality's cases matching `cases`
        (lookups on the wait's row), or of the cases `ids`: case id → (stage, stage_since,
        waits). One query per registered source."""
        waited: dict[int, tuple[str, date, list[Pause]]] = {}
        quote = connection.ops.quote_name
        case = quote(Case._meta.db_table)
        stages = list(self.days)
        for source in _PAUSE_SOURCES:
            # The municipality's cases with a clock, and the waits that may stop the clock
            # of their case's current stage: still waiting, or answered after the stage
            # began. As SQL on the joined case table (the values read below join it, under
            # its own name): built afresh for each read, the ORM's lookups through the join
            # cost more than the query.
            meta = source.model._meta
            end = f"{quote(meta.db_table)}.{quote(meta.get_field(source.end).column)}"
            marks = ", ".join(["%s"] * len(stages))
            where = (
                f"{case}.municipality_id = %s AND {case}.stage IN ({marks})"
                f" AND ({end} IS NULL OR {end} > {case}.stage_since)"
            )  # names from the models, values parameters
            params = [self.municipality_id, *stages]
            if ids is not None:
                # The ids as plain parameters: a `case_id__in` lookup passes each of up to
                # 200 (a work queue's rows) through the foreign key's field, which cost more
                # than the query.
                column = f"{quote(meta.db_table)}.{quote(meta.get_field('case').column)}"
                where += f" AND {column} IN ({', '.join(['%s'] * len(ids))})"
                params += [int(pk) for pk in ids]
            waits = RawSQL(where, params, output_field=BooleanField())  # noqa: S611  # nosec B611
            rows = source.model.objects.filter(cases or Q(), waits).order_by()  # into a dict
            for case_id, stage, since, start, stop in rows.values_list(
                "case_id", "case__stage", "case__stage_since", source.start, source.end
            ):
                waited.setdefault(case_id, (stage, since, []))[2].append((start, stop))
        return waited

    def _decide(
        self, end: date, extra: int, thresholds: dict[str, date], among: dict | None
    ) -> dict[str, tuple[list[int], list[int]]]:
        """The cases in doubt (the plain rule reaches them, their waits reach past its
        threshold): their clocks run here. Stage → (ids reached, ids short)."""
        # As SQL on the joined case table (named as itself: the query's one join to it), not
        # an ORM filter: some twenty lookups through the join, built and compiled afresh on
        # every page that filters by the clock. The same as, per stage, Q(case__stage=stage,
        # case__stage_since__lt=t, case__waits_until__gte=t) & _not_stopped_all_stage("case__").
        case = connection.ops.quote_name(Case._meta.db_table)
        parts, params = [], []
        for stage, threshold in thresholds.items():
            parts.append(
                f"({case}.stage = %s AND {case}.stage_since < %s AND {case}.waits_until >= %s"
                f" AND ({case}.waiting_since IS NULL OR {case}.waiting_since > {case}.stage_since))"
            )
            day = connection.ops.adapt_datefield_value(threshold)
            params += [stage, day, day]
        where = " OR ".join(parts) or "1 = 0"  # fixed text; days are parameters
        doubt = Q(RawSQL(where, params, output_field=BooleanField()))  # noqa: S611  # nosec B611
        if among:
            doubt &= Q(**{f"case__{k}": v for k, v in among.items()})
        decided: dict[str, tuple[list[int], list[int]]] = {s: ([], []) for s in self.days}
        for case_id, (stage, since, pauses) in self._load_waits(doubt).items():
            reached = self.active_days(since, end, pauses) >= self.days[stage] + extra
            decided[stage][0 if reached else 1].append(case_id)
        return decided

    def _branches(
        self, end: date, extra: int, among: dict | None = None, stages: list | None = None
    ) -> list["_Branch"]:
        """Each stage's part of the filter of cases whose clock has run at least N + extra
        business days by `end` (in `stages`, or any).

        The plain rule (one date comparison per stage, on the (municipality, stage,
        stage_since) index) counts every day since the stage began; it is right for every
        case whose waits ended before its threshold. The cases in doubt are read once per
        (end, extra) and decided here, and each stage's filter takes the shorter list.
        With `among` (lookups on the case), only those cases' waits are read: the filter is
        then right only for cases that match it (the work queue of one person's cases)."""
        thresholds = {stage: self.calendar.back(end, n + extra) for stage, n in self.days.items()}
        # Read once per (end, extra, among): the work queue asks for each stage's part apart.
        key = (end, extra, _among_key(among))
        decided = self._doubtful.get(key)
        if decided is None:
            decided = self._doubtful[key] = self._decide(end, extra, thresholds, among)
        return [
            _Branch(stage, threshold, *decided[stage])
            for stage, threshold in thresholds.items()
            if stages is None or stage in stages
        ]

    def _reached(
        self, end: date, extra: int, among: dict | None = None, stages: list | None = None
    ) -> Q:
        condition = Q(pk__in=[])
        for branch in self._branches(end, extra, among, stages):
            condition |= branch.q()
        return condition

    def overdue(self, stages: list | None = None) -> Q:
        """Cases (in `stages`, or any) whose clock has run more business days than the
        stage allows."""
        return self._reached(self.today, 1, stages=stages)

    def overdue_sql(self, stages: list | None = None) -> RawSQL:
        """The filter `overdue(stages)` gives, written as SQL rather than built by the ORM,
        for a query whose only table is the case table (`.filter(deadlines.overdue_sql())`,
        also in a subquery): the dashboard asks it several times afresh, where building and
        compiling the ORM's filter of some twenty lookups each time was most of its cost.
        The same branches as overdue(); tests/cases/test_clock_pauses.py checks that both
        find the same cases."""
        parts, params = [], []
        for branch in self._branches(self.today, 1, stages=stages):
            sql, branch_params = branch.sql()
            parts.append(sql)
            params += branch_params
        where = " OR ".join(parts) or "1 = 0"  # fixed text; days and ids are parameters
        return RawSQL(where, params, output_field=BooleanField())  # noqa: S611  # nosec B611

    def due_within(self, business_days: int, among: dict | None = None) -> Q:
        """Overdue, or due within the next `business_days` business days (today included
        when it is a business day). With `among`, right only for the cases matching it."""
        return self._reached(self._due_end(business_days), 0, among)

    def due_within_sql(
        self, business_days: int, among: dict | None = None, stages: list | None = None
    ) -> RawSQL:
        """The filter `due_within()` gives (in `stages`, or any), written as SQL on the case
        table's own columns (as `overdue_sql`, for a query whose only table is the case
        table): the work queues ask it afresh on every request, and count it too."""
        parts, params = [], []
        for branch in self._branches(self._due_end(business_days), 0, among, stages):
            sql, branch_params = branch.sql()
            parts.append(sql)
            params += branch_params
        where = " OR ".join(parts) or "1 = 0"  # fixed text; days and ids are parameters
        return RawSQL(where, params, output_field=BooleanField())  # noqa: S611  # nosec B611

    def _due_end(self, business_days: int) -> date:
        return self.calendar.add(self.today - timedelta(days=1), max(business_days, 1))


class DeadlineBook:
    """Deadlines across the municipalities a user sees (one for city staff, those its
    company serves for contractor staff), built lazily: a few queries per municipality."""

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
        timed: dict[int, list[int]] = {}
        for case in cases:
            if case.stage in TIMED_STAGES:
                timed.setdefault(case.municipality_id, []).append(case.pk)
        for mid, ids in timed.items():  # the waits of these cases, one read per municipality
            self.of(mid).read_waits(ids)
        for case in cases:
            case.deadline = self.of(case.municipality_id).for_case(case)
        return cases

    def _each(self, condition) -> Q:
        combined = Q(pk__in=[])
        for mid in self.municipality_ids:
            combined |= Q(municipality_id=mid) & condition(self.of(mid))
        return combined

    def overdue(self) -> Q:
        return self._each(lambda d: d.overdue())

    def due_within(self, business_days: int, among: dict | None = None) -> Q:
        """With `among` (lookups on the case), right only for the cases matching it: their
        waits alone are read."""
        return self._each(lambda d: d.due_within(business_days, among))

    def due_within_sql(
        self, business_days: int, among: dict | None = None, stages: list | None = None
    ) -> RawSQL:
        """`due_within()` (in `stages`, or any) as SQL on the case table's own columns
        (`Deadlines.due_within_sql`), each municipality's part under its own id, for a query
        whose only table is the case table."""
        parts, params = [], []
        for mid in self.municipality_ids:
            raw = self.of(mid).due_within_sql(business_days, among, stages)
            parts.append(f"(municipality_id = %s AND ({raw.sql}))")
            params += [mid, *raw.params]
        where = " OR ".join(parts) or "1 = 0"  # fixed text; ids, days are parameters
        return RawSQL(where, params, output_field=BooleanField())  # noqa: S611  # nosec B611
