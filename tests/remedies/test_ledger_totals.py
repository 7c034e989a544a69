"""The per-case ledger totals the dashboard reads: kept by the services, checked and rebuilt
by `manage.py ledger_totals`."""

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from cases import services
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.models import CityLedgerTotal, LedgerTotal

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 8), by=world.staff
        )
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=2000,
            side="contractor",
            method="cash",
            on=date(2023, 2, 9),
            by=world.staff,
        )
    return case


def test_totals_follow_the_postings(posted):
    with scopes_disabled():
        total = LedgerTotal.objects.get(case=posted)
    assert (total.owed, total.held, total.cost_contractor) == (3000, 5000, 2000)


def test_check_passes_and_finds_a_tampered_total(posted, capsys):
    call_command("ledger_totals", "--check")
    assert "match their entries" in capsys.readouterr().out
    with scopes_disabled():
        LedgerTotal.objects.filter(case=posted).update(owed=1)
    with pytest.raises(CommandError, match="1 case"):
        call_command("ledger_totals", "--check")
    call_command("ledger_totals", "--rebuild")
    call_command("ledger_totals", "--check")
    with scopes_disabled():
        assert LedgerTotal.objects.get(case=posted).owed == 3000


def _city_totals(world) -> dict:
    """The city's money totals as the dashboard reads them: contractor -> (owed, held,
    the contractor's cost)."""
    with scopes_disabled():
        return {
            row.contractor_id: (row.owed, row.held, row.cost_contractor)
            for row in CityLedgerTotal.objects.filter(municipality=world.city)
            if (row.owed, row.held, row.cost_contractor) != (0, 0, 0)
        }


def test_city_totals_follow_the_postings_and_the_case_to_another_contractor(world, posted):
    assert _city_totals(world) == {world.contractor_co.pk: (3000, 5000, 2000)}
    with tenant_scope(world.staff):
        services.case_update(case=posted, by=world.staff, contractor=world.other_co)
    assert _city_totals(world) == {world.other_co.pk: (3000, 5000, 2000)}
    with tenant_scope(world.staff):
        services.case_update(case=posted, by=world.staff, contractor=None)
        ledger.ledger_post_payment(
            case=posted,
            party=posted.parties.get(label="C氏"),
            amount=3000,
            side="municipality",
            method="cash",
            on=date(2023, 2, 10),
            by=world.staff,
        )
    assert _city_totals(world) == {None: (0, 5000, 2000)}
    call_command("ledger_totals", "--check")


def test_check_finds_a_tampered_city_total_and_rebuild_repairs_it(world, posted, capsys):
    with scopes_disabled():
        CityLedgerTotal.objects.filter(municipality=world.city).update(held=1)
    with pytest.raises(CommandError, match="1 municipality/contractor total"):
        call_command("ledger_totals", "--check")
    call_command("ledger_totals", "--rebuild")
    assert "1 municipality and contractor row" in capsys.readouterr().out
    call_command("ledger_totals", "--check")
    assert _city_totals(world) == {world.contractor_co.pk: (3000, 5000, 2000)}


def test_a_case_handed_over_locks_the_two_contractors_rows_in_one_order(world, posted):
    """Two cases handed between the same two contractors in opposite directions at once
    must not wait on each other: the city's rows are always updated (locked) lower
    contractor first, whichever way the case goes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    low, high = sorted((world.contractor_co, world.other_co), key=lambda c: c.pk)
    orders = []
    for to, was in ((high, low), (low, high)):
        assert posted.contractor_id == was.pk
        with tenant_scope(world.staff), CaptureQueriesContext(connection) as queries:
            services.case_update(case=posted, by=world.staff, contractor=to)
        updates = [
            q["sql"] for q in queries if q["sql"].startswith('UPDATE "remedies_cityledgertotal"')
        ]
        touched = [
            next(c.pk for c in (low, high) if f'"contractor_id" = {c.pk}' in sql) for sql in updates
        ]
        orders.append(list(dict.fromkeys(touched)))  # a row made now is updated again
        posted.refresh_from_db()
    assert orders == [[low.pk, high.pk], [low.pk, high.pk]]
