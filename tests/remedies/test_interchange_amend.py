"""Moving a case loses nothing (issue 15): issued documents travel with the case file (with
or without their PDFs), and a file amends a case that is already in the database with the
actions it has not taken yet. Export → import elsewhere → export gives the same file."""

import base64
import copy
import hashlib
import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from cases import services
from cases.models import (
    Agency,
    AuditEntry,
    Case,
    CaseKind,
    CauseCategory,
    DataKind,
    Party,
    TimelineEvent,
)
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.documents import services as documents
from remedies.interchange import InterchangeError, export_cases, import_cases
from remedies.interchange.stream import Limits
from remedies.models import (
    AgencyContact,
    Channel,
    Document,
    DocumentSequence,
    DocumentStatus,
    LedgerEntry,
)
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db


def lines(document: dict) -> list[str]:
    return json.dumps(document, ensure_ascii=False, indent=2).splitlines()


def _first_part(world) -> Case:
    """A case as the first city worked it before the file left: two people, a
    misallocation, a request still unanswered, an apology letter issued, reissued, and a
    report (a kind without a number)."""
    staff = world.staff
    world.city.document_symbol = "デ推"
    world.city.save()
    case = services.case_open(
        by=staff,
        office=world.office,
        kind=CaseKind.CASHLESS_LINK,
        contractor=world.contractor_co,
        discovered_on=date(2023, 2, 7),
        reported_on=date(2023, 2, 8),
        discovery="受付表から両名を把握。",
        cause_category=CauseCategory.LOGOUT_OMITTED,
    )
    c = services.party_add(case=case, by=staff, label="C氏", name="佐藤 花子")
    d = services.party_add(case=case, by=staff, label="D氏", name="鈴木 次郎")
    services.misregistration_add(
        case=case, by=staff, source=d, target=c, data_kind=DataKind.CASHLESS_ACCOUNT
    )
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[Agency.objects.get(name="デジタル庁")],
        contacted_on=date(2023, 2, 9),
        channel=Channel.PHONE,
        request="調査を依頼。",
    )
    ledger.ledger_post_misallocation(
        case=case, owed=c, holder=d, amount=6000, on=date(2023, 2, 13), by=staff
    )
    with tenant_scope(staff):
        letter = documents.document_issue(
            kind="apology", by=staff, case=case, party=c, dated=date(2023, 2, 14)
        )
        documents.document_reissue(document=letter, by=staff)
        documents.document_issue(kind="report", by=staff, case=case, dated=date(2023, 2, 14))
    return case


def _second_part(world, case: Case) -> None:
    """What the first city did after the file left: the answer to the old request, a
    reversal of the old posting, an edit, a hand-written 経過 line, a step, another letter."""
    staff, manager = world.staff, world.manager
    case = Case.objects.get(pk=case.pk)
    c = case.parties.get(label="C氏")
    contact = AgencyContact.objects.get(case=case)
    remedies.contact_answer(
        contact=contact, by=manager, answered_on=date(2023, 2, 15), answer="付与済み。"
    )
    ledger.ledger_reverse(
        entry=LedgerEntry.objects.filter(case=case).order_by("pk").first(),
        reason="金額誤り",
        on=date(2023, 2, 16),
        by=staff,
    )
    ledger.ledger_post_misallocation(
        case=case, owed=c, holder=case.parties.get(label="D氏"), amount=5000,
        on=date(2023, 2, 16), by=staff,
    )  # fmt: skip
    services.party_update(party=c, by=staff, name_kana="サトウ ハナコ")
    services.timeline_add(
        case=case, by=staff, occurred_on=date(2023, 2, 16), actor="北九州市", text="電話で確認。"
    )
    case_transition(case=case, step="refer", by=staff, on=date(2023, 2, 17))
    with tenant_scope(staff):
        documents.document_issue(
            kind="apology", by=staff, case=case, party=c, dated=date(2023, 2, 17)
        )


@pytest.fixture
def agency(world):
    # The standard agencies may be there already (cases/agencies.py).
    return Agency.objects.get_or_create(name="デジタル庁", defaults={"kind": Agency.Kind.NATIONAL})[
        0
    ]


