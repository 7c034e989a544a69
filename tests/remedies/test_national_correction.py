"""A correction by the national points system (国による是正): the points granted to the wrong
person are withdrawn from them and granted to the person owed. One action posts both sides;
it costs nobody, is not a write-off, and reads as a correction in the report, the letters,
the press release and on the dashboard."""

import io
import re
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django_scopes import scopes_disabled
from pypdf import PdfReader

from cases import services as case_services
from cases.models import AuditEntry, CaseKind, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.documents.services import document_issue
from remedies.errors import RemedyError
from remedies.models import (
    CityLedgerTotal,
    DocumentKind,
    EntryKind,
    LedgerEntry,
    LedgerTotal,
    Method,
    Side,
)

pytestmark = pytest.mark.django_db

ON = date(2023, 3, 7)
CORRECTED = date(2023, 3, 14)


@pytest.fixture
def misallocated(world, story):
    """C was owed 15,000円 of points that went to D."""
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=ON, by=world.staff
        )
    return case, c, d


def _correct(world, case, holder, owed, amount=15000, by=None, **extra):
    by = by or world.staff
    with tenant_scope(by):
        return ledger.ledger_post_national_correction(
            case=case, holder=holder, owed=owed, amount=amount, on=CORRECTED, by=by, **extra
        )


def _balances(case):
    with scopes_disabled():
        return {b.party.label: b.amount for b in ledger.balances(case)}


def _totals_check() -> str:
    out = io.StringIO()
    call_command("ledger_totals", "--check", stdout=out)
    return out.getvalue()


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


# ---- the service ---------------------------------------------------------------------------


def test_a_correction_posts_both_sides_together_and_costs_nobody(world, misallocated):
    case, c, d = misallocated
    entries = _correct(world, case, d, c, note="デジタル庁から是正完了の連絡")
    assert _balances(case) == {"C氏": 0, "D氏": 0}
    assert [(e.party.label, e.kind, e.delta, e.side) for e in entries] == [
        ("D氏", EntryKind.NATIONAL_CORRECTION, 15000, ""),
        ("C氏", EntryKind.NATIONAL_CORRECTION, -15000, ""),
    ]
    assert entries[0].group == entries[1].group is not None
    with scopes_disabled():
        assert ledger.costs(case) == {"municipality": 0, "contractor": 0, "national": 0}
        total = LedgerTotal.objects.get(case=case)
        assert (total.owed, total.held) == (0, 0)
        assert (total.cost_municipality, total.cost_contractor, total.cost_national) == (0, 0, 0)
        city = CityLedgerTotal.objects.get(municipality=world.city)
        assert city.cost_national == 0
        # One action: each of its two rows audited, one 経過 line (and the note as its own).
        audit = AuditEntry.objects.filter(action="tadasu.ledger.national_correction")
        assert sorted((a.object_id, a.data["party"], a.data["delta"]) for a in audit) == sorted(
            [(str(entries[0].pk), "D氏", 15000), (str(entries[1].pk), "C氏", -15000)]
        )
        line = TimelineEvent.objects.get(case=case, action="ledger.national_correction")
        assert line.occurred_on == CORRECTED
        assert line.text == (
            "国のポイントシステムによる是正：D氏からポイント15,000円分が取り消され、"
            "C氏に付与された。"
        )
        assert TimelineEvent.objects.filter(
            case=case, action="note.ledger.national_correction"
        ).exists()
        assert not LedgerEntry.objects.filter(kind=EntryKind.WRITE_OFF).exists()
    assert "match their entries" in _totals_check()


