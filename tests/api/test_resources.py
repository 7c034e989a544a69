"""People, stage and ledger through the API read as the case page reads them."""

import re
from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.models import AuditEntry
from cases.scoping import tenant_scope
from remedies import ledger

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(world, case):
    with tenant_scope(world.staff):
        c = services.party_add(
            case=case,
            by=world.staff,
            label="C氏",
            name="北 花子",
            phone="09012345678",
            address="福岡県北九州市八幡西区黒崎1-1-1",
            payment_service="ペイサービス",
            payment_account="PAY-99887766",
        )
        d = services.party_add(
            case=case, by=world.staff, label="D氏", identified=False, identification_note="照会中"
        )
    return c, d


def test_people_are_masked_as_on_the_case_page_and_the_reveal_is_audited(world, case, people):
    url = f"/api/v1/cases/{case.reference}/parties/"
    for persona in ("staff", "contractor"):
        shown = ApiClient(token_for(getattr(world, persona))).get(url).json()
        c = shown[0]
        assert (c["label"], c["name"], c["phone"]) == ("C氏", "北 花子", "＊＊＊＊5678")
        assert c["address"] == "福岡県北九州市＊＊＊＊"
        assert "09012345678" not in str(shown) and "PAY-99887766" not in str(shown)
        # Contractor staff do not even get the last digits of a payment ID (cases/reveal.py).
        assert c["payment_account"] == ("＊＊＊＊7766" if persona == "staff" else "")
    contractor = ApiClient(token_for(world.contractor))
    revealed = contractor.post(f"{url}{people[0].pk}/reveal/")
    assert revealed.status_code == 200
    fields = revealed.json()["fields"]
    assert fields["phone"] == "09012345678"
    assert "payment_account" not in fields  # contact details only, as the page shows them
    with scopes_disabled():
        entry = AuditEntry.objects.filter(action="tadasu.party.revealed").latest("id")
    assert entry.data["fields"] == ["name", "name_kana", "phone", "address"]


def test_the_stage_says_what_blocks_each_step(world, case, people):
    api = ApiClient(token_for(world.staff))
    stage = api.get(f"/api/v1/cases/{case.reference}/stage/").json()
    refer = next(s for s in stage["steps"] if s["step"] == "refer")
    assert refer["allowed"] is False and refer["blocked_because"]
    answer = api.post(f"/api/v1/cases/{case.reference}/stage/refer/", {"expected_stage": "inquiry"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "errorsに示した項目を修正してください。"
    assert answer.json()["errors"][0]["message"] == " ".join(refer["blocked_because"])
    # A step taken on a stage read before someone else moved the case: 409.
    stale = api.post(
        f"/api/v1/cases/{case.reference}/stage/refer/", {"expected_stage": "agency_contact"}
    )
    assert stale.status_code == 409
    # The contractor reads what the city does next, and may take no step itself.
    theirs = ApiClient(token_for(world.contractor)).get(f"/api/v1/cases/{case.reference}/stage/")
    assert theirs.json()["steps"] == [] and theirs.json()["next_by_others"]


def test_a_payment_on_a_stale_ledger_is_409(world, case, people):
    c, d = people
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 8), by=world.staff
        )
    api = ApiClient(token_for(world.staff))
    read = api.get(f"/api/v1/cases/{case.reference}/ledger/")
    assert [b["balance"] for b in read.json()["balances"]] == [5000, -5000]
    body = {
        "party": c.pk,
        "amount": 2000,
        "side": "contractor",
        "method": "cash",
        "on": "2023-03-10",
    }
    url = f"/api/v1/cases/{case.reference}/ledger/payments/"
    first = api.post(url, body, headers={"If-Match": read["ETag"]})
    assert first.status_code == 201
    again = api.post(url, body, headers={"If-Match": read["ETag"]})  # the same form twice
    assert again.status_code == 409
    after = api.get(f"/api/v1/cases/{case.reference}/ledger/").json()
    assert [b["balance"] for b in after["balances"]] == [3000, -5000]
    assert first["ETag"] == f'"{after["head"]}"'


def test_a_document_issued_through_the_api_downloads_as_on_the_page(world, case, people):
    api = ApiClient(token_for(world.staff))
    url = f"/api/v1/cases/{case.reference}/documents/"
    refused = api.post(url, {"kind": "apology"})
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["party"]
    issued = api.post(url, {"kind": "apology", "party": people[0].pk, "dated": "2023-03-01"})
    assert issued.status_code == 201, issued.json()
    document = issued.json()
    assert document["status"] == "issued" and document["party_label"] == "C氏"
    assert [d["id"] for d in api.get(url).json()] == [document["id"]]
    pdf = api.get(f"{url}{document['id']}/download/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # No names in the file name: it may reach logs and proxies.
    assert re.fullmatch(
        r'attachment; filename="tadasu-apology-\d+-\d+-v1\.pdf"', pdf["Content-Disposition"]
    )
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tadasu.document.downloaded").count() == 1
    # Contractor staff read the list but issue nothing, as on the case page.
    contractor = ApiClient(token_for(world.contractor))
    assert len(contractor.get(url).json()) == 1
    assert contractor.post(url, {"kind": "apology", "party": people[0].pk}).status_code == 403
