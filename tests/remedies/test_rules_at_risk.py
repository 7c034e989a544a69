"""Stage and ledger rules that a small slip could break with no other test failing
(issue 20: each was a surviving mutant). Fixed examples, so CI checks them every run; the
randomised state machine (test_ledger_properties.py) still explores the rest."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django_fsm import ConcurrentTransition
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.models import Case, CaseKind, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.errors import RemedyError
from remedies.models import (
    CityLedgerTotal,
    EntryKind,
    LedgerEntry,
    LedgerTotal,
    Method,
    Purpose,
    Side,
)
from remedies.workflow import CaseFile, case_transition, steps_for

from ..factories import CaseFactory

pytestmark = pytest.mark.django_db

ON = date(2023, 3, 7)


def _move(world, case, step, by, **kwargs):
    with tenant_scope(by):
        return case_transition(case=case, step=step, by=by, **kwargs)


def _case(case):
    with scopes_disabled():
        return CaseFile.objects.get(pk=case.pk)


def _ended(case, stage):
    """A case that was closed or withdrawn earlier (how it got there is not the point)."""
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(stage=stage)


# ---- stages ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["closed", "withdrawn"])
@pytest.mark.parametrize("note", ["", "   "])
def test_a_case_is_not_reopened_without_a_reason(world, story, stage, note):
    case, _, _ = story
    _ended(case, stage)
    with pytest.raises(RemedyError) as error:
        _move(world, case, "reopen", world.manager, note=note)
    assert error.value.field == "note"
    assert _case(case).stage == stage


@pytest.mark.parametrize("stage", ["closed", "withdrawn"])
def test_a_closed_or_withdrawn_case_cannot_be_withdrawn(world, story, stage):
    case, _, _ = story
    _ended(case, stage)
    with pytest.raises(RemedyError):
        _move(world, case, "withdraw", world.manager, note="重複登録のため")
    assert _case(case).stage == stage


def test_a_stage_change_moves_the_in_this_stage_since_date(world, story):
    case, _, _ = story
    _move(world, case, "withdraw", world.manager, note="重複登録のため", on=date(2023, 2, 20))
    assert (_case(case).stage, _case(case).stage_since) == ("withdrawn", date(2023, 2, 20))
    _move(world, case, "reopen", world.manager, note="別事案と判明", on=date(2023, 3, 1))
    assert (_case(case).stage, _case(case).stage_since) == ("inquiry", date(2023, 3, 1))


# ---- ledger ------------------------------------------------------------------------------


@pytest.fixture
def misallocated(world, story):
    """C is owed 15,000 yen, D holds an excess of 15,000 yen."""
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=ON, by=world.staff
        )
    return case, c, d


def _pay(world, case, party, amount, side=Side.CONTRACTOR):
    with tenant_scope(world.staff):
        return ledger.ledger_post_payment(
            case=case,
            party=party,
            amount=amount,
            side=side,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )


def _collect(world, case, party, amount, side=Side.CONTRACTOR):
    with tenant_scope(world.staff):
        return ledger.ledger_post_collection(
            case=case,
            party=party,
            amount=amount,
            side=side,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )


def _balances(case):
    with scopes_disabled():
        return {b.party.label: b.amount for b in ledger.balances(case)}


def _costs(case):
    with scopes_disabled():
        return ledger.costs(case)


def _city_costs(world):
    with scopes_disabled():
        row = CityLedgerTotal.objects.get(municipality=world.city, contractor=world.contractor_co)
    return {"municipality": row.cost_municipality, "contractor": row.cost_contractor}


def test_a_person_who_holds_an_excess_cannot_be_paid(world, misallocated):
    case, _, d = misallocated
    with pytest.raises(RemedyError) as error:
        _pay(world, case, d, 1)
    assert error.value.field == "amount"
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_a_person_who_is_owed_nothing_cannot_be_paid_or_re_granted(world, story):
    case, c, _ = story
    with pytest.raises(RemedyError):
        _pay(world, case, c, 1)
    with tenant_scope(world.staff), pytest.raises(RemedyError):
        ledger.ledger_post_regrant(case=case, party=c, amount=1, on=ON, by=world.staff)


def test_exactly_the_balance_can_be_paid_and_collected(world, misallocated):
    case, c, d = misallocated
    _pay(world, case, c, 15000)
    _collect(world, case, d, 15000)
    assert _balances(case) == {"C氏": 0, "D氏": 0}


@pytest.mark.parametrize("side", [Side.CONTRACTOR, Side.MUNICIPALITY])
def test_reversing_a_payment_takes_its_cost_back_off_who_bore_it(world, misallocated, side):
    case, c, _ = misallocated
    word = "contractor" if side == Side.CONTRACTOR else "municipality"
    payment = _pay(world, case, c, 6000, side=side)
    assert _costs(case)[word] == 6000 and _city_costs(world)[word] == 6000
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=payment, reason="金額誤り", on=ON, by=world.staff)
    assert _costs(case) == {"municipality": 0, "contractor": 0, "national": 0}
    assert _city_costs(world) == {"municipality": 0, "contractor": 0}
    assert _balances(case)["C氏"] == 15000


def test_reversing_a_collection_puts_its_cost_back(world, misallocated):
    case, c, d = misallocated
    _pay(world, case, c, 15000)
    collection = _collect(world, case, d, 4000)
    assert _costs(case)["contractor"] == 11000
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=collection, reason="入金取消", on=ON, by=world.staff)
    assert _costs(case)["contractor"] == _city_costs(world)["contractor"] == 15000
    assert _balances(case)["D氏"] == -15000


def test_city_staff_cannot_reverse_a_write_off_but_a_manager_can(world, misallocated):
    case, _, d = misallocated
    with tenant_scope(world.manager):
        (write_off,) = ledger.ledger_write_off(
            case=case, party=d, reason="回収不能", on=ON, by=world.manager
        )
    assert _balances(case)["D氏"] == 0
    with tenant_scope(world.staff), pytest.raises(PermissionDenied):
        ledger.ledger_reverse(entry=write_off, reason="誤り", on=ON, by=world.staff)
    assert _balances(case)["D氏"] == 0
    with tenant_scope(world.manager):
        ledger.ledger_reverse(entry=write_off, reason="回収の見込みあり", on=ON, by=world.manager)
    assert _balances(case)["D氏"] == -15000


def test_a_reversal_needs_a_reason_and_changes_nothing_without_one(world, misallocated):
    case, c, _ = misallocated
    payment = _pay(world, case, c, 1000)
    with tenant_scope(world.staff), pytest.raises(RemedyError) as error:
        ledger.ledger_reverse(entry=payment, reason="  ", on=ON, by=world.staff)
    assert error.value.field == "reason"
    with scopes_disabled():
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()


def test_a_zero_balance_has_nothing_to_write_off(world, misallocated):
    case, c, _ = misallocated
    _pay(world, case, c, 15000)
    with tenant_scope(world.manager), pytest.raises(RemedyError) as error:
        ledger.ledger_write_off(case=case, party=c, reason="不要", on=ON, by=world.manager)
    assert error.value.field == "party"


def test_a_write_off_of_an_amount_owed_closes_it_in_the_other_direction(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.manager):
        (entry,) = ledger.ledger_write_off(
            case=case, party=c, reason="受領辞退", on=ON, by=world.manager
        )
    assert entry.delta == -15000
    assert _balances(case)["C氏"] == 0
    assert _costs(case) == {"municipality": 0, "contractor": 0, "national": 0}


def test_a_person_of_another_case_is_refused(world, misallocated, story):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        from cases import services

        other = services.case_open(
            by=world.staff, office=world.office, kind=case.kind, discovered_on=ON
        )
    with pytest.raises(RemedyError) as error:
        _pay(world, other, c, 1000)
    assert error.value.field == "party"


# ---- what the refusal and the case's story say ---------------------------------------------


@pytest.mark.parametrize(
    ("role", "step", "message"),
    [
        ("auditor", "refer", "現在の役割ではこの操作はできません。"),
        ("contractor", "refer", "現在の役割ではこの操作はできません。"),
        ("staff", "withdraw", "この操作は、課長・係長のみ行えます。"),
    ],
)
def test_a_refused_step_says_why_in_the_users_terms(world, story, role, step, message):
    case, _, _ = story
    with translation.override("ja"), pytest.raises(PermissionDenied) as error:
        _move(world, case, step, getattr(world, role), note="理由")
    assert str(error.value) == message


def test_only_a_step_the_clerk_described_is_part_of_the_story(world, story):
    """The 経過 (story) shows what happened in the clerk's words; a bare stage change and a
    manager's withdrawal reason are kept in the timeline but not in the story."""
    case, _, _ = story
    _move(world, case, "refer", world.staff)
    _move(world, case, "withdraw", world.manager, note="重複登録のため")
    _move(world, case, "reopen", world.manager, note="別事案と判明")
    _move(world, case, "refer", world.staff, note="デジタル庁に照会を開始")
    with scopes_disabled():
        events = list(
            TimelineEvent.objects.filter(case=case, action__startswith="stage.")
            .order_by("id")
            .values_list("action", "in_story")
        )
    assert events == [
        ("stage.refer", False),
        ("stage.withdraw", False),
        ("stage.reopen", False),
        ("stage.refer", True),
    ]


