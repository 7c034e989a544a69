"""Deadlines in business days: the calendar, and the database filter agreeing with it."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.html import strip_tags
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.deadlines import BusinessCalendar, DeadlineBook, Deadlines
from cases.models import Case, ClosedDay, Stage, StageDeadline
from cases.scoping import tenant_scope
from cases.templatetags.tadasu import deadline as deadline_filter
from tests.factories import CaseFactory

calendar = BusinessCalendar()


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 11, 24), True),
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 12, 28), True),  # 御用納め
        (date(2026, 12, 29), False),  # year-end break
        (date(2027, 1, 3), False),
        (date(2027, 1, 4), True),  # 御用始め
        (date(2026, 1, 2), False),  # year-end break, a Friday
        (date(2025, 1, 3), False),  # year-end break, a Friday
        (date(2026, 2, 2), True),  # the first days of any other month are ordinary days
        (date(2026, 3, 3), True),
        (date(2023, 3, 21), False),  # 春分の日
        (date(2024, 5, 6), False),  # substitute holiday for こどもの日
    ],
)
def test_business_days_follow_the_national_calendar(day, open_):
    assert calendar.is_business_day(day) is open_


def test_a_deadline_skips_the_holiday_and_the_year_end_break():
    # Friday 11/20 + 1 business day: Monday 11/23 is a holiday, so Tuesday.
    assert calendar.add(date(2026, 11, 20), 1) == date(2026, 11, 24)
    # 12/25 (Fri) + 2: 12/28 (Mon), then 12/29–1/3 closed, then 1/4 (Mon).
    assert calendar.add(date(2026, 12, 25), 2) == date(2027, 1, 4)


def test_a_closed_day_of_the_municipality_is_not_a_business_day():
    closed = BusinessCalendar(frozenset({date(2026, 11, 24)}))
    assert not closed.is_business_day(date(2026, 11, 24))
    assert closed.add(date(2026, 11, 20), 1) == date(2026, 11, 25)


days = st.dates(min_value=date(2022, 1, 1), max_value=date(2028, 12, 31))


# No per-example deadline: the first example also builds the national calendar (cached).
@settings(deadline=None)
@given(
    since=days,
    end=days,
    n=st.integers(min_value=1, max_value=60),
    closed=st.frozensets(days, max_size=5),
)
def test_the_cutoff_the_database_uses_agrees_with_counting_forward(since, end, n, closed):
    """due on or before E ⇔ stage_since < the n-th business day back from E."""
    cal = BusinessCalendar(closed)
    assert (cal.add(since, n) <= end) == (since < cal.back(end, n))


@settings(deadline=None)
@given(start=days, end=days)
def test_between_counts_business_days_both_ways(start, end):
    count = calendar.between(start, end)
    assert count == -calendar.between(end, start)
    if start <= end:
        assert count == sum(
            calendar.is_business_day(start + timedelta(days=i))
            for i in range(1, (end - start).days + 1)
        )


@pytest.mark.django_db
def test_the_overdue_filter_finds_exactly_the_cases_marked_overdue(world):
    StageDeadline.objects.create(
        municipality=world.city, stage=Stage.AGENCY_CONTACT, business_days=3
    )
    ClosedDay.objects.create(municipality=world.city, day=date(2026, 11, 19))
    today = date(2026, 11, 26)
    stages = [Stage.INQUIRY, Stage.AGENCY_CONTACT, Stage.VISIT, Stage.CLOSED]
    for i in range(60):
        CaseFactory(
            office=world.office,
            stage=stages[i % len(stages)],
            stage_since=today - timedelta(days=i),
        )
    with tenant_scope(world.manager):
        book = DeadlineBook([world.city.pk], today)
        marked = book.mark(Case.objects.all())
        expected = {c.pk for c in marked if c.deadline and c.deadline.overdue}
        found = set(Case.objects.filter(book.overdue()).values_list("pk", flat=True))
    assert expected == found
    assert 0 < len(found) < 60
    # Stage by stage, as the dashboard counts them: each stage's own overdue cases.
    with tenant_scope(world.manager):
        deadlines = book.of(world.city.pk)
        for stage in stages:
            in_stage = set(
                Case.objects.filter(deadlines.overdue(stages=[stage])).values_list("pk", flat=True)
            )
            assert in_stage == {c.pk for c in marked if c.pk in expected and c.stage == stage}
    assert {c.stage for c in marked if c.pk in expected} >= {Stage.INQUIRY, Stage.VISIT}
    # Closed cases have no clock.
    assert all(c.deadline is None for c in marked if c.stage == Stage.CLOSED)


@pytest.mark.django_db
def test_a_page_of_cases_is_marked_with_as_many_queries_as_one_case(world):
    """The case list marks its 25 rows with one read of their waits, not one per case: a
    page costs the same whatever its rows, and the marks are each case's own clock."""
    today = date(2026, 11, 26)
    stages = [Stage.INQUIRY, Stage.AGENCY_CONTACT, Stage.NEGOTIATION, Stage.VISIT]
    for i in range(25):
        CaseFactory(office=world.office, stage=stages[i % 4], stage_since=today - timedelta(i))
    with tenant_scope(world.manager):
        cases = list(Case.objects.order_by("pk"))
        alone = [Deadlines(world.city, today).for_case(case) for case in cases]
        # The lists and queues mark through the book of every city the user sees; the
        # dashboard's longest overdue and the reminders through one city's deadlines.
        for marker in (
            lambda: DeadlineBook([world.city.pk], today),
            lambda: Deadlines(world.city, today),
        ):
            counts = []
            for page in (cases[:1], cases):
                for case in page:
                    case.deadline = None
                with CaptureQueriesContext(connection) as queries:
                    marked = marker().mark(page)
                counts.append(len(queries.captured_queries))
            assert counts[0] == counts[1]
            assert [case.deadline for case in marked] == alone
    assert all(mark is not None for mark in alone)


