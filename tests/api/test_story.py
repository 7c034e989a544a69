"""The reference story's contractor part through the API alone (DESIGN.md, case 3): the
contractor reports the error, then records the visit to C with the hand-over. The case page
then shows it exactly as if the same had been entered on the pages."""

from datetime import date

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from cases import services
from cases.models import Case, CauseCategory, DataKind
from cases.scoping import tenant_scope
from remedies import ledger

pytestmark = pytest.mark.django_db

REPORT = {
    "office": None,  # filled in per test
    "kind": "cashless",
    "occurred_on": "2023-02-07",
    "discovered_on": "2023-02-07",
    "discovery": "C氏のポイントがD氏のキャッシュレス決済サービスに付与されていることが判明した。",
    "summary": "受付表によりC氏及びD氏を特定した。",
    "cause_category": CauseCategory.LOGOUT_OMITTED,
    "cause_text": "前の市民の手続終了後にログアウトしなかった。",
}
VISIT = {
    "visited_on": "2023-03-10",
    "place": "C氏宅",
    "purpose": "hand_over",
    "apologised": True,
    "contractor_attendees": "委託事業者 2名",
    "outcome": "C氏に謝罪し、D氏に付与された額を手渡した。",
    "handed_over": 5000,
    "hand_over_method": "cash",
}


def _city_works_the_case(world, case: Case):
    """What the city does between the report and the visit (pages, not under test here)."""
    with tenant_scope(world.staff):
        services.case_update(case=case, by=world.staff, prevention="完了チェック表を使う。")
        c = services.party_add(case=case, by=world.staff, label="C氏", name="北 花子")
        d = services.party_add(case=case, by=world.staff, label="D氏", name="南 次郎")
        services.misregistration_add(
            case=case,
            by=world.staff,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
        )
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
    return c


def _story_of(case: Case) -> dict:
    with scopes_disabled():
        case = Case.objects.get(pk=case.pk)
        return {
            "timeline": [
                (e.occurred_on, e.actor, e.text, e.public, e.in_story)
                for e in case.timeline.order_by("occurred_on", "id")
            ],
            "ledger": [
                (e.kind, e.party.label, e.delta, e.side, e.method)
                for e in case.ledger.order_by("id")
            ],
            "visits": [
                (v.party.label, v.visited_on, v.place, v.purpose, v.apologised, v.outcome)
                for v in case.visits.all()
            ],
            "stage": case.stage,
            "reported_by_contractor": case.reported_by_contractor,
        }


def test_the_contractors_part_through_the_api_reads_as_if_entered_by_hand(world, api, client):
    contractor = api("contractor")

    # 1. The API: report, then the city works the case, then the visit with the hand-over.
    answer = contractor.post("/api/v1/cases/", {**REPORT, "office": world.office.pk})
    assert answer.status_code == 201, answer.content
    ref = answer.json()["reference"]
    assert answer["Location"] == f"/api/v1/cases/{ref}/"
    with scopes_disabled():
        by_api = Case.objects.get(reference=ref)
    c = _city_works_the_case(world, by_api)
    read = contractor.get(f"/api/v1/cases/{ref}/")
    assert read.status_code == 200
    assert [p["label"] for p in read.json()["parties"]] == ["C氏", "D氏"]
    visit = contractor.post(
        f"/api/v1/cases/{ref}/visits/", {**VISIT, "party": c.pk}, headers={"If-Match": read["ETag"]}
    )
    assert visit.status_code == 201, visit.content
    assert visit.json()["party_label"] == "C氏"

    # 2. The same, by hand on the pages, for a twin case.
    client.force_login(world.contractor)
    page = client.post(reverse("cases:new"), {**REPORT, "office": world.office.pk})
    assert page.status_code == 302
    with scopes_disabled():
        by_hand = Case.objects.exclude(pk=by_api.pk).get()
    c2 = _city_works_the_case(world, by_hand)
    with scopes_disabled():
        head = ledger.ledger_head(by_hand)
    form = {**VISIT, "party": c2.pk, "apologised": "on", "expected_head": head}
    form["hand_over_side"] = "contractor"
    page = client.post(reverse("remedies:visit_new", kwargs={"ref": by_hand.reference}), form)
    assert page.status_code == 302, page.content.decode()[:2000]

    # 3. Both read the same: 経過, ledger, visits, stage.
    assert _story_of(by_api) == _story_of(by_hand)
    story = _story_of(by_api)
    assert story["reported_by_contractor"] is True
    assert ("payment", "C氏", -5000, "contractor", "cash") in story["ledger"]

    # 4. The city's case page shows the API's visit and 経過 as it shows the one by hand.
    client.force_login(world.staff)
    shown = client.get(reverse("cases:detail", kwargs={"ref": ref})).content.decode()
    assert VISIT["outcome"] in shown
    assert REPORT["discovery"] in shown
    assert "株式会社エイジェック" in shown