def test_closing_names_who_is_still_owed_and_who_still_holds_an_excess(world, misallocated):
    case, _, _ = misallocated
    _ended(case, "settlement")
    with translation.override("ja"), pytest.raises(RemedyError) as error:
        _move(world, case, "close", world.manager)
    reasons = str(error.value.message)
    assert "C氏への未払残高が15,000円あります。" in reasons
    assert "D氏に過大付与分15,000円が残っています。" in reasons
    assert _case(case).stage == "settlement"


def test_a_step_whose_audit_entry_cannot_be_written_changes_nothing(world, story, monkeypatch):
    case, _, _ = story

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("remedies.workflow.audit_log", broken)
    with pytest.raises(RuntimeError):
        _move(world, case, "withdraw", world.manager, note="重複登録のため")
    assert _case(case).stage == "inquiry"
    with scopes_disabled():
        assert not TimelineEvent.objects.filter(case=case, action="stage.withdraw").exists()


def test_a_case_saved_after_its_stage_changed_elsewhere_is_refused(world):
    """The guard the conflict above relies on: a copy of the case read before another
    request moved its stage cannot be saved over it."""
    case = CaseFactory(municipality=world.city, office=world.office)
    with scopes_disabled():
        stale = Case.objects.get(pk=case.pk)
        Case.objects.filter(pk=case.pk).update(stage="agency_contact")
        stale.summary = "古い画面からの保存"
        with pytest.raises(ConcurrentTransition), transaction.atomic():
            stale.save()
        fresh = Case.objects.get(pk=case.pk)
        fresh.summary = "新しい画面からの保存"
        fresh.save()  # read after the change: saved
        assert Case.objects.get(pk=case.pk).summary == "新しい画面からの保存"