@pytest.mark.django_db
def test_a_case_due_on_friday_is_overdue_on_monday_not_on_saturday(world):
    friday = date(2026, 11, 20)
    with tenant_scope(world.manager):
        StageDeadline.objects.create(municipality=world.city, stage=Stage.INQUIRY, business_days=1)
        since = friday - timedelta(days=1)  # Thursday: due Friday
        saturday = Deadlines(world.city, friday + timedelta(days=1)).clock("inquiry", since)
        tuesday = Deadlines(world.city, friday + timedelta(days=4)).clock("inquiry", since)
    assert saturday.due_on == friday and not saturday.overdue
    # Monday 11/23 is a holiday, so Tuesday is the first business day after the deadline.
    assert tuesday.overdue and tuesday.business_days_late == 1
    # As every list shows it: the badge, the day it was due, the stage and the days late.
    with translation.override("ja"):
        shown = strip_tags(deadline_filter(tuesday))
    assert shown == "期限超過 令和8年11月20日（調査：1開庁日超過）"


@pytest.mark.django_db
def test_each_municipalitys_calendar_and_deadlines_stay_its_own(world):
    """A contractor serving two cities sees each case's deadline by its own city's rules:
    one city's closed days and per-stage settings never leak into the other's."""
    thursday = date(2026, 11, 12)
    StageDeadline.objects.create(municipality=world.city, stage=Stage.INQUIRY, business_days=2)
    ClosedDay.objects.create(municipality=world.city, day=date(2026, 11, 13))  # Friday
    ours = CaseFactory(
        office=world.office, contractor=world.other_co, stage=Stage.INQUIRY, stage_since=thursday
    )
    theirs = CaseFactory(
        office=world.other_city_office,
        contractor=world.other_co,
        stage=Stage.INQUIRY,
        stage_since=thursday,
    )
    today = date(2026, 11, 19)
    with tenant_scope(world.other_contractor):
        book = DeadlineBook([world.city.pk, world.other_city.pk], today)
        marked = {c.pk: c.deadline for c in book.mark(Case.objects.all())}
        overdue = set(Case.objects.filter(book.overdue()).values_list("pk", flat=True))
        due_soon = set(Case.objects.filter(book.due_within(7)).values_list("pk", flat=True))
    # The city: two business days, its closed Friday skipped: due Tuesday 17th, 2 days late.
    assert (marked[ours.pk].due_on, marked[ours.pk].business_days_late) == (
        date(2026, 11, 17),
        2,
    )
    # The other city: the default ten business days, Friday 13th open, 23rd a holiday.
    assert (marked[theirs.pk].due_on, marked[theirs.pk].overdue) == (date(2026, 11, 27), False)
    assert marked[theirs.pk].business_days_left == 5  # 13th, 16th–19th used
    assert overdue == {ours.pk}
    assert theirs.pk in due_soon


# The business days of each stage until a city sets its own (README, "Deadlines").
DOCUMENTED_DEFAULTS = {
    Stage.INQUIRY: 10,
    Stage.AGENCY_CONTACT: 20,
    Stage.NEGOTIATION: 30,
    Stage.VISIT: 15,
    Stage.SETTLEMENT: 10,
}


