"""A case's money totals move with it when it changes contractor, through the hook cases/
offers (cases/handovers.py) rather than an import of remedies/ (issue 17)."""

from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.models import CityLedgerTotal

pytestmark = pytest.mark.django_db


def test_a_change_of_contractor_moves_the_citys_totals_through_the_hook(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=7000, on=date(2023, 2, 10), by=world.staff
        )
        services.case_update(case=case, by=world.staff, contractor=world.other_co)
    with scopes_disabled():
        rows = {
            r.contractor_id: r.owed for r in CityLedgerTotal.objects.filter(municipality=world.city)
        }
    assert rows == {world.contractor_co.pk: 0, world.other_co.pk: 7000}
