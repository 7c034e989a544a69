"""Wording read as each recipient would, for cases put right by the national points system
(国による是正) and for a person returning an excess in instalments: the press release's lead
and 経過 paragraphs, the repayment request's sum, the apology to someone with a plan, and
letters that stay on one page. Each assertion fails if the sentence regresses."""

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader

from cases import services as case_services
from cases.models import CaseKind, DataKind
from cases.scoping import tenant_scope
from remedies import ledger, plans
from remedies.documents.services import document_issue
from remedies.models import DocumentKind, LedgerEntry, Method, Side

pytestmark = pytest.mark.django_db

GRANTED = date(2023, 3, 7)
CORRECTED = date(2023, 3, 14)
PAID = date(2023, 3, 10)


def _pdf(document) -> PdfReader:
    return PdfReader(io.BytesIO(bytes(document.pdf)))


def _text(document) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in _pdf(document).pages))


def _lines(document) -> list[str]:
    return [ln.strip() for p in _pdf(document).pages for ln in p.extract_text().splitlines()]


def _cashless(world, owed_label, holder_label, discovered_on, amount=15000):
    """A cashless link case: `holder`'s account in `owed`'s record, `amount` misallocated."""
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=world.contractor_co,
            discovered_on=discovered_on,
        )
        owed = case_services.party_add(
            case=case, by=world.staff, label=owed_label, name="佐藤 花子"
        )
        holder = case_services.party_add(
            case=case, by=world.staff, label=holder_label, name="鈴木 次郎"
        )
        case_services.misregistration_add(
            case=case,
            by=world.staff,
            source=holder,
            target=owed,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
        )
        ledger.ledger_post_misallocation(
            case=case, owed=owed, holder=holder, amount=amount, on=GRANTED, by=world.staff
        )
    return case, owed, holder


def _correct(world, case, holder, owed, amount):
    with tenant_scope(world.staff):
        ledger.ledger_post_national_correction(
            case=case, holder=holder, owed=owed, amount=amount, on=CORRECTED, by=world.staff
        )


def _pay(world, case, party, amount):
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=party,
            amount=amount,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=PAID,
            by=world.staff,
        )


def _collect(world, case, party, amount, on=PAID):
    with tenant_scope(world.staff):
        ledger.ledger_post_collection(
            case=case,
            party=party,
            amount=amount,
            side=Side.MUNICIPALITY,
            method=Method.BANK_TRANSFER,
            on=on,
            by=world.staff,
        )


def _issue(world, **kwargs):
    with tenant_scope(world.staff):
        return document_issue(by=world.staff, **kwargs)


# ---- 報道発表資料 ----------------------------------------------------------------------------


def test_the_lead_says_the_national_system_put_the_points_right(world):
    case, owed, holder = _cashless(world, "C氏", "D氏", date(2023, 2, 7))
    _correct(world, case, holder, owed, 15000)
    text = _text(_issue(world, kind=DocumentKind.PRESS_RELEASE, cases=[case]))
    assert (
        "なお、マイナポイントは国のマイナポイントの仕組みにより正しく付与されており、今回の事務"
        "ミスによる実害はありません。"
    ) in text
    assert "お渡し" not in text


def test_the_lead_over_cases_corrected_and_paid_names_both(world):
    corrected, c, d = _cashless(world, "C氏", "D氏", date(2023, 2, 7))
    _correct(world, corrected, d, c, 15000)
    paid, e, f = _cashless(world, "E氏", "F氏", date(2023, 2, 8))
    _pay(world, paid, e, 15000)
    _collect(world, paid, f, 15000)
    text = _text(_issue(world, kind=DocumentKind.PRESS_RELEASE, cases=[corrected, paid]))
    assert (
        "なお、マイナポイントは正しいポイント分をお渡しし、又は国のマイナポイントの仕組みにより"
        "正しく付与されており、今回の事務ミスによる実害はありません。"
    ) in text
    # Each case's paragraph says what happened in it, and only that.
    assert "方（C氏）について、国のマイナポイントの仕組みにより、正しいポイントが付与された。" in (
        text
    )
    assert "方（E氏）について、正しいポイント分の金額をお渡しした。" in text
    assert "お渡しできており" not in text


def test_a_case_part_corrected_and_part_paid_says_both(world):
    case, owed, holder = _cashless(world, "C氏", "D氏", date(2023, 2, 7))
    _correct(world, case, holder, owed, 5000)
    _pay(world, case, owed, 10000)
    _collect(world, case, holder, 10000)
    text = _text(_issue(world, kind=DocumentKind.PRESS_RELEASE, cases=[case]))
    assert (
        "国のマイナポイントの仕組みにより一部のポイントが付与され、残りのポイント分の金額を"
        "お渡しした。"
    ) in text
    assert (
        "（D氏）に誤って付与されたポイントは、国のマイナポイントの仕組みにより一部が取り消され、"
        "残りの金額を返還いただいた。"
    ) in text
    assert "正しいポイント分をお渡しし、又は国のマイナポイントの仕組みにより" in text