@pytest.mark.django_db
@pytest.mark.parametrize("stage", sorted(DOCUMENTED_DEFAULTS))
def test_without_settings_each_stage_has_its_default_deadline(world, stage):
    since = date(2026, 10, 1)
    with tenant_scope(world.staff_other_city):
        clock = Deadlines(world.other_city, date(2026, 10, 2)).clock(stage, since)
    assert clock.due_on == calendar.add(since, DOCUMENTED_DEFAULTS[stage])
    # One business day (Friday 2nd) used, none late, nothing waited for.
    assert clock.business_days_left == DOCUMENTED_DEFAULTS[stage] - 1
    assert (clock.overdue, clock.business_days_late, clock.paused_days) == (False, 0, 0)
    with tenant_scope(world.staff_other_city):
        first_day = Deadlines(world.other_city, since).clock(stage, since)
    assert (first_day.business_days_left, first_day.paused_days) == (
        DOCUMENTED_DEFAULTS[stage],
        0,
    )


@pytest.mark.django_db
def test_a_clock_stopped_on_its_last_day_still_shows_that_day(world):
    """Two business days from Thursday 12th: Friday 13th and Monday 16th. A request to an
    agency on the 16th, still unanswered on Tuesday 17th, stops the clock with no day left:
    the due day is known (the 16th), nothing is late, and one day (17th) was waited."""
    StageDeadline.objects.create(municipality=world.city, stage=Stage.INQUIRY, business_days=2)
    monday = date(2026, 11, 16)
    with tenant_scope(world.staff):
        clock = Deadlines(world.city, date(2026, 11, 17)).clock(
            Stage.INQUIRY, date(2026, 11, 12), [(monday, None)]
        )
    assert (clock.due_on, clock.business_days_left, clock.overdue) == (monday, 0, False)
    assert (clock.paused_since, clock.paused_days, clock.business_days_late) == (monday, 1, 0)


def test_counting_back_crosses_into_the_previous_year():
    # A calendar that has seen no other year yet: Tuesday 5 January 2027, Monday the 4th
    # (御用始め), then back over the year-end break to Monday 28 December 2026 (御用納め).
    assert BusinessCalendar().back(date(2027, 1, 5), 3) == date(2026, 12, 28)


def test_a_calendar_counts_the_same_whatever_it_was_asked_before():
    """One calendar serves a whole page: its answers must not depend on which years it
    happened to look at first (it extends its list of business days as it goes)."""
    asked = [
        (date(2026, 1, 5), date(2026, 1, 9)),
        (date(2026, 1, 5), date(2029, 1, 9)),
        (date(2030, 1, 4), date(2030, 6, 1)),
        (date(2031, 3, 2), date(2032, 2, 2)),
        (date(2024, 4, 1), date(2024, 5, 1)),
    ]
    shared = BusinessCalendar()
    assert shared.add(date(2026, 11, 21), 0) == date(2026, 11, 21)  # no days: the day itself
    for start, end in asked:
        assert shared.between(start, end) == BusinessCalendar().between(start, end), (start, end)
        assert shared.add(start, 30) == BusinessCalendar().add(start, 30), start


@pytest.mark.django_db
def test_due_within_zero_days_still_means_due_today(world):
    """A reminder run with `--days 0` still reminds of what is due today."""
    StageDeadline.objects.create(municipality=world.city, stage=Stage.INQUIRY, business_days=1)
    wednesday = date(2026, 11, 18)
    due_today = CaseFactory(
        office=world.office, stage=Stage.INQUIRY, stage_since=wednesday - timedelta(days=1)
    )
    with tenant_scope(world.manager):
        deadlines = Deadlines(world.city, wednesday)
        for days in (0, 1):
            assert list(Case.objects.filter(deadlines.due_within(days))) == [due_today], days
        assert not Case.objects.filter(deadlines.overdue()).exists()


def test_counting_back_the_longest_stage_a_city_may_set():
    """A stage may last up to 250 business days, and the overdue filter counts back one more:
    from early January that reaches two calendar years back. Checked against a walk back
    day by day."""
    end, days = date(2027, 1, 5), 251
    walked, day = [], end
    while len(walked) < days:
        if calendar.is_business_day(day):
            walked.append(day)
        day -= timedelta(days=1)
    assert BusinessCalendar().back(end, days) == walked[-1]
    assert walked[-1].year == 2025
