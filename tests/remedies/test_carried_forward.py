"""Who and how much are typed once: the link and the agency's answer start the misallocation
form, the misallocation starts the agreement, the agreement and the balances start the
payment (remedies/selectors.py). Initial values only: what the clerk sends is what counts."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from cases import services
from cases.models import Agency
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.models import Channel

pytestmark = pytest.mark.django_db


def _form(client, case, tail):
    response = client.get(f"/cases/{case.reference}/{tail}")
    assert response.status_code == 200
    return response.context["form"], response.content.decode()


def _answer(world, case, text):
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=date(2023, 3, 1),
            channel=Channel.PHONE,
            request="付与状況を照会。",
            answered_on=date(2023, 3, 7),
            answer=text,
        )


def test_the_misallocation_starts_from_the_link_and_the_agencys_amount(client, world, story):
    case, c, d = story
    _answer(world, case, "C氏分の５，０００ポイントがD氏に付与されていた。")
    client.force_login(world.staff)
    form, html = _form(client, case, "ledger/misallocation/new/")
    # D's cashless account was registered into C's record: C's points went to D.
    assert form["owed"].value() == c.pk
    assert form["holder"].value() == d.pk
    assert form["amount"].value() == 5000
    assert f'<option value="{c.pk}" selected>' in html
    assert 'value="5000"' in html


def test_an_answer_naming_two_amounts_leaves_the_amount_to_the_clerk(client, world, story):
    case, _c, _d = story
    _answer(world, case, "C氏に3,000円、E氏に2,000円。")
    client.force_login(world.staff)
    form, _html = _form(client, case, "ledger/misallocation/new/")
    assert form["amount"].value() in (None, "")


def test_the_agreement_and_the_payment_start_from_what_is_still_owed(client, world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
    client.force_login(world.staff)
    form, _html = _form(client, case, "agreements/new/")
    assert form["agreed_on"].value() == timezone.localdate()
    assert form["party"].value() == c.pk
    assert form["amount"].value() == 5000
    assert form["payer"].value() in (None, "")  # who pays is agreed, not assumed

    with tenant_scope(world.staff):
        remedies.agreement_add(
            case=case,
            by=world.staff,
            payer="contractor",
            amount=5000,
            form="gift_certificate",
            agreed_on=date(2023, 3, 8),
            party=c,
        )
    form, _html = _form(client, case, "ledger/payment/new/")
    assert form["party"].value() == c.pk
    assert form["amount"].value() == 5000
    assert form["side"].value() == "contractor"
    assert form["method"].value() == "gift_certificate"

    form, _html = _form(client, case, "ledger/collection/new/")
    assert form["party"].value() == d.pk
    assert form["amount"].value() == 5000

    # Once the misallocation is in the ledger, the link no longer starts a new one.
    form, _html = _form(client, case, "ledger/misallocation/new/")
    assert form["owed"].value() in (None, "")


def test_the_clerk_may_change_what_was_carried_forward(client, world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
        head = ledger.ledger_head(case)
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/ledger/payment/new/",
        {
            "expected_head": head,
            "party": c.pk,
            "amount": "2,000",
            "side": "municipality",
            "method": "cash",
            "on": "令和5年3月10日",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert ledger.balance_of(c) == 3000


def test_carrying_forward_costs_the_same_few_queries_however_many_people(client, world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
    client.force_login(world.staff)
    counts = {}
    for extra in (0, 6):
        with tenant_scope(world.staff):
            for n in range(extra):
                services.party_add(case=case, by=world.staff, label=f"E{n}氏", name=f"追加 {n}")
        for tail in ("ledger/misallocation/new/", "ledger/payment/new/", "agreements/new/"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/cases/{case.reference}/{tail}").status_code == 200
            counts[(extra, tail)] = len(queries)
    for tail in ("ledger/misallocation/new/", "ledger/payment/new/", "agreements/new/"):
        assert counts[(6, tail)] == counts[(0, tail)], counts