def test_a_step_that_loses_a_race_is_a_conflict(world, story, monkeypatch):
    """Another save of the case between reading and writing its stage (what django-fsm's
    ConcurrentTransition reports): the user is asked to reload, not shown an error page."""
    case, _, _ = story

    def lost(self, *args, **kwargs):
        raise ConcurrentTransition("the stage changed meanwhile")

    monkeypatch.setattr(CaseFile, "save", lost)
    with pytest.raises(RemedyError) as error:
        _move(world, case, "withdraw", world.manager, note="重複登録のため")
    assert error.value.conflict


def test_the_case_page_offers_a_blocked_step_as_not_allowed_with_its_reasons(world):
    with tenant_scope(world.staff):
        from cases import services

        case = services.case_open(
            by=world.staff, office=world.office, kind=CaseKind.CASHLESS_LINK, discovered_on=ON
        )
        with translation.override("ja"):
            (option,) = steps_for(case, world.staff)
    assert option.step.name == "refer"
    assert option.allowed is False and len(option.blockers) == 2


@pytest.mark.parametrize(("step", "stage"), [("close", "settlement"), ("reopen", "closed")])
def test_closing_and_reopening_are_refused_to_staff_as_managers_steps(world, story, step, stage):
    case, _, _ = story
    _ended(case, stage)
    with translation.override("ja"), pytest.raises(PermissionDenied) as error:
        _move(world, case, step, world.staff, note="理由")
    assert str(error.value) == "この操作は、課長・係長のみ行えます。"
    assert _case(case).stage == stage


