"""Each write service leaves its own audit entry, naming what it did: one per action the
user took (a contact with two agencies is one entry, an edit of three fields is one), so the
trail reads as the case's history of actions (issue 20; until now several services' entries
were checked only through the import's round trip)."""

from collections import Counter
from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.models import Agency, AuditEntry
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.models import AgencyContact, Channel, Method, Side
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db


def _trail(case) -> Counter:
    with scopes_disabled():
        return Counter(AuditEntry.objects.filter(case_id=case.pk).values_list("action", flat=True))


@pytest.fixture
def added(world, story):
    """Calls a service as city staff; returns the audit entries it added to the case."""
    case, _, _ = story

    def call(service, by=None, **kwargs):
        by = by or world.staff
        before = _trail(case)
        with tenant_scope(by):
            service(by=by, **kwargs)
        return dict(_trail(case) - before)

    return call


def test_opening_a_case_and_adding_its_people_and_link(world, story):
    case, _, _ = story
    assert _trail(case) == Counter(
        {"tadasu.case.opened": 1, "tadasu.party.added": 2, "tadasu.misregistration.added": 1}
    )


def test_each_case_and_party_service_leaves_one_entry(world, story, added):
    case, c, _ = story
    assert added(services.case_update, case=case, summary="概要", cause_text="原因の詳細") == {
        "tadasu.case.changed": 1
    }
    assert added(services.party_update, party=c, phone="090-1234-5678", address="北九州市") == {
        "tadasu.party.changed": 1
    }
    assert added(
        services.timeline_add,
        case=case,
        occurred_on=date(2023, 2, 8),
        actor="北九州市",
        text="電話で状況を確認した。",
    ) == {"tadasu.timeline.added": 1}


def test_each_remedy_service_leaves_one_entry(world, story, added):
    case, _, d = story
    national = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    other = Agency.objects.get_or_create(name="総務省", kind=Agency.Kind.NATIONAL)[0]
    assert added(
        remedies.contact_add,
        case=case,
        agencies=[national, other],
        contacted_on=date(2023, 2, 8),
        channel=Channel.PHONE,
        request="調査を依頼。",
    ) == {"tadasu.contact.added": 1}
    with scopes_disabled():
        contact = AgencyContact.objects.get(case=case)
    assert added(
        remedies.contact_answer, contact=contact, answered_on=date(2023, 2, 9), answer="付与済み"
    ) == {"tadasu.contact.answered": 1}
    assert added(
        remedies.agreement_add,
        case=case,
        payer=Side.CONTRACTOR,
        amount=15000,
        form=Method.CASH,
        agreed_on=date(2023, 3, 7),
    ) == {"tadasu.agreement.added": 1}
    assert added(remedies.letter_record, case=case, party=d, sent_on=date(2023, 3, 11)) == {
        "tadasu.letter.recorded": 1
    }


def test_a_stage_step_and_ledger_postings_leave_their_entries(world, story, added):
    case, c, d = story
    assert added(case_transition, case=case, step="refer") == {"tadasu.case.stage.refer": 1}
    # A misallocation is one action on two people's balances: each posting is its own
    # ledger entry, audited as such.
    assert added(
        ledger.ledger_post_misallocation,
        case=case,
        owed=c,
        holder=d,
        amount=15000,
        on=date(2023, 3, 7),
    ) == {"tadasu.ledger.misallocation": 2}
    assert added(
        ledger.ledger_post_payment,
        case=case,
        party=c,
        amount=5000,
        side=Side.CONTRACTOR,
        method=Method.CASH,
        on=date(2023, 3, 8),
    ) == {"tadasu.ledger.payment": 1}
