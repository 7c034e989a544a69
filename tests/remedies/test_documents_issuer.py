"""Every document, issued for a 市, a 町, a 村, a 県 and a 特別区, at a desk run by a
contractor and at one run by the municipality's own staff, for each form of remedy, and
read back with pypdf as its recipient reads it (DOCUMENTS.md)."""

import io
import re
from dataclasses import dataclass
from datetime import date

import pytest
from pypdf import PdfReader

from cases import services as case_services
from cases.issuer import (
    MunicipalityKind,
    check_digit,
    code_is_valid,
    suggest_kind,
    validate_code,
    words_for,
)
from cases.models import CaseKind, CauseCategory, DataKind, Municipality, Role, User
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.documents.services import document_issue
from remedies.models import Document, DocumentKind, Method, Side
from tests.factories import ContractorFactory, OfficeFactory, member

pytestmark = pytest.mark.django_db

DATED = date(2023, 3, 22)


# ---- the code and the kind ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["401005", "072010", "130001", "131016", "403814", "404489", "400009", "011002"],
)
def test_real_codes_carry_their_check_digit(code):
    assert check_digit(code[:5]) == int(code[5])
    assert code_is_valid(code)
    validate_code(code)


@pytest.mark.parametrize("code", ["401006", "40100", "4010055", "４０１００５", "481001"])
def test_a_wrong_check_digit_or_shape_is_refused(code):
    from django.core.exceptions import ValidationError

    assert not code_is_valid(code)
    with pytest.raises(ValidationError):
        validate_code(code)


@pytest.mark.parametrize(
    ("code", "name", "kind"),
    [
        ("130001", "東京都", MunicipalityKind.PREFECTURE),
        ("400009", "福岡県", MunicipalityKind.PREFECTURE),
        ("401005", "北九州市", MunicipalityKind.CITY),
        ("131016", "千代田区", MunicipalityKind.SPECIAL_WARD),
        ("072010", "福島市", MunicipalityKind.CITY),
        ("403814", "芦屋町", MunicipalityKind.TOWN),
        ("404489", "東峰村", MunicipalityKind.VILLAGE),
    ],
)
def test_the_kind_is_suggested_from_the_code(code, name, kind):
    assert suggest_kind(code, name) == kind


def test_a_municipality_saved_without_a_kind_takes_the_suggested_one(db):
    town = Municipality.objects.create(code="403814", name="芦屋町")
    assert town.kind == MunicipalityKind.TOWN
    town.kind = MunicipalityKind.CITY  # set by hand: kept
    town.save()
    town.refresh_from_db()
    assert town.kind == MunicipalityKind.CITY


def test_each_kind_has_its_words():
    assert words_for("city", "北九州市").head == "北九州市長"
    assert words_for("town", "芦屋町").self_ref == "本町"
    assert words_for("village", "東峰村").office == "村役場"
    tokyo = words_for("prefecture", "東京都")
    assert (tokyo.self_ref, tokyo.head, tokyo.office) == ("本都", "東京都知事", "都庁")
    assert words_for("prefecture", "北海道").self_ref == "本道"
    assert words_for("special_ward", "千代田区").head == "千代田区長"


# ---- a world per kind -----------------------------------------------------------------------


@dataclass
class Issuer:
    municipality: Municipality
    staff: User
    words: object


# (kind, code, name, desk office, address): names without 市 for every kind but the city.
ISSUERS = {
    "市": ("401005", "北九州市", "八幡西区役所 マイナポイント支援窓口", "八幡西区黒崎1-1"),
    "町": ("403814", "芦屋町", "芦屋町役場 マイナポイント支援窓口", "遠賀郡芦屋町中ノ浜1-1"),
    "村": ("404489", "東峰村", "東峰村役場 マイナポイント支援窓口", "朝倉郡東峰村宝珠山1"),
    "県": ("400009", "福岡県", "福岡県庁 マイナポイント支援窓口", "福岡県博多区東公園7-7"),
    "特別区": ("131016", "千代田区", "千代田区役所 マイナポイント支援窓口", "千代田区九段南1-2"),
}