def test_closing_names_even_one_yen_still_owed(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=1, on=ON, by=world.staff
        )
    _ended(case, "settlement")
    with translation.override("ja"), pytest.raises(RemedyError) as error:
        _move(world, case, "close", world.manager)
    assert "C氏への未払残高が1円あります。" in str(error.value.message)
    assert "D氏に過大付与分1円が残っています。" in str(error.value.message)


def test_a_visit_without_an_apology_still_counts_as_contact_for_settlement(world, story):
    """Going to settlement needs a visit or a letter for each identified person; whether
    the visit included the apology is a condition of closing, not of settling."""
    case, c, d = story
    _ended(case, "visit")
    with tenant_scope(world.contractor):
        for party in (c, d):
            remedies.visit_record(
                case=case,
                by=world.contractor,
                party=party,
                visited_on=date(2023, 3, 10),
                place="自宅",
                purpose=Purpose.JOINT_CHECK,
                apologised=False,
            )
    _move(world, case, "settle", world.staff)
    assert _case(case).stage == "settlement"


def test_points_are_never_paid_or_collected_by_hand(world, misallocated):
    """Points move only through the national system (a re-grant), never as a payment or a
    collection the city records."""
    case, c, d = misallocated
    with tenant_scope(world.staff):
        for post, party in ((ledger.ledger_post_payment, c), (ledger.ledger_post_collection, d)):
            with pytest.raises(RemedyError) as error:
                post(
                    case=case,
                    party=party,
                    amount=1000,
                    side=Side.CONTRACTOR,
                    method=Method.POINTS,
                    on=ON,
                    by=world.staff,
                )
            assert error.value.field == "method"
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_one_yen_of_excess_is_an_excess(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=1, on=ON, by=world.staff
        )
    with scopes_disabled():
        assert {b.party.label: b.status for b in ledger.balances(case)} == {
            "C氏": "owed",
            "D氏": "excess",
        }


def test_collecting_from_a_person_who_holds_no_excess_says_it_is_zero(world, misallocated):
    case, c, _ = misallocated
    with translation.override("ja"), pytest.raises(RemedyError) as error:
        _collect(world, case, c, 1)
    assert "C氏の過大付与分は0円です。" in str(error.value.message)


# ---- costs and kept totals -------------------------------------------------------------------


def test_a_side_that_paid_nothing_bears_no_payment_cost(world, misallocated):
    """The contractor paid C at its desk; D brought the excess back to city hall. The city
    paid nothing, so its cost is only what it took back (a negative cost), not a yen more."""
    case, c, d = misallocated
    _pay(world, case, c, 15000, side=Side.CONTRACTOR)
    _collect(world, case, d, 4000, side=Side.MUNICIPALITY)
    assert _costs(case) == {"contractor": 15000, "municipality": -4000, "national": 0}
    assert _city_costs(world) == {"contractor": 15000, "municipality": -4000}


def test_the_kept_totals_of_a_case_are_what_its_entries_say(world, misallocated):
    """A case where one person is still owed part and another still holds the whole excess:
    the totals kept for the dashboard and the totals summed from the entries agree, owed
    and held each on its own side."""
    case, c, _ = misallocated
    _pay(world, case, c, 6000)
    expected = {
        "owed": 9000,
        "held": 15000,
        "cost_contractor": 6000,
        "cost_municipality": 0,
        "cost_national": 0,
    }
    with scopes_disabled():
        assert ledger.derived_total(case) == expected
        assert LedgerTotal.objects.filter(case=case).values(*expected).get() == expected


# ---- a posting that fails halfway ------------------------------------------------------------


