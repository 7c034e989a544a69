"""Issuing documents: numbering, sealing, approval (決裁), reissue, who may see what."""

import hashlib
import io
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from pypdf import PdfReader

from cases import services as case_services
from cases.models import AuditEntry, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.documents import services
from remedies.errors import RemedyError
from remedies.models import Document, DocumentStatus

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def city(world):
    world.city.document_symbol = "デ推"
    world.city.department = "デジタル市役所推進室"
    world.city.contact_phone = "093-582-2144"
    world.city.save()
    return world.city


def _issue(world, case, party, by=None, **kwargs):
    by = by or world.staff
    with tenant_scope(by):
        return services.document_issue(
            kind="apology", by=by, case=case, party=party, dated=date(2023, 3, 16), **kwargs
        )


def test_apology_letter_is_numbered_sealed_and_reads_in_japanese(world, city, story):
    case, _, d = story
    document = _issue(world, case, d)
    assert document.status == DocumentStatus.ISSUED
    assert document.data["number_text"] == "デ推第1号"
    assert document.sha256 == hashlib.sha256(bytes(document.pdf)).hexdigest()
    text = pdf_text(bytes(document.pdf))
    for expected in (
        "デ推第1号",
        "令和5年3月16日",
        "鈴木 次郎",
        "（公印省略）",
        "（お詫び）",
        "鈴木様に付与されておりました",
        "093-582-2144",
    ):
        assert expected in text, expected


def test_a_letter_reads_no_story_of_its_case(world, city, story):
    # A letter prints no 経過, and each one issued adds a line to it: reading the 経過 for
    # every letter made the tenth letter of a case dearer than the first.
    case, c, d = story
    _issue(world, case, c)
    with CaptureQueriesContext(connection) as captured:
        document = _issue(world, case, d)
    read = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert not [sql for sql in read if "cases_timelineevent" in sql]
    assert "timeline" not in document.data["case"]
    # A report still tells the 経過, the letter's line included.
    with tenant_scope(world.staff):
        report = services.document_issue(kind="report", by=world.staff, case=case)
    assert "お詫び状を送付" in "".join(line["text"] for line in report.data["case"]["timeline"])


def test_each_side_of_a_link_gets_its_own_wording(world, city, story):
    case, c, d = story
    owed_text = "".join(pdf_text(bytes(_issue(world, case, c).pdf)).split())
    holder_text = "".join(pdf_text(bytes(_issue(world, case, d).pdf)).split())
    assert "佐藤様に付与されるべきポイントが別の方に付与されて" in owed_text
    assert "本来その方に付与されるべきポイントが鈴木様に付与されて" in holder_text
    assert "あなた様" not in owed_text + holder_text


def test_amounts_appear_with_thousands_separators(world, city, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=date(2023, 3, 7), by=world.staff
        )
    text = pdf_text(bytes(_issue(world, case, d).pdf))
    assert "15,000円" in text


def test_numbers_run_per_fiscal_year(world, city, story):
    case, c, d = story
    first = _issue(world, case, c)
    second = _issue(world, case, d)
    with tenant_scope(world.staff):
        april = services.document_issue(
            kind="apology", by=world.staff, case=case, party=c, dated=date(2023, 4, 3)
        )
    assert [first.number, second.number, april.number] == [1, 2, 1]
    assert april.fiscal_year == 2023 and first.fiscal_year == 2022


def test_reissue_is_a_new_version_and_the_old_one_still_verifies(world, city, story):
    case, c, _ = story
    first = _issue(world, case, c)
    with tenant_scope(world.staff):
        from cases import services as case_services

        case_services.party_update(party=c, by=world.staff, name="佐藤 花子（訂正）")
        second = services.document_reissue(document=first, by=world.staff)
        with pytest.raises(RemedyError):
            services.document_reissue(document=first, by=world.staff)
    first.refresh_from_db()
    assert (second.number, second.version, second.supersedes) == (first.number, 2, first)
    assert second.data["number_text"] == "デ推第1号（第2版）"
    assert services.verify(first) and services.verify(second)
    assert "佐藤 花子（訂正）" in pdf_text(bytes(second.pdf))
    assert "佐藤 花子（訂正）" not in pdf_text(bytes(first.pdf))


def test_issued_documents_cannot_be_changed_or_deleted(world, city, story):
    case, c, _ = story
    document = _issue(world, case, c)
    with scopes_disabled():
        stored = Document.objects.get(pk=document.pk)
    stored.data = {"tampered": True}
    with pytest.raises(TypeError):
        stored.save()
    with pytest.raises(TypeError):
        stored.delete()