def exports(world, *, pdfs: bool) -> tuple[dict, dict]:
    """The case exported after its first part and again after its second; then the
    database is rolled back to before the case, as an empty database elsewhere would be."""
    with transaction.atomic(), scopes_disabled():
        case = _first_part(world)
        first = export_cases(personal_data=True, pdfs=pdfs)
        _second_part(world, case)
        second = export_cases(personal_data=True, pdfs=pdfs)
        transaction.set_rollback(True)
    with scopes_disabled():
        assert not Case.objects.exists() and not Document.objects.exists()
    return first, second


def state() -> list:
    """Everything an import could change, to see that a refused one changed nothing."""
    with scopes_disabled():
        return [
            lines(export_cases(personal_data=True, pdfs=True)),
            AuditEntry.objects.count(),
            TimelineEvent.objects.count(),
            list(DocumentSequence.objects.values_list("fiscal_year", "last_number")),
        ]


def write(tmp_path, document: dict, name: str = "cases.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


# ---- documents --------------------------------------------------------------------------


def test_documents_with_their_pdfs_round_trip_and_keep_their_numbers(world, agency):
    _, second = exports(world, pdfs=True)
    (case,) = second["cases"]
    assert [(d["kind"], d["number_text"], d["version"], d["party"]) for d in case["documents"]] == [
        ("apology", "デ推第1号", 1, "C氏"),
        ("apology", "デ推第1号（第2版）", 2, "C氏"),
        ("report", "", 1, None),
        ("apology", "デ推第2号", 1, "C氏"),
    ]
    for item in case["documents"]:
        pdf = base64.b64decode(item["pdf"])
        assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == item["sha256"]

    with scopes_disabled():
        world.city.document_symbol = "デ推"
        world.city.save()
        import_cases(second)
        assert lines(export_cases(personal_data=True, pdfs=True)) == lines(second)
        imported = list(Document.objects.order_by("pk"))
        assert [d.status for d in imported] == [DocumentStatus.ISSUED] * 4
        assert all(documents.verify(d) for d in imported)
        assert imported[1].supersedes == imported[0]
        # The numbers are taken here too: the next letter is number 3, not 1.
        assert DocumentSequence.objects.get(fiscal_year=2022).last_number == 2
        case = Case.objects.get()
        with tenant_scope(world.staff):
            after = documents.document_issue(
                kind="apology",
                by=world.staff,
                case=case,
                party=case.parties.get(label="C氏"),
                dated=date(2023, 3, 1),
            )
        assert after.data["number_text"] == "デ推第3号"
        entries = AuditEntry.objects.filter(action="tadasu.document.imported", case=case)
        assert entries.count() == 4 and entries.first().data["pdf"] is True


def test_documents_without_pdfs_are_listed_as_issued_elsewhere(world, agency, client):
    _, second = exports(world, pdfs=False)
    assert second["pdfs"] is False
    assert all("pdf" not in d for d in second["cases"][0]["documents"])

    with scopes_disabled():
        import_cases(second)
        assert lines(export_cases(personal_data=True)) == lines(second)
        # Asked for PDFs, the export still has none to give: the same file, but the header.
        again = export_cases(personal_data=True, pdfs=True)
        assert again["cases"] == second["cases"]
        assert set(Document.objects.values_list("status", flat=True)) == {
            DocumentStatus.ISSUED_ELSEWHERE
        }
        reference = Case.objects.get().reference

    client.force_login(world.staff)
    page = client.get(f"/cases/{reference}/").content.decode()
    section = page[page.index('id="h-documents"') :]
    assert section.count("他システムで発行済") == 4
    assert "デ推第2号" in section and "ダウンロード" not in section


def test_a_file_of_version_1_still_imports(world, agency):
    _, second = exports(world, pdfs=False)
    old = copy.deepcopy(second)
    old["version"] = 1
    del old["pdfs"]
    for case in old["cases"]:
        del case["documents"]
        del case["plans"]
        for letter in case["letters"]:  # a letter of version 1 names no document
            for name in ("document", "delivery", "deliveries"):
                del letter[name]
    with scopes_disabled():
        (case,) = import_cases(old)
        assert not Document.objects.exists() and case.stage == "agency_contact"


def test_pdfs_leave_only_with_the_personal_data(world, tmp_path):
    with pytest.raises(CommandError, match="--with-pdfs needs --with-personal-data"):
        call_command("export_cases", "--with-pdfs", "--output", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(InterchangeError, match="names and addresses"):
        export_cases(pdfs=True)


# ---- bad document entries ---------------------------------------------------------------


def _bad(item: dict, field: str, value) -> None:
    item[field] = value


BAD_DOCUMENTS = [
    (lambda d: _bad(d, "kind", "invitation"), "kind", "この種類の文書はありません"),
    (lambda d: _bad(d, "number", True), "number", "true is not a whole number"),
    (lambda d: _bad(d, "number", "1"), "number", '"1" is not a whole number'),
    (lambda d: _bad(d, "fiscal_year", 70000), "fiscal_year", "not between 1 and 32767"),
    (lambda d: _bad(d, "version", 0), "version", "not between 1 and 32767"),
    (lambda d: _bad(d, "dated", "2023-02-30"), "dated", "is not a date"),
    (lambda d: _bad(d, "party", "Z氏"), "party", 'no party labelled "Z氏"'),
    (lambda d: _bad(d, "sha256", "0" * 64), "sha256", "SHA-256が一致しません"),
    (lambda d: _bad(d, "sha256", "xyz"), "sha256", "SHA-256は"),
    (lambda d: _bad(d, "pdf", "%%%"), "pdf", "is not base64"),
    (lambda d: _bad(d, "pdf", 12), "pdf", "must be the PDF in base64"),
    (lambda d: _bad(d, "pdf", base64.b64encode(b"<html>").decode()), "pdf", "PDFではありません"),
    (lambda d: d.pop("sha256"), "sha256", "is missing"),
    (lambda d: _bad(d, "approved_by", "nobody"), "approved_by", '"nobody" is not in this'),
]


@pytest.mark.parametrize(("spoil", "field", "reason"), BAD_DOCUMENTS)
def test_a_bad_document_entry_is_refused_naming_case_and_field(
    world, agency, tmp_path, spoil, field, reason
):
    _, second = exports(world, pdfs=True)
    spoil(second["cases"][0]["documents"][0])
    before = state()
    message = refusal(write(tmp_path, second))
    assert f'case 1 (401005-2022-001), document 1, field "{field}"' in message
    assert reason in message and "Nothing was imported." in message
    assert state() == before


def test_a_document_number_already_used_here_is_refused(world, agency, tmp_path):
    _, second = exports(world, pdfs=True)
    with scopes_disabled(), tenant_scope(world.staff):
        other = services.case_open(
            by=world.staff,
            office=world.office2,
            kind=CaseKind.OTHER,
            discovered_on=date(2022, 12, 1),
            discovery="別件",
        )
        p = services.party_add(case=other, by=world.staff, label="A氏", name="山田 太郎")
        documents.document_issue(
            kind="apology", by=world.staff, case=other, party=p, dated=date(2022, 12, 2)
        )
    before = state()
    message = refusal(write(tmp_path, second))
    assert 'document 1, field "number"' in message and "既に使われています" in message
    assert state() == before


def refusal(path) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(path), stdout=io.StringIO())
    return str(caught.value)


def test_a_pdf_over_its_limit_is_refused_before_anything_is_read(
    world, agency, tmp_path, monkeypatch
):
    _, second = exports(world, pdfs=True)
    longest = max(len(d["pdf"]) for d in second["cases"][0]["documents"])
    monkeypatch.setattr("remedies.interchange.stream.LIMITS", Limits(pdf_chars=longest - 1))
    message = refusal(write(tmp_path, second))
    assert "case 1" in message and "a PDF is longer than" in message
    # Under the limit of each but over the case's own.
    monkeypatch.setattr(
        "remedies.interchange.stream.LIMITS",
        Limits(pdf_chars=longest, case_pdf_chars=longest + 1),
    )
    message = refusal(write(tmp_path, second, "again.json"))
    assert "case 1" in message and "the PDFs of a case are longer than" in message
    with scopes_disabled():
        assert not Case.objects.exists()


def test_a_pdf_may_be_longer_than_any_other_string(world, agency, tmp_path, monkeypatch):
    _, second = exports(world, pdfs=True)
    shortest = min(len(d["pdf"]) for d in second["cases"][0]["documents"])
    monkeypatch.setattr("remedies.interchange.stream.LIMITS", Limits(string=shortest - 1))
    call_command("import_cases", str(write(tmp_path, second)), stdout=io.StringIO())
    with scopes_disabled():
        assert Document.objects.filter(status=DocumentStatus.ISSUED).count() == 4
    # Any other string that long is still refused.
    second["cases"][0]["summary"] = "あ" * shortest
    assert "a string is longer than" in refusal(write(tmp_path, second, "long.json"))


# ---- amending ---------------------------------------------------------------------------


@pytest.mark.parametrize("pdfs", [True, False])
def test_a_file_amends_the_case_it_left_and_a_third_export_is_the_second(
    world, agency, tmp_path, pdfs
):
    first, second = exports(world, pdfs=pdfs)
    out = io.StringIO()
    call_command("import_cases", str(write(tmp_path, first, "first.json")), stdout=out)
    assert "Imported 1 case(s)." in out.getvalue()
    with scopes_disabled():
        assert lines(export_cases(personal_data=True, pdfs=pdfs)) == lines(first)
        case = Case.objects.get()
        timeline_before = list(case.timeline.values_list("pk", "public"))

    # Without --amend the case is not added a second time.
    before = state()
    message = refusal(write(tmp_path, second, "second.json"))
    assert 'case 1 (401005-2022-001), field "reference"' in message
    assert "already in this database as 401005-2022-001" in message and "--amend" in message
    assert state() == before

    out = io.StringIO()
    call_command("import_cases", str(tmp_path / "second.json"), "--amend", stdout=out)
    assert "Imported 0 case(s). Amended 1 case(s)." in out.getvalue()
    # The answer, the reversal, the posting, the party's edit, the 経過 line, the step, the letter
    # (its document, and the apology record that issuing it made).
    assert "401005-2022-001" in out.getvalue() and "amended: 8 newer action(s)" in out.getvalue()
    with scopes_disabled():
        assert Case.objects.count() == 1
        assert lines(export_cases(personal_data=True, pdfs=pdfs)) == lines(second)
        case = Case.objects.get()
        assert case.stage == "agency_contact"
        # The lines that were there are untouched; the new ones were written by the replay.
        assert list(case.timeline.filter(pk__in=[pk for pk, _ in timeline_before]).values_list(
            "pk", "public"
        )) == timeline_before  # fmt: skip
        texts = list(case.timeline.values_list("text", flat=True))
        assert "電話で確認。" in texts
        assert any("関係機関照会" in text for text in texts)
        actions = list(
            AuditEntry.objects.filter(case=case).order_by("id").values_list("action", flat=True)
        )
        assert actions.count("tadasu.document.imported") == 4
        assert actions[-2:] == ["tadasu.document.imported", "tadasu.letter.recorded"]
        assert "tadasu.contact.answered" in actions and "tadasu.ledger.reversal" in actions

    # The same file again: nothing newer, nothing changes.
    before = state()
    out = io.StringIO()
    call_command("import_cases", str(tmp_path / "second.json"), "--amend", stdout=out)
    assert "amended: 0 newer action(s)" in out.getvalue()
    assert state() == before


def test_an_amendment_that_does_not_continue_the_case_changes_nothing(world, agency):
    first, second = exports(world, pdfs=False)
    with scopes_disabled():
        import_cases(first)
        case = Case.objects.get()
        # Worked here after the import: the file no longer continues this case.
        services.timeline_add(
            case=case, by=world.manager, occurred_on=date(2023, 2, 15), actor="北九州市",
            text="ここで追記。",
        )  # fmt: skip
    before = state()
    with pytest.raises(InterchangeError) as caught:
        import_cases(second, amend=True)
    message = str(caught.value)
    assert message.startswith("case 1 (401005-2022-001), contact 1 answer, field")
    assert "does not continue the case in this database (401005-2022-001)" in message
    assert "timeline entry" in message and "nothing was changed" in message
    assert state() == before


def test_an_older_file_does_not_amend_a_newer_case(world, agency):
    first, second = exports(world, pdfs=False)
    with scopes_disabled():
        import_cases(second)
    before = state()
    with pytest.raises(InterchangeError, match="the database is newer than the file"):
        import_cases(first, amend=True)
    assert state() == before


def test_an_amended_action_that_differs_names_its_field(world, agency):
    first, second = exports(world, pdfs=False)
    with scopes_disabled():
        import_cases(first)
    before = state()
    changed = copy.deepcopy(second)
    [posting] = [i for i in changed["cases"][0]["ledger"] if i.get("amount") == 6000]
    posting["amount"] = 6001
    with pytest.raises(InterchangeError) as caught:
        import_cases(changed, amend=True)
    assert 'ledger item 1, field "amount"' in str(caught.value)
    assert "with amount 6000" in str(caught.value)
    assert state() == before


def test_amend_creates_a_case_that_is_not_there_yet(world, agency):
    _, second = exports(world, pdfs=False)
    with scopes_disabled():
        (case,) = import_cases(second, amend=True)
        assert case.reference == "401005-2022-001"
        assert Party.objects.filter(case=case).count() == 2


def test_the_export_reads_documents_in_a_fixed_number_of_queries(
    world, agency, django_assert_max_num_queries
):
    with scopes_disabled():
        case = _first_part(world)
        with CaptureQueriesContext(connection) as three:
            export_cases(personal_data=True, pdfs=True)
        with tenant_scope(world.staff):
            for day in (20, 21, 22):
                documents.document_issue(
                    kind="report", by=world.staff, case=case, dated=date(2023, 2, day)
                )
        with django_assert_max_num_queries(len(three)):
            document = export_cases(personal_data=True, pdfs=True)
    assert len(document["cases"][0]["documents"]) == 6


def test_an_answer_the_file_puts_with_its_request_is_not_lost(world, agency):
    """Answered by the same person as the very next action, the export writes the answer
    with the request: no action of its own, so an amendment cannot bring it, and refuses."""
    with transaction.atomic(), scopes_disabled():
        case = _first_part(world)
        contact = remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=date(2023, 2, 20),
            channel=Channel.EMAIL,
            request="再照会。",
        )
        first = export_cases(personal_data=True)
        remedies.contact_answer(
            contact=contact, by=world.staff, answered_on=date(2023, 2, 21), answer="回答あり。"
        )
        second = export_cases(personal_data=True)
        transaction.set_rollback(True)
    assert second["cases"][0]["contacts"][1]["answer_recorded"] is None
    with scopes_disabled():
        import_cases(first)
    before = state()
    with pytest.raises(InterchangeError) as caught:
        import_cases(second, amend=True)
    assert 'contact 2, field "answered_on"' in str(caught.value)
    assert state() == before