def _ledger_as_it_is(case):
    with scopes_disabled():
        return (
            list(
                LedgerEntry.objects.filter(case=case).values_list("kind", "party__label", "delta")
            ),
            LedgerTotal.objects.filter(case=case).values("owed", "held", "cost_contractor").get(),
            TimelineEvent.objects.filter(case=case).count(),
        )


def test_a_collection_whose_timeline_line_cannot_be_written_leaves_the_ledger_as_it_was(
    world, misallocated, monkeypatch
):
    case, c, d = misallocated
    _pay(world, case, c, 15000)
    before = _ledger_as_it_is(case)

    def broken(*args, **kwargs):
        raise RuntimeError("timeline unavailable")

    monkeypatch.setattr("remedies.ledger.add_timeline", broken)
    with pytest.raises(RuntimeError):
        _collect(world, case, d, 4000)
    assert _ledger_as_it_is(case) == before
    assert _balances(case)["D氏"] == -15000


def test_a_reversal_of_a_pair_that_fails_halfway_reverses_neither_entry(
    world, misallocated, monkeypatch
):
    """A misallocation is two entries (owed and holder) reversed together. When the second
    reversal cannot be written, the first is not left behind either, and the pair can
    still be reversed afterwards."""
    case, _, _ = misallocated
    with scopes_disabled():
        pair = LedgerEntry.objects.filter(case=case, kind=EntryKind.MISALLOCATION).first()
    before = _ledger_as_it_is(case)
    real_post = ledger._post
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database unavailable")
        return real_post(*args, **kwargs)

    monkeypatch.setattr("remedies.ledger._post", second_fails)
    with tenant_scope(world.staff), pytest.raises(RuntimeError):
        ledger.ledger_reverse(entry=pair, reason="二重登録", on=ON, by=world.staff)
    assert len(calls) == 2
    assert _ledger_as_it_is(case) == before
    monkeypatch.setattr("remedies.ledger._post", real_post)
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=pair, reason="二重登録", on=ON, by=world.staff)
    assert _balances(case) == {"C氏": 0, "D氏": 0}


# ---- the 経過 lines a posting writes ---------------------------------------------------------


def _lines(case, action):
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(case=case, action=action)
            .order_by("id")
            .values_list("text", flat=True)
        )


def test_the_timeline_line_of_a_payment_names_who_bore_it(world, misallocated):
    case, c, _ = misallocated
    _pay(world, case, c, 1000, side=Side.MUNICIPALITY)
    _pay(world, case, c, 2000, side=Side.CONTRACTOR)
    city_line, contractor_line = _lines(case, "ledger.payment")
    assert "市負担" in city_line and "委託事業者" not in city_line
    assert "委託事業者負担" in contractor_line


def test_a_clerks_note_on_a_payment_is_a_line_of_its_own(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=1000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
            note="  窓口で手渡し、受領書あり  ",
        )
    assert len(_lines(case, "ledger.payment")) == 1
    assert _lines(case, "note.ledger.payment") == ["窓口で手渡し、受領書あり"]


def test_a_write_off_too_large_for_one_entry_is_reversed_as_a_whole(world, story):
    """A balance over the most one entry may hold (10,000,000円) is written off in parts;
    reversing the write-off takes back every part, not only the one chosen."""
    case, c, d = story
    with tenant_scope(world.staff):
        for _ in range(2):
            ledger.ledger_post_misallocation(
                case=case, owed=c, holder=d, amount=8_000_000, on=ON, by=world.staff
            )
    with tenant_scope(world.manager):
        first, *rest = ledger.ledger_write_off(
            case=case, party=d, reason="回収不能", on=ON, by=world.manager
        )
    assert rest and _balances(case)["D氏"] == 0
    with tenant_scope(world.manager):
        ledger.ledger_reverse(entry=first, reason="回収の見込みあり", on=ON, by=world.manager)
    assert _balances(case)["D氏"] == -16_000_000


def test_paying_a_person_who_holds_an_excess_says_they_are_owed_nothing(world, misallocated):
    case, _, d = misallocated
    with translation.override("ja"), pytest.raises(RemedyError) as error:
        _pay(world, case, d, 1)
    assert "D氏への未払残高は0円です" in str(error.value.message)


