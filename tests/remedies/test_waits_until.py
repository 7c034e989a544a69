"""Case.waits_until, the last day a case's waits on agencies stop its clock, is kept by
every service that records or answers a request, survives stage moves (withdrawal,
reopening), is written by the case-file import's replay, and filled for existing cases by
the migration; and the deadline filters that read it agree with the clock of each case
(cases/deadlines.py)."""

import importlib
import json
from datetime import date

import pytest
from django.apps import apps
from django.utils import translation
from django_scopes import scopes_disabled

from cases.deadlines import STILL_WAITING, DeadlineBook
from cases.models import Agency, Case, Stage
from cases.scoping import tenant_scope
from remedies import services as remedies
from remedies.demo import DEMO_CASES, _organisations, _users
from remedies.interchange import import_cases
from remedies.models import AgencyContact, Channel
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db

TODAY = date(2023, 3, 1)


def _agency():
    return Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]


def _ask(world, case, on, **answer):
    with tenant_scope(world.staff):
        return remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[_agency()],
            contacted_on=on,
            channel=Channel.PHONE,
            request="口座の状況を照会。",
            **answer,
        )


def _answer(world, contact, on):
    with tenant_scope(world.staff):
        remedies.contact_answer(contact=contact, by=world.staff, answered_on=on, answer="回答")


def _columns(case) -> tuple[date | None, date | None]:
    with scopes_disabled():
        return Case.objects.values_list("waits_until", "waiting_since").get(pk=case.pk)


def _waits_until(case) -> date | None:
    return _columns(case)[0]


def _expected(case) -> tuple[date | None, date | None]:
    """What the columns must say, from the requests themselves."""
    with scopes_disabled():
        rows = list(
            AgencyContact.objects.filter(case=case).values_list("contacted_on", "answered_on")
        )
    ends = [stop or STILL_WAITING for _start, stop in rows]
    open_since = [start for start, stop in rows if stop is None]
    return max(ends, default=None), min(open_since, default=None)


def _marks_agree_with_filters(user, municipality_id, today):
    """The overdue filter (which reads waits_until) finds exactly the cases whose clocks
    say they are overdue."""
    with tenant_scope(user):
        book = DeadlineBook([municipality_id], today)
        marked = book.mark(Case.objects.all())
        overdue = {c.pk for c in marked if c.deadline and c.deadline.overdue}
        assert set(Case.objects.filter(book.overdue()).values_list("pk", flat=True)) == overdue
        return overdue


def test_a_request_and_its_answer_keep_the_column(world, story):
    case, _c, _d = story
    assert _columns(case) == (None, None)  # never waited
    first = _ask(world, case, date(2023, 2, 8))
    assert _columns(case) == (STILL_WAITING, date(2023, 2, 8))
    second = _ask(world, case, date(2023, 2, 9), answered_on=date(2023, 2, 10), answer="回答")
    assert _columns(case) == (STILL_WAITING, date(2023, 2, 8))  # the first is still open
    third = _ask(world, case, date(2023, 2, 13))
    _answer(world, first, date(2023, 2, 20))
    assert _columns(case) == (STILL_WAITING, date(2023, 2, 13)) == _expected(case)
    _answer(world, third, date(2023, 2, 14))
    assert _columns(case) == (date(2023, 2, 20), None) == _expected(case)
    assert second.answered_on == date(2023, 2, 10)


def test_an_earlier_answer_does_not_move_the_column_back(world, story):
    case, _c, _d = story
    late = _ask(world, case, date(2023, 2, 8))
    _ask(world, case, date(2023, 2, 8), answered_on=date(2023, 2, 24), answer="回答")
    _answer(world, late, date(2023, 2, 9))
    assert _columns(case) == (date(2023, 2, 24), None) == _expected(case)


def test_withdrawal_and_reopening_keep_the_filters_right(world, story):
    case, _c, _d = story
    _ask(world, case, date(2023, 2, 8), answered_on=date(2023, 2, 20), answer="回答")
    with tenant_scope(world.manager), translation.override("ja"):
        case_transition(
            case=case, step="withdraw", by=world.manager, note="重複登録", on=date(2023, 2, 21)
        )
    assert _waits_until(case) == date(2023, 2, 20)
    _marks_agree_with_filters(world.manager, world.city.pk, TODAY)
    with tenant_scope(world.manager), translation.override("ja"):
        # Reopened in 調査 from 2/10: the answer of 2/20 stops the new stage's clock.
        case_transition(
            case=case, step="reopen", by=world.manager, note="別事案と判明", on=date(2023, 2, 22)
        )
        Case.objects.filter(pk=case.pk).update(stage_since=date(2023, 2, 10))
    found = [
        _marks_agree_with_filters(world.manager, world.city.pk, day)
        for day in (date(2023, 2, 24), date(2023, 3, 1), date(2023, 3, 7))
    ]
    # 10 business days in 調査 from 2/10, 2/11–2/20 stopped (2/23 a holiday): due 3/7,
    # overdue from 3/8 on.
    assert [case.pk in f for f in found] == [False, False, False]
    assert case.pk in _marks_agree_with_filters(world.manager, world.city.pk, date(2023, 3, 8))


def test_a_case_moved_to_its_next_stage_keeps_its_waits_apart_from_the_new_stage(world, story):
    """Nothing to maintain on a stage move: a wait counts in the stage only when it ends
    after the stage began (waits_until > stage_since)."""
    case, _c, _d = story
    _ask(world, case, date(2023, 2, 8), answered_on=date(2023, 2, 9), answer="回答")
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(
            stage=Stage.AGENCY_CONTACT, stage_since=date(2023, 2, 9)
        )
    # 20 business days in 関係機関照会 from 2/9, the answer of 2/9 not counted in it.
    found = [
        case.pk in _marks_agree_with_filters(world.staff, world.city.pk, day)
        for day in (date(2023, 3, 10), date(2023, 3, 13))
    ]
    assert found == [False, True]


@pytest.fixture
def demo_file() -> dict:
    return json.loads(DEMO_CASES.read_text(encoding="utf-8"))


def test_imported_cases_have_the_column_their_requests_give(demo_file):
    with scopes_disabled():
        _users(_organisations())
    created = import_cases(demo_file)
    with scopes_disabled():
        assert AgencyContact.objects.filter(case__in=created).exists()
        for case in created:
            assert _columns(case) == _expected(case), case.reference


def test_the_migration_fills_the_column_of_existing_cases(world, story):
    case, _c, _d = story
    other = _ask(world, case, date(2023, 2, 8))
    _answer(world, other, date(2023, 2, 15))
    _ask(world, case, date(2023, 2, 16), answered_on=date(2023, 2, 17), answer="回答")
    _ask(world, case, date(2023, 2, 20))
    _ask(world, case, date(2023, 2, 21))
    with scopes_disabled():  # as the rows stood before the columns
        Case.objects.update(waits_until=None, waiting_since=None)
    migration = importlib.import_module("remedies.migrations.0013_fill_case_waits_until")
    with scopes_disabled():  # the app's own models are scoped; the migration's are not
        migration.fill(apps, None)
    assert _columns(case) == (STILL_WAITING, date(2023, 2, 20)) == _expected(case)
