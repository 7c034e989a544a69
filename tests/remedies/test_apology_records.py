"""An お詫び状 issued in Tadasu is the apology to its person: closing needs nothing more.
Its sending or hand-over date is recorded on the letter, never as a second record."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django_scopes import scopes_disabled

from cases.links import link_correct
from cases.models import AuditEntry, CorrectionWay, Stage, TimelineEvent
from cases.scoping import tenant_scope
from jobs.worker import work_off
from remedies import services as remedies
from remedies.documents.services import document_approve, document_issue, document_reissue
from remedies.documents.tasks import letters_enqueue
from remedies.errors import RemedyError
from remedies.models import ApologyLetter, Delivery, DocumentKind, DocumentStatus
from remedies.workflow import STEPS, CaseFile, case_transition

pytestmark = pytest.mark.django_db

DATED = date(2023, 3, 1)


@pytest.fixture
def visiting(world, answered):
    """Nothing moved wrongly: referred, then straight to visits; the link corrected (closing
    needs it). C and D identified."""
    case, c, d = answered
    with tenant_scope(world.staff):
        link_correct(
            link=case.misregistrations.get(),
            by=world.staff,
            corrected_on=date(2023, 2, 10),
            corrected_how=CorrectionWay.MUNICIPALITY,
        )
        case_transition(case=case, step="refer", by=world.staff, on=date(2023, 2, 10))
        case_transition(case=case, step="plan_visits", by=world.staff, on=date(2023, 2, 10))
    return case, c, d


def _close_blockers(case) -> list[str]:
    with scopes_disabled():
        return [str(b) for b in STEPS["close"].blockers(CaseFile.objects.get(pk=case.pk))]


def _issue_on_the_page(client, case, party, dated="2023-03-01"):
    return client.post(
        f"/cases/{case.reference}/documents/new/",
        {"kind": DocumentKind.APOLOGY, "party": party.pk, "entry": "", "dated": dated},
    )


def test_issuing_the_letters_on_the_page_lets_the_case_close_with_nothing_else(
    client, world, visiting
):
    case, c, d = visiting
    # Before: closing names each person nobody apologised to.
    assert _close_blockers(case) == [
        "C氏への謝罪記録がありません。",
        "D氏への謝罪記録がありません。",
    ]
    client.force_login(world.staff)
    for party in (c, d):
        assert _issue_on_the_page(client, case, party).status_code == 302
    with scopes_disabled():
        letters = list(ApologyLetter.objects.filter(case=case).order_by("party__label"))
        assert [(lt.party.label, lt.sent_on, lt.delivery) for lt in letters] == [
            ("C氏", DATED, ""),
            ("D氏", DATED, ""),
        ]
        assert all(lt.document.kind == DocumentKind.APOLOGY for lt in letters)
        # The 経過 tells the apology (not the issuing, which is bookkeeping).
        lines = TimelineEvent.objects.filter(case=case, action="letter.issued")
        assert sorted(lines.values_list("occurred_on", "text")) == [
            (DATED, "C氏にお詫び状を送付。"),
            (DATED, "D氏にお詫び状を送付。"),
        ]
    assert _close_blockers(case) == []
    with tenant_scope(world.manager):
        closed = case_transition(case=case, step="close", by=world.manager, on=date(2023, 3, 2))
    assert closed.stage == Stage.CLOSED
    # The case page shows one record per person, with the letter's number.
    page = client.get(f"/cases/{case.reference}/").content.decode()
    visits = page.split('id="visits"')[1].split("</section>")[0]
    table, letters = visits.split('id="apology-letters"')
    assert table.count("お詫び状（") == 2
    assert "送付日未記録（文書の日付で謝罪を記録）" in table
    assert letters.count("発行済み") == 2


def test_a_letter_awaiting_approval_is_no_apology_until_issued(world, visiting):
    case, c, d = visiting
    world.city.documents_need_approval = True
    world.city.save(update_fields=["documents_need_approval"])
    with tenant_scope(world.staff):
        pending = document_issue(
            kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=c, dated=DATED
        )
        document_issue(kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=d, dated=DATED)
    assert pending.status == DocumentStatus.AWAITING_APPROVAL
    with scopes_disabled():
        assert not ApologyLetter.objects.filter(case=case).exists()
    assert "C氏への謝罪記録がありません。" in _close_blockers(case)
    with tenant_scope(world.manager):
        document_approve(document=pending, by=world.manager)
    assert _close_blockers(case) == ["D氏への謝罪記録がありません。"]


def test_letters_issued_in_bulk_are_apologies_too(world, visiting):
    case, c, d = visiting
    with tenant_scope(world.staff):
        job = letters_enqueue(
            kind=DocumentKind.APOLOGY, by=world.staff, targets=[(case, c), (case, d)]
        )
    assert _close_blockers(case) != []  # queued, not yet issued: no apology yet
    assert work_off(job_id=job.pk) == 1  # one task of two letters
    with scopes_disabled():
        assert ApologyLetter.objects.filter(case=case, document__isnull=False).count() == 2
    assert _close_blockers(case) == []


def test_the_sending_date_is_recorded_on_the_issued_letter(client, world, visiting):
    case, c, _ = visiting
    client.force_login(world.staff)
    _issue_on_the_page(client, case, c)
    with scopes_disabled():
        letter = ApologyLetter.objects.get(party=c)
    url = f"/cases/{case.reference}/letters/{letter.pk}/sent/"
    form = client.get(url).content.decode()
    assert "お詫び状の送付日の記録" in form and "C氏あてのお詫び状" in form
    response = client.post(url, {"delivery": Delivery.HAND, "sent_on": "2023-03-03"})
    assert response.status_code == 302
    with scopes_disabled():
        letter.refresh_from_db()
        assert (letter.sent_on, letter.delivery) == (date(2023, 3, 3), Delivery.HAND)
        assert ApologyLetter.objects.filter(party=c).count() == 1
        # The letter's one 経過 line moved to the day it was handed over, and says so.
        [line] = TimelineEvent.objects.filter(case=case, action="letter.issued")
        assert (line.occurred_on, line.text) == (date(2023, 3, 3), "C氏にお詫び状を手渡し。")
        audit = AuditEntry.objects.get(action="tadasu.letter.delivered")
        assert audit.data["before"] == {"sent_on": "2023-03-01", "delivery": ""}
        assert audit.data["delivery"] == "hand"
        assert audit.data["timeline_event"] == line.pk
    # Corrected afterwards: still one line, moved again.
    client.post(url, {"delivery": Delivery.POST, "sent_on": "2023-03-04"})
    with scopes_disabled():
        lines = TimelineEvent.objects.filter(case=case, action="letter.issued")
        assert list(lines.values_list("occurred_on", "text")) == [
            (date(2023, 3, 4), "C氏にお詫び状を郵送。")
        ]
    client.post(url, {"delivery": Delivery.HAND, "sent_on": "2023-03-03"})
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "手渡し" in page.split('id="visits"')[1].split("</section>")[0]
    # The documents list says it too, beside the letter.
    assert "手渡し 令和5年3月3日" in page.split('id="documents"')[1]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sent_on": "2023-02-28"}, "sent_on"),  # before the letter's own date
        ({"sent_on": "2099-01-01"}, "sent_on"),
        ({"sent_on": ""}, "sent_on"),
        ({"delivery": "pigeon"}, "delivery"),
    ],
)
def test_a_wrong_sending_date_is_answered_next_to_the_field(client, world, visiting, data, field):
    case, c, _ = visiting
    client.force_login(world.staff)
    _issue_on_the_page(client, case, c)
    with scopes_disabled():
        letter = ApologyLetter.objects.get(party=c)
    response = client.post(
        f"/cases/{case.reference}/letters/{letter.pk}/sent/",
        {"delivery": Delivery.POST, "sent_on": "2023-03-03"} | data,
    )
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in response.content.decode()
    with scopes_disabled():
        letter.refresh_from_db()
        assert (letter.sent_on, letter.delivery) == (DATED, "")


def test_a_letter_by_hand_is_not_recorded_twice_for_an_issued_one(world, visiting):
    case, c, d = visiting
    with tenant_scope(world.staff):
        document_issue(kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=c, dated=DATED)
        with pytest.raises(RemedyError) as error:
            remedies.letter_record(case=case, by=world.staff, party=c, sent_on=DATED)
        # A letter made outside Tadasu, to the other person, is still recorded by hand.
        remedies.letter_record(case=case, by=world.staff, party=d, sent_on=DATED)
    assert error.value.field == "party"
    assert "C氏あてのお詫び状はTadasuで発行済み" in str(error.value.message)
    with scopes_disabled():
        assert ApologyLetter.objects.filter(party=c).count() == 1
    assert _close_blockers(case) == []


def test_a_reissued_letter_keeps_one_record_and_its_sending_date(world, visiting):
    case, c, _ = visiting
    with tenant_scope(world.staff):
        first = document_issue(
            kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=c, dated=DATED
        )
        letter = ApologyLetter.objects.get(document=first)
        remedies.letter_delivery_record(
            letter=letter, by=world.staff, sent_on=date(2023, 3, 2), delivery=Delivery.POST
        )
        second = document_reissue(document=first, by=world.staff)
    with scopes_disabled():
        letters = list(ApologyLetter.objects.filter(party=c))
    assert [(lt.document_id, lt.sent_on, lt.delivery) for lt in letters] == [
        (second.pk, date(2023, 3, 2), Delivery.POST)
    ]


@pytest.mark.parametrize("role", ["contractor", "auditor", "staff_other_city"])
def test_only_the_citys_staff_record_the_sending_date(world, visiting, role):
    case, c, _ = visiting
    with tenant_scope(world.staff):
        document_issue(kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=c, dated=DATED)
    with scopes_disabled():
        letter = ApologyLetter.objects.get(party=c)
        with pytest.raises(PermissionDenied):
            remedies.letter_delivery_record(
                letter=letter, by=getattr(world, role), sent_on=DATED, delivery=Delivery.POST
            )
        letter.refresh_from_db()
        assert letter.delivery == ""