def test_a_person_with_no_entries_is_owed_nothing_and_holds_nothing(world, story):
    case, _, _ = story
    with scopes_disabled():
        assert {(b.party.label, b.amount, b.status) for b in ledger.balances(case)} == {
            ("C氏", 0, "settled"),
            ("D氏", 0, "settled"),
        }


def test_a_write_off_whose_timeline_line_cannot_be_written_leaves_the_ledger_as_it_was(
    world, story, monkeypatch
):
    """A balance over one entry's limit is written off in two parts: when the 経過 line
    fails after them, neither part stays."""
    case, c, d = story
    with tenant_scope(world.staff):
        for _ in range(2):
            ledger.ledger_post_misallocation(
                case=case, owed=c, holder=d, amount=8_000_000, on=ON, by=world.staff
            )
    before = _ledger_as_it_is(case)

    def broken(*args, **kwargs):
        raise RuntimeError("timeline unavailable")

    monkeypatch.setattr("remedies.ledger.add_timeline", broken)
    with tenant_scope(world.manager), pytest.raises(RuntimeError):
        ledger.ledger_write_off(case=case, party=d, reason="回収不能", on=ON, by=world.manager)
    assert _ledger_as_it_is(case) == before
    assert _balances(case)["D氏"] == -16_000_000


@pytest.mark.parametrize("posting", ["misallocation", "payment", "regrant", "national_correction"])
def test_a_posting_whose_timeline_line_cannot_be_written_leaves_the_ledger_as_it_was(
    world, misallocated, monkeypatch, posting
):
    case, c, d = misallocated
    before = _ledger_as_it_is(case)
    post = {
        "misallocation": lambda: ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=1000, on=ON, by=world.staff
        ),
        "payment": lambda: ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=1000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        ),
        "regrant": lambda: ledger.ledger_post_regrant(
            case=case, party=c, amount=1000, on=ON, by=world.staff
        ),
        "national_correction": lambda: ledger.ledger_post_national_correction(
            case=case, holder=d, owed=c, amount=1000, on=ON, by=world.staff
        ),
    }[posting]

    def broken(*args, **kwargs):
        raise RuntimeError("timeline unavailable")

    monkeypatch.setattr("remedies.ledger.add_timeline", broken)
    with tenant_scope(world.staff), pytest.raises(RuntimeError):
        post()
    assert _ledger_as_it_is(case) == before


def test_re_granting_to_a_person_owed_nothing_says_they_are_owed_nothing(world, story):
    case, c, _ = story
    scope = tenant_scope(world.staff)
    with translation.override("ja"), scope, pytest.raises(RemedyError) as error:
        ledger.ledger_post_regrant(case=case, party=c, amount=1, on=ON, by=world.staff)
    assert "C氏への未払残高は0円です" in str(error.value.message)


def test_a_reversal_is_kept_out_of_the_cases_story(world, misallocated):
    """Correcting a mistaken entry is bookkeeping: its 経過 line stays internal and is not
    told in the letters and the report like a payment is."""
    case, c, _ = misallocated
    payment = _pay(world, case, c, 1000)
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=payment, reason="金額誤り", on=ON, by=world.staff)
    with scopes_disabled():
        in_story = dict(
            TimelineEvent.objects.filter(case=case, action__startswith="ledger.").values_list(
                "action", "in_story"
            )
        )
    assert in_story["ledger.payment"] is True
    assert in_story["ledger.reversal"] is False


def test_a_write_off_is_kept_out_of_the_cases_story(world, misallocated):
    """Giving up a balance is the city's bookkeeping decision: its 経過 line is kept for
    staff, but a press release or a case report does not tell it as part of the story."""
    case, _, d = misallocated
    with tenant_scope(world.manager):
        ledger.ledger_write_off(case=case, party=d, reason="回収不能", on=ON, by=world.manager)
    with scopes_disabled():
        line = TimelineEvent.objects.get(case=case, action="ledger.write_off")
    assert "回収不能" in line.text and line.in_story is False


