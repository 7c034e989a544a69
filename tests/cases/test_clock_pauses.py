"""The stage clock stops while an agency's answer is awaited (cases/deadlines.py), and the
per-case marks (case page, lists) and the database filters (counts, queues, the overdue
filter) agree on every case, whatever the history of requests."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.deadlines import (
    DEFAULT_DAYS,
    STILL_WAITING,
    TIMED_STAGES,
    BusinessCalendar,
    DeadlineBook,
    Deadlines,
    _Branch,
    refresh_waits,
    waits_from,
)
from cases.models import Case, Stage, StageDeadline
from cases.scoping import tenant_scope
from remedies.models import AgencyContact, Channel, Side
from tests.factories import CaseFactory

calendar = BusinessCalendar()


def naive_used(since: date, end: date, pauses) -> int:
    """used(end) by walking day by day: a business day after `since` on which no request
    was waiting (asked before it, unanswered or answered on or after it)."""
    used = 0
    day = since + timedelta(days=1)
    while day <= end:
        waiting = any(c < day and (a is None or day <= a) for c, a in pauses)
        if calendar.is_business_day(day) and not waiting:
            used += 1
        day += timedelta(days=1)
    return used


days = st.dates(min_value=date(2026, 6, 1), max_value=date(2026, 12, 31))
pause = st.tuples(days, st.one_of(st.none(), st.integers(0, 40)))


@settings(deadline=None, max_examples=200)
@given(since=days, end=days, pauses=st.lists(pause, max_size=4))
def test_the_clock_counts_the_business_days_nobody_waited(since, end, pauses):
    pauses = [(c, None if a is None else c + timedelta(days=a)) for c, a in pauses]
    deadlines = Deadlines(None, end)
    assert deadlines.active_days(since, end, pauses) == naive_used(since, end, pauses)


@settings(deadline=None, max_examples=200)
@given(
    since=st.dates(min_value=date(2026, 6, 1), max_value=date(2026, 11, 30)),
    pauses=st.lists(pause, max_size=3),
    stage=st.sampled_from(TIMED_STAGES),
)
def test_a_clock_says_when_it_is_due_and_how_late_it_is(since, pauses, stage):
    today = date(2026, 12, 2)
    pauses = [(c, None if a is None else min(c + timedelta(days=a), today)) for c, a in pauses]
    pauses = [(c, a) for c, a in pauses if c <= today]
    deadline = Deadlines(None, today).clock(stage, since, pauses)
    n = DEFAULT_DAYS[stage]
    used = naive_used(since, today, pauses)
    assert deadline.business_days_left == n - used
    assert deadline.overdue == (used > n)
    waiting = [c for c, a in pauses if a is None]
    assert deadline.paused == bool(waiting)
    if deadline.due_on is None:
        assert waiting and used < n
    else:
        # The due date is the day the clock reached its N-th business day.
        assert naive_used(since, deadline.due_on, pauses) == n
        assert naive_used(since, deadline.due_on - timedelta(days=1), pauses) == n - 1


history = st.lists(
    st.tuples(
        st.sampled_from([*TIMED_STAGES, Stage.CLOSED]),
        st.integers(0, 20),  # stage since, days before today
        st.lists(
            # a request: asked (days before today), answered after it (None: still waiting)
            st.tuples(st.integers(0, 25), st.one_of(st.none(), st.integers(0, 10))),
            max_size=3,
        ),
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.django_db
def test_marks_and_database_filters_agree_for_random_request_histories(world):
    # Short limits, so that cases land on their due day, a day either side, and in waits.
    limits = dict(zip(TIMED_STAGES, (2, 3, 1, 4, 2), strict=True))
    for stage, n in limits.items():
        StageDeadline.objects.create(municipality=world.city, stage=stage, business_days=n)

    @settings(
        deadline=None,
        max_examples=40,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(cases=history, today=st.dates(date(2026, 9, 1), date(2026, 12, 31)))
    def check(cases, today):
        with transaction.atomic():
            pauses_of = {}
            holders = (world.staff, world.manager, None)
            for i, (stage, since_back, requests) in enumerate(cases):
                case = CaseFactory(
                    office=world.office,
                    created_by=world.staff,
                    assignee=holders[i % 3],
                    stage=stage,
                    stage_since=today - timedelta(days=since_back),
                )
                pauses_of[case.pk] = []
                for asked_back, answer_after in requests:
                    asked = today - timedelta(days=asked_back)
                    answered = (
                        None
                        if answer_after is None
                        else min(asked + timedelta(days=answer_after), today)
                    )
                    AgencyContact.objects.create(
                        case=case,
                        municipality=world.city,
                        made_by=Side.MUNICIPALITY,
                        contacted_on=asked,
                        channel=Channel.PHONE,
                        request="照会",
                        answered_on=answered,
                        created_by=world.staff,
                    )
                    pauses_of[case.pk].append((asked, answered))
                refresh_waits([case.pk])  # what the services keep, written around them here
            with tenant_scope(world.manager):
                book = DeadlineBook([world.city.pk], today)
                marked = book.mark(Case.objects.all())
                by_marks = {c.pk for c in marked if c.deadline and c.deadline.overdue}
                by_filter = set(Case.objects.filter(book.overdue()).values_list("pk", flat=True))
                assert by_marks == by_filter
                # The same filter written as SQL (the dashboard's), in all and stage by stage.
                deadlines = book.of(world.city.pk)
                by_sql = Case.objects.filter(deadlines.overdue_sql()).values_list("pk", flat=True)
                assert set(by_sql) == by_filter
                for stage in limits:
                    in_stage = Case.objects.filter(deadlines.overdue_sql(stages=[stage]))
                    assert {c.pk for c in marked if c.stage == stage and c.pk in by_filter} == set(
                        in_stage.values_list("pk", flat=True)
                    )
                for k in (1, 3):
                    end = calendar.add(today - timedelta(days=1), k)
                    expected = {
                        c.pk
                        for c in marked
                        if c.stage in limits
                        and naive_used(c.stage_since, end, pauses_of[c.pk]) >= limits[c.stage]
                    }
                    found = Case.objects.filter(book.due_within(k)).values_list("pk", flat=True)
                    assert expected == set(found)
                    # The same filter as SQL (the work queues'), also in a subquery.
                    by_sql = Case.objects.filter(book.due_within_sql(k))
                    assert expected == set(by_sql.values_list("pk", flat=True))
                    picked = Case.objects.filter(pk__in=by_sql.values("pk"))
                    assert expected == set(picked.values_list("pk", flat=True))
                    # One person's cases a stage at a time (a staff member's work queue):
                    # right for those cases, whoever else's waits were read before.
                    for holder in (world.staff, world.manager):
                        among = {"assignee": holder}
                        theirs = Case.objects.filter(**among)
                        by_stage = set()
                        for stage in limits:
                            part = theirs.filter(book.due_within_sql(k, among, [stage]))
                            by_stage |= set(part.values_list("pk", flat=True))
                        mine = set(theirs.values_list("pk", flat=True))
                        assert by_stage == expected & mine
                for c in marked:
                    if c.stage in limits:
                        used = naive_used(c.stage_since, today, pauses_of[c.pk])
                        assert c.deadline.overdue == (used > limits[c.stage])
                        assert c.deadline.business_days_left == limits[c.stage] - used
                    # The dashboard's ranking: the days late without the rest of the clock.
                    assert deadlines.days_late(c) == (
                        c.deadline.business_days_late if c.deadline else 0
                    )
            transaction.set_rollback(True)

    check()


@pytest.mark.django_db
def test_the_filters_count_each_case_in_doubt_by_its_own_clock(world):
    """Cases whose waits on agencies leave the plain date rule in doubt are decided by
    their own clocks: one still overdue though it waited (a request answered the day it
    was made), two held back by requests still open. With more of them held back than
    reached, the filter names the reached one; and a person's own "due soon" queue, read
    first, does not change what the whole section's filter finds afterwards."""
    StageDeadline.objects.create(municipality=world.city, stage=Stage.INQUIRY, business_days=2)
    today = date(2026, 11, 26)  # Thursday; Monday 23 November was a holiday
    monday = date(2026, 11, 16)

    def inquiry(since, requests=(), assignee=None):
        case = CaseFactory(
            office=world.office,
            created_by=world.staff,
            stage=Stage.INQUIRY,
            stage_since=since,
            assignee=assignee,
        )
        for asked, answered in requests:
            AgencyContact.objects.create(
                case=case,
                municipality=world.city,
                made_by=Side.MUNICIPALITY,
                contacted_on=asked,
                channel=Channel.PHONE,
                request="照会",
                answered_on=answered,
                created_by=world.staff,
            )
        refresh_waits([case.pk])
        case.pauses = list(requests)
        return case

    waited_yet_late = inquiry(monday, [(date(2026, 11, 24), date(2026, 11, 24))])
    held_from_tuesday = inquiry(monday, [(date(2026, 11, 17), None)])
    held_from_wednesday = inquiry(monday, [(date(2026, 11, 18), None)])
    plain_late = inquiry(monday, assignee=world.staff)
    started_yesterday = inquiry(date(2026, 11, 25))
    cases = [waited_yet_late, held_from_tuesday, held_from_wednesday, plain_late, started_yesterday]

    def clocked(end, days):
        return {c.pk for c in cases if naive_used(c.stage_since, end, c.pauses) >= days}

    with tenant_scope(world.manager):
        book = DeadlineBook([world.city.pk], today)
        overdue = set(Case.objects.filter(book.overdue()).values_list("pk", flat=True))
        # The staff member's own queue first (only their cases' waits read), then the section.
        mine = set(
            Case.objects.filter(book.due_within(1, among={"assignee": world.staff}))
            .filter(assignee=world.staff)
            .values_list("pk", flat=True)
        )
        section = set(Case.objects.filter(book.due_within(1)).values_list("pk", flat=True))
    assert overdue == clocked(today, 3) == {waited_yet_late.pk, plain_late.pk}
    assert mine == {plain_late.pk}
    assert section == clocked(today, 2)
    assert held_from_tuesday.pk not in section and held_from_wednesday.pk in section