def test_an_export_with_pdfs_says_so_in_its_audit_entry(world, agency, tmp_path):
    with scopes_disabled():
        _first_part(world)
    path = tmp_path / "out.json"
    err = io.StringIO()
    call_command(
        "export_cases", "--with-personal-data", "--with-pdfs", "--output", str(path), stderr=err
    )
    assert "with the PDFs of issued documents" in err.getvalue()
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["pdfs"] is True
    assert all("pdf" in d for d in written["cases"][0]["documents"])
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="tadasu.cases.exported")
    assert entry.data["pdfs"] is True and entry.data["personal_data"] is True


def test_a_reminder_cites_a_request_issued_elsewhere(world, agency):
    with transaction.atomic(), scopes_disabled():
        case = _first_part(world)
        with tenant_scope(world.staff):
            documents.document_issue(
                kind="repayment_request",
                by=world.staff,
                case=case,
                party=case.parties.get(label="D氏"),
                dated=date(2023, 2, 20),
            )
        exported = export_cases(personal_data=True)
        transaction.set_rollback(True)
    with scopes_disabled():
        world.city.document_symbol = "デ推"
        world.city.save()
        (case,) = import_cases(exported)
        with tenant_scope(world.staff):
            reminder = documents.document_issue(
                kind="repayment_reminder",
                by=world.staff,
                case=case,
                party=case.parties.get(label="D氏"),
                dated=date(2023, 3, 1),
            )
    assert reminder.data["request"] == {"number_text": "デ推第2号", "dated": "2023-02-20"}
    assert reminder.data["number_text"] == "デ推第3号"


def test_an_export_with_pdfs_names_a_stored_file_that_is_missing(world, agency):
    with scopes_disabled():
        _first_part(world)
        letter = Document.objects.order_by("pk").first()
        letter.file.storage.delete(letter.file.name)
        with pytest.raises(InterchangeError, match="the stored PDF of デ推第1号 is missing"):
            export_cases(personal_data=True, pdfs=True)
        # Without the PDFs the export does not need the file.
        assert export_cases(personal_data=True)["cases"][0]["documents"][0]["sha256"]