def make_issuer(label: str) -> Issuer:
    code, name, _office, _address = ISSUERS[label]
    m = Municipality.objects.create(
        code=code,
        name=name,
        department="デジタル推進課",
        contact_phone="000-111-2222",
        contact_people="担当課長：須山",
        citizen_department="住民課",
        citizen_phone="000-333-4444",
        citizen_person="三浦",
        sender_name="山田　一郎",
        document_symbol="デ推",
        payment_bank="みほん銀行 本店",
        payment_account_number="1234567",
        payment_account_holder=f"{name}会計管理者",
    )
    staff = member(Role.STAFF, municipality=m, username=f"staff-{code}")
    from cases.issuer import words

    return Issuer(m, staff, words(m))


def make_case(issuer: Issuer, *, contractor: bool, remedy: str):
    """C氏 owed, D氏 holding the excess (cashless, 5,000円), C put right by `remedy`:
    cash, gift certificates, points re-granted by the national system, or nothing lost."""
    _code, _name, office_name, address = ISSUERS_BY_CODE[issuer.municipality.code]
    office = OfficeFactory(municipality=issuer.municipality, name=office_name)
    company = None
    if contractor:
        company = ContractorFactory(name="株式会社エイジェック", serves=[issuer.municipality])
    by = issuer.staff
    with tenant_scope(by):
        case = case_services.case_open(
            by=by,
            office=office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=company,
            discovered_on=date(2023, 2, 7),
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="前の方の手続き後にログアウトせず、次の方の手続きを開始した。",
            prevention="一人の対応を終える度に必ずログアウトする。\n完了チェック表で確認する。",
        )
        c = case_services.party_add(
            case=case, by=by, label="C氏", name="佐藤 花子", address=address
        )
        d = case_services.party_add(
            case=case, by=by, label="D氏", name="鈴木 次郎", address=address
        )
        case_services.misregistration_add(
            case=case,
            by=by,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=remedy != "none",
            corrected_on=date(2023, 2, 7),
        )
        if remedy != "none":
            ledger.ledger_post_misallocation(
                case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=by
            )
            side = Side.CONTRACTOR if contractor else Side.MUNICIPALITY
            if remedy == "points":
                ledger.ledger_post_regrant(
                    case=case, party=c, amount=5000, on=date(2023, 3, 10), by=by
                )
            else:
                method = Method.CASH if remedy == "cash" else Method.GIFT_CERTIFICATE
                ledger.ledger_post_payment(
                    case=case,
                    party=c,
                    amount=5000,
                    side=side,
                    method=method,
                    on=date(2023, 3, 10),
                    by=by,
                )
    return case, c, d


ISSUERS_BY_CODE = {v[0]: v for v in ISSUERS.values()}


def pdf_pages(document: Document) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(bytes(document.pdf))).pages]


def plain(document: Document) -> str:
    return re.sub(r"\s+", "", "".join(pdf_pages(document)))


def issue(issuer: Issuer, kind: str, **kwargs) -> Document:
    with tenant_scope(issuer.staff):
        return document_issue(kind=kind, by=issuer.staff, dated=DATED, **kwargs)


def every_document(issuer: Issuer, case, c, d) -> dict[str, Document]:
    from remedies.models import EntryKind, LedgerEntry

    docs = {
        "apology_c": issue(issuer, DocumentKind.APOLOGY, case=case, party=c),
        "apology_d": issue(issuer, DocumentKind.APOLOGY, case=case, party=d),
        "report": issue(issuer, DocumentKind.REPORT, case=case),
        "press_release": issue(issuer, DocumentKind.PRESS_RELEASE, cases=[case]),
        "checklist": issue(issuer, DocumentKind.CHECKLIST),
    }
    with tenant_scope(issuer.staff):
        payment = LedgerEntry.objects.filter(case=case, kind=EntryKind.PAYMENT).first()
        if payment is not None:
            docs["receipt"] = issue(issuer, DocumentKind.RECEIPT, case=case, entry=payment)
        if ledger.balance_of(d) < 0:
            docs["repayment"] = issue(issuer, DocumentKind.REPAYMENT_REQUEST, case=case, party=d)
    return docs


def no_bare_city(text: str) -> bool:
    return "市" not in text


