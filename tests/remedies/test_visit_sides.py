"""Contractor staff book only their own company's side of money at a visit (issue 17)."""

from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.errors import RemedyError
from remedies.models import LedgerEntry, Purpose, Side, Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def misallocated(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=30000, on=date(2023, 2, 10), by=world.staff
        )
    return case, c, d


@pytest.mark.parametrize(
    ("purpose", "money"),
    [
        (Purpose.HAND_OVER, {"handed_over": 15000, "hand_over_side": Side.MUNICIPALITY}),
        (Purpose.COLLECTION, {"collected": 5000, "collected_by": Side.MUNICIPALITY}),
    ],
)
def test_contractor_cannot_book_the_citys_side_of_a_visit(world, misallocated, purpose, money):
    case, c, d = misallocated
    party = c if purpose == Purpose.HAND_OVER else d
    with tenant_scope(world.contractor), pytest.raises(RemedyError) as error:
        remedies.visit_record(
            case=case,
            by=world.contractor,
            party=party,
            visited_on=date(2023, 3, 10),
            place="自宅",
            purpose=purpose,
            **money,
        )
    field = "hand_over_side" if purpose == Purpose.HAND_OVER else "collected_by"
    assert error.value.field == field
    assert "自社" in str(error.value.message) or "own company" in str(error.value.message)
    with scopes_disabled():
        assert not Visit.objects.exists()
        assert not LedgerEntry.objects.filter(side=Side.MUNICIPALITY).exists()


def test_city_staff_may_still_book_either_side(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=15000,
            hand_over_side=Side.CONTRACTOR,
        )
    with scopes_disabled():
        assert LedgerEntry.objects.get(visit__isnull=False).side == Side.CONTRACTOR


def test_visit_form_offers_a_contractor_only_its_own_side(client, world, misallocated):
    case, c, _ = misallocated
    client.force_login(world.contractor)
    body = client.get(f"/cases/{case.reference}/visits/new/").content.decode()
    assert 'value="contractor"' in body
    assert 'value="municipality"' not in body
    with scopes_disabled():
        head = ledger.ledger_head(case)
    response = client.post(
        f"/cases/{case.reference}/visits/new/",
        {
            "party": c.pk,
            "visited_on": "2023-03-10",
            "place": "C氏宅",
            "purpose": "hand_over",
            "apologised": "on",
            "handed_over": "15000",
            "hand_over_side": "municipality",
            "hand_over_method": "cash",
            "expected_head": head,
        },
    )
    assert response.status_code == 200
    assert 'id="id_hand_over_side_error"' in response.content.decode()
    with scopes_disabled():
        assert not Visit.objects.exists()
    client.force_login(world.staff)
    body = client.get(f"/cases/{case.reference}/visits/new/").content.decode()
    assert 'value="municipality"' in body