def test_a_return_still_in_progress_is_not_told_as_points_missing(world):
    """The person owed has been paid; the holder has returned part of it: nobody is missing
    points, a return is under way."""
    case, e, f = _cashless(world, "E氏", "F氏", date(2023, 2, 7))
    _pay(world, case, e, 15000)
    _collect(world, case, f, 5000)
    _issue(world, kind=DocumentKind.APOLOGY, case=case, party=f)
    text = _text(_issue(world, kind=DocumentKind.PRESS_RELEASE, cases=[case]))
    assert (
        "なお、マイナポイントは正しいポイント分がお渡しできており、誤って多く付与された方からの"
        "返還を受けている状況であり、現在、正しい状態となるよう対応を進めています。"
    ) in text
    assert "一部が正しい方に付与されていない" not in text
    assert "（F氏）にも謝罪し、誤って多く付与された金額の一部を返還いただいた。" in text


# ---- 返還請求書 -----------------------------------------------------------------------------


def test_the_repayment_request_shows_what_the_national_system_took_back(world):
    case, owed, holder = _cashless(world, "C氏", "D氏", date(2023, 2, 7))
    _correct(world, case, holder, owed, 5000)
    _pay(world, case, owed, 10000)
    _collect(world, case, holder, 4000)
    document = _issue(
        world,
        kind=DocumentKind.REPAYMENT_REQUEST,
        case=case,
        party=holder,
        dated=date(2023, 3, 20),
    )
    text = _text(document)
    # 15,000 − 5,000 − 4,000 = 6,000: every figure of the sum is on the letter.
    assert "ご返還をお願いする金額金6,000円" in text
    assert (
        "誤って付与された額15,000円国による是正で取り消された額5,000円ご返還いただいた額4,000円"
        "ご返還をお願いする額6,000円"
    ) in text
    assert len(_pdf(document).pages) == 1


def test_a_request_after_a_correction_alone_shows_the_row_too(world):
    case, owed, holder = _cashless(world, "C氏", "D氏", date(2023, 2, 7))
    _correct(world, case, holder, owed, 5000)
    _pay(world, case, owed, 10000)
    text = _text(_issue(world, kind=DocumentKind.REPAYMENT_REQUEST, case=case, party=holder))
    assert (
        "誤って付与された額15,000円国による是正で取り消された額5,000円ご返還をお願いする額10,000円"
    ) in text


@pytest.fixture
def instalments(world):
    """F returned 5,000円 of 15,000円 and agreed two more instalments; the city has a
    designated account, so the request prints its particulars in full."""
    world.city.payment_bank = "みほん銀行 北九州支店"
    world.city.payment_account_type = "普通"
    world.city.payment_account_number = "7654321"
    world.city.payment_account_holder = "北九州市会計管理者"
    world.city.save()
    case, e, f = _cashless(world, "E氏", "F氏", date(2023, 2, 7))
    _pay(world, case, e, 15000)
    with tenant_scope(world.staff):
        plans.plan_agree(
            case=case,
            party=f,
            agreed_on=date(2023, 3, 15),
            instalments=[
                (date(2023, 4, 10), 5000),
                (date(2023, 5, 10), 5000),
                (date(2023, 6, 12), 5000),
            ],
            by=world.staff,
        )
    _collect(world, case, f, 5000, on=date(2023, 4, 7))
    return case, e, f


def test_a_repayment_request_after_a_partial_return_fits_on_one_page(world, instalments):
    case, _, f = instalments
    document = _issue(
        world, kind=DocumentKind.REPAYMENT_REQUEST, case=case, party=f, dated=date(2023, 4, 20)
    )
    assert len(_pdf(document).pages) == 1
    text = _text(document)
    assert "ご返還いただいた額5,000円ご返還をお願いする額10,000円" in text
    assert "【お問合せ先】" in text and "キャッシュカードや暗証番号" in text
    # The case number on its own line, not split after an opening bracket.
    assert f"案件番号{case.reference}" in text
    assert not any(line.endswith("（") for line in _lines(document))


def test_the_apology_to_someone_with_a_plan_holds_to_the_plan(world, instalments):
    case, _, f = instalments
    document = _issue(world, kind=DocumentKind.APOLOGY, case=case, party=f)
    text = _text(document)
    assert (
        "残りの10,000円については、令和5年3月15日にお約束いただいた日程により、ご返還を"
        "お願いいたします。"
    ) in text
    assert "改めてご相談" not in text
    # The subject breaks after 「における」, not between 「（」 and 「お詫び）」.
    assert not any(line.endswith("（") for line in _lines(document))
    assert len(_pdf(document).pages) == 1


# ---- the form ------------------------------------------------------------------------------


def test_the_correction_form_refuses_a_case_without_points_before_it_is_filled(client, world):
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.ACCOUNT_MISREGISTRATION,
            discovered_on=date(2023, 2, 22),
        )
    client.force_login(world.staff)
    url = f"/cases/{case.reference}/ledger/national_correction/new/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "ポイントが誤って別の方に付与された案件でのみ" in page
    assert 'class="card form"' not in page and "id_amount" not in page
    assert f'href="/cases/{case.reference}/"' in page
    posted = client.post(url, {"amount": "1000"}, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "ポイントが誤って別の方に付与された案件でのみ" in posted
    with tenant_scope(world.staff):
        assert not LedgerEntry.objects.filter(case=case).exists()