@pytest.mark.parametrize("label", list(ISSUERS))
@pytest.mark.parametrize("contractor", [True, False], ids=["contractor-desk", "own-staff-desk"])
def test_every_document_speaks_with_the_issuers_words(db, label, contractor):
    issuer = make_issuer(label)
    case, c, d = make_case(issuer, contractor=contractor, remedy="cash")
    docs = every_document(issuer, case, c, d)
    w = issuer.words
    for name, document in docs.items():
        text = plain(document)
        if label != "市":
            assert no_bare_city(text), f"{name}: {text}"
    assert w.self_ref in plain(docs["press_release"])
    assert f"{w.unit}記入欄" in plain(docs["receipt"])
    assert f"{w.unit}民署名" in plain(docs["checklist"])
    if not contractor:
        assert f"{w.head}様" in plain(docs["receipt"])  # the payer is the head
        assert w.direct in plain(docs["report"])


# ---- letters to citizens --------------------------------------------------------------------

REMEDIES = ["cash", "gift", "points", "none"]
DONE = {
    "cash": "現金でお渡しいたしました",
    "gift": "同額の商品券でお渡しいたしました",
    "points": "ポイントが改めて付与されました",
    "none": "金銭面での実害はございません",
}


def assert_reads_as_a_letter(document: Document, *, name: str, family: str) -> str:
    pages = pdf_pages(document)
    assert len(pages) == 1, f"{len(pages)} pages"  # one page, so no orphaned heading either
    text = re.sub(r"\s+", "", pages[0])
    assert re.sub(r"\s+", "", name) + "様" in text  # the address block
    assert f"{family}様" in text  # addressed by name in the body
    assert "あなた様" not in text and "時下" not in text  # no seasonal greeting
    assert "（公印省略）" in text  # not sealed
    assert "山田一郎" in text  # the signatory's name
    # The citizen's contact (handling department and person), not the press contact.
    assert "住民課" in text and "000-333-4444" in text and "三浦" in text
    assert "デジタル推進課" not in text and "須山" not in text
    return text


@pytest.mark.parametrize("remedy", REMEDIES)
@pytest.mark.parametrize("contractor", [True, False], ids=["contractor-desk", "own-staff-desk"])
def test_the_apology_says_what_was_done_for_this_person(db, remedy, contractor):
    issuer = make_issuer("町")
    case, c, _d = make_case(issuer, contractor=contractor, remedy=remedy)
    letter = issue(issuer, DocumentKind.APOLOGY, case=case, party=c)
    text = assert_reads_as_a_letter(letter, name="佐藤 花子", family="佐藤")
    assert "（お詫び）" in text and "このたびは" in text
    assert DONE[remedy] in text
    for other, sentence in DONE.items():
        if other != remedy:
            assert sentence not in text, other
    if remedy in ("cash", "gift"):
        assert "令和5年3月10日に" in text and "5,000円" in text  # when and how much
        assert ("株式会社エイジェックから" if contractor else "本町から") in text
    if remedy == "points":
        assert "お渡しいたしました" not in text  # nothing was handed over
    # The contractor is named only when one ran the desk.
    assert ("委託事業者" in text) == contractor
    assert "徹底いたします。" in text  # prevention in sentences
    assert no_bare_city(text)


def test_the_other_side_is_not_blamed_and_is_asked_to_repay(db):
    issuer = make_issuer("町")
    case, _c, d = make_case(issuer, contractor=True, remedy="cash")
    letter = issue(issuer, DocumentKind.APOLOGY, case=case, party=d)
    text = assert_reads_as_a_letter(letter, name="鈴木 次郎", family="鈴木")
    assert "鈴木様に責任があるものではございません" in text
    assert "帰宅" not in text and "中断" not in text  # the person's own departure is no cause
    request = issue(issuer, DocumentKind.REPAYMENT_REQUEST, case=case, party=d)
    text = assert_reads_as_a_letter(request, name="鈴木 次郎", family="鈴木")
    assert "（お願い）" in text and "デ推第" in text
    assert "金5,000円" in text
    assert "返還期限令和5年4月21日" in text  # 30 days after the date of issue
    # The designated account, from the municipality's settings.
    assert "みほん銀行本店普通1234567" in text and "芦屋町会計管理者" in text
    assert "本町の窓口" in text and no_bare_city(text)


