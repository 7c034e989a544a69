from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django_scopes import scopes_disabled

from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.errors import RemedyError
from remedies.models import EntryKind, LedgerEntry, Method, Purpose, Side, Visit

pytestmark = pytest.mark.django_db

ON = date(2023, 3, 7)


@pytest.fixture
def misallocated(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=ON, by=world.staff
        )
    return case, c, d


def _balances(case):
    with scopes_disabled():
        return {b.party.label: b.amount for b in ledger.balances(case)}


def test_misallocation_posts_owed_and_excess(world, misallocated):
    case, _, _ = misallocated
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_payment_and_collection_in_instalments_settle_both(world, misallocated):
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=15000,
            side=Side.CONTRACTOR,
            method=Method.GIFT_CERTIFICATE,
            on=ON,
            by=world.staff,
        )
        for part in (5000, 10000):
            ledger.ledger_post_collection(
                case=case,
                party=d,
                amount=part,
                side=Side.CONTRACTOR,
                method=Method.CASH,
                on=ON,
                by=world.staff,
            )
        costs = ledger.costs(case)
    assert _balances(case) == {"C氏": 0, "D氏": 0}
    assert costs["contractor"] == 0  # paid 15,000, collected 15,000 back


def test_costs_show_who_bore_the_compensation(world, misallocated):
    case, c, d = misallocated
    with tenant_scope(world.manager):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=15000,
            side=Side.MUNICIPALITY,
            method=Method.BANK_TRANSFER,
            on=ON,
            by=world.manager,
        )
        ledger.ledger_write_off(case=case, party=d, reason="回収不能", on=ON, by=world.manager)
        assert ledger.costs(case) == {"municipality": 15000, "contractor": 0, "national": 0}
    assert _balances(case) == {"C氏": 0, "D氏": 0}


def test_regrant_by_the_national_system_costs_nobody_locally(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_regrant(case=case, party=c, amount=15000, on=ON, by=world.staff)
        assert ledger.costs(case)["contractor"] == ledger.costs(case)["municipality"] == 0
    assert _balances(case)["C氏"] == 0


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, None, 1.5, True])
def test_absurd_amounts_are_refused(world, story, amount):
    case, c, d = story
    with tenant_scope(world.staff), pytest.raises(RemedyError) as error:
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=amount, on=ON, by=world.staff
        )
    assert error.value.field == "amount"
    with scopes_disabled():
        assert not LedgerEntry.objects.exists()


def test_paying_or_collecting_more_than_the_balance_is_refused(world, misallocated):
    case, c, d = misallocated
    with tenant_scope(world.staff):
        with pytest.raises(RemedyError) as error:
            ledger.ledger_post_payment(
                case=case,
                party=c,
                amount=15001,
                side=Side.CONTRACTOR,
                method=Method.CASH,
                on=ON,
                by=world.staff,
            )
        assert "15,000円" in str(error.value.message)
        with pytest.raises(RemedyError):
            ledger.ledger_post_collection(
                case=case,
                party=d,
                amount=15001,
                side=Side.CONTRACTOR,
                method=Method.CASH,
                on=ON,
                by=world.staff,
            )
        with pytest.raises(RemedyError):  # C holds no excess to collect
            ledger.ledger_post_collection(
                case=case,
                party=c,
                amount=1,
                side=Side.CONTRACTOR,
                method=Method.CASH,
                on=ON,
                by=world.staff,
            )
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_write_off_needs_a_manager_and_a_reason(world, misallocated):
    case, _, d = misallocated
    with tenant_scope(world.staff), pytest.raises(PermissionDenied):
        ledger.ledger_write_off(case=case, party=d, reason="回収不能", on=ON, by=world.staff)
    with tenant_scope(world.manager), pytest.raises(RemedyError) as error:
        ledger.ledger_write_off(case=case, party=d, reason="  ", on=ON, by=world.manager)
    assert error.value.field == "reason"
    with tenant_scope(world.manager):
        (entry,) = ledger.ledger_write_off(
            case=case, party=d, reason="回収不能", on=ON, by=world.manager
        )
    assert (entry.delta, entry.approved_by) == (15000, world.manager)


def test_reversing_a_misallocation_reverses_both_sides_once(world, misallocated):
    case, c, _ = misallocated
    with scopes_disabled():
        entry = LedgerEntry.objects.get(party=c)
    with tenant_scope(world.staff):
        reversals = ledger.ledger_reverse(entry=entry, reason="金額誤り", on=ON, by=world.staff)
        assert len(reversals) == 2
        with pytest.raises(RemedyError):
            ledger.ledger_reverse(entry=entry, reason="二重", on=ON, by=world.staff)
        with pytest.raises(RemedyError):
            ledger.ledger_reverse(entry=reversals[0], reason="取消の取消", on=ON, by=world.staff)
    assert _balances(case) == {"C氏": 0, "D氏": 0}


def test_a_stale_form_cannot_post_twice(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        head = ledger.ledger_head(case)
        kwargs = dict(
            case=case,
            party=c,
            amount=5000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
            expected_head=head,
        )
        ledger.ledger_post_payment(**kwargs)
        with pytest.raises(RemedyError) as error:
            ledger.ledger_post_payment(**kwargs)  # the double click
    assert error.value.conflict
    assert _balances(case)["C氏"] == 10000


def test_ledger_entries_cannot_be_changed_or_deleted(world, misallocated):
    with scopes_disabled():
        entry = LedgerEntry.objects.first()
        entry.delta = 1
        with pytest.raises(TypeError):
            entry.save()
        with pytest.raises(TypeError):
            entry.delete()
        with pytest.raises(TypeError):
            LedgerEntry.objects.filter(pk=entry.pk).update(delta=1)
        with pytest.raises(TypeError):
            LedgerEntry.objects.all().delete()


def test_a_visit_posts_its_hand_over_in_the_same_transaction(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.contractor):
        visit = remedies.visit_record(
            case=case,
            by=world.contractor,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=15000,
        )
    with scopes_disabled():
        entry = LedgerEntry.objects.get(visit=visit)
    assert (entry.kind, entry.delta, entry.side) == (EntryKind.PAYMENT, -15000, "contractor")


def test_a_visit_whose_amount_is_refused_is_not_recorded_either(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff), pytest.raises(RemedyError) as error:
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=99999,
        )
    assert error.value.field == "handed_over"
    with scopes_disabled():
        assert not Visit.objects.exists()


def test_contractor_of_another_company_cannot_record_a_visit(world, misallocated):
    case, c, _ = misallocated
    # other_co serves the city, but this case's desk was run by contractor_co.
    with tenant_scope(world.other_contractor), pytest.raises(PermissionDenied):
        remedies.visit_record(
            case=case,
            by=world.other_contractor,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.APOLOGY,
        )