def test_a_correction_in_two_parts_and_its_reversal_keep_the_totals(world, misallocated):
    case, c, d = misallocated
    first = _correct(world, case, d, c, amount=5000)
    assert _balances(case) == {"C氏": 10000, "D氏": -10000}
    _correct(world, case, d, c, amount=10000)
    assert _balances(case) == {"C氏": 0, "D氏": 0}
    with scopes_disabled():
        assert ledger.national_corrections(world.city.pk) == (15000, 1)
    # Reversing either side reverses the pair.
    with tenant_scope(world.staff):
        reversals = ledger.ledger_reverse(
            entry=first[1], reason="是正額の誤入力", on=CORRECTED, by=world.staff
        )
    assert sorted(r.delta for r in reversals) == [-5000, 5000]
    assert _balances(case) == {"C氏": 5000, "D氏": -5000}
    with scopes_disabled():
        assert ledger.national_corrections(world.city.pk) == (10000, 1)
        assert ledger.costs(case) == {"municipality": 0, "contractor": 0, "national": 0}
        assert LedgerTotal.objects.get(case=case).owed == 5000
    assert "match their entries" in _totals_check()
    with tenant_scope(world.staff), pytest.raises(RemedyError, match="既に取り消されています"):
        ledger.ledger_reverse(entry=first[0], reason="重複", on=CORRECTED, by=world.staff)


@pytest.mark.parametrize(
    ("holder", "owed", "amount", "field", "message"),
    [
        # More than the holder holds.
        ("D氏", "C氏", 15001, "amount", "D氏の過大付与分は15,000円です"),
        # The two turned round: C holds nothing, D is owed nothing.
        ("C氏", "D氏", 1000, "holder", "C氏には過大付与分がありません"),
        ("D氏", "D氏", 1000, "owed", "異なる2名の対象者を選択してください"),
        ("D氏", "C氏", 0, "amount", "1円以上"),
    ],
)
def test_a_wrong_correction_is_refused_next_to_its_field(
    world, misallocated, holder, owed, amount, field, message, settings
):
    settings.LANGUAGE_CODE = "ja"
    case, c, d = misallocated
    people = {"C氏": c, "D氏": d}
    with scopes_disabled():
        before = LedgerEntry.objects.count()
    with pytest.raises(RemedyError) as error:
        _correct(world, case, people[holder], people[owed], amount=amount)
    assert error.value.field == field
    assert message in str(error.value.message)
    with scopes_disabled():
        assert LedgerEntry.objects.count() == before


def test_a_correction_larger_than_what_is_owed_is_refused(world, misallocated):
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=10000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )
    with pytest.raises(RemedyError) as error:
        _correct(world, case, d, c, amount=15000)
    assert error.value.field == "amount"
    assert _balances(case) == {"C氏": 5000, "D氏": -15000}


@pytest.mark.parametrize("role", ["contractor", "auditor", "staff_other_city", "other_contractor"])
def test_only_the_citys_own_staff_record_a_correction(world, misallocated, role):
    case, c, d = misallocated
    with scopes_disabled(), pytest.raises(PermissionDenied):
        ledger.ledger_post_national_correction(
            case=case, holder=d, owed=c, amount=1000, on=CORRECTED, by=getattr(world, role)
        )
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_a_case_without_points_cannot_be_corrected_by_the_national_system(world):
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.ACCOUNT_MISREGISTRATION,
            discovered_on=date(2023, 2, 22),
        )
        a = case_services.party_add(case=case, by=world.staff, label="A氏", name="山田 一郎")
        b = case_services.party_add(case=case, by=world.staff, label="B氏", name="田中 二郎")
        case_services.misregistration_add(
            case=case, by=world.staff, source=b, target=a, data_kind=DataKind.BANK_ACCOUNT
        )
        ledger.ledger_post_misallocation(
            case=case, owed=a, holder=b, amount=1000, on=date(2023, 2, 23), by=world.staff
        )
        assert not ledger.points_involved(case)
    with pytest.raises(RemedyError, match="ポイントが誤って別の方に付与された案件でのみ"):
        _correct(world, case, b, a, amount=1000)
    assert _balances(case) == {"A氏": 1000, "B氏": -1000}


