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
