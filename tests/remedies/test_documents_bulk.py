"""Letters in bulk (issue_document --all-parties): each letter the one document_issue would
issue, numbered in order, audited in one unbroken chain, committed a batch at a time."""

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.audit_verify import verify_chain
from cases.models import AuditEntry, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.documents import bulk, services
from remedies.models import Document, DocumentSequence, DocumentStatus, Method, Purpose, Side

pytestmark = pytest.mark.django_db

DATED = date(2023, 3, 16)


@pytest.fixture
def people(world, story):
    """story with money, a visit and a letter sent to C, and a second case of two people:
    every part of a letter's data has something in it."""
    case, c, d = story
    world.city.document_symbol = "デ推"
    world.city.save()
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 7), by=world.staff
        )
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=d,
            visited_on=date(2023, 2, 20),
            place="区役所",
            purpose=Purpose.JOINT_CHECK,
            collected=3000,
            collected_by=Side.CONTRACTOR,
            collection_method=Method.CASH,
        )
        remedies.letter_record(case=case, by=world.staff, party=c, sent_on=date(2023, 2, 21))
        other = case_services.case_open(
            by=world.staff, office=world.office2, kind="account", discovered_on=date(2023, 2, 22)
        )
        a = case_services.party_add(case=other, by=world.staff, label="A氏", name="山田 太郎")
        b = case_services.party_add(case=other, by=world.staff, label="B氏", name="田中 一郎")
        case_services.misregistration_add(
            case=other,
            by=world.staff,
            source=a,
            target=b,
            data_kind=DataKind.BANK_ACCOUNT,
            paid_through=False,
        )
    return [(case, c), (case, d), (other, a), (other, b)]


def _bulk(world, targets, **kwargs) -> list[Document]:
    with tenant_scope(world.staff):
        return list(
            bulk.documents_issue_many(
                kind="apology", by=world.staff, targets=targets, dated=DATED, **kwargs
            )
        )


def _without_number(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "number_text"}


def test_each_bulk_letter_is_the_letter_issued_alone(world, people, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 3)  # a case's two people in different batches
    # Issued alone from the same state, then taken back: an お詫び状 issued is the person's
    # apology record, which a second letter to the same person would then mention.
    with tenant_scope(world.staff), transaction.atomic():
        alone = [
            services.document_issue(kind="apology", by=world.staff, case=c, party=p, dated=DATED)
            for c, p in people
        ]
        transaction.set_rollback(True)
    in_bulk = _bulk(world, people, workers=0)
    for bulk_letter, letter in zip(in_bulk, alone, strict=True):
        assert _without_number(bulk_letter.data) == _without_number(letter.data)
        assert bytes(bulk_letter.pdf) == services.render(bulk_letter.data)
        assert services.verify(bulk_letter)
    # Byte for byte the same letter but for its number.
    same_number = {**alone[0].data, "number_text": in_bulk[0].data["number_text"]}
    assert services.render(same_number) == bytes(in_bulk[0].pdf)


def test_pdfs_drawn_by_a_worker_process_are_the_same_bytes(world, people):
    in_bulk = _bulk(world, people, workers=1)
    assert [d.status for d in in_bulk] == [DocumentStatus.ISSUED] * 4
    for letter in in_bulk:
        assert bytes(letter.pdf) == services.render(letter.data)


def test_numbers_and_audit_follow_the_order_of_the_people(world, people, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 3)
    in_bulk = _bulk(world, people, workers=0)
    assert [d.number for d in in_bulk] == [1, 2, 3, 4]
    assert [d.data["number_text"] for d in in_bulk] == [f"デ推第{n}号" for n in (1, 2, 3, 4)]
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action="tadasu.document.issued").order_by("id"))
        lines = list(TimelineEvent.objects.filter(action="document.issued").order_by("id"))
        assert DocumentSequence.objects.get().last_number == 4
    assert [e.object_id for e in entries] == [str(d.pk) for d in in_bulk]
    assert [e.data["sha256"] for e in entries] == [d.sha256 for d in in_bulk]
    assert lines == []  # issuing is bookkeeping: in the audit trail, not the 経過
    assert verify_chain()[1] == []


def test_a_failure_takes_back_its_own_batch_and_keeps_the_batches_before(
    world, people, monkeypatch
):
    monkeypatch.setattr(bulk, "BATCH", 2)
    drawn = []

    original = services.render

    def render_or_fail(data, *, draft=False):
        drawn.append(data["number_text"])
        if len(drawn) == 4:
            raise OSError("disk full")
        return original(data, draft=draft)

    monkeypatch.setattr(bulk, "render", render_or_fail)
    issued = []
    with pytest.raises(OSError), tenant_scope(world.staff):
        for document in bulk.documents_issue_many(
            kind="apology", by=world.staff, targets=people, dated=DATED, workers=0
        ):
            issued.append(document.number)
    assert issued == [1, 2]
    with scopes_disabled():
        assert sorted(Document.objects.values_list("number", flat=True)) == [1, 2]
        assert AuditEntry.objects.filter(action="tadasu.document.issued").count() == 2
        assert DocumentSequence.objects.get().last_number == 2  # no gap for the next letter
    assert verify_chain()[1] == []


def test_the_command_writes_no_file_for_a_letter_taken_back(world, people, monkeypatch, tmp_path):
    monkeypatch.setattr(bulk, "BATCH", 2)
    original = services.render
    calls = []

    def render_or_fail(data, *, draft=False):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return original(data, draft=draft)

    monkeypatch.setattr(bulk, "render", render_or_fail)
    refs = sorted({c.reference for c, _ in people}, key=[c.reference for c, _ in people].index)
    args = [a for ref in refs for a in ("--case", ref)]
    with pytest.raises(OSError):
        call_command(
            "issue_document", "apology", *args, "--all-parties", "--as", world.staff.username,
            "--out", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    with scopes_disabled():
        kept = {f"{d.case.reference}-{d.number}-v1.pdf" for d in Document.objects.all()}
    assert {p.name for p in tmp_path.iterdir()} == kept
    assert len(kept) == 2


def test_where_approval_is_required_bulk_letters_await_a_manager(world, people):
    world.city.documents_need_approval = True
    world.city.save()
    for case, _ in people:
        case.municipality = world.city
    in_bulk = _bulk(world, people, workers=0)
    assert {d.status for d in in_bulk} == {DocumentStatus.AWAITING_APPROVAL}
    assert all(d.pdf is None for d in in_bulk)
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tadasu.document.requested").count() == 4


def test_bulk_letters_cost_five_queries_each_the_rest_per_batch(world, people):
    _bulk(world, people[:2], workers=0)  # the year's number sequence is created here
    with CaptureQueriesContext(connection) as two:
        _bulk(world, people[:2], workers=0)
    with CaptureQueriesContext(connection) as four:
        _bulk(world, people, workers=0)
    # Per letter: the document and its audit entry, and, an お詫び状 being the person's
    # apology, the apology record with its 経過 line and audit entry; the rest per batch.
    assert len(four) - len(two) == 2 * 5