def test_a_request_by_payment_slip_says_so(db):
    issuer = make_issuer("村")
    issuer.municipality.payment_by_slip = True
    issuer.municipality.save()
    case, _c, d = make_case(issuer, contractor=False, remedy="cash")
    text = plain(issue(issuer, DocumentKind.REPAYMENT_REQUEST, case=case, party=d))
    assert "同封の納付書により" in text and "1234567" not in text


def test_a_reminder_is_its_own_numbered_letter_citing_the_request(db):
    from remedies.errors import RemedyError

    issuer = make_issuer("特別区")
    case, _c, d = make_case(issuer, contractor=True, remedy="cash")
    with pytest.raises(RemedyError):  # nothing to remind of before a request
        issue(issuer, DocumentKind.REPAYMENT_REMINDER, case=case, party=d)
    request = issue(issuer, DocumentKind.REPAYMENT_REQUEST, case=case, party=d)
    with tenant_scope(issuer.staff):
        reminder = document_issue(
            kind=DocumentKind.REPAYMENT_REMINDER,
            by=issuer.staff,
            case=case,
            party=d,
            dated=date(2023, 5, 1),
        )
    # Its own number: the first of the new fiscal year (令和5年度) in May.
    assert (request.fiscal_year, request.number) == (2022, 1)
    assert (reminder.fiscal_year, reminder.number) == (2023, 1)
    text = assert_reads_as_a_letter(reminder, name="鈴木 次郎", family="鈴木")
    assert "（督促）" in text
    assert "令和5年3月22日付けデ推第1号" in text  # the earlier request's date and number
    assert "金5,000円" in text and "返還期限令和5年5月31日" in text
    assert "千代田区長" in text and no_bare_city(text)


# ---- numbering -------------------------------------------------------------------------------


def test_only_outgoing_letters_take_a_number(db):
    from remedies.models import DocumentSequence

    issuer = make_issuer("県")
    case, c, d = make_case(issuer, contractor=True, remedy="cash")
    docs = every_document(issuer, case, c, d)
    numbered = {name for name, doc in docs.items() if doc.number is not None}
    assert numbered == {"apology_c", "apology_d", "repayment"}
    assert "デ推第" not in plain(docs["checklist"]) + plain(docs["press_release"])
    assert DocumentSequence.objects.get().last_number == 3
    # The municipality decides: numbering its reports too.
    issuer.municipality.numbered_kinds += ",report"
    issuer.municipality.save()
    assert "デ推第4号" in plain(issue(issuer, DocumentKind.REPORT, case=case))


# ---- publication -----------------------------------------------------------------------------


def test_internal_notes_stay_out_of_the_press_release_and_letters(db):
    issuer = make_issuer("町")
    case, c, d = make_case(issuer, contractor=True, remedy="none")
    by = issuer.staff
    with tenant_scope(by):
        ledger.ledger_post_misallocation(
            case=case,
            owed=c,
            holder=d,
            amount=3000,
            on=date(2023, 3, 8),
            by=by,
            note="金額は例示（内部メモ）",
        )
        case_services.timeline_add(
            case=case,
            by=by,
            occurred_on=date(2023, 3, 9),
            actor="芦屋町",
            text="課長に口頭で報告（職員用メモ）",
            public=False,
        )
        case_services.timeline_add(
            case=case,
            by=by,
            occurred_on=date(2023, 3, 9),
            actor="芦屋町",
            text="デジタル庁に報告。",
        )
    release = plain(issue(issuer, DocumentKind.PRESS_RELEASE, cases=[case]))
    letter = plain(issue(issuer, DocumentKind.APOLOGY, case=case, party=c))
    report = plain(issue(issuer, DocumentKind.REPORT, case=case))
    for note in ("内部メモ", "職員用メモ", "3,000円を"):
        assert note not in release and note not in letter, note
    assert "デジタル庁に報告。" in release
    # The case report is internal: it shows the notes, marked.
    assert "課長に口頭で報告（職員用メモ）（内部）" in report
    # The city registered the case itself: bookkeeping, not a 経過 line.
    assert "案件を登録" not in release and "案件を登録" not in report