def test_where_approval_is_required_a_manager_must_approve_first(world, city, story):
    case, c, _ = story
    city.documents_need_approval = True
    city.save()
    case.municipality.refresh_from_db()
    document = _issue(world, case, c)
    assert document.status == DocumentStatus.AWAITING_APPROVAL and not document.pdf
    with tenant_scope(world.staff):
        with pytest.raises(RemedyError):
            services.document_download(document=document, by=world.staff)
        with pytest.raises(PermissionDenied):
            services.document_approve(document=document, by=world.staff)
    with tenant_scope(world.manager):
        approved = services.document_approve(document=document, by=world.manager)
    assert approved.status == DocumentStatus.ISSUED and approved.approved_by == world.manager
    assert services.verify(approved)


def test_an_unidentified_person_gets_no_letter(world, city, story):
    case, _, _ = story
    with tenant_scope(world.staff):
        from cases import services as case_services

        b = case_services.party_add(
            case=case, by=world.staff, label="B氏", identified=False, identification_note="照会中"
        )
    with pytest.raises(RemedyError) as error:
        _issue(world, case, b)
    assert error.value.field == "party"


@pytest.mark.parametrize("role", ["contractor", "auditor"])
def test_only_city_staff_issue(world, city, story, role):
    case, c, _ = story
    with pytest.raises(PermissionDenied):
        _issue(world, case, c, by=getattr(world, role))


def test_issue_and_download_are_in_the_audit_and_not_in_the_timeline(client, world, city, story):
    case, c, _ = story
    document = _issue(world, case, c)
    client.force_login(world.contractor)
    response = client.get(f"/documents/{document.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert "佐藤" not in response["Content-Disposition"]  # no names in file names
    assert bytes(response.content) == bytes(document.pdf)
    actions = set(AuditEntry.objects.filter(case=case).values_list("action", flat=True))
    assert {"tadasu.document.issued", "tadasu.document.downloaded"} <= actions
    # Bookkeeping: the audit trail holds it, the 経過 does not.
    with scopes_disabled():
        assert not TimelineEvent.objects.filter(case=case, action__startswith="document.")


def test_a_contractor_of_another_company_gets_404(client, world, city, story):
    case, c, _ = story
    document = _issue(world, case, c)
    for role in ("other_contractor", "staff_other_city"):
        client.force_login(getattr(world, role))
        assert client.get(f"/documents/{document.pk}/download/").status_code == 404, role


def test_case_page_issues_after_a_preview(client, world, city, story):
    case, c, _ = story
    client.force_login(world.staff)
    url = f"/cases/{case.reference}/documents/new/"
    assert client.get(url).status_code == 200
    preview = client.post(url, {"kind": "apology", "party": c.pk, "preview": "1"})
    assert preview["Content-Type"] == "application/pdf"
    assert "【案】" in pdf_text(preview.content)
    with scopes_disabled():
        assert not Document.objects.exists()  # a preview stores nothing
    response = client.post(url, {"kind": "apology", "party": c.pk, "dated": "2023-03-16"})
    assert response.status_code == 302
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "デ推第1号" in body


def test_case_document_page_answers_bad_input_next_to_the_field(client, world, city, story):
    case, _, _ = story
    client.force_login(world.staff)
    response = client.post(f"/cases/{case.reference}/documents/new/", {"kind": "apology"})
    assert response.status_code == 200
    assert 'id="id_party_error"' in response.content.decode()
    with scopes_disabled():
        assert not Document.objects.exists()


def test_contractors_and_auditors_cannot_prepare_documents(client, world, story):
    case, _, _ = story
    for role in ("contractor", "auditor"):
        client.force_login(getattr(world, role))
        assert client.get(f"/cases/{case.reference}/documents/new/").status_code == 403


def test_letters_in_bulk_one_per_identified_person_each_from_its_own_case(
    world, city, story, tmp_path
):
    case, _c, _d = story
    with tenant_scope(world.staff):
        other = case_services.case_open(
            by=world.staff, office=world.office2, kind="account", discovered_on=date(2023, 2, 22)
        )
        case_services.party_add(case=other, by=world.staff, label="A氏", name="山田 太郎")
    refs = ["--case", case.reference, "--case", other.reference]
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command(
        "issue_document", "apology", *refs, "--all-parties", "--as", world.staff.username,
        "--out", str(tmp_path), **quiet,
    )  # fmt: skip
    letters: dict[str, list[str]] = {}
    for path in sorted(tmp_path.iterdir()):
        ref = case.reference if path.name.startswith(case.reference) else other.reference
        letters.setdefault(ref, []).append(pdf_text(path.read_bytes()))
    # Each case's data is read once for its letters, and each letter is its own case's.
    assert [("佐藤 花子" in t, "鈴木 次郎" in t) for t in letters[case.reference]] in (
        [(True, False), (False, True)],
        [(False, True), (True, False)],
    )
    assert ["山田 太郎" in t for t in letters[other.reference]] == [True]
    with scopes_disabled():
        data = {doc.party.label: doc.data["case"]["reference"] for doc in Document.objects.all()}
    assert data == {"C氏": case.reference, "D氏": case.reference, "A氏": other.reference}