@pytest.mark.parametrize(
    ("kind", "data_kind"),
    [
        # Not filed as a link error, but a cashless account was registered into C's record.
        (CaseKind.OTHER, DataKind.CASHLESS_ACCOUNT),
        # A link error, however its misregistrations were recorded.
        (CaseKind.CASHLESS_LINK, DataKind.OTHER),
    ],
)
def test_either_sign_of_points_gone_astray_lets_the_national_system_correct(world, kind, data_kind):
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff, office=world.office, kind=kind, discovered_on=date(2023, 2, 22)
        )
        c = case_services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        d = case_services.party_add(case=case, by=world.staff, label="D氏", name="鈴木 次郎")
        case_services.misregistration_add(
            case=case, by=world.staff, source=d, target=c, data_kind=data_kind
        )
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=1000, on=date(2023, 2, 23), by=world.staff
        )
    _correct(world, case, d, c, amount=1000)
    assert _balances(case) == {"C氏": 0, "D氏": 0}


def test_a_correction_from_a_person_who_has_returned_everything_is_refused(
    world, misallocated, settings
):
    """D brought the whole excess back: the national system cannot have taken points from
    D, and the refusal says so next to the person, not next to the amount."""
    settings.LANGUAGE_CODE = "ja"
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_collection(
            case=case,
            party=d,
            amount=15000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )
    with pytest.raises(RemedyError) as error:
        _correct(world, case, d, c, amount=1000)
    assert error.value.field == "holder"
    assert "D氏には過大付与分がありません" in str(error.value.message)
    assert _balances(case) == {"C氏": 15000, "D氏": 0}


def test_a_correction_of_the_last_yen_held_is_accepted(world, misallocated):
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_collection(
            case=case,
            party=d,
            amount=14999,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )
    _correct(world, case, d, c, amount=1)
    assert _balances(case) == {"C氏": 14999, "D氏": 0}
    with scopes_disabled():
        assert ledger.national_corrections(world.city.pk) == (1, 1)


def test_a_correction_restoring_the_last_yen_owed_is_accepted(world, misallocated):
    """C has been paid all but 1円 in cash: the national system may still restore that yen."""
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=14999,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )
    with scopes_disabled():  # the dashboard: nothing corrected yet
        assert ledger.national_corrections(world.city.pk) == (0, 0)
    _correct(world, case, d, c, amount=1)
    assert _balances(case) == {"C氏": 0, "D氏": -14999}


def test_a_correction_to_a_person_already_paid_in_full_is_refused(world, misallocated, settings):
    settings.LANGUAGE_CODE = "ja"
    case, c, d = misallocated
    with tenant_scope(world.staff):
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=15000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=world.staff,
        )
    with pytest.raises(RemedyError) as error:
        _correct(world, case, d, c, amount=1000)
    assert error.value.field == "owed"
    assert "C氏" in str(error.value.message)
    assert _balances(case) == {"C氏": 0, "D氏": -15000}


def test_a_stale_form_cannot_post_a_correction(world, misallocated):
    case, c, d = misallocated
    with pytest.raises(RemedyError) as error:
        _correct(world, case, d, c, expected_head=0)
    assert error.value.conflict
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


# ---- the page ------------------------------------------------------------------------------


def _post(client, case, **data):
    with scopes_disabled():
        head = ledger.ledger_head(case)
    return client.post(
        f"/cases/{case.reference}/ledger/national_correction/new/",
        {"expected_head": head, "on": "2023-03-14", "note": ""} | data,
    )


