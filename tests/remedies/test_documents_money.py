"""The money documents — 受領書, 精算・返還確認書, 返還請求書 — and the blank 完了チェック表,
issued through the real services and read back as the citizen would read them.

Every test runs twice: with the embedded IPAex font and with reportlab's built-in CID font.
"""

import io
import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.documents import fonts as pdf_fonts
from remedies.documents.fonts import MINCHO_CANDIDATES
from remedies.documents.services import (
    document_issue,
    document_preview,
    document_reissue,
    render,
    verify,
)
from remedies.errors import RemedyError
from remedies.models import Document, DocumentKind, EntryKind, LedgerEntry, Method, Purpose, Side

pytestmark = pytest.mark.django_db

FOUND = date(2023, 3, 7)  # the operator showed that D got C's points too
HANDED_OVER = date(2023, 3, 10)  # the contractor hands C the amount at C's home
JOINT_CHECK = date(2023, 3, 16)  # D, the city and the contractor check together


@pytest.fixture(autouse=True, params=["embedded", "cid"])
def font(request, monkeypatch):
    """Both font set-ups: fonts() is cached per process, so clear it on the way in and out."""
    if request.param == "embedded":
        if not any(Path(c).is_file() for c in MINCHO_CANDIDATES):
            pytest.skip("no Japanese TrueType font installed")
        monkeypatch.delenv("TADASU_PDF_MINCHO", raising=False)
        monkeypatch.delenv("TADASU_PDF_GOTHIC", raising=False)
    else:
        # An empty value forces reportlab's built-in CID fonts.
        monkeypatch.setenv("TADASU_PDF_MINCHO", "")
        monkeypatch.setenv("TADASU_PDF_GOTHIC", "")
    pdf_fonts.fonts.cache_clear()
    yield request.param
    pdf_fonts.fonts.cache_clear()


@pytest.fixture
def letterhead(world):
    city = world.city
    city.department = "デジタル市役所推進室"
    city.contact_phone = "093-582-2144"
    city.sender_title = "北九州市長"
    city.document_symbol = "デ推"
    city.save()
    return city


@pytest.fixture
def misallocated(world, answered, letterhead):
    """C's 5,000 points went to D: C is owed 5,000, D holds an excess of 5,000."""
    case, c, d = answered
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=FOUND, by=world.staff
        )
    return case, c, d


@pytest.fixture
def settled(world, misallocated):
    """The demo story's end: the contractor hands C 5,000 yen in cash at C's home; at the
    ward office D, city staff and the contractor check together and D returns 5,000."""
    case, c, d = misallocated
    with tenant_scope(world.contractor):
        remedies.visit_record(
            case=case,
            by=world.contractor,
            party=c,
            visited_on=HANDED_OVER,
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=5000,
            hand_over_method=Method.CASH,
        )
    with tenant_scope(world.staff):
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=d,
            visited_on=JOINT_CHECK,
            place="八幡西区役所 支援窓口",
            purpose=Purpose.JOINT_CHECK,
            city_attendees="市職員",
            contractor_attendees="株式会社エイジェック",
            collected=5000,
            collected_by=Side.CONTRACTOR,
            collection_method=Method.CASH,
        )
    return case, c, d


def _entry(party, kind):
    return LedgerEntry.objects.get(party=party, kind=kind)


def _text(pdf: bytes) -> str:
    # Lines are joined, so that a sentence the layout wrapped still reads as one; and
    # extraction gives ideographic spaces (U+3000) back as one plain space, depending on the
    # font, so compare with both written the same way.
    pages = PdfReader(io.BytesIO(pdf)).pages
    return _plain("".join(page.extract_text() for page in pages).replace("\n", ""))


def _plain(value: str) -> str:
    return re.sub(r"[ \u3000]+", " ", value)


def _assert_shows(text: str, *expected: str) -> None:
    missing = [e for e in expected if _plain(e) not in text]
    assert not missing, f"missing {missing} in:\n{text}"


def _issue(world, **kwargs) -> tuple[Document, str]:
    with tenant_scope(world.staff):
        document = document_issue(by=world.staff, **kwargs)
        assert verify(document)
        return document, _text(bytes(document.pdf))


# ---- 受領書 -------------------------------------------------------------------------------


def test_receipt_is_made_out_to_the_contractor_that_paid(world, settled):
    case, c, _ = settled
    with tenant_scope(world.staff):
        payment = _entry(c, EntryKind.PAYMENT)
    document, text = _issue(
        world, kind=DocumentKind.RECEIPT, case=case, entry=payment, dated=HANDED_OVER
    )
    assert document.data["entry"]["id"] == payment.pk
    _assert_shows(
        text,
        "受　領　書",
        "株式会社エイジェック　様",
        "金5,000円",
        "但し、マイナポイント誤登録に係る補償として",
        "上記の金額を正に受領いたしました。",
        "受領日",
        "令和5年3月10日",
        "現金",
        "住所",
        "氏名",
        "印",
        "佐藤 花子",
    )