def test_staff_can_publish_an_internal_line_from_the_case_page(db, client):
    from cases.models import AuditEntry, TimelineEvent

    issuer = make_issuer("町")
    case, _c, _d = make_case(issuer, contractor=False, remedy="none")
    with tenant_scope(issuer.staff):
        event = case_services.timeline_add(
            case=case,
            by=issuer.staff,
            occurred_on=date(2023, 3, 9),
            actor="芦屋町",
            text="住民に電話で説明。",
            public=False,
        )
    client.force_login(issuer.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "内部" in page
    response = client.post(f"/cases/{case.reference}/timeline/{event.pk}/publish/", {"public": "1"})
    assert response.status_code == 302
    with tenant_scope(issuer.staff):
        assert TimelineEvent.objects.get(pk=event.pk).public
        assert AuditEntry.objects.filter(action="tadasu.timeline.published").exists()
    assert "住民に電話で説明。" in plain(issue(issuer, DocumentKind.PRESS_RELEASE, cases=[case]))


# ---- any content the forms accept --------------------------------------------------------------


def test_every_document_renders_long_entries_and_names(db, client):
    issuer = make_issuer("町")
    case, c, d = make_case(issuer, contractor=True, remedy="cash")
    long_text = ("窓口で確認した内容を詳しく記録した。" * 120)[:2000]
    with tenant_scope(issuer.staff):
        case_services.timeline_add(
            case=case,
            by=issuer.staff,
            occurred_on=date(2023, 3, 9),
            actor="芦屋町",
            text=long_text,
        )
        case_services.case_update(
            case=case, by=issuer.staff, summary=long_text, prevention=long_text
        )
        case_services.party_update(
            party=c, by=issuer.staff, name="佐藤" + "長" * 90 + " 花子", address="芦" * 200
        )
    docs = every_document(issuer, case, c, d)
    assert len(pdf_pages(docs["report"])) > 1  # the long entry flowed on
    assert long_text[-20:] in plain(docs["press_release"])
    client.force_login(issuer.staff)
    for name, document in docs.items():
        response = client.get(f"/documents/{document.pk}/download/")
        assert response.status_code == 200, name
    for kind in ("report", "press_release"):
        response = client.get(f"/cases/{case.reference}/documents/new/", {"kind": kind})
        assert response.status_code == 200, kind


# ---- every choice of the issue page, on the command line too -------------------------------


def test_the_command_issues_a_receipt_and_honours_the_date(db, tmp_path):
    from django.core.management import call_command

    issuer = make_issuer("市")
    case, _c, _d = make_case(issuer, contractor=True, remedy="cash")
    out = tmp_path / "receipt.pdf"
    call_command(
        "issue_document",
        "receipt",
        "--case",
        case.reference,
        "--party",
        "C氏",
        "--dated",
        "2023-03-31",
        "--as",
        issuer.staff.username,
        "--out",
        str(out),
        stdout=io.StringIO(),
    )
    text = re.sub(r"\s+", "", PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text())
    assert "受領書" in text and "令和5年3月31日" in text and "金5,000円" in text
    release = tmp_path / "release.pdf"
    call_command(
        "issue_document",
        "press_release",
        "--case",
        case.reference,
        "--dated",
        "2023-03-31",
        "--as",
        issuer.staff.username,
        "--out",
        str(release),
        stdout=io.StringIO(),
    )
    first = PdfReader(io.BytesIO(release.read_bytes())).pages[0].extract_text()
    assert "令和5年3月31日" in first


def test_the_press_release_takes_the_date_chosen_on_the_page(db, client):
    issuer = make_issuer("市")
    case, _c, _d = make_case(issuer, contractor=True, remedy="cash")
    client.force_login(issuer.staff)
    response = client.post(
        "/documents/new/press_release/", {"cases": [case.pk], "dated": "2023-03-31"}
    )
    assert response.status_code == 302
    with tenant_scope(issuer.staff):
        document = Document.objects.get(kind=DocumentKind.PRESS_RELEASE)
    assert document.dated == date(2023, 3, 31)
    assert "令和5年3月31日" in plain(document)
