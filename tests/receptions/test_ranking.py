"""Ranking the counterpart: pure, explained, and on the demo case 3 D comes first."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import translation
from django_scopes import scopes_disabled

from receptions.models import Outcome, Reception
from receptions.selectors import counterpart_candidates, rank

TOKYO = ZoneInfo("Asia/Tokyo")
T0 = datetime(2023, 2, 7, 10, 30, tzinfo=TOKYO)


def reception(pk, minutes, *, terminal="2", office_id=1, outcome=Outcome.COMPLETED, **flags):
    started = T0 + timedelta(minutes=minutes)
    return Reception(
        pk=pk,
        office_id=office_id,
        terminal=terminal,
        started_at=started,
        ended_at=flags.pop("ended_at", started + timedelta(minutes=10)),
        citizen_name=f"R{pk}",
        outcome=outcome,
        leader_checked=flags.pop("leader", True),
        checklist_signed=flags.pop("checklist", True),
    )


AFFECTED = reception(1, 0)


def _ranked(others, affected=AFFECTED):
    with translation.override("en"):
        return rank(affected, others)


def test_the_unfinished_reception_just_before_ranks_first_with_its_reasons():
    left = reception(2, -15, outcome=Outcome.LEFT, leader=False, checklist=False)
    completed_nearer = reception(3, -5)
    ranked = _ranked([completed_nearer, left])
    assert [c.reception.pk for c in ranked] == [2, 3]
    assert ranked[0].rank == 1
    assert ranked[0].reasons == [
        "Same desk and same terminal (2).",
        "2 receptions before, started 15 minutes earlier.",
        "The citizen left mid-way.",
        "The completion checklist was not signed.",
        "No leader check was made.",
    ]
    assert "The reception just before, started 5 minutes earlier." in ranked[1].reasons


def test_among_equals_the_nearer_reception_ranks_higher():
    ranked = _ranked([reception(2, -60), reception(3, -10), reception(4, -30)])
    assert [c.reception.pk for c in ranked] == [3, 4, 2]


def test_other_terminals_other_desks_other_days_and_the_affected_itself_are_left_out():
    others = [
        AFFECTED,
        reception(2, -5, terminal="1", outcome=Outcome.SUSPENDED),
        reception(3, -5, office_id=9, outcome=Outcome.SUSPENDED),
        reception(4, -24 * 60, outcome=Outcome.SUSPENDED),
    ]
    assert _ranked(others) == []


def test_later_receptions_count_only_when_the_affected_one_was_left_unfinished():
    later = reception(2, 10)
    assert _ranked([later]) == []
    unfinished = reception(1, 0, outcome=Outcome.SUSPENDED, checklist=False)
    ranked = _ranked([later], affected=unfinished)
    assert [c.reception.pk for c in ranked] == [2]
    assert "Started 10 minutes after the affected reception." in ranked[0].reasons


def test_suspended_and_open_sessions_give_their_reasons():
    still_open = reception(2, -5, outcome=Outcome.SUSPENDED, ended_at=None)
    overlapping = reception(3, -20, ended_at=T0 + timedelta(minutes=1))
    ranked = _ranked([still_open, overlapping])
    assert "The procedure was suspended." in ranked[0].reasons
    assert "No end time was recorded." in ranked[0].reasons
    assert "It ended after the affected reception had started." in ranked[1].reasons


def test_rank_runs_without_a_database():
    # No django_db mark: any query here would raise, so rank() is pure.
    assert len(_ranked([reception(2, -5), reception(3, -10)])) == 2


@pytest.mark.django_db
def test_on_the_demo_case_3_d_ranks_first(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115  # idempotent
    with scopes_disabled():
        assert Reception.objects.filter(citizen_name="佐藤 花子").count() == 1
        c = Reception.objects.get(citizen_name="佐藤 花子")
        ranked = counterpart_candidates(c)
    assert ranked[0].reception.citizen_name == "鈴木 次郎"
    assert ranked[0].reception.outcome == Outcome.LEFT
    assert len(ranked[0].reasons) >= 4