def test_receipt_for_gift_certificates_from_the_city_is_made_out_to_the_mayor(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff):
        payment = ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=5000,
            side=Side.MUNICIPALITY,
            method=Method.GIFT_CERTIFICATE,
            on=HANDED_OVER,
            by=world.staff,
        )
    _, text = _issue(world, kind=DocumentKind.RECEIPT, case=case, entry=payment)
    _assert_shows(text, "北九州市長　様")
    assert "商品券" in text
    assert _plain("株式会社エイジェック　様") not in text


def test_receipt_is_refused_for_an_entry_that_is_not_a_payment(world, settled):
    case, _, d = settled
    with tenant_scope(world.staff):
        collection = _entry(d, EntryKind.COLLECTION)
        with pytest.raises(RemedyError) as error:
            document_issue(kind=DocumentKind.RECEIPT, by=world.staff, case=case, entry=collection)
        assert error.value.field == "entry"
        assert not Document.objects.exists()


def test_receipt_is_refused_for_a_payment_posted_by_mistake(world, settled):
    case, c, _ = settled
    with tenant_scope(world.staff):
        payment = _entry(c, EntryKind.PAYMENT)
        ledger.ledger_reverse(entry=payment, reason="誤記帳", on=JOINT_CHECK, by=world.staff)
        with pytest.raises(RemedyError):
            document_issue(kind=DocumentKind.RECEIPT, by=world.staff, case=case, entry=payment)


# ---- 精算・返還確認書 -----------------------------------------------------------------------


def test_settlement_of_a_joint_check_is_confirmed_by_all_three_parties(world, settled):
    case, _, d = settled
    document, text = _issue(
        world, kind=DocumentKind.SETTLEMENT, case=case, party=d, dated=JOINT_CHECK
    )
    _assert_shows(
        text,
        "精算・返還確認書",
        "鈴木 次郎",
        "誤って付与された額",
        "令和5年3月16日",
        "5,000円",
        "株式会社エイジェック",
        "三者確認",
        "金0円（精算済み）",
        "上記の内容に相違ないことを確認します。",
    )
    assert document.data["confirmers"] == ["person", "municipality", "contractor"]
    for line in ["（本人）", "（市）北九州市", "（委託事業者）"]:
        assert text.count(line) == 1, line


def test_settlement_of_a_plain_collection_is_confirmed_by_person_and_collector(world, misallocated):
    case, _, d = misallocated
    with tenant_scope(world.staff):
        for part, on in ((2000, date(2023, 3, 16)), (1000, date(2023, 3, 20))):
            ledger.ledger_post_collection(
                case=case,
                party=d,
                amount=part,
                side=Side.MUNICIPALITY,
                method=Method.BANK_TRANSFER,
                on=on,
                by=world.staff,
            )
    _, text = _issue(world, kind=DocumentKind.SETTLEMENT, case=case, party=d)
    _assert_shows(text, "令和5年3月16日", "令和5年3月20日", "2,000円", "1,000円", "口座振込")
    assert "金3,000円" in text  # returned so far
    assert "金2,000円" in text  # still to be returned
    assert "（本人）" in text and "（市）北九州市" in text
    assert "（委託事業者）" not in text
    assert "三者確認" not in text


def test_settlement_is_refused_when_nothing_was_collected(world, misallocated):
    case, _, d = misallocated
    with tenant_scope(world.staff), pytest.raises(RemedyError):
        document_issue(kind=DocumentKind.SETTLEMENT, by=world.staff, case=case, party=d)


# ---- 返還請求書 ---------------------------------------------------------------------------


def test_repayment_request_asks_politely_for_the_excess_still_held(world, misallocated):
    case, _, d = misallocated
    document, text = _issue(
        world, kind=DocumentKind.REPAYMENT_REQUEST, case=case, party=d, dated=date(2023, 3, 8)
    )
    _assert_shows(
        text,
        "鈴木 次郎　様",
        "北九州市長",
        "（公印省略）",
        "デ推第1号",
        "令和5年3月8日",
        "（お願い）",
        "金5,000円",
        "鈴木様に責任があるものではございません",
        "本来その方に付与されるべき5,000円相当のポイントが、鈴木様に重ねて付与されておりました",
        "返還期限 令和5年4月7日",  # 30 days after the date of issue
        "同封の納付書により",  # no designated account set: a payment slip
        "【お問合せ先】",
        "093-582-2144",
    )
    assert "時下" not in text and "あなた様" not in text and "担当者からご連絡" not in text
    assert document.data["money"]["remaining"] == 5000