def test_the_case_page_offers_the_correction_and_the_form_posts_both_sides(
    client, world, misallocated
):
    case, c, d = misallocated
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert f"/cases/{case.reference}/ledger/national_correction/new/" in page
    form = client.get(f"/cases/{case.reference}/ledger/national_correction/new/")
    body = form.content.decode()
    assert form.status_code == 200
    assert "ポイントを取り消された方" in body and "国による是正の日" in body
    response = _post(client, case, holder=d.pk, owed=c.pk, amount="１５，０００円")
    assert response.status_code == 302
    assert _balances(case) == {"C氏": 0, "D氏": 0}
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "国による是正（費用負担なし）" in page
    assert "償却" not in page.split('id="ledger"')[1].split("</section>")[0].replace("償却</a>", "")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "20,000"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"on": "2099-01-01"}, "on"),
        ({"on": "2001-01-01"}, "on"),
        ({"holder": "swap"}, "holder"),
        ({"holder": "same"}, "owed"),
    ],
)
def test_bad_input_on_the_correction_form_is_answered_next_to_the_field(
    client, world, misallocated, data, field
):
    case, c, d = misallocated
    client.force_login(world.staff)
    values = {"holder": d.pk, "owed": c.pk, "amount": "15000"} | data
    if values["holder"] == "swap":  # the two turned round
        values["holder"], values["owed"] = c.pk, d.pk
    elif values["holder"] == "same":
        values["holder"] = c.pk
    response = _post(client, case, **values)
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in response.content.decode()
    assert _balances(case) == {"C氏": 15000, "D氏": -15000}


def test_the_correction_is_not_offered_where_no_points_are_involved(client, world):
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.ACCOUNT_MISREGISTRATION,
            discovered_on=date(2023, 2, 22),
        )
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "national_correction" not in page


# ---- documents and the dashboard -----------------------------------------------------------


@pytest.fixture
def corrected(world, misallocated):
    case, c, d = misallocated
    _correct(world, case, d, c)
    return case, c, d


def test_the_report_shows_a_correction_not_a_write_off(world, corrected):
    case, _, _ = corrected
    with tenant_scope(world.staff):
        document = document_issue(
            kind=DocumentKind.REPORT, by=world.staff, case=case, dated=date(2023, 3, 20)
        )
    text = _text(bytes(document.pdf))
    assert "国による是正" in text
    assert text.count("精算済（国による是正）") == 2
    assert "取消15,000円" in text and "付与15,000円" in text
    assert "国による是正：15,000円（費用負担なし）" in text
    assert "償却あり" not in text
    assert "国（ポイント再付与）" not in text  # no cost borne by the national system


def test_the_letters_say_the_points_were_restored_and_withdrawn(world, corrected):
    case, c, d = corrected
    with tenant_scope(world.staff):
        to_c, to_d = (
            document_issue(kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=p)
            for p in (c, d)
        )
    owed, holder = _text(bytes(to_c.pdf)), _text(bytes(to_d.pdf))
    assert (
        "令和5年3月14日に、国のマイナポイントの仕組みによる是正が行われ、別の方に誤って付与"
        "されていた15,000円分のポイントが、本来付与されるべき佐藤様に改めて付与されました。"
    ) in owed
    assert "お渡しいたしました" not in owed and "相当" not in owed
    assert (
        "令和5年3月14日に、国のマイナポイントの仕組みによる是正が行われ、鈴木様に誤って付与"
        "されていた15,000円分のポイントは取り消されました。"
    ) in holder
    assert "鈴木様にご返還いただくものはございません" in holder
    assert "ご返還については" not in holder


def test_the_press_release_says_the_national_system_put_it_right(world, corrected):
    case, c, d = corrected
    with tenant_scope(world.staff):
        for party in (c, d):
            document_issue(kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=party)
        release = document_issue(kind=DocumentKind.PRESS_RELEASE, by=world.staff, cases=[case])
    text = _text(bytes(release.pdf))
    assert "国のマイナポイントの仕組みにより、正しいポイントが付与された。" in text
    assert "誤って付与されたポイントは、国のマイナポイントの仕組みにより取り消された。" in text
    assert "お渡しした" not in text


def test_the_dashboard_shows_the_correction_apart_from_the_costs(client, world, corrected):
    client.force_login(world.manager)
    page = client.get("/dashboard/").content.decode()
    corrections = page.split('id="corrections"')[1].split("</section>")[0]
    assert "国のポイントシステムによる是正" in corrections
    assert "15,000円" in corrections
    assert "1件" in corrections
    costs = page.split('id="c-costs-title"')[1].split("</figure>")[0]
    assert "国のポイントシステム" not in costs and "15,000円" not in costs