def test_re_granting_to_a_person_who_holds_an_excess_says_they_are_owed_nothing(
    world, misallocated
):
    case, _, d = misallocated
    scope = tenant_scope(world.staff)
    with translation.override("ja"), scope, pytest.raises(RemedyError) as error:
        ledger.ledger_post_regrant(case=case, party=d, amount=1, on=ON, by=world.staff)
    assert "D氏への未払残高は0円です" in str(error.value.message)


def test_one_yen_still_owed_is_in_the_kept_and_the_derived_totals(world, misallocated):
    case, c, _ = misallocated
    _pay(world, case, c, 14999)
    with scopes_disabled():
        assert ledger.derived_total(case)["owed"] == 1
        assert LedgerTotal.objects.get(case=case).owed == 1


def test_the_case_page_shows_the_balances_and_costs_the_ledger_holds(world, misallocated):
    """The case page works its balances and costs out of the entries it has read once
    (balances_from_entries, costs_from_entries): every kind of posting, from both sides,
    a reversal of each kind, and a person with no entry at all come out as the ledger's
    own sums say."""
    case, c, d = misallocated
    with tenant_scope(world.staff):
        e = case_services.party_add(case=case, by=world.staff, label="E氏", name="高橋 三郎")
    _pay(world, case, c, 6000)
    city_payment = _pay(world, case, c, 4000, side=Side.MUNICIPALITY)
    _collect(world, case, d, 3000)
    _collect(world, case, d, 2000, side=Side.MUNICIPALITY)
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=city_payment, reason="金額誤り", on=ON, by=world.staff)
        ledger.ledger_post_regrant(case=case, party=c, amount=1000, on=ON, by=world.staff)
        ledger.ledger_post_national_correction(
            case=case, holder=d, owed=c, amount=500, on=ON, by=world.staff
        )
    with tenant_scope(world.manager):
        (write_off,) = ledger.ledger_write_off(
            case=case, party=d, reason="回収不能", on=ON, by=world.manager
        )
        ledger.ledger_reverse(entry=write_off, reason="回収の見込みあり", on=ON, by=world.manager)
    with scopes_disabled():
        page = Case.objects.prefetch_related("parties").get(pk=case.pk)
        entries = list(LedgerEntry.objects.filter(case=case))
        read_once = {b.party.label: b.amount for b in ledger.balances_from_entries(page, entries)}
        assert read_once == _balances(case) == {"C氏": 7500, "D氏": -9500, "E氏": 0}
        assert e.pk in {b.party.pk for b in ledger.balances_from_entries(page, entries)}
        assert ledger.costs_from_entries(entries) == _costs(case)
        assert _costs(case) == {"contractor": 3000, "municipality": -2000, "national": 1000}


def test_the_case_page_knows_when_points_went_astray_from_the_links_it_read(world, story):
    """A case of another kind whose links include a cashless account registered into
    someone's record involves points; one with only a bank account does not, whether the
    links were read with the case (the case page) or are looked up."""
    case, _, _ = story
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(kind=CaseKind.ACCOUNT_MISREGISTRATION)
        for data_kind, involved in (
            (DataKind.CASHLESS_ACCOUNT, True),
            (DataKind.BANK_ACCOUNT, False),
        ):
            case.misregistrations.update(data_kind=data_kind)
            page = Case.objects.prefetch_related("misregistrations").get(pk=case.pk)
            assert ledger.points_involved(page) is involved
            assert ledger.points_involved(Case.objects.get(pk=case.pk)) is involved


def test_one_entry_holds_at_most_ten_million_yen(world, story):
    """10,000,000円 is the most one entry records: that amount is accepted, a yen more is
    refused by the amount field (a larger sum is entered in parts)."""
    case, c, d = story
    with tenant_scope(world.staff), pytest.raises(RemedyError) as error:
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=10_000_001, on=ON, by=world.staff
        )
    assert error.value.field == "amount"
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=10_000_000, on=ON, by=world.staff
        )
    assert _balances(case) == {"C氏": 10_000_000, "D氏": -10_000_000}