def test_repayment_request_is_refused_for_a_person_without_an_excess(world, settled):
    case, c, d = settled
    with tenant_scope(world.staff):
        for person in (c, d):  # C was owed and has been paid; D has returned everything
            with pytest.raises(RemedyError) as error:
                document_issue(
                    kind=DocumentKind.REPAYMENT_REQUEST, by=world.staff, case=case, party=person
                )
            assert error.value.field == "party"


def test_repayment_request_is_refused_for_the_person_who_is_owed(world, misallocated):
    case, c, _ = misallocated
    with tenant_scope(world.staff), pytest.raises(RemedyError):
        document_preview(kind=DocumentKind.REPAYMENT_REQUEST, by=world.staff, case=case, party=c)


# ---- 完了チェック表 -------------------------------------------------------------------------


def test_checklist_is_one_blank_page_with_the_three_checks_and_both_signatures(world):
    document, text = _issue(world, kind=DocumentKind.CHECKLIST, dated=date(2023, 3, 16))
    assert document.case is None
    assert len(PdfReader(io.BytesIO(bytes(document.pdf))).pages) == 1
    _assert_shows(
        text,
        "完了チェック表",
        "マイナンバーカードの返却",
        "マイナポータルからのログアウト",
        "申込画面の終了",
        "□完了",
        "□中断",
        "リーダー確認",
        "市民署名",
        "支援者署名",
        "窓口名",
        "令和　　年　　月　　日",
    )


# ---- the frozen data ----------------------------------------------------------------------


def test_issued_documents_re_render_identically_from_their_stored_data(world, settled):
    case, c, d = settled
    with tenant_scope(world.staff):
        payment = _entry(c, EntryKind.PAYMENT)
    issued = [
        _issue(world, kind=DocumentKind.RECEIPT, case=case, entry=payment)[0],
        _issue(world, kind=DocumentKind.SETTLEMENT, case=case, party=d)[0],
        _issue(world, kind=DocumentKind.CHECKLIST)[0],
    ]
    with tenant_scope(world.staff):
        for document in issued:
            stored = Document.objects.get(pk=document.pk)
            assert render(stored.data) == bytes(stored.pdf), stored.kind


def test_reissued_receipt_is_for_the_same_payment(world, settled):
    case, c, _ = settled
    with tenant_scope(world.staff):
        payment = _entry(c, EntryKind.PAYMENT)
    first, _ = _issue(world, kind=DocumentKind.RECEIPT, case=case, entry=payment)
    with tenant_scope(world.staff):
        second = document_reissue(document=first, by=world.staff)
    assert second.version == 2
    assert second.data["entry"] == first.data["entry"]
    # A receipt is a form the person signs, not an outgoing letter: no document number.
    assert first.number is None and second.number is None
    _assert_shows(_text(bytes(second.pdf)), "（第2版）", "金5,000円")


# ---- previews and fonts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", [DocumentKind.RECEIPT, DocumentKind.SETTLEMENT, DocumentKind.CHECKLIST]
)
def test_preview_is_marked_as_a_draft_and_stores_nothing(world, settled, kind):
    case, c, d = settled
    with tenant_scope(world.staff):
        subject = {
            DocumentKind.RECEIPT: {"case": case, "entry": _entry(c, EntryKind.PAYMENT)},
            DocumentKind.SETTLEMENT: {"case": case, "party": d},
            DocumentKind.CHECKLIST: {},
        }[kind]
        pdf = document_preview(kind=kind, by=world.staff, **subject)
        assert not Document.objects.exists()
    text = _text(pdf)
    assert "【案】未発行（プレビュー）" in text
    # Forms and checklists take no outgoing document number (only letters do).
    assert "デ推第" not in text


def test_repayment_preview_is_marked_as_a_draft(world, misallocated):
    case, _, d = misallocated
    with tenant_scope(world.staff):
        pdf = document_preview(
            kind=DocumentKind.REPAYMENT_REQUEST, by=world.staff, case=case, party=d
        )
    text = _text(pdf)
    assert "【案】未発行（プレビュー）" in text
    assert "金5,000円" in text


def test_the_japanese_font_is_embedded_only_when_installed(world, font):
    _issue(world, kind=DocumentKind.CHECKLIST)
    with tenant_scope(world.staff):
        pdf = bytes(Document.objects.get().pdf)
    assert (b"/FontFile2" in pdf) == (font == "embedded")