@pytest.mark.django_db
def test_the_waits_a_case_file_import_builds_are_the_ones_the_services_keep(world):
    """The compiled import (remedies/interchange/compiled.py) sets a new case's kept waits
    from its requests in memory (`waits_from`); the services set them in the database
    (`refresh_waits`). The deadline filters read those columns: for any requests, the two
    must leave the same dates."""

    @settings(
        deadline=None,
        max_examples=60,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests=st.lists(pause, max_size=4))
    def check(requests):
        with transaction.atomic():
            case = CaseFactory(office=world.office, created_by=world.staff)
            rows = [
                AgencyContact.objects.create(
                    case=case,
                    municipality=world.city,
                    made_by=Side.MUNICIPALITY,
                    contacted_on=asked,
                    channel=Channel.PHONE,
                    request="照会",
                    answered_on=None if after is None else asked + timedelta(days=after),
                    created_by=world.staff,
                )
                for asked, after in requests
            ]
            refresh_waits([case.pk])
            case.refresh_from_db()
            kept = (case.waits_until, case.waiting_since)
            transaction.set_rollback(True)
        # Rows that are not waits (the case itself) change nothing.
        assert waits_from([case, *rows]) == kept, requests
        if not requests:
            assert kept == (None, None)

    check()


@pytest.mark.django_db
def test_a_filter_written_as_sql_finds_what_the_orm_filter_finds(world):
    """Every form of a stage's branch (the plain rule less the short cases, or the cases not
    in doubt plus the reached ones, with or without ids), as SQL and as the ORM's filter,
    over cases with and without waits around the threshold."""
    today = date(2026, 11, 30)
    rows = []
    for i, stage in enumerate([Stage.INQUIRY, Stage.VISIT, Stage.CLOSED] * 4):
        since = today - timedelta(days=5 + 4 * i)
        waits = [None, since - timedelta(days=1), today - timedelta(days=10), STILL_WAITING][i % 4]
        rows.append(
            CaseFactory(
                office=world.office,
                stage=stage,
                stage_since=since,
                waits_until=waits,
                waiting_since=[None, since, since + timedelta(days=2)][i % 3] if waits else None,
            )
        )
    ids = [c.pk for c in rows]

    @settings(
        deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        stage=st.sampled_from([Stage.INQUIRY, Stage.VISIT]),
        threshold=st.dates(today - timedelta(days=60), today),
        reached=st.lists(st.sampled_from(ids), max_size=4, unique=True),
        short=st.lists(st.sampled_from(ids), max_size=4, unique=True),
    )
    def check(stage, threshold, reached, short):
        branch = _Branch(stage, threshold, reached, short)
        with tenant_scope(world.manager):
            by_orm = set(Case.objects.filter(branch.q()).values_list("pk", flat=True))
            sql = RawSQL(*branch.sql(), output_field=BooleanField())  # noqa: S611
            assert set(Case.objects.filter(sql).values_list("pk", flat=True)) == by_orm

    check()
